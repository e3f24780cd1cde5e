"""The sign-in pages: off to the provider, its callback, sign-up with a role, and linking an
identity to an existing account by mail or by password; the handshake cookie between them."""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import quote

from authlib.common.security import generate_token
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import forms
from market.accounts.models import OidcIdentity, User
from market.accounts.oidc.client import (
    OidcFailure,
    Person,
    authorization_url,
    discover,
    exchange_code,
    provider_named,
    providers,
)
from market.accounts.oidc.identities import (
    LINK_LIFETIME,
    SIGNUP_ROLES,
    OidcSignupIn,
    create_account,
    is_pending,
    link,
    resolve,
    take_link_token,
)
from market.errors import NotFound
from market.forms import page, text
from market.i18n import LOCALES, N_, gettext, locale_label
from market.i18n import get_locale as current_locale
from market.security import same
from market.settings import OidcProvider, Settings
from market.web import (
    client_ip,
    current_user,
    db,
    form_with_csrf,
    redirect,
    safe_next,
    settings_of,
    with_flash,
)

log = logging.getLogger(__name__)

COOKIE = "anlauf_oidc"
COOKIE_PATH = "/login/oidc"
# How long each kind of handshake cookie is good for, in seconds.
COOKIE_AGE = {"auth": 600, "signup": 1800, "link": int(LINK_LIFETIME.total_seconds())}

MSG_EXPIRED = N_("The sign-in took too long or was started in another browser. Please try again.")
MSG_REFUSED = N_("The sign-in could not be checked. Please try again.")
MSG_CANCELLED = N_("The sign-in was cancelled.")
MSG_UNAVAILABLE = N_("The sign-in service is not reachable. Please try again later.")
MSG_NO_EMAIL = N_(
    "The sign-in service did not tell us your email address. Please sign up with your email address instead."
)
MSG_DISABLED = N_("This account cannot log in.")
MSG_TAKEN = N_("This sign-in is linked to an account already. Please sign in again.")
MSG_WRONG_USER = N_(
    "You are logged in with another account. Please log out and log in with the account to link."
)
MSG_LINKED = N_("Your sign-in is linked to your account.")


def oidc_buttons(request: Request) -> list[dict[str, str]]:
    """The providers to offer on the login and sign-up pages: name and label."""
    return [{"name": p.name, "label": p.label} for p in providers(settings_of(request))]


# Every page rendered with market.forms.page() gets the function (the Jinja environment is made
# per app, after this import, so it cannot take a global here).
forms.HELPERS["oidc_buttons"] = oidc_buttons


# --- The signed handshake cookie


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt="anlauf.oidc")


def pack(settings: Settings, data: dict[str, Any]) -> str:
    return _serializer(settings).dumps(data)


def unpack(settings: Settings, raw: str | None, kind: str) -> dict[str, Any] | None:
    """The cookie's data if it is ours, unchanged, of this kind and young enough; else None."""
    if not raw:
        return None
    try:
        data = _serializer(settings).loads(raw, max_age=COOKIE_AGE[kind])
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("k") != kind:
        return None
    return data


def _read_cookie(request: Request, kind: str) -> dict[str, Any] | None:
    return unpack(settings_of(request), request.cookies.get(COOKIE), kind)


def _set_cookie(response: Response, settings: Settings, data: dict[str, Any]) -> None:
    response.set_cookie(
        COOKIE,
        pack(settings, data),
        max_age=COOKIE_AGE[data["k"]],
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path=COOKIE_PATH,
    )


def _clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=settings.secure_cookies
    )


# --- Pages


def _provider_or_404(request: Request) -> OidcProvider:
    provider = provider_named(settings_of(request), request.path_params["name"])
    if provider is None:
        raise NotFound("This sign-in service is not configured.")
    return provider


async def _refuse(request: Request, detail: str, status: int = 400) -> Response:
    response = await page(
        request,
        "error.html",
        {"status": status, "title": "Error", "detail": detail},
        status_code=status,
    )
    _clear_cookie(response, settings_of(request))
    return response


async def _log_in(request: Request, user: User, next_url: str) -> Response:
    """Sign in as the password login does (market.accounts.views.sign_in): the session, or
    for an account with two-factor sign-in first the page that asks for the code."""
    from market.accounts.views import sign_in

    response = await sign_in(request, user, next_url)
    _clear_cookie(response, settings_of(request))
    return response


async def start(request: Request) -> Response:
    """GET /login/oidc/{name}: off to the provider."""
    provider = _provider_or_404(request)
    settings = settings_of(request)
    try:
        found = await discover(request, provider)
    except OidcFailure as exc:
        log.warning("OIDC discovery for %s failed: %s", provider.name, exc)
        return await _refuse(request, MSG_UNAVAILABLE, 503)
    state = {
        "k": "auth",
        "p": provider.name,
        "s": secrets.token_urlsafe(32),
        "n": secrets.token_urlsafe(32),
        "v": generate_token(64),  # the PKCE code verifier (43 to 128 characters)
        "next": safe_next(request.query_params.get("next")),
    }
    response = redirect(await authorization_url(found, provider, settings, state), 302)
    _set_cookie(response, settings, state)
    return response


async def callback(request: Request) -> Response:
    """GET /login/oidc/{name}/callback: check everything, then log in, sign up or ask for proof."""
    provider = _provider_or_404(request)
    settings = settings_of(request)
    await request.app.state.limiter.hit("oidc", account=None, ip=client_ip(request))
    state = _read_cookie(request, "auth")
    params = request.query_params
    if state is None or state.get("p") != provider.name:
        return await _refuse(request, MSG_EXPIRED)
    if not same(params.get("state", ""), state["s"]):
        log.warning("OIDC callback for %s with a state that is not ours", provider.name)
        return await _refuse(request, MSG_REFUSED)
    # RFC 9207: where the provider names itself, it must be the one we sent the person to.
    if "iss" in params and params["iss"] != provider.issuer:
        log.warning("OIDC callback for %s from issuer %r", provider.name, params["iss"])
        return await _refuse(request, MSG_REFUSED)
    if "error" in params or not params.get("code"):
        log.info("OIDC sign-in at %s ended with %s", provider.name, params.get("error"))
        return await _refuse(request, MSG_CANCELLED)
    try:
        person = await exchange_code(request, provider, params["code"], state)
    except OidcFailure as exc:
        log.warning("OIDC sign-in at %s refused: %s", provider.name, exc)
        return await _refuse(request, MSG_REFUSED)
    session = db(request)
    outcome = await resolve(session, settings, provider, person)
    next_url = state.get("next") or "/"
    if outcome.kind == "login":
        assert outcome.user is not None
        return await _log_in(request, outcome.user, next_url)
    if outcome.kind == "disabled":
        return await _refuse(request, MSG_DISABLED, 403)
    if outcome.kind == "no_email":
        return await _refuse(request, MSG_NO_EMAIL)
    if outcome.kind == "link":
        assert outcome.user is not None and outcome.identity is not None
        await request.app.state.limiter.hit(
            "oidc_link", account=outcome.user.email, ip=client_ip(request)
        )
        response = redirect("/login/oidc/link/sent")
        _set_cookie(
            response,
            settings,
            {
                "k": "link",
                "p": provider.name,
                "i": outcome.identity.id,
                "u": outcome.user.id,
                "next": next_url,
            },
        )
        return response
    response = redirect("/login/oidc/signup")
    _set_cookie(
        response,
        settings,
        {
            "k": "signup",
            "p": provider.name,
            "iss": person.issuer,
            "sub": person.subject,
            "email": person.email,
            "ev": person.email_verified,
            "name": person.name,
            "locale": person.locale,
            "next": next_url,
        },
    )
    return response


def _signup_context(
    provider: OidcProvider, pending: dict[str, Any], form: Any, errors: dict[str, str]
) -> dict[str, Any]:
    return {
        "provider": provider,
        "email": pending["email"],
        "email_verified": pending["ev"],
        "form": form,
        "errors": errors,
        "role_options": [(r, gettext(forms.ROLE_LABELS[r])) for r in SIGNUP_ROLES],
        "locales": [(code, locale_label(code)) for code in LOCALES],
    }


async def signup(request: Request) -> Response:
    """GET/POST /login/oidc/signup: the new account's role, name and language, asked once."""
    settings = settings_of(request)
    pending = _read_cookie(request, "signup")
    provider = provider_named(settings, pending["p"]) if pending else None
    if pending is None or provider is None:
        return await _refuse(request, MSG_EXPIRED)
    if request.method == "GET":
        initial = {"display_name": pending["name"], "locale": pending["locale"] or current_locale()}
        return await page(
            request, "accounts/oidc_signup.html", _signup_context(provider, pending, initial, {})
        )
    form = await form_with_csrf(request)
    data, errors = forms.parse(
        OidcSignupIn,
        forms.present(
            display_name=text(form, "display_name"),
            role=text(form, "role"),
            locale=text(form, "locale"),
        ),
    )
    if data is None:
        return await page(
            request,
            "accounts/oidc_signup.html",
            _signup_context(provider, pending, form, errors),
            status_code=422,
        )
    session = db(request)
    person = Person(
        issuer=pending["iss"],
        subject=pending["sub"],
        email=pending["email"],
        email_verified=bool(pending["ev"]),
        name=pending["name"],
        locale=pending["locale"],
    )
    # Things may have changed since the callback (a second tab, a registration by mail).
    outcome = await resolve(session, settings, provider, person)
    if outcome.kind != "signup":
        if outcome.kind == "link":
            assert outcome.user is not None and outcome.identity is not None
            response = redirect("/login/oidc/link/sent")
            link_state = {"k": "link", "p": provider.name, "i": outcome.identity.id}
            _set_cookie(response, settings, link_state | {"u": outcome.user.id, "next": "/"})
            return response
        return await _refuse(request, MSG_DISABLED if outcome.kind == "disabled" else MSG_TAKEN)
    user = await create_account(session, settings, person, data)
    return await _log_in(request, user, pending.get("next") or "/account")


async def link_sent(request: Request) -> Response:
    """GET /login/oidc/link/sent: "check your email", or log in with the password instead."""
    pending = _read_cookie(request, "link")
    if pending is None:
        return await _refuse(request, MSG_EXPIRED)
    provider = provider_named(settings_of(request), pending["p"])
    return await page(
        request,
        "accounts/oidc_check_email.html",
        {
            "provider": provider,
            "password_login": "/login?next=" + quote("/login/oidc/link/confirm"),
        },
    )


async def link_by_mail(request: Request) -> Response:
    """GET /login/oidc/link?token=...: the mailed link, opened in the browser that signed in."""
    secret = request.query_params.get("token", "")
    pending = _read_cookie(request, "link")
    if pending is None:
        # No proof that this browser went through the provider: leave the token unused.
        return await page(
            request, "accounts/oidc_link.html", {"problem": "browser"}, status_code=400
        )
    found = None
    if 10 <= len(secret) <= 200:
        found = await take_link_token(db(request), secret, pending["i"], pending["u"])
    if found is None:
        return await page(request, "accounts/oidc_link.html", {"problem": "token"}, status_code=400)
    _, user = found
    return await _log_in(request, user, pending.get("next") or "/")


async def link_by_password(request: Request) -> Response:
    """GET/POST /login/oidc/link/confirm: after a password login, link the pending identity."""
    pending = _read_cookie(request, "link")
    if pending is None:
        return await _refuse(request, MSG_EXPIRED)
    user = await current_user(request)
    if user is None:
        return redirect("/login?next=" + quote("/login/oidc/link/confirm"))
    if user.id != pending["u"]:
        return await _refuse(request, MSG_WRONG_USER, 403)
    session = db(request)
    identity = await session.get(OidcIdentity, pending["i"])
    if identity is None or not is_pending(identity) or identity.user_id != user.id:
        return await _refuse(request, MSG_EXPIRED)
    provider = provider_named(settings_of(request), pending["p"])
    if request.method == "GET":
        return await page(
            request, "accounts/oidc_link.html", {"problem": None, "provider": provider}
        )
    await form_with_csrf(request)
    await link(session, identity, user)
    response = redirect(with_flash(safe_next(pending.get("next")), MSG_LINKED))
    _clear_cookie(response, settings_of(request))
    return response


routes = [
    # The fixed paths first: a provider may not be called "signup" or "link" (see settings).
    Route("/login/oidc/signup", signup, methods=["GET", "POST"]),
    Route("/login/oidc/link", link_by_mail, methods=["GET"]),
    Route("/login/oidc/link/sent", link_sent, methods=["GET"]),
    Route("/login/oidc/link/confirm", link_by_password, methods=["GET", "POST"]),
    Route("/login/oidc/{name}", start, methods=["GET"]),
    Route("/login/oidc/{name}/callback", callback, methods=["GET"]),
]
