"""Domain events inside one transaction: features subscribe without importing each other.

Posts and vetting announce what happened; matches (and later features) react, writing their
own rows or outbox jobs in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

Handler = Callable[..., Awaitable[None]]
_handlers: dict[str, list[Handler]] = defaultdict(list)

POST_PUBLISHED = "post.published"  # also after an edit of a published post
POST_CLOSED = "post.closed"  # closed, expired, rejected or unpublished
VOLUNTEER_CHANGED = "volunteer.changed"  # approved, revoked, certificate recorded
MESSAGE_POSTED = "message.posted"  # (message, conversation, author): tell the other side
CONVERSATION_READ = "conversation.read"  # (user, conversation_id): its notifications are seen


def subscribe(event: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if handler not in _handlers[event]:
            _handlers[event].append(handler)
        return handler

    return register


async def emit(session: AsyncSession, event: str, **data: Any) -> None:
    for handler in list(_handlers[event]):
        await handler(session, **data)
