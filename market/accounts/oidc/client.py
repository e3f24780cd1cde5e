"""The OpenID Connect protocol client: providers from the settings, discovery and keys
(cached per application), the authorization URL with PKCE, the code exchange and the ID token's
checks. Nothing here touches accounts; market.accounts.oidc.identities does."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from email_validator import EmailNotValidError, validate_email
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from starlette.requests import Request

from market.i18n import LOCALES
from market.i18n import get_locale as current_locale
from market.settings import OidcProvider, Settings
from market.web import (
    settings_of,
)

log = logging.getLogger(__name__)

DISCOVERY_TTL = 3600.0
HTTP_TIMEOUT = 10.0
LEEWAY = 120  # seconds of clock skew allowed for exp and iat


class OidcFailure(Exception):
    """The provider's answer is not acceptable; the message is for the log, not for the user."""


# --- Configuration


def providers(settings: Settings) -> tuple[OidcProvider, ...]:
    return settings.oidc_provider_list


def provider_named(settings: Settings, name: str) -> OidcProvider | None:
    return next((p for p in providers(settings) if p.name == name), None)


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
