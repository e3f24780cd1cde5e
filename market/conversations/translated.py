"""Messages and machine translation (market.translation, below conversations): the fill job
reads messages again through `message_texts`, which market/features.py puts into
market.translation.sources.MESSAGE_TEXTS."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.conversations.models import Message
from market.translation import service


async def message_texts(
    session: AsyncSession, message_ids: Sequence[str], target: str
) -> list[service.Item]:
    """The bodies of these messages (their language is not known: the server detects it)."""
    found = await session.scalars(select(Message).where(Message.id.in_(list(message_ids))))
    return [i for m in found for i in service.message_items(m)]
