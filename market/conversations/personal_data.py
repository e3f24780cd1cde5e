"""The conversations' part of a person's export (market.accounts.export) and of erasing
them (market.accounts.erasure); both listed in market/features.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.erasure import Eraser, Person, ids
from market.accounts.export import iso
from market.accounts.models import User
from market.conversations.models import Conversation, Message, Participant


async def conversations(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Each conversation the caller takes part in, with everybody's messages in it."""
    mine = select(Participant.conversation_id).where(Participant.user_id == user.id)
    conversations = list(
        await session.scalars(
            select(Conversation)
            .where(Conversation.id.in_(mine))
            .order_by(Conversation.created_at, Conversation.id)
        )
    )
    ids = [c.id for c in conversations]
    people: dict[str, list[User]] = {i: [] for i in ids}
    messages: dict[str, list[Message]] = {i: [] for i in ids}
    if ids:
        rows = await session.execute(
            select(Participant.conversation_id, User)
            .join(User, User.id == Participant.user_id)
            .where(Participant.conversation_id.in_(ids))
            .order_by(Participant.id)
        )
        for conversation_id, person in rows.all():
            people[conversation_id].append(person)
        for message in await session.scalars(
            select(Message)
            .where(Message.conversation_id.in_(ids))
            .order_by(Message.created_at, Message.id)
        ):
            messages[message.conversation_id].append(message)
    names = {p.id: _shown_name(p) for group in people.values() for p in group}
    return [
        {
            "id": c.id,
            "match_id": c.match_id,
            "application_id": c.application_id,
            "created_at": iso(c.created_at),
            "participants": [
                {
                    "display_name": names[p.id],
                    "deleted": p.deleted_at is not None,
                    "me": p.id == user.id,
                }
                for p in people[c.id]
            ],
            "messages": [
                {
                    "id": m.id,
                    "from_me": m.author_id == user.id,
                    "author": names.get(m.author_id or "") if m.author_id != user.id else None,
                    "body": m.body,
                    "created_at": iso(m.created_at),
                }
                for m in messages[c.id]
            ],
        }
        for c in conversations
    ]


def _shown_name(person: User) -> str | None:
    return None if person.deleted_at is not None else person.display_name


async def messages(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """The messages the caller wrote (they are in "conversations" too, with the others')."""
    stmt = select(Message).where(Message.author_id == user.id).order_by(Message.created_at)
    return [
        {
            "id": m.id,
            "conversation_id": m.conversation_id,
            "body": m.body,
            "created_at": iso(m.created_at),
        }
        for m in await session.scalars(stmt)
    ]


class ConversationsEraser(Eraser):
    """Partners keep the conversation (API.md): messages stay, with the person's name and
    address replaced in every message of the conversations they took part in."""

    async def related(self, session: AsyncSession, person: Person) -> set[str]:
        theirs = select(Participant.conversation_id).where(Participant.user_id == person.id)
        written = select(Message.id).where(Message.author_id == person.id)
        return await ids(session, theirs) | await ids(session, written)

    async def scrub(self, session: AsyncSession, person: Person) -> None:
        if not person.needles:
            return
        theirs = select(Participant.conversation_id).where(Participant.user_id == person.id)
        stmt = select(Message).where(
            Message.conversation_id.in_(theirs),
            or_(*(Message.body.contains(w, autoescape=True) for w in person.needles)),
        )
        for message in await session.scalars(stmt):
            message.body = person.scrub(message.body)


ERASER = ConversationsEraser()
