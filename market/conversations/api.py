"""JSON API for conversations (API.md, Conversations).

- GET  /conversations                      the caller's conversations, latest activity first
- GET  /conversations/{id}/messages        oldest first, paginated; marks them read
- POST /conversations/{id}/messages        {"body"} -> 201 message

Participants read and write; coordinators may read any conversation (moderation) but not
write (403); everyone else gets 404, as if the conversation did not exist. Writing goes
through market.conversations.messages.post_message, which tells the other side.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.accounts.models import User
from market.api import iso, ok, page, page_params, paginate, read_json
from market.conversations import messages
from market.conversations.models import Conversation, Message, Participant
from market.errors import NotFound
from market.validation import Strict
from market.web import db, require_user


class MessageIn(Strict):
    body: str


def _activity() -> Any:
    return func.coalesce(Conversation.last_message_at, Conversation.created_at)


def person_json(user_id: str, user: User | None) -> dict[str, Any]:
    """A participant; an account that was deleted shows no name."""
    deleted = user is None or user.deleted_at is not None
    return {
        "id": user_id,
        "display_name": None if deleted or user is None else user.display_name,
        "deleted": deleted,
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "author_id": message.author_id,
        "body": message.body,
        "created_at": iso(message.created_at),
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
        for cid, uid in (
            await session.execute(
                select(Participant.conversation_id, Participant.user_id)
                .where(Participant.conversation_id.in_(ids))
                .order_by(Participant.id)
            )
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


async def list_conversations(request: Request) -> Response:
    user = await require_user(request)
    session = db(request)
    limit, cursor = page_params(request)
    stmt = select(Conversation).join(
        Participant,
        and_(Participant.conversation_id == Conversation.id, Participant.user_id == user.id),
    )
    rows = list(
        await session.scalars(paginate(stmt, _activity(), Conversation.id, limit, cursor))
    )
    shown = await conversations_json(session, user, rows[:limit])
    return ok(
        page(
            rows,
            limit,
            lambda c: shown[c.id],
            lambda c: (c.last_message_at or c.created_at, c.id),
        )
    )


async def readable(
    session: AsyncSession, user: User, conversation_id: str
) -> tuple[Conversation, Participant | None]:
    """The conversation and the caller's place in it; 404 unless a participant or staff."""
    conversation = (
        await session.get(Conversation, conversation_id)
        if conversation_id and len(conversation_id) <= 32
        else None
    )
    if conversation is None:
        raise NotFound("There is no such conversation.")
    participant = await session.scalar(
        select(Participant).where(
            Participant.conversation_id == conversation.id, Participant.user_id == user.id
        )
    )
    if participant is None and not user.is_staff:
        raise NotFound("There is no such conversation.")
    return conversation, participant


async def list_messages(request: Request) -> Response:
    user = await require_user(request)
    session = db(request)
    conversation, participant = await readable(session, user, request.path_params["id"])
    limit, cursor = page_params(request)
    stmt = select(Message).where(Message.conversation_id == conversation.id)
    rows = list(
        await session.scalars(
            paginate(stmt, Message.created_at, Message.id, limit, cursor, ascending=True)
        )
    )
    body = page(rows, limit, message_json, lambda m: (m.created_at, m.id))
    if participant is not None:
        if body["next_cursor"] is None:
            # The caller has seen the whole conversation: it is read, and so is its
            # "new message" notification.
            await messages.mark_read(session, user, conversation.id)
        elif rows:
            newest = rows[min(limit, len(rows)) - 1].created_at
            if participant.last_read_at is None or participant.last_read_at < newest:
                participant.last_read_at = newest
                await session.flush()
    return ok(body)


async def write_message(request: Request) -> Response:
    user = await require_user(request)
    session = db(request)
    conversation, _participant = await readable(session, user, request.path_params["id"])
    data = await read_json(request, MessageIn)
    message = await messages.post_message(session, user, conversation.id, data.body)
    return ok(message_json(message), status_code=201)


routes = [
    Route("/conversations", list_conversations, methods=["GET"]),
    Route("/conversations/{id}/messages", list_messages, methods=["GET"]),
    Route("/conversations/{id}/messages", write_message, methods=["POST"]),
]
