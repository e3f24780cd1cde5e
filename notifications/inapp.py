"""In-app notifications: one row per user and event, shown in the app and the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.db import new_id, utcnow
from notifications.models import Notification


async def notify(
    session: AsyncSession, *, user_id: str, kind: str, data: dict[str, Any] | None = None
) -> Notification:
    """Add a notification in the caller's transaction (flush, never commit)."""
    note = Notification(
        id=new_id(), user_id=user_id, kind=kind, data=dict(data or {}), created_at=utcnow()
    )
    session.add(note)
    await session.flush()
    return note


async def mark_read(
    session: AsyncSession, *, user_id: str, notification_id: str
) -> Notification | None:
    """Mark one of the user's notifications read; None if it is not theirs (or absent)."""
    note = await session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
    )
    if note is not None and note.read_at is None:
        note.read_at = utcnow()
        await session.flush()
    return note


async def unread_count(session: AsyncSession, user_id: str) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    return int(count or 0)
