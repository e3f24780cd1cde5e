"""Sign in with OpenID Connect providers: a city's Keycloak, an association's Microsoft or Google.

Operators list providers in ANLAUF_OIDC_PROVIDERS (see market.settings.OidcProvider); each one's
endpoints and keys come from `<issuer>/.well-known/openid-configuration`.

The handshake is the authorization code flow with PKCE (S256), a `state` and a `nonce`. Between
the redirect to the provider and its callback, state, nonce and code verifier wait in a small
cookie signed with the secret key (HttpOnly, SameSite=Lax so that it comes back on the provider's
top-level redirect, ten minutes). The ID token's signature is checked against the provider's JWKS,
and its `iss`, `aud` (our client id), `azp`, `exp`, `iat` and `nonce`.

Who is who:

- A person is identified by issuer plus subject (`sub`), never by email. Once an identity is
  linked, it logs in its account even after the email at the provider changed.
- An unknown identity whose email no account has gets a new account, after the person chose a
  role (volunteer or seeker), a display name and a page language once. The email counts as
  verified only if the provider says `email_verified: true`; otherwise the usual verification mail
  goes out.
- An unknown identity whose email belongs to an existing account is NOT linked or logged in, even
  if the provider says the email is verified: an attacker might run or control an account at a
  provider that asserts someone else's address. Instead the account's address gets a single-use
  link (stored hashed in account_tokens, purpose "link_oidc", one hour). The pending identity is
  kept server-side as an oidc_identities row whose `note` names the token; it logs nobody in.
  Opening the link in the browser that signed in at the provider (it holds a signed cookie naming
  the pending row, so a mail sent to a victim cannot link an attacker's identity) links the
  identity, marks the address verified and logs in. Alternatively the person logs in with the
  account's password in that browser and confirms the link.
- A disabled or deleted account cannot log in this way.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import quote, urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from email_validator import EmailNotValidError, validate_email
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import forms
from market.accounts import services
from market.accounts.models import AccountToken, OidcIdentity, User
from market.db import utcnow
from market.errors import NotFound
from market.forms import page, text
from market.i18n import LOCALES, N_, gettext, is_rtl, locale_label, use_locale
from market.i18n import get_locale as current_locale
from market.security import digest, new_secret, same
from market.settings import OidcProvider, Settings
from market.validation import DisplayName, LocaleCode, Strict
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
from notifications import mail
from notifications.outbox import enqueue

log = logging.getLogger(__name__)

LINK = "link_oidc"  # AccountToken.purpose
LINK_LIFETIME = timedelta(hours=1)
PENDING = "pending-link:"  # OidcIdentity.note of an identity waiting for proof; then the token id
COOKIE = "anlauf_oidc"
COOKIE_PATH = "/login/oidc"
# How long each kind of handshake cookie is good for, in seconds.
COOKIE_AGE = {"auth": 600, "signup": 1800, "link": int(LINK_LIFETIME.total_seconds())}
DISCOVERY_TTL = 3600.0
HTTP_TIMEOUT = 10.0
LEEWAY = 120  # seconds of clock skew allowed for exp and iat

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
MSG_LINK_SUBJECT = N_("Link your %(provider)s sign-in to Anlauf")

SIGNUP_ROLES = ("volunteer", "seeker")


class OidcFailure(Exception):
    """The provider's answer is not acceptable; the message is for the log, not for the user."""


# --- Configuration


def providers(settings: Settings) -> tuple[OidcProvider, ...]:
    return settings.oidc_provider_list


def provider_named(settings: Settings, name: str) -> OidcProvider | None:
    return next((p for p in providers(settings) if p.name == name), None)


def oidc_buttons(request: Request) -> list[dict[str, str]]:
    """The providers to offer on the login and sign-up pages: name and label."""
    return [{"name": p.name, "label": p.label} for p in providers(settings_of(request))]


# Every page rendered with market.forms.page() gets the function (the Jinja environment is made
# per app, after this import, so it cannot take a global here).
forms.HELPERS["oidc_buttons"] = oidc_buttons


def callback_url(settings: Settings, provider: OidcProvider) -> str:
    return f"{settings.base_url.rstrip('/')}/login/oidc/{provider.name}/callback"


# --- Discovery and keys, cached per application


@dataclass
class Discovered:
    metadata: dict[str, Any]
    fetched_at: float
    jwks: dict[str, Any] | None = None
    jwks_fetched_at: float = 0.0


@dataclass
class OidcCache:
    entries: dict[str, Discovered] = field(default_factory=dict)


def _cache(request: Request) -> OidcCache:
    state = request.app.state
    cache: OidcCache | None = getattr(state, "oidc_cache", None)
    if cache is None:
        cache = OidcCache()
        state.oidc_cache = cache
    return cache


def _http() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False)


async def _get_json(url: str) -> dict[str, Any]:
    try:
        async with _http() as client:
            response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcFailure(f"GET {url}: {exc}") from exc
    if not isinstance(data, dict):
        raise OidcFailure(f"GET {url}: not a JSON object")
    return data


async def discover(request: Request, provider: OidcProvider) -> Discovered:
    cache = _cache(request)
    found = cache.entries.get(provider.issuer)
    if found is not None and time.monotonic() - found.fetched_at < DISCOVERY_TTL:
        return found
    url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
    metadata = await _get_json(url)
    # OpenID Connect Discovery 1.0, section 4.3: the issuer must be exactly the configured one.
    if metadata.get("issuer") != provider.issuer:
        raise OidcFailure(f"{url}: issuer {metadata.get('issuer')!r} is not {provider.issuer!r}")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(metadata.get(key), str):
            raise OidcFailure(f"{url}: {key} is missing")
    found = Discovered(metadata=metadata, fetched_at=time.monotonic())
    cache.entries[provider.issuer] = found
    return found


async def _key_set(found: Discovered, *, refresh: bool = False) -> KeySet:
    # A refresh (for an unknown key id: the provider rotated its keys) at most once a minute.
    stale = found.jwks is None or (refresh and time.monotonic() - found.jwks_fetched_at > 60)
    if stale:
        found.jwks = await _get_json(found.metadata["jwks_uri"])
        found.jwks_fetched_at = time.monotonic()
    try:
        return KeySet.import_key_set(found.jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise OidcFailure(f"unusable JWKS: {exc}") from exc


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


# --- The provider's answer


@dataclass(frozen=True)
class Person:
    """What we take from a provider: who (issuer + subject) and what they tell about them."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str
    locale: str | None


async def authorization_url(
    found: Discovered, provider: OidcProvider, settings: Settings, state: dict[str, Any]
) -> str:
    return str(
        prepare_grant_uri(
            found.metadata["authorization_endpoint"],
            client_id=provider.client_id,
            response_type="code",
            redirect_uri=callback_url(settings, provider),
            scope=provider.scopes,
            state=state["s"],
            nonce=state["n"],
            code_challenge=create_s256_code_challenge(state["v"]),
            code_challenge_method="S256",
            ui_locales=current_locale(),
        )
    )


def _client_auth(
    metadata: dict[str, Any], provider: OidcProvider, form: dict[str, str]
) -> httpx.BasicAuth | None:
    """client_secret_basic, or client_secret_post where only that is offered; none without a secret."""
    if not provider.client_secret:
        form["client_id"] = provider.client_id
        return None
    supported = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    if "client_secret_basic" not in supported and "client_secret_post" in supported:
        form.update(client_id=provider.client_id, client_secret=provider.client_secret)
        return None
    return httpx.BasicAuth(provider.client_id, provider.client_secret)


async def _redeem(
    found: Discovered, provider: OidcProvider, settings: Settings, code: str, verifier: str
) -> dict[str, Any]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": callback_url(settings, provider),
        "code_verifier": verifier,
    }
    auth = _client_auth(found.metadata, provider, form)
    try:
        async with _http() as client:
            response = await client.post(
                found.metadata["token_endpoint"],
                data=form,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
                headers={"Accept": "application/json"},
            )
            token = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcFailure(f"token endpoint: {exc}") from exc
    if not isinstance(token, dict):
        raise OidcFailure("token endpoint: not a JSON object")
    if response.status_code != 200 or "error" in token:
        raise OidcFailure(
            f"token endpoint: {response.status_code} {token.get('error')}: "
            f"{token.get('error_description')}"
        )
    return token


async def exchange_code(
    request: Request, provider: OidcProvider, code: str, state: dict[str, Any]
) -> Person:
    """Redeem the code (with the PKCE verifier), check the ID token, add the userinfo claims."""
    found = await discover(request, provider)
    token = await _redeem(found, provider, settings_of(request), code, state["v"])
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise OidcFailure("the token response has no id_token")
    claims = await verify_id_token(found, provider, id_token, state["n"])
    info: dict[str, Any] = {}
    access_token = token.get("access_token")
    userinfo_url = found.metadata.get("userinfo_endpoint")
    if isinstance(access_token, str) and isinstance(userinfo_url, str):
        info = await _userinfo(userinfo_url, access_token)
        # OpenID Connect Core 5.3.4: the userinfo must be about the ID token's subject.
        if info.get("sub") != claims["sub"]:
            raise OidcFailure("userinfo is about another subject")
    return _person(found.metadata["issuer"], claims, info)


async def verify_id_token(
    found: Discovered, provider: OidcProvider, id_token: str, nonce: str
) -> dict[str, Any]:
    algorithms = [
        alg
        for alg in found.metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        if isinstance(alg, str) and alg != "none" and not alg.startswith("HS")
    ]
    if not algorithms:
        raise OidcFailure("the provider signs ID tokens with no algorithm we accept")
    try:
        try:
            decoded = jwt.decode(id_token, await _key_set(found), algorithms=algorithms)
        except InvalidKeyIdError:
            decoded = jwt.decode(
                id_token, await _key_set(found, refresh=True), algorithms=algorithms
            )
        claims = dict(decoded.claims)
        JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "value": found.metadata["issuer"]},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise OidcFailure(f"ID token refused: {exc!r}") from exc
    audience = claims["aud"]
    azp = claims.get("azp")
    several = isinstance(audience, list) and len(audience) > 1
    if (several or azp is not None) and azp != provider.client_id:
        raise OidcFailure("ID token refused: azp is not our client id")
    if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
        raise OidcFailure("ID token refused: sub is not a string of 1 to 255 characters")
    return claims


async def _userinfo(url: str, access_token: str) -> dict[str, Any]:
    try:
        async with _http() as client:
            response = await client.get(
                url,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
            response.raise_for_status()
            data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcFailure(f"userinfo: {exc}") from exc
    if not isinstance(data, dict):
        raise OidcFailure("userinfo is not a JSON object (signed userinfo is not supported)")
    return data


def _person(issuer: str, id_claims: dict[str, Any], userinfo: dict[str, Any]) -> Person:
    """The ID token's claims first, then the userinfo's (many providers put email and name only
    there). The email and its email_verified always come from the same one of the two."""
    claims = {**userinfo, **id_claims}
    source = id_claims if "email" in id_claims else userinfo
    email = None
    raw_email = source.get("email")
    if isinstance(raw_email, str) and raw_email.strip():
        try:
            email = validate_email(raw_email.strip(), check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            email = None
    verified = source.get("email_verified")
    name = next(
        (
            str(claims[k]).strip()
            for k in ("name", "given_name", "preferred_username", "nickname")
            if isinstance(claims.get(k), str) and str(claims[k]).strip()
        ),
        "",
    )
    locale = claims.get("locale")
    locale = (
        str(locale).replace("_", "-").split("-")[0].lower() if isinstance(locale, str) else None
    )
    return Person(
        issuer=issuer,
        subject=str(claims["sub"]),
        email=email,
        # Only an explicit yes counts (some providers send the string "true").
        email_verified=email is not None and (verified is True or verified == "true"),
        name=name[:80],
        locale=locale if locale in LOCALES else None,
    )


# --- Accounts and identities


def usable(user: User | None) -> bool:
    return user is not None and user.is_active and user.deleted_at is None


def is_pending(identity: OidcIdentity) -> bool:
    return (identity.note or "").startswith(PENDING)


async def find_identity(session: AsyncSession, issuer: str, subject: str) -> OidcIdentity | None:
    stmt = select(OidcIdentity).where(
        OidcIdentity.issuer == issuer, OidcIdentity.subject == subject
    )
    return (await session.execute(stmt)).scalar_one_or_none()


@dataclass
class Outcome:
    """What a verified sign-in leads to: "login", "signup", "link", "disabled" or "no_email"."""

    kind: str
    user: User | None = None
    identity: OidcIdentity | None = None


async def resolve(
    session: AsyncSession, settings: Settings, provider: OidcProvider, person: Person
) -> Outcome:
    """Apply the rules of this module's docstring to a verified sign-in."""
    identity = await find_identity(session, person.issuer, person.subject)
    if identity is not None and not is_pending(identity):
        user = await session.get(User, identity.user_id)
        return Outcome("login", user) if usable(user) else Outcome("disabled")
    if not person.email:
        return Outcome("no_email")
    user = await services.by_email(session, person.email)
    if user is None:
        if identity is not None:  # pending for an account that no longer has this address
            await _drop_pending(session, identity)
        return Outcome("signup")
    if not usable(user):
        return Outcome("disabled")
    identity = await request_link(session, settings, provider, person, user, identity)
    return Outcome("link", user, identity)


async def _drop_pending(session: AsyncSession, identity: OidcIdentity) -> None:
    await _use_pending_token(session, identity)
    await session.delete(identity)
    await session.flush()


async def _use_pending_token(session: AsyncSession, identity: OidcIdentity) -> None:
    token_id = (identity.note or "")[len(PENDING) :]
    token = await session.get(AccountToken, token_id) if token_id else None
    if token is not None and token.used_at is None:
        token.used_at = utcnow()


async def request_link(
    session: AsyncSession,
    settings: Settings,
    provider: OidcProvider,
    person: Person,
    user: User,
    identity: OidcIdentity | None = None,
) -> OidcIdentity:
    """Keep the identity as pending for `user` and mail a single-use link to the account's address."""
    secret = new_secret()
    token = AccountToken(
        id=digest(secret),
        user_id=user.id,
        purpose=LINK,
        email=user.email,
        expires_at=utcnow() + LINK_LIFETIME,
    )
    session.add(token)
    if identity is None:
        identity = OidcIdentity(user_id=user.id, issuer=person.issuer, subject=person.subject)
        session.add(identity)
    else:
        await _use_pending_token(session, identity)  # an earlier link stops working
        identity.user_id = user.id
    identity.note = PENDING + token.id
    await session.flush()
    link = f"{settings.base_url.rstrip('/')}/login/oidc/link?{urlencode({'token': secret})}"
    await _queue_link_mail(session, settings, user, provider, link)
    return identity


async def _queue_link_mail(
    session: AsyncSession, settings: Settings, user: User, provider: OidcProvider, link: str
) -> None:
    env = mail.environment()
    with use_locale(user.locale):
        locale = current_locale()
        rtl = is_rtl(locale)
        subject = gettext(MSG_LINK_SUBJECT, provider=provider.label)
        values = {
            "base_url": settings.base_url.rstrip("/"),
            "name": user.display_name,
            "provider": provider.label,
            "email": user.email,
            "link": link,
            "subject": subject,
            "lang": locale,
            "rtl": rtl,
            "dir": "rtl" if rtl else "ltr",
        }
        body = env.get_template("accounts/oidc_link_email.txt").render(values).strip() + "\n"
        html = env.get_template("accounts/oidc_link_email.html").render(values)
    payload = {
        "to": user.email,
        "subject": " ".join(subject.split()),
        "text": body,
        "html": html,
        "template": LINK,
        # It proves the address, like a verification mail, so it goes to unverified ones too.
        "essential": True,
        "locale": locale,
    }
    await enqueue(session, mail.SEND_MAIL_JOB, payload)


async def link(session: AsyncSession, identity: OidcIdentity, user: User) -> None:
    """Turn a pending identity of `user` into a linked one."""
    await _use_pending_token(session, identity)
    identity.user_id = user.id
    identity.note = None


async def take_link_token(
    session: AsyncSession, secret: str, identity_id: int, user_id: str
) -> tuple[OidcIdentity, User] | None:
    """The pending identity and account of a mailed link, if it is still good; uses it up."""
    token = await session.get(AccountToken, digest(secret.strip()))
    if (
        token is None
        or token.purpose != LINK
        or token.used_at is not None
        or token.expires_at <= utcnow()
        or token.user_id != user_id
    ):
        return None
    identity = await session.get(OidcIdentity, identity_id)
    user = await session.get(User, token.user_id)
    if (
        identity is None
        or identity.note != PENDING + token.id
        or identity.user_id != token.user_id
        or user is None
        or not usable(user)
        or user.email != token.email
    ):
        return None
    await link(session, identity, user)
    # The mail reached the person, so the address is proven too.
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    return identity, user


class OidcSignupIn(Strict):
    display_name: DisplayName
    role: Literal["volunteer", "seeker"]
    locale: LocaleCode = "de"


async def create_account(
    session: AsyncSession, settings: Settings, person: Person, data: OidcSignupIn
) -> User:
    assert person.email is not None
    user = User(
        email=person.email,
        password_hash=None,  # none until the person sets one with "forgot password"
        display_name=data.display_name,
        role=data.role,
        locale=data.locale,
        email_verified_at=utcnow() if person.email_verified else None,
        vetting_status="pending" if data.role == "volunteer" else None,
    )
    session.add(user)
    await session.flush()
    session.add(OidcIdentity(user_id=user.id, issuer=person.issuer, subject=person.subject))
    await session.flush()
    if not person.email_verified:
        await services.send_verification(session, settings, user)
    return user


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
