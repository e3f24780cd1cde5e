"""Who is asking, in which language, and with which form: the request side of market.web.

The caller (session cookie for pages, bearer token for the API), the page language, the CSRF
double-submit token and the client's address. market.web re-exports these names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from starlette.datastructures import FormData, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market import i18n
from market.accounts.models import ApiToken, User, WebSession
from market.api import UNSTORABLE
from market.db import utcnow
from market.errors import (
    BadRequest,
    Forbidden,
    Unauthorized,
)
from market.i18n import N_
from market.security import digest, new_secret, same
from market.settings import Settings

SESSION_COOKIE = "anlauf_session"
CSRF_COOKIE = "anlauf_csrf"
LANG_COOKIE = "anlauf_lang"
# How exactly an API token's last_used_at is kept (GET /api/v1/me/tokens).
TOKEN_USE_PRECISION = timedelta(minutes=1)


class LocaleMiddleware:
    """Picks the page language: ?lang=, then the cookie, then Accept-Language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        # Most addresses name no language: their query string is not parsed for one.
        asked = b"lang=" in scope.get("query_string", b"")
        chosen = request.query_params.get("lang") if asked else None
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


# A column read with the caller of a page, from the user's id (market.app adds the header's
# unread count), so that what every page shows comes in the round trip that finds the caller.
CallerColumn = Callable[[Any], ColumnElement[Any]]


@dataclass(frozen=True)
class CallerLookup:
    """The statement that finds a page's caller: the session, its user with the user's
    languages and the named caller columns, in one round trip. Built once per app."""

    statement: Select[Any]
    names: tuple[str, ...]


def caller_lookup(columns: Mapping[str, CallerColumn]) -> CallerLookup:
    statement = (
        select(WebSession, User, *(column(User.id).label(name) for name, column in columns.items()))
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.id == bindparam("session_key"))
        # The languages joined (pages read them: forms, the matcher's reasons), not a second
        # SELECT as the relationship's own selectin loading would send.
        .options(joinedload(User.languages))
    )
    return CallerLookup(cast(Select[Any], statement), tuple(columns))


_NO_COLUMNS = caller_lookup({})


def caller_column(request: Request, name: str) -> Any:
    """A caller column's value read with the caller of this page (None when not read)."""
    return getattr(request.state, "caller_columns", {}).get(name)


async def _user_from_session(request: Request, session: AsyncSession) -> User | None:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    lookup: CallerLookup = getattr(request.app.state, "caller_lookup", _NO_COLUMNS)
    found = (
        (await session.execute(lookup.statement, {"session_key": digest(secret)})).unique().first()
    )
    if found is None:
        return None
    web_session, user, *values = found
    assert isinstance(user, User)
    if web_session.revoked_at or web_session.expires_at <= utcnow():
        return None
    request.state.web_session = web_session
    if not user.is_active or user.deleted_at is not None:
        return None
    request.state.caller_columns = dict(zip(lookup.names, values, strict=True))
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
