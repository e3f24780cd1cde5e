"""Writing and reading the messages of a conversation.

Only participants write. Participants and, for moderation, coordinators read; everyone else is
told the conversation does not exist. Messages are plain text: any markup is removed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market import events
from market.accounts.models import User
from market.conversations.models import Conversation, Message, Participant
from market.db import utcnow
from market.errors import Invalid, NotFound
from market.i18n import N_
from market.text import plain_text

MAX_BODY = 4000
MSG_EMPTY = N_("Please write a message.")
MSG_TOO_LONG = N_("Your message is too long. Please write at most 4000 characters.")


async def _conversation(session: AsyncSession, conversation_id: str) -> Conversation | None:
    if not conversation_id or len(conversation_id) > 32:
        return None
    return await session.get(Conversation, conversation_id)


async def _participant(
    session: AsyncSession, user_id: str, conversation_id: str
) -> Participant | None:
    stmt = select(Participant).where(
        Participant.conversation_id == conversation_id, Participant.user_id == user_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def post_message(
    session: AsyncSession, user: User, conversation_id: str, body: str
) -> Message:
    """Write a message (1-4000 characters) as a participant of the conversation."""
    conversation = await _conversation(session, conversation_id)
    participant = (
        await _participant(session, user.id, conversation.id) if conversation is not None else None
    )
    if conversation is None or participant is None:
        # Callers ask market.conversations.guardian first (403 for a moderating coordinator);
        # this is the last line: nobody but a participant ever writes.
        raise NotFound("There is no such conversation.")
    if len(body or "") > MAX_BODY * 4:  # far too long: no need to clean it first
        raise Invalid.one("body", MSG_TOO_LONG)
    text = plain_text(body or "").strip()
    if not text:
        raise Invalid.one("body", MSG_EMPTY)
    if len(text) > MAX_BODY:
        raise Invalid.one("body", MSG_TOO_LONG)
    now = utcnow()
    message = Message(conversation_id=conversation.id, author_id=user.id, body=text, created_at=now)
    session.add(message)
    conversation.last_message_at = now
    # Writing means having read everything before.
    participant.last_read_at = now
    await session.flush()
    # The other participants are told (in the app and by mail) by market.inbox.handlers.
    await events.emit(
        session, events.MESSAGE_POSTED, message=message, conversation=conversation, author=user
    )
    return message


async def thread(session: AsyncSession, conversation_id: str) -> list[Message]:
    """All messages, oldest first, for a reader market.conversations.guardian let in."""
    stmt = (
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.created_at, Message.id)
    )
    return list((await session.execute(stmt)).scalars())


async def mark_read(session: AsyncSession, user: User, conversation_id: str) -> None:
    """The user has seen everything in this conversation up to now (participants only)."""
    participant = await _participant(session, user.id, conversation_id)
    if participant is not None:
        participant.last_read_at = utcnow()
        await session.flush()
        await events.emit(
            session, events.CONVERSATION_READ, user=user, conversation_id=conversation_id
        )
