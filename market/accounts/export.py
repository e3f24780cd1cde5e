"""Everything stored about a person, for the right of access (GDPR Art. 15).

API.md (Release 2, Accounts and personal data) lists what `GET /me/export` holds: profile,
languages, posts, matches (status, partner's display name, reasons, outcome), conversations
with their messages, notifications, reports the caller filed, applications, organisation
memberships, vetting decisions about the caller with their checklist and dates, sessions and
tokens (created, last used). Each feature writes its own sections (`market/<feature>/
personal_data.py`; accounts' own are below) and names them in market/features.py (`exports=`),
from where build() puts them into SECTIONS, so accounts imports no feature above it. Sections
that features registered at import time once went missing silently (the export held no
matches): now the start fails if a listed section does not exist or one of REQUIRED (API.md's
list) is not given by any feature, for an export that looks complete but is not is worse than
none. Secrets never appear: no password hash, no token or session key, no second-factor secret.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import services
from market.accounts.models import AccountToken, ApiToken, OidcIdentity, User, WebSession

Section = Callable[[AsyncSession, User], Awaitable[Any]]


def iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


async def profile(session: AsyncSession, user: User) -> dict[str, Any]:
    org = await services.organisation_of(session, user.id)
    return services.me(user, org) | {
        "created_at": iso(user.created_at),
        "police_certificate_until": iso(user.police_certificate_until),
        "max_open_matches": user.max_open_matches,
    }


async def languages(session: AsyncSession, user: User) -> list[dict[str, str]]:
    return [{"code": lang.code, "level": lang.level} for lang in user.languages]


def _public_id(row: Any) -> str | None:
    """The id pages and the token list show (the primary key is the secret's hash: never)."""
    value = getattr(row, "public_id", None)
    return str(value) if value else None


async def oldest_first(session: AsyncSession, model: Any, *where: Any) -> list[Any]:
    """The rows of `model` that meet `where`, oldest first (ties by id): each section's order."""
    stmt = select(model).where(*where).order_by(model.created_at, model.id)
    return list(await session.scalars(stmt))


def _credential(row: Any) -> dict[str, Any]:
    """What a session and an API token both show: when made, last used, ending, revoked."""
    return {
        "id": _public_id(row),
        "created_at": iso(row.created_at),
        "last_used_at": iso(getattr(row, "last_used_at", None)),
        "expires_at": iso(row.expires_at),
        "revoked_at": iso(row.revoked_at),
    }


async def sessions(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    rows = await oldest_first(session, WebSession, WebSession.user_id == user.id)
    return [{**_credential(s), "user_agent": s.user_agent} for s in rows]


async def tokens(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    rows = await oldest_first(session, ApiToken, ApiToken.user_id == user.id)
    return [_credential(t) for t in rows]


async def mailed_links(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """One-time links mailed to the caller (verification, reset, deletion), without the secret."""
    return [
        {
            "purpose": t.purpose,
            "email": t.email,
            "created_at": iso(t.created_at),
            "expires_at": iso(t.expires_at),
            "used_at": iso(t.used_at),
        }
        for t in await oldest_first(session, AccountToken, AccountToken.user_id == user.id)
    ]


async def single_sign_on(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    stmt = select(OidcIdentity).where(OidcIdentity.user_id == user.id).order_by(OidcIdentity.id)
    return [
        {"issuer": i.issuer, "subject": i.subject, "created_at": iso(i.created_at)}
        for i in await session.scalars(stmt)
    ]


# What API.md says the export holds: the start fails unless a feature gives each of these.
REQUIRED = (
    "profile",
    "languages",
    "posts",
    "matches",
    "conversations",
    "messages",
    "notifications",
    "reports",
    "applications",
    "organisations",
    "vetting_decisions",
    "sessions",
    "tokens",
)
# The export, section by section: each feature's, in the order of market/features.py, put in
# by market.features.build() from the features' `exports=` (accounts' own are listed there too).
SECTIONS: list[tuple[str, Section]] = []


async def export_user(session: AsyncSession, user: User) -> dict[str, Any]:
    return {name: await section(session, user) for name, section in SECTIONS}
