"""Request plumbing: one transaction per request, the caller, the page language, CSRF, pages."""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, pass_context, pass_environment, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session
from starlette.datastructures import FormData, MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market import i18n
from market.accounts.models import ApiToken, User, WebSession
from market.api import UNSTORABLE, problem
from market.db import database_unavailable, request_session, utcnow
from market.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    ServiceUnavailable,
    Unauthorized,
)
from market.i18n import N_
from market.pagecache import public_read
from market.security import digest, new_secret, same
from market.settings import Settings

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
SESSION_COOKIE = "anlauf_session"
CSRF_COOKIE = "anlauf_csrf"
LANG_COOKIE = "anlauf_lang"
# How exactly an API token's last_used_at is kept (GET /api/v1/me/tokens).
TOKEN_USE_PRECISION = timedelta(minutes=1)


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
                    # A read (every anonymous GET): end it without a COMMIT round trip.
                    await _rollback(session)
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


class LocaleMiddleware:
    """Picks the page language: ?lang=, then the cookie, then Accept-Language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        chosen = request.query_params.get("lang")
        if chosen not in i18n.LOCALES:
            chosen = None
        locale = chosen or request.cookies.get(LANG_COOKIE)
        if locale not in i18n.LOCALES:
            locale = i18n.negotiate(request.headers.get("accept-language"))
        i18n.set_locale(locale)
        scope.setdefault("state", {})["locale"] = locale
        # A first visit whose browser names no page language is offered the chooser (base.html).
        scope["state"]["choose_language"] = not chosen and i18n.needs_chooser(
            request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
        )
        if not chosen:
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.append(
                    "set-cookie",
                    f"{LANG_COOKIE}={chosen}; Path=/; Max-Age=31536000; SameSite=Lax",
                )
            await send(message)

        await self.app(scope, receive, send_wrapper)


def db(request: Request) -> AsyncSession:
    session: AsyncSession = request.state.db
    return session


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _user_from_session(request: Request, session: AsyncSession) -> User | None:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    # The session and its user in one round trip (the user's languages follow, selectin).
    found = (
        await session.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.id == digest(secret))
        )
    ).first()
    if found is None:
        return None
    web_session, user = found
    if web_session.revoked_at or web_session.expires_at <= utcnow():
        return None
    request.state.web_session = web_session
    if not user.is_active or user.deleted_at is not None:
        return None
    return user


async def _user_from_token(request: Request, session: AsyncSession) -> User | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    api_token = await session.get(ApiToken, digest(token.strip()))
    now = utcnow()
    if api_token is None or api_token.revoked_at or api_token.expires_at <= now:
        return None
    request.state.api_token = api_token
    # At most one write a minute per token, so that reading stays cheap.
    if api_token.last_used_at is None or now - api_token.last_used_at >= TOKEN_USE_PRECISION:
        api_token.last_used_at = now
    return await _active(session, api_token.user_id)


async def _active(session: AsyncSession, user_id: str) -> User | None:
    user = await session.get(User, user_id)
    if user is None or not user.is_active or user.deleted_at is not None:
        return None
    return user


async def current_user(request: Request) -> User | None:
    """The caller: a bearer token for the API, the session cookie for pages."""
    if hasattr(request.state, "user"):
        user: User | None = request.state.user
        return user
    session = db(request)
    if request.url.path.startswith("/api/"):
        user = await _user_from_token(request, session)
    else:
        user = await _user_from_session(request, session)
    request.state.user = user
    return user


async def require_user(request: Request, roles: Iterable[str] | None = None) -> User:
    user = await current_user(request)
    if user is None:
        raise Unauthorized()
    if roles is not None and user.role not in set(roles):
        raise Forbidden()
    if roles is not None and set(roles) <= STAFF_ONLY:
        # A review or admin route: with ANLAUF_STAFF_2FA=required, only after 2FA is set up.
        from market.accounts.twofactor import require_staff_ready

        await require_staff_ready(request, user)
    return user


STAFF_ONLY = frozenset({"coordinator", "admin"})


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


# --- CSRF: a double-submit token. The cookie is HttpOnly; every form repeats it in a hidden field.


def csrf_token(request: Request) -> str:
    token = getattr(request.state, "csrf_token", None) or request.cookies.get(CSRF_COOKIE)
    if not token:
        token = new_secret()
    request.state.csrf_token = token
    return token


async def form_with_csrf(request: Request) -> FormData:
    """The submitted form, after checking its CSRF token; a mismatch is refused with 403."""
    form = await request.form()
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = str(form.get("csrf_token", ""))
    if not cookie or not sent or not same(cookie, sent):
        raise Forbidden("The form has expired. Please go back, reload the page and try again.")
    for key, value in form.multi_items():
        # NUL cannot be stored and would answer 500 on PostgreSQL; refuse it for every form.
        if UNSTORABLE.search(key) or (isinstance(value, str) and UNSTORABLE.search(value)):
            raise BadRequest(
                N_("The form contains characters that cannot be stored. Please remove them.")
            )
    return form


# --- Pages


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    # The same functions as Jinja's newstyle ones, one call deep: Jinja's `_` resolved
    # `gettext` and called it through the context, which called ours through the context
    # again. A page asks about 25 of them; they were a third of drawing the page frame.
    env.globals.update(_=_page_gettext, gettext=_page_gettext, ngettext=_page_ngettext)
    env.globals.update(
        LOCALES=i18n.LOCALES,
        locale_label=_locale_label,
        language_name=i18n.language_name,
        quoted=i18n.quoted,
    )
    env.globals["cached_post_card"] = _cached_post_card
    env.filters["join_list"] = _join_list
    env.filters["language_list"] = _language_list
    env.filters["date"] = _format_date
    env.filters["datetime"] = _format_datetime
    return env


@pass_context
def _page_gettext(context: Context, string: str, **variables: Any) -> str:
    """jinja2.ext's newstyle gettext: always a format string, escaped in autoescaped templates."""
    text: str = i18n.gettext(string)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 (our own catalogue, as Jinja's own gettext does)
    return text % variables


@pass_context
def _page_ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    text: str = i18n.ngettext(singular, plural, num)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 (our own catalogue, as Jinja's own ngettext does)
    return text % variables


# Rendered post cards, keyed by everything a card shows (the post's shown fields, the page
# language, the arguments): a list page drew 20 cards through the Jinja macro on every request,
# the biggest part of drawing /posts. A changed post has a new key, so nothing is ever stale.
_cards: OrderedDict[tuple[Any, ...], Markup] = OrderedDict()
CARDS_KEPT = 10_000


@pass_environment
def _cached_post_card(
    env: Environment,
    post: Any,
    distance: int | None,
    show_status: bool,
    level: int,
    translations: dict[str, Any] | None,
) -> Markup:
    tr = translations.get(post.id) if translations else None
    key = (
        i18n.get_locale(),
        post.id,
        post.title,
        post.kind,
        post.category,
        post.mode,
        post.status,
        tuple(post.language_codes),
        post.city,
        post.created_at,
        distance,
        show_status,
        level,
        tuple(sorted(tr.items())) if tr else None,
    )
    known = _cards.get(key)
    if known is not None:
        _cards.move_to_end(key)
        return known
    from market.forms import HELPERS  # forms imports this module

    module = env.get_template("posts/_macros.html").make_module(
        vars={**HELPERS, "translations": {post.id: tr} if tr else None}
    )
    macro = getattr(module, "post_card")  # noqa: B009 (a template attribute mypy cannot see)
    card = Markup(macro(post, distance, show_status, level))  # noqa: S704 (the macro escaped it)
    _cards[key] = card
    if len(_cards) > CARDS_KEPT:
        _cards.popitem(last=False)
    return card


def _join_list(items: list[str]) -> str:
    """ "Arabisch, Deutsch und Farsi" / "العربية والألمانية": lists as each language writes them."""
    from babel.lists import format_list

    return (
        format_list([str(i) for i in items], style="standard", locale=i18n.babel_locale())
        if items
        else ""
    )


# Babel builds names, lists and dates from CLDR data on every call; a page of 20 posts asked it
# the same few questions about 60 times (the language picker alone parsed a locale per entry).
# Their answers depend only on the arguments and the page language, so each is worked out once
# per process. Bounded: post languages and dates have many combinations.
@functools.cache
def _locale_label(locale: str) -> str:
    return i18n.locale_label(locale)


@functools.lru_cache(maxsize=4096)
def _language_list_in(codes: tuple[str, ...], locale: str) -> str:
    from market import languages

    with i18n.use_locale(locale):
        return _join_list([languages.name(code, locale) for code in codes])


def _language_list(codes: list[str]) -> str:
    return _language_list_in(tuple(codes), i18n.get_locale())


@functools.lru_cache(maxsize=4096)
def _format_day(day: date, fmt: str, locale: str) -> str:
    from babel.dates import format_date

    return format_date(day, fmt, locale=i18n.babel_locale(locale))


def _format_date(value: date | datetime | None, fmt: str = "medium") -> str:
    # format_date shows a datetime's own calendar day (no time zone conversion): the same here.
    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    return _format_day(day, fmt, i18n.get_locale())


def _format_datetime(value: datetime | None, fmt: str = "medium") -> str:
    from babel.dates import format_datetime, get_timezone

    if value is None:
        return ""
    return format_datetime(
        value, fmt, tzinfo=get_timezone("Europe/Berlin"), locale=i18n.babel_locale()
    )


async def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    env: Environment = request.app.state.jinja
    user = await current_user(request)
    settings = settings_of(request)
    locale = i18n.get_locale()
    ctx: dict[str, Any] = {
        "request": request,
        "user": user,
        "locale": locale,
        "dir": "rtl" if i18n.is_rtl(locale) else "ltr",
        "csrf_token": csrf_token(request),
        "flash": FLASH_MESSAGES.get(request.query_params.get("msg") or ""),
    }
    ctx.update(context or {})
    ctx["unread_count"] = await _unread_count(request, user)
    html = env.get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status_code)
    set_csrf_cookie(request, response, settings)
    response.headers["Content-Language"] = locale
    return response


async def _unread_count(request: Request, user: User | None) -> int:
    hook = getattr(request.app.state, "unread_count", None)
    if user is None or hook is None:
        return 0
    count: int = await hook(db(request), user.id)
    return count


def set_csrf_cookie(request: Request, response: Response, settings: Settings) -> None:
    token = csrf_token(request)
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            path="/",
        )


# Notices shown after a redirect ("Your changes are saved."). The URL carries only a key, so a
# link cannot put words of its own into our pages.
FLASH_MESSAGES: dict[str, str] = {}


def flash_key(message: str) -> str:
    import hashlib

    key = hashlib.sha256(message.encode()).hexdigest()[:10]
    FLASH_MESSAGES[key] = message
    return key


def with_flash(path: str, message: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}msg={flash_key(message)}"


def redirect(url: str, status_code: int = 303) -> RedirectResponse:
    return RedirectResponse(url, status_code=status_code)


def login_redirect(request: Request) -> RedirectResponse:
    from urllib.parse import quote

    return redirect(f"/login?next={quote(request.url.path)}")


def safe_next(target: str | None) -> str:
    """Only local paths, so a link cannot send people to another site after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def client_ip(request: Request) -> str:
    """The caller's address for per-IP limits and logs.

    X-Forwarded-For is believed only when the peer is one of ANLAUF_TRUSTED_PROXIES (none by
    default): then the rightmost hop that is not a trusted proxy is the client, since everything
    left of it was written by the client itself and may be made up.
    """
    import ipaddress

    peer = request.client.host if request.client else "unknown"
    trusted = settings_of(request).trusted_proxy_networks

    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    if not trusted or not is_trusted(peer):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    closest = peer
    for hop in reversed(hops):
        if is_trusted(hop):
            closest = hop
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            # Not an address: the chain is broken here; the last trusted hop is all we know.
            return closest
    return closest
