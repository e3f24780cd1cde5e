"""The one typed settings object; nothing else in Anlauf reads os.environ."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ANLAUF_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./anlauf.db"
    redis_url: str | None = None
    smtp_url: str | None = None
    mail_from: str = "Anlauf <noreply@localhost>"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = None
    rate_limit_enabled: bool = True
    instance_dir: Path = Path("./instance")
    outbox_dir: Path = Path("./outbox")
    default_locale: str = "de"
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
    # How often the outbox relay looks for rows that were never handed over.
    relay_interval_seconds: float = 5.0
    oidc_providers: str = Field(default="", description="JSON list of OpenID Connect providers")

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        if self.env == "production" and not self.secret_key:
            raise ValueError("ANLAUF_SECRET_KEY is required when ANLAUF_ENV=production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

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
