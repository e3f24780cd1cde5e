"""The composition root: create_app(settings) builds the Starlette application."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from market.accounts.twofactor import StaffTwoFactorRequired
from market.accounts.views import staff_setup_needed
from market.admission import FairAdmission
from market.api import problem
from market.assets import FingerprintedStatic, static_url
from market.db import make_engine, make_sessionmaker
from market.errors import RETRY_AFTER_SECONDS, DomainError, NotFound
from market.features import registry
from market.headers import SecurityHeaders
from market.idempotency import IdempotencyMiddleware
from market.idempotency import new_key as new_idempotency_key
from market.pagecache import GZIP_LEVEL, GZIP_MINIMUM_SIZE, PageCache
from market.posts import geo
from market.ratelimit import RateLimiter
from market.settings import Settings
from market.styles import inline_css
from market.web import LocaleMiddleware, RequestTransaction, is_api, make_environment, render
from market.web_requests import caller_lookup
from notifications.inapp import unread_count, unread_count_of
from notifications.live import BROKER_KEY, make_broker
from notifications.outbox import Relay

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"


async def healthz(request: Request) -> Response:
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        # market.db.make_engine replaces connections the server closed, so this answers 200
        # again by itself as soon as the database is back.
        log.warning("health check: database unavailable: %r", exc)
        return JSONResponse(
            {"status": "unavailable"},
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return JSONResponse({"status": "ok"})


async def openapi(request: Request) -> Response:
    from market.openapi import spec

    return JSONResponse(spec())


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if is_api(request):
        return problem(exc)
    response = await render(
        request,
        "error.html",
        {"status": exc.status, "title": exc.title, "detail": exc.detail},
        status_code=exc.status,
    )
    response.headers.update(exc.headers)  # Retry-After on the 429 page too
    return response


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if is_api(request):
        titles = {404: "Not found", 405: "Method not allowed"}
        err = DomainError(
            detail=exc.detail or "",
            status=exc.status_code,
            title=titles.get(exc.status_code, "Error"),
        )
        return problem(err)
    if exc.status_code == 404:
        return await domain_error(request, NotFound("This page does not exist."))
    return await render(
        request,
        "error.html",
        {"status": exc.status_code, "title": "Error", "detail": exc.detail},
        status_code=exc.status_code,
    )


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    if is_api(request):
        return problem(
            DomainError(
                detail="Something went wrong on our side.", status=500, title="Internal error"
            )
        )
    return Response("Something went wrong on our side. Please try again.", status_code=500)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    # Every feature's routes, handlers, jobs and rules, checked: a missing one fails here.
    features = registry()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Build the city index before the first request needs it (about half a second).
        await anyio.to_thread.run_sync(geo.warm_up)
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine, settings)
        # Live updates (server-sent events): sessions announce notifications after commit.
        live = make_broker(settings)
        await live.start()
        app.state.live = live
        app.state.sessionmaker.configure(info={"settings": settings, BROKER_KEY: live})
        app.state.limiter = RateLimiter(settings)
        relay = Relay(app.state.sessionmaker, settings)
        app.state.relay = relay
        await relay.start()
        # Without Redis there is no arq worker to run the hourly freshness rules: run them here.
        periodic: list[asyncio.Task[None]] = []
        if not settings.redis_url:
            from market.inbox.digest import run_hourly
            from market.maintenance import run_periodically

            periodic.append(
                asyncio.create_task(
                    run_periodically(app.state.sessionmaker, settings), name="maintenance"
                )
            )
            # The daily notification digest (07:00 Europe/Berlin); arq's cron job otherwise.
            periodic.append(
                asyncio.create_task(
                    run_hourly(app.state.sessionmaker, settings, relay.kick), name="digest"
                )
            )
        try:
            yield
        finally:
            for task in periodic:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await relay.stop()
            await live.stop()
            await engine.dispose()

    api_routes = [*features.api_routes, Route("/openapi.json", openapi, methods=["GET"])]
    app = Starlette(
        debug=False,
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Mount("/api/v1", routes=api_routes),
            Mount("/static", FingerprintedStatic(directory=STATIC_DIR), name="static"),
            *features.page_routes,
        ],
        middleware=[
            Middleware(SecurityHeaders, production=settings.env == "production"),
            # Text answers of 500 bytes and more; never the event stream (Starlette skips it).
            # Level 6, not Starlette's 9: the 33 KB start page comes out 0.3 % bigger (7,819
            # bytes, not 7,800) in half the time. A drawn page is compressed here; a cache hit
            # that is the same for everyone comes compressed from the page cache's copy.
            Middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_SIZE, compresslevel=GZIP_LEVEL),
            Middleware(LocaleMiddleware),
            # Anonymous visitors' pages (needs the language; a hit opens no database session).
            Middleware(PageCache, settings=settings),
            # Inside the page cache: an answer from the cache never waits for a place.
            Middleware(FairAdmission, at_once=settings.requests_at_once),
            Middleware(RequestTransaction),
            # Inside the transaction: it stores each first answer in the request's transaction.
            Middleware(IdempotencyMiddleware),
        ],
        exception_handlers={
            # Staff without a second factor (ANLAUF_STAFF_2FA=required): pages go to set it up.
            StaffTwoFactorRequired: staff_setup_needed,
            DomainError: domain_error,
            HTTPException: http_error,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.jinja = make_environment()
    # Every creating form carries a fresh key, so a double submit creates one thing.
    app.state.jinja.globals["idempotency_key"] = new_idempotency_key
    app.state.jinja.globals["static_url"] = static_url
    # The stylesheets sit in each page's <head> (market/styles.py says why).
    app.state.jinja.globals["inline_css"] = inline_css
    # render() shows the unread count in the header of every page.
    app.state.unread_count = unread_count
    # ... read in the round trip that finds a page's caller.
    app.state.caller_lookup = caller_lookup({"unread_count": unread_count_of})
    return app
