"""The one typed settings object; nothing else in Anlauf reads os.environ."""

from __future__ import annotations

import ipaddress
import json
import secrets
from functools import cache, cached_property
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

# Paths under /login/oidc/ that are pages of their own, so no provider may have these names.
RESERVED_OIDC_NAMES = frozenset({"signup", "link"})


class OidcProvider(BaseModel):
    """One entry of ANLAUF_OIDC_PROVIDERS; the endpoints come from <issuer>/.well-known/..."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    label: str = Field(min_length=1, max_length=80)
    issuer: str = Field(pattern=r"^https?://[^\s?#]+$", max_length=255)
    client_id: str = Field(min_length=1)
    client_secret: str = ""  # empty: a public client (PKCE only)
    scopes: str = "openid email profile"

    @field_validator("scopes", mode="before")
    @classmethod
    def _scopes_as_list(cls, value: object) -> object:
        # ["openid", "email"] reads as naturally as "openid email": accept both.
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return " ".join(v.strip() for v in value if v.strip())
        return value


@cache
def parse_oidc_providers(raw: str, production: bool = False) -> tuple[OidcProvider, ...]:
    """ANLAUF_OIDC_PROVIDERS (a JSON list) as checked entries; ValueError says what is wrong."""
    if not raw.strip():
        return ()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"ANLAUF_OIDC_PROVIDERS is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise ValueError("ANLAUF_OIDC_PROVIDERS must be a JSON list of objects")
    try:
        providers = TypeAdapter(list[OidcProvider]).validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"entry {int(err['loc'][0]) + 1}: {'.'.join(map(str, err['loc'][1:])) or 'value'}: "
            f"{err['msg']}"
            for err in exc.errors()
        )
        raise ValueError(f"ANLAUF_OIDC_PROVIDERS: {problems}") from None
    names = [p.name for p in providers]
    for p in providers:
        if names.count(p.name) > 1 or p.name in RESERVED_OIDC_NAMES:
            raise ValueError(f"ANLAUF_OIDC_PROVIDERS: the name {p.name!r} is taken")
        if "openid" not in p.scopes.split():
            raise ValueError(f"ANLAUF_OIDC_PROVIDERS: {p.name}: scopes must include openid")
        if production and not p.issuer.startswith("https://"):
            raise ValueError(f"ANLAUF_OIDC_PROVIDERS: {p.name}: the issuer must use https")
    return tuple(providers)


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def parse_networks(raw: str) -> tuple[IPNetwork, ...]:
    """ANLAUF_TRUSTED_PROXIES: "10.0.0.5, 172.16.0.0/12" as networks; ValueError names a bad one."""
    networks: list[IPNetwork] = []
    for item in raw.split(","):
        if not item.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"ANLAUF_TRUSTED_PROXIES: {item.strip()!r} is not an IP address or network"
            ) from None
    return tuple(networks)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANLAUF_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./anlauf.db"
    redis_url: str | None = None
    smtp_url: str | None = None
    mail_from: str = "Anlauf <noreply@localhost>"
    # Who runs this installation: feedback from the accessibility statement goes here
    # (market.legal); unset, the page asks people to write to the address in the imprint.
    operator_email: str | None = None
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = None
    rate_limit_enabled: bool = True
    instance_dir: Path = Path("./instance")
    outbox_dir: Path = Path("./outbox")
    # How long a browser session and an API token stay valid.
    session_days: int = 14
    token_seconds: int = 3600 * 24
    # Argon2id: OWASP's second recommended setting is m=19 MiB, t=2; we use more memory.
    argon2_memory_kib: int = 47104
    argon2_time_cost: int = 2
    # Online geocoding is optional; the offline gazetteer always works.
    geocoder_url: str | None = None
    # Posts expire after this many days unless renewed.
    post_lifetime_days: int = 90
    # Accounts without login or API use for this many months are deleted (warned 30 and 7 days
    # before; market.retention). Staff accounts are only warned.
    inactive_months: int = Field(default=24, ge=1)
    # How often the outbox relay looks for rows that were never handed over.
    # (Also how often it frees jobs a dead worker held: see notifications.outbox.LEASE_SECONDS.)
    relay_interval_seconds: float = 2.0
    oidc_providers: str = Field(default="", description="JSON list of OpenID Connect providers")
    # `required`: coordinators and admins must set up two-factor sign-in before any review or
    # admin page or endpoint answers them (they read police-certificate facts and conversations).
    staff_2fa: Literal["optional", "required"] = "optional"
    # How long anonymous visitors' pages and public API answers are cached (market.pagecache);
    # 0 switches the cache off.
    public_cache_seconds: int = Field(default=10, ge=0)
    # Reading requests (GET, HEAD) one web process works on at once; the others wait in arrival
    # order (market.admission); 0: no limit.
    requests_at_once: int = Field(default=4, ge=0)
    # A routing site for "how to get there" on service pages, with {lat} and {lon} in it
    # (e.g. https://www.openstreetmap.org/directions?to={lat}%2C{lon}); unset: no link.
    routing_url: str | None = None
    # Reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For is believed; none by
    # default, so a client cannot pick the address the per-IP rate limits count.
    trusted_proxies: str = ""
    # A LibreTranslate-compatible server (market.translation); unset: nothing is translated.
    translate_url: str | None = None
    translate_api_key: str | None = None
    # Map tiles (Leaflet URL template); its host is allowed in the pages' CSP img-src.
    map_tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    # Credit for those tiles under the map (HTML, as the tile server's licence asks); set it
    # together with map_tiles_url, since another server's tiles need that server's credit.
    map_attribution: str = (
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
    )

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        if self.env == "production" and not self.secret_key:
            raise ValueError("ANLAUF_SECRET_KEY is required when ANLAUF_ENV=production")
        return self

    @model_validator(mode="after")
    def _oidc_providers_valid(self) -> Settings:
        parse_oidc_providers(self.oidc_providers, self.env == "production")
        return self

    @property
    def oidc_provider_list(self) -> tuple[OidcProvider, ...]:
        """The configured OpenID Connect providers (checked again: model_copy skips validators)."""
        return parse_oidc_providers(self.oidc_providers, self.env == "production")

    @model_validator(mode="after")
    def _trusted_proxies_valid(self) -> Settings:
        parse_networks(self.trusted_proxies)
        return self

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def secure_cookies(self) -> bool:
        return self.env == "production"

    @cached_property
    def signing_key(self) -> str:
        """The secret key, or one generated once and kept in the instance folder."""
        if self.secret_key:
            return self.secret_key
        path = self.instance_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.instance_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key
