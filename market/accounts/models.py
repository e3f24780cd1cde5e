"""Users, their languages, browser sessions, API tokens and one-time account tokens."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from market.db import Base, IdMixin, TimestampMixin, checked, new_id, utcnow


class Role(StrEnum):
    VOLUNTEER = "volunteer"
    SEEKER = "seeker"
    ORGANISATION = "organisation"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class LanguageLevel(StrEnum):
    NATIVE = "native"
    FLUENT = "fluent"
    BASIC = "basic"


class VettingStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class TokenPurpose(StrEnum):
    """What a mailed single-use token is for (AccountToken.purpose); the mail template is named
    as the purpose."""

    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - a purpose, not a password
    DELETE_ACCOUNT = "delete_account"
    LINK_OIDC = "link_oidc"


# The same values as plain strings (StrEnum members equal them), for forms and schemas.
ROLES = tuple(r.value for r in Role)
SELF_REGISTER_ROLES = ("volunteer", "seeker", "organisation")
LEVELS = tuple(level.value for level in LanguageLevel)
VETTING_STATUSES = tuple(s.value for s in VettingStatus)


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(80))
    role: Mapped[Role] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8), default="de")
    email_verified_at: Mapped[datetime | None]
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    deleted_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Volunteers only: the latest vetting decision, kept here so that matching can filter in SQL.
    vetting_status: Mapped[VettingStatus | None] = mapped_column(String(16))
    police_certificate_until: Mapped[date | None]
    # How many open matches a volunteer is willing to receive at once.
    max_open_matches: Mapped[int] = mapped_column(default=5)
    # Volunteers who let proposals expire are paused until they say they are available again
    # (market.matches.followthrough); the matcher skips them.
    available: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    expired_proposals: Mapped[int] = mapped_column(default=0, server_default="0")
    paused_at: Mapped[datetime | None]
    # Set by an admin (market.admin): is_active is False meanwhile, so no login path lets the
    # account in; this says why, so unsuspending does not revive a deleted account.
    suspended_at: Mapped[datetime | None]

    languages: Mapped[list[UserLanguage]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="UserLanguage.position",
    )

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def is_staff(self) -> bool:
        return self.role in ("coordinator", "admin")


class UserLanguage(Base):
    __tablename__ = "user_languages"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    level: Mapped[LanguageLevel] = mapped_column(String(8), default=LanguageLevel.FLUENT)
    position: Mapped[int] = mapped_column(default=0)

    user: Mapped[User] = relationship(back_populates="languages")


class WebSession(TimestampMixin, Base):
    """A browser session held on the server, so it can be revoked; the cookie holds a secret
    whose SHA-256 is the key here."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str | None] = mapped_column(String(200))
    # What pages and forms call the session by: the primary key is the secret's hash.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)


class ApiToken(TimestampMixin, Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # The id shown in GET /me/tokens: the primary key is the secret's hash, never shown.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id)
    # Written at most once a minute (market.web), so reads stay reads.
    last_used_at: Mapped[datetime | None]


class TwoFactor(TimestampMixin, Base):
    """A user's TOTP second factor (RFC 6238). The secret is encrypted with a key derived from
    the signing key, so a database dump alone does not give it away.

    `confirmed_at` is None while the person is still setting it up; `last_step` is the time step
    of the last code accepted, so the same code cannot be used twice.
    """

    __tablename__ = "two_factor"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[str] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(TimestampMixin, Base):
    """A single-use code for when the authenticator is lost; stored as a keyed hash."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class AccountToken(TimestampMixin, Base):
    """A single-use token mailed to the user: see TokenPurpose."""

    __tablename__ = "account_tokens"
    __table_args__ = (Index("ix_account_tokens_user_purpose", "user_id", "purpose"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[TokenPurpose] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(254))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class CoordinatorRegion(Base):
    __tablename__ = "coordinator_regions"
    __table_args__ = (UniqueConstraint("user_id", "region_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    region_id: Mapped[str] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"))


class OidcIdentity(TimestampMixin, Base):
    """A login through an OpenID Connect provider, identified by issuer plus subject."""

    __tablename__ = "oidc_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    note: Mapped[str | None] = mapped_column(Text)


# Closed sets of values, also CHECK constraints (migrations name them ck_<table>_<column>).
checked(User.__table__, role=Role, vetting_status=VettingStatus)
checked(UserLanguage.__table__, level=LanguageLevel)
checked(AccountToken.__table__, purpose=TokenPurpose)
