"""The notifications' part of a person's export (market.accounts.export; listed in
market/features.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.export import iso
from market.accounts.models import User
from notifications.models import Notification
from notifications.preferences import modes_of


async def notifications(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    stmt = (
        select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.created_at, Notification.id)
    )
    return [
        {
            "id": n.id,
            "kind": n.kind,
            "created_at": iso(n.created_at),
            "read_at": iso(n.read_at),
            "data": n.data,
        }
        for n in await session.scalars(stmt)
    ]


async def notification_preferences(session: AsyncSession, user: User) -> dict[str, str]:
    return await modes_of(session, user.id)
