"""Signed-in browser sessions and API tokens: start, list, end one, end all (a new password
ends every other one). Split from market.accounts.services; callers import them from here."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import ApiToken, User, WebSession
from market.db import utcnow
from market.errors import NotFound
from market.security import digest, new_secret
from market.settings import Settings


async def issue_api_token(session: AsyncSession, settings: Settings, user: User) -> tuple[str, int]:
    secret = new_secret()
    session.add(
        ApiToken(
            id=digest(secret),
            user_id=user.id,
            expires_at=utcnow() + timedelta(seconds=settings.token_seconds),
        )
    )
    return secret, settings.token_seconds


async def active_tokens(session: AsyncSession, user_id: str) -> list[ApiToken]:
    """The user's API tokens that still work, newest first."""
    stmt = (
        select(ApiToken)
        .where(
            ApiToken.user_id == user_id,
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > utcnow(),
        )
        .order_by(ApiToken.created_at.desc(), ApiToken.public_id)
    )
    return list((await session.execute(stmt)).scalars())


def token_out(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.public_id,
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }


# Public ids of tokens and sessions are 32 hex digits (market.db.new_id).
_PUBLIC_ID = re.compile(r"[0-9a-f]{32}")


async def revoke_token(session: AsyncSession, user_id: str, public_id: str) -> None:
    """Revoke one of the user's own tokens; someone else's, or an unknown one, is NotFound."""
    if not _PUBLIC_ID.fullmatch(public_id):
        raise NotFound("There is no such token.")
    result = await session.execute(
        update(ApiToken)
        .where(
            ApiToken.user_id == user_id,
            ApiToken.public_id == public_id,
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .returning(ApiToken.id)
    )
    if result.first() is None:
        raise NotFound("There is no such token.")


async def active_web_sessions(session: AsyncSession, user_id: str) -> list[WebSession]:
    stmt = (
        select(WebSession)
        .where(
            WebSession.user_id == user_id,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > utcnow(),
        )
        .order_by(WebSession.created_at.desc(), WebSession.public_id)
    )
    return list((await session.execute(stmt)).scalars())


async def end_web_session_by_id(session: AsyncSession, user_id: str, public_id: str) -> None:
    """Sign out one of the user's own browser sessions (a lost phone, a shared computer)."""
    if not _PUBLIC_ID.fullmatch(public_id):
        raise NotFound("There is no such session.")
    result = await session.execute(
        update(WebSession)
        .where(
            WebSession.user_id == user_id,
            WebSession.public_id == public_id,
            WebSession.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .returning(WebSession.id)
    )
    if result.first() is None:
        raise NotFound("There is no such session.")


async def start_web_session(
    session: AsyncSession, settings: Settings, user: User, user_agent: str | None
) -> str:
    secret = new_secret()
    session.add(
        WebSession(
            id=digest(secret),
            user_id=user.id,
            csrf_token=new_secret(),
            expires_at=utcnow() + timedelta(days=settings.session_days),
            user_agent=(user_agent or "")[:200],
        )
    )
    return secret


async def end_web_session(session: AsyncSession, web_session: WebSession) -> None:
    web_session.revoked_at = utcnow()


async def revoke_sessions(
    session: AsyncSession, user_id: str, *, keep_session_id: str | None = None
) -> None:
    """End every browser session and API token of a user, except the one in use."""
    now = utcnow()
    stmt = update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    if keep_session_id:
        stmt = stmt.where(WebSession.id != keep_session_id)
    await session.execute(stmt.values(revoked_at=now))
    await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
