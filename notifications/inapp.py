"""In-app notifications: one row per user and event, shown in the app and the API.

Every change is announced to the person's open pages after the commit (notifications.live).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.db import new_id, utcnow
from notifications.live import pending, remember
from notifications.models import Notification, NotificationKind


async def notify(
    session: AsyncSession,
    *,
    user_id: str,
    kind: str,
    data: dict[str, Any] | None = None,
    group_key: str | None = None,
) -> Notification:
    """Add a notification in the caller's transaction (flush, never commit).

    With a `group_key`, an unread notification with the same key is brought up to date
    instead (newest time, new data, `data["count"]` counting the events), so that a busy
    conversation shows as one entry.
    """
    # An unknown kind fails here, in the caller's code, rather than at the flush (CHECK).
    kind = NotificationKind(kind)
    now = utcnow()
    if group_key is not None:
        stmt = (
            select(Notification)
            .where(
                Notification.user_id == user_id,
                Notification.group_key == group_key,
                Notification.read_at.is_(None),
            )
            .order_by(Notification.created_at.desc())
            .limit(1)
            .with_for_update()
        )
        existing: Notification | None = await session.scalar(stmt)
        if existing is not None:
            count = int(existing.data.get("count", 1)) + 1
            existing.data = {**dict(data or {}), "count": count}
            existing.kind = kind
            existing.created_at = now
            await session.flush()
            remember(session, _event(existing, "notification"))
            return existing
    payload = dict(data or {})
    if group_key is not None:
        payload.setdefault("count", 1)
    note = Notification(
        id=new_id(),
        user_id=user_id,
        kind=kind,
        data=payload,
        created_at=now,
        group_key=group_key,
    )
    session.add(note)
    await session.flush()
    remember(session, _event(note, "notification"))
    return note


def _event(note: Notification, kind: str) -> dict[str, Any]:
    return {"user_id": note.user_id, "type": kind, "notification_id": note.id}


async def mark_read(
    session: AsyncSession, *, user_id: str, notification_id: str
) -> Notification | None:
    """Mark one of the user's notifications read; None if it is not theirs (or absent)."""
    if not notification_id or len(notification_id) > 32:
        return None
    note = await session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
    )
    if note is not None and note.read_at is None:
        note.read_at = utcnow()
        await session.flush()
        remember(session, _event(note, "read"))
    return note


async def mark_all_read(session: AsyncSession, user_id: str) -> int:
    """Mark every unread notification of the user read; returns how many."""
    return await _mark(session, user_id, Notification.read_at.is_(None))


async def mark_group_read(session: AsyncSession, user_id: str, group_key: str) -> int:
    """The user has seen what the group is about (a conversation was read)."""
    return await _mark(
        session, user_id, Notification.read_at.is_(None), Notification.group_key == group_key
    )


async def _mark(session: AsyncSession, user_id: str, *conditions: Any) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, *conditions)
        .values(read_at=utcnow())
    )
    changed = int(getattr(result, "rowcount", 0) or 0)
    if changed:
        remember(session, {"user_id": user_id, "type": "read"})
    return changed


def unread_count_of(user_id: ColumnElement[str] | str) -> ColumnElement[int]:
    """The unread count as a column, for the query that finds the caller anyway (pages read it
    in the same round trip as the session: market.web_requests)."""
    return (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )


async def unread_count(session: AsyncSession, user_id: str, known: int | None = None) -> int:
    """The user's unread notifications. `known`, a count `unread_count_of` read earlier in this
    transaction, is the answer unless this session has added or marked a notification since
    (every change announces itself: notifications.live.remember)."""
    if known is not None and not pending(session):
        return known
    return int(await session.scalar(select(unread_count_of(user_id))) or 0)
