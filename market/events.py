"""Domain events inside one transaction: features subscribe without importing each other.

Posts and vetting announce what happened; matches (and later features) react, writing their
own rows or outbox jobs in the same transaction. Which feature handles which event is declared
in market/features.py, and the start fails if an event in EVENTS has no handler.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.settings import Settings

Handler = Callable[..., Awaitable[None]]
_handlers: dict[str, list[Handler]] = defaultdict(list)

POST_PUBLISHED = "post.published"  # also after an edit of a published post
POST_CLOSED = "post.closed"  # closed, expired, rejected or unpublished
VOLUNTEER_CHANGED = "volunteer.changed"  # approved, revoked, certificate recorded
MESSAGE_POSTED = "message.posted"  # (message, conversation, author): tell the other side
CONVERSATION_READ = "conversation.read"  # (user, conversation_id): its notifications are seen
ORGANISATION_DECIDED = "organisation.decided"  # (organisation, coordinator_id): approved or not
# (user, organisation: accounts.schemas.OrganisationIn | None): a new account was created; an
# organisation account's organisation is made by the organisations feature.
ACCOUNT_REGISTERED = "account.registered"
# (fetched: [(item with .text and .ref, translation with .text and .source)], target): machine
# translations were cached; posts add their words to search (market.posts.translated_search).
TRANSLATIONS_CACHED = "translations.cached"
# Every event that is emitted; each must have a handler (market.features.build checks).
EVENTS: tuple[str, ...] = (
    POST_PUBLISHED,
    POST_CLOSED,
    VOLUNTEER_CHANGED,
    MESSAGE_POSTED,
    CONVERSATION_READ,
    ORGANISATION_DECIDED,
    ACCOUNT_REGISTERED,
    TRANSLATIONS_CACHED,
)


def subscribe(event: str) -> Callable[[Handler], Handler]:
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}: add it to market.events.EVENTS")

    def register(handler: Handler) -> Handler:
        if handler not in _handlers[event]:
            _handlers[event].append(handler)
        return handler

    return register


def handlers() -> dict[str, tuple[Handler, ...]]:
    """Who handles what, for the composition check (market/features.py)."""
    return {event: tuple(found) for event, found in _handlers.items() if found}


async def emit(session: AsyncSession, event: str, **data: Any) -> None:
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}: add it to market.events.EVENTS")
    for handler in list(_handlers[event]):
        await handler(session, **data)


def settings_of(session: AsyncSession) -> Settings:
    """The settings a handler works with: the session's, set by market.db.make_sessionmaker.

    No fallback to Settings(): a session built without them would read the environment and
    mail links to the wrong site, so it fails here instead.
    """
    found = session.info.get("settings")
    if not isinstance(found, Settings):
        raise RuntimeError(
            "this session carries no settings: build it with make_sessionmaker(engine, settings)"
        )
    return found
