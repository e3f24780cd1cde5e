"""Request plumbing: one transaction per request, the caller, the page language, CSRF, pages.

This module holds the transaction middleware; the rest lives in web_requests, web_templates and
web_responses and is re-exported here, so features import everything from market.web.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market import i18n
from market.api import UNSTORABLE, problem
from market.db import database_unavailable, request_session
from market.errors import (
    BadRequest,
    Conflict,
    DomainError,
    ServiceUnavailable,
)
from market.i18n import N_
from market.pagecache import public_read
from market.web_requests import (
    CSRF_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    STAFF_ONLY,
    TOKEN_USE_PRECISION,
    LocaleMiddleware,
    client_ip,
    csrf_token,
    current_user,
    db,
    form_with_csrf,
    is_api,
    require_user,
    settings_of,
)
from market.web_responses import (
    FLASH_MESSAGES,
    flash_key,
    login_redirect,
    redirect,
    render,
    safe_next,
    set_csrf_cookie,
    with_flash,
)
from market.web_templates import CARDS_KEPT, TEMPLATE_DIR, make_environment
from market.web_templates import _cards as _cards  # the post-card cache (tests empty it)

# market.web is the one address of the request plumbing: the transaction (here), the caller and
# CSRF (web_requests), the pages' Jinja environment (web_templates) and answers (web_responses).
__all__ = [
    "CARDS_KEPT",
    "CSRF_COOKIE",
    "FLASH_MESSAGES",
    "LANG_COOKIE",
    "SESSION_COOKIE",
    "STAFF_ONLY",
    "TEMPLATE_DIR",
    "TOKEN_USE_PRECISION",
    "WROTE",
    "LocaleMiddleware",
    "RequestTransaction",
    "client_ip",
    "csrf_token",
    "current_user",
    "db",
    "flash_key",
    "form_with_csrf",
    "is_api",
    "login_redirect",
    "make_environment",
    "redirect",
    "render",
    "request_session",
    "require_user",
    "safe_next",
    "set_csrf_cookie",
    "settings_of",
    "with_flash",
    "wrote",
]

log = logging.getLogger(__name__)


class RequestTransaction:
    """Opens one AsyncSession per HTTP request and ends it before the response goes out.

    The commit happens when the response starts, so a client never sees a success for data that
    was not stored. Any status of 400 or more rolls back: a rejected request changes nothing.
    After the response, the outbox relay is kicked for rows this request wrote.

    It is also the last line of defence, so that every request ends in exactly one complete
    answer and the keep-alive connection stays usable: an address with NUL or a lone surrogate
    answers 400 before any handler sees it; a database that cannot be reached (at query or at
    commit time) answers 503 with Retry-After; anything unexpected answers 500. No exception
    leaves this middleware: Starlette's ServerErrorMiddleware would re-raise it after its 500,
    and uvicorn closes the connection when the application raises.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        maker: async_sessionmaker[AsyncSession] = state.sessionmaker
        session = request_session(maker, scope["method"], public_read=public_read(scope))
        scope.setdefault("state", {})["db"] = session
        started = False  # a response start went out (the app's or ours)
        replaced = False  # the app's response was swapped for an error answer; drop its rest
        committed = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        async def send_wrapper(message: Message) -> None:
            nonlocal replaced, committed
            if replaced:
                return
            if message["type"] == "http.response.start" and not started:
                if message["status"] < 400 and not wrote(session):
                    # A read (every anonymous GET): end it without a COMMIT round trip. close()
                    # hands the connection back (the pool rolls it back) without first marking
                    # every loaded object expired, as a session rollback would: the answer is
                    # drawn, nothing reads them again.
                    await _close(session)
                elif message["status"] < 400:
                    try:
                        await session.commit()
                        committed = True
                    except Exception as exc:
                        # Nothing was stored: answer that instead (once), not the success.
                        replaced = True
                        await _rollback(session)
                        await self._answer_error(scope, receive, tracked, exc)
                        return
                else:
                    await _rollback(session)
            await tracked(message)

        try:
            refused = _hostile_address(scope)
            if refused is not None:
                await self._answer(scope, receive, tracked, refused)
            else:
                await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            await _rollback(session)
            if started:
                # The answer is out (or half out, and then the server closes the connection,
                # as it must); nothing more can be said to the client.
                log.warning("error after the response started", exc_info=exc)
            else:
                await self._answer_error(scope, receive, tracked, exc)
        finally:
            try:
                await session.close()
            except Exception:  # a connection lost with the database: the pool replaces it
                log.debug("closing the session failed", exc_info=True)
        ids = session.info.pop("outbox_ids", None)
        if committed and ids and getattr(state, "relay", None) is not None:
            state.relay.kick(ids)

    async def _answer_error(
        self, scope: Scope, receive: Receive, send: Send, exc: Exception
    ) -> None:
        request = Request(scope, receive)
        if database_unavailable(exc):
            log.warning("database unavailable: %r", exc)
            # The page is drawn for nobody in particular: who the caller is lives in the database.
            request.state.user = None
            await self._answer(scope, receive, send, ServiceUnavailable())
            return
        if isinstance(exc, IntegrityError):
            # A unique key another request took a moment earlier (features answer their own
            # conflicts first; this is the last resort instead of a 500).
            log.warning("integrity error reached the boundary: %s", exc.orig)
            request.state.user = None
            await self._answer(scope, receive, send, Conflict(N_(_CONFLICT)))
            return
        handler = scope["app"].exception_handlers.get(Exception)
        try:
            if handler is None:
                raise exc
            response = await handler(request, exc)
        except Exception:
            log.exception("unhandled error", exc_info=exc)
            response = Response(_INTERNAL, status_code=500, media_type="text/plain")
        await response(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send, error: DomainError) -> None:
        """The app's own answer to `error` (problem JSON or a page); a plain one if that fails."""
        request = Request(scope, receive)
        handler = scope["app"].exception_handlers.get(DomainError)
        try:
            if handler is None:
                raise error
            response = await handler(request, error)
        except Exception as exc:
            if database_unavailable(exc) and not isinstance(error, ServiceUnavailable):
                request.state.user = None
                await self._answer(scope, receive, send, ServiceUnavailable())
                return
            if not isinstance(exc, DomainError):
                log.exception("drawing the error answer failed", exc_info=exc)
            response = _plain_answer(request, error)
        await response(scope, receive, send)


_INTERNAL = "Something went wrong on our side. Please try again."
_CONFLICT = "Someone changed this at the same moment. Please reload and try again."


def _plain_answer(request: Request, error: DomainError) -> Response:
    """An answer that needs neither templates nor the database."""
    if is_api(request):
        return problem(error)
    return Response(
        i18n.gettext(error.detail) if error.detail else error.title,
        status_code=error.status,
        headers=error.headers,
        media_type="text/plain",
    )


WROTE = "anlauf_wrote"


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _context: Any) -> None:
    session.info[WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    # Anything but an ORM/Core SELECT counts as a write: UPDATE/INSERT/DELETE statements, and
    # text() too (lock_row's no-op UPDATE on SQLite), whatever it says.
    if not state.is_select:
        state.session.info[WROTE] = True


def wrote(session: AsyncSession) -> bool:
    """Whether this request's transaction changed anything (flushed, executed a statement that
    is not a SELECT, or holds changes a commit would flush). Reads end with a rollback, which
    frees the connection as a COMMIT would, without asking the database to commit nothing."""
    if not session.in_transaction():
        return False
    return bool(session.info.get(WROTE) or session.new or session.dirty or session.deleted)


async def _close(session: AsyncSession) -> None:
    try:
        await session.close()
    except Exception:  # the connection is gone: the pool replaces it
        log.debug("closing the session failed", exc_info=True)


async def _rollback(session: AsyncSession) -> None:
    try:
        await session.rollback()
    except Exception:  # the connection is gone: nothing is left to roll back
        log.debug("rollback failed", exc_info=True)


def _hostile_address(scope: Scope) -> DomainError | None:
    """A path or query parameter with NUL or a lone surrogate, refused before it reaches a query
    (PostgreSQL refuses NUL in text with an error, which would answer 500)."""
    if UNSTORABLE.search(scope.get("path", "")):
        return BadRequest(N_("The address contains characters that are not allowed."))
    query = scope.get("query_string", b"")
    if query:
        for key, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if UNSTORABLE.search(key) or UNSTORABLE.search(value):
                return BadRequest(N_("The address contains characters that are not allowed."))
    return None
