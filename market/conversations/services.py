"""Opening conversations; messages are written and read through the conversation feature."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.conversations.models import Conversation, Participant


async def open_for(
    session: AsyncSession,
    user_ids: list[str],
    *,
    match_id: str | None = None,
    application_id: str | None = None,
) -> Conversation:
    """The conversation of a connected match or an accepted application (one each)."""
    stmt = select(Conversation)
    if match_id:
        stmt = stmt.where(Conversation.match_id == match_id)
    else:
        stmt = stmt.where(Conversation.application_id == application_id)
    existing = (await session.execute(stmt)).scalar_one_or_none()
    if existing is not None:
        return existing
    conversation = Conversation(match_id=match_id, application_id=application_id)
    session.add(conversation)
    await session.flush()
    for user_id in dict.fromkeys(user_ids):
        session.add(Participant(conversation_id=conversation.id, user_id=user_id))
    await session.flush()
    return conversation
