"""The directory's part of a person's export: services suggested to or by them
(market.accounts.export; listed in market/features.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.export import iso
from market.accounts.models import User
from market.directory.models import Entry, Referral


async def referrals(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Services suggested to the caller and those the caller suggested to others. Who
    received a suggestion is that person's data, so a sent one shows only the service."""
    stmt = (
        select(Referral, Entry.name)
        .join(Entry, Entry.id == Referral.entry_id)
        .where(or_(Referral.to_user_id == user.id, Referral.from_user_id == user.id))
        .order_by(Referral.created_at, Referral.id)
    )
    return [
        {
            "id": r.id,
            "direction": "received" if r.to_user_id == user.id else "sent",
            "service_id": r.entry_id,
            "service_name": name,
            "post_id": r.post_id,
            "note": r.note,
            "created_at": iso(r.created_at),
        }
        for r, name in (await session.execute(stmt)).all()
    ]
