"""JSON API for conversations (API.md, Conversations).

- GET  /conversations                      the caller's conversations, latest activity first
- GET  /conversations/{id}/messages        oldest first, paginated; marks them read
- POST /conversations/{id}/messages        {"body"} -> 201 message

Who may read and write is market.conversations.guardian's to say: participants read and
write; coordinators read their regions' conversations (moderation) but do not write (403);
everyone else gets 404, as if the conversation did not exist. Writing goes
through market.conversations.messages.post_message, which tells the other side.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.actor import actor_of
from market.api import iso, ok, page, page_params, paginate, read_json
from market.conversations import guardian, messages
from market.conversations.listing import conversations_json, person_json, unread_counts
from market.conversations.models import Conversation, Message
from market.translation import service as translation
from market.validation import Strict
from market.web import db, require_user


class MessageIn(Strict):
    body: str


def _activity() -> Any:
    return func.coalesce(Conversation.last_message_at, Conversation.created_at)


def message_json(message: Message, translation: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "author_id": message.author_id,
        "body": message.body,
        "created_at": iso(message.created_at),
        # {"lang", "body"} in the reader's language, machine-translated (API.md release 2).
        "translation": translation,
    }


async def list_conversations(request: Request) -> Response:
    user = await require_user(request)
    actor = await actor_of(request)
    session = db(request)
    limit, cursor = page_params(request)
    stmt = guardian.visible(actor, select(Conversation))
    rows = list(await session.scalars(paginate(stmt, _activity(), Conversation.id, limit, cursor)))
    shown = await conversations_json(session, user, rows[:limit])
    return ok(
        page(
            rows,
            limit,
            lambda c: shown[c.id],
            lambda c: (c.last_message_at or c.created_at, c.id),
        )
    )


async def list_messages(request: Request) -> Response:
    user = await require_user(request)
    session = db(request)
    conversation, participant = await guardian.readable(
        session, await actor_of(request), request.path_params["id"]
    )
    limit, cursor = page_params(request)
    stmt = select(Message).where(Message.conversation_id == conversation.id)
    rows = list(
        await session.scalars(
            paginate(stmt, Message.created_at, Message.id, limit, cursor, ascending=True)
        )
    )
    # Others' messages in the reader's language (Accept-Language); never the reader's own.
    translations = await translation.for_messages(session, rows[:limit], reader_id=user.id)
    body = page(
        rows,
        limit,
        lambda m: message_json(m, translations.get(m.id)),
        lambda m: (m.created_at, m.id),
    )
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
    conversation, _participant = await guardian.writable(
        session, await actor_of(request), request.path_params["id"]
    )
    data = await read_json(request, MessageIn)
    message = await messages.post_message(session, user, conversation.id, data.body)
    return ok(message_json(message), status_code=201)


routes = [
    Route("/conversations", list_conversations, methods=["GET"]),
    Route("/conversations/{id}/messages", list_messages, methods=["GET"]),
    Route("/conversations/{id}/messages", write_message, methods=["POST"]),
]


__all__ = ["conversations_json", "person_json", "unread_counts"]
