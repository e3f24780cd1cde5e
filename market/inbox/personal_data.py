"""The notifications' part of a person's export (market.accounts.export; listed in
market/features.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.export import iso, oldest_first
from market.accounts.models import User
from notifications.models import Notification
from notifications.preferences import modes_of


async def notifications(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    rows = await oldest_first(session, Notification, Notification.user_id == user.id)
    return [
        {
            "id": n.id,
            "kind": n.kind,
            "created_at": iso(n.created_at),
            "read_at": iso(n.read_at),
            "data": n.data,
        }
        for n in rows
    ]


async def notification_preferences(session: AsyncSession, user: User) -> dict[str, str]:
    return await modes_of(session, user.id)
