"""How conversations are shown in lists: participants, unread counts (no access rules here:
market.conversations.guardian decides which conversations a caller gets)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.api import iso
from market.conversations.models import Conversation, Message, Participant


def person_json(user_id: str, user: User | None) -> dict[str, Any]:
    """A participant; an account that was deleted shows no name."""
    deleted = user is None or user.deleted_at is not None
    return {
        "id": user_id,
        "display_name": None if deleted or user is None else user.display_name,
        "deleted": deleted,
    }


async def unread_counts(
    session: AsyncSession, user_id: str, conversation_ids: list[str]
) -> dict[str, int]:
    """Messages by others after the user last read, per conversation."""
    if not conversation_ids:
        return {}
    stmt = (
        select(Message.conversation_id, func.count())
        .join(
            Participant,
            and_(
                Participant.conversation_id == Message.conversation_id,
                Participant.user_id == user_id,
            ),
        )
        .where(
            Message.conversation_id.in_(conversation_ids),
            or_(Message.author_id.is_(None), Message.author_id != user_id),
            or_(Participant.last_read_at.is_(None), Message.created_at > Participant.last_read_at),
        )
        .group_by(Message.conversation_id)
    )
    return {cid: int(n) for cid, n in (await session.execute(stmt)).all()}


async def conversations_json(
    session: AsyncSession, user: User, rows: list[Conversation]
) -> dict[str, dict[str, Any]]:
    ids = [c.id for c in rows]
    people: dict[str, list[str]] = {cid: [] for cid in ids}
    if ids:
        for cid, uid in await session.execute(
            select(Participant.conversation_id, Participant.user_id)
            .where(Participant.conversation_id.in_(ids))
            .order_by(Participant.id)
        ):
            people[cid].append(uid)
    user_ids = {uid for uids in people.values() for uid in uids}
    users = (
        {u.id: u for u in await session.scalars(select(User).where(User.id.in_(user_ids)))}
        if user_ids
        else {}
    )
    unread = await unread_counts(session, user.id, ids)
    return {
        c.id: {
            "id": c.id,
            "match_id": c.match_id,
            "application_id": c.application_id,
            "participants": [person_json(uid, users.get(uid)) for uid in people[c.id]],
            "last_message_at": iso(c.last_message_at),
            "created_at": iso(c.created_at),
            "unread": unread.get(c.id, 0),
        }
        for c in rows
    }
