"""Who may read and write a conversation: the one place that decides it.

Participants read and write. For moderation, coordinators read (never write) the
conversations of their regions: a match's conversation by the region of the match's need, an
application's by the region of the posting; a conversation tied to neither belongs to
coordinators without a region. Everyone else, a coordinator of another region included, is
told the conversation does not exist (404), on pages and in the API alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy import Select, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.actor import Actor
from market.conversations.models import Conversation, Participant
from market.errors import Forbidden, NotFound


async def participant_of(
    session: AsyncSession, actor: Actor, conversation_id: str
) -> Participant | None:
    if actor.id is None:
        return None
    return await session.scalar(
        select(Participant).where(
            Participant.conversation_id == conversation_id, Participant.user_id == actor.id
        )
    )


# Which region a conversation belongs to is known to the features above this one: matches (by
# the match's need) and organisations (by the application's posting). They add a finder here
# (listed in market/features.py, which installs it); each answers None for a conversation that
# is not theirs, so conversations never imports them.
RegionFinder = Callable[[AsyncSession, Conversation], Awaitable[str | None]]
REGION_FINDERS: list[RegionFinder] = []


async def region_of(session: AsyncSession, conversation: Conversation) -> str | None:
    """The region a conversation belongs to: its match's need's, or its application's posting's."""
    for find in REGION_FINDERS:
        region = await find(session, conversation)
        if region is not None:
            return region
    return None


async def may_moderate(session: AsyncSession, actor: Actor, conversation: Conversation) -> bool:
    """Whether a coordinator reads this conversation for moderation (their region's)."""
    if not actor.is_staff:
        return False
    return actor.works(await region_of(session, conversation))


async def readable(
    session: AsyncSession, actor: Actor, conversation_id: str
) -> tuple[Conversation, Participant | None]:
    """The conversation and the actor's place in it (None for a moderating coordinator);
    NotFound for everyone who may not read it."""
    conversation = (
        await session.get(Conversation, conversation_id)
        if conversation_id and len(conversation_id) <= 32
        else None
    )
    if conversation is None:
        raise NotFound("There is no such conversation.")
    participant = await participant_of(session, actor, conversation.id)
    if participant is None and not await may_moderate(session, actor, conversation):
        raise NotFound("There is no such conversation.")
    return conversation, participant


async def writable(
    session: AsyncSession, actor: Actor, conversation_id: str
) -> tuple[Conversation, Participant]:
    """The conversation to write in: participants only. A coordinator who may read it is told
    no (403); everyone else that it does not exist (404)."""
    conversation, participant = await readable(session, actor, conversation_id)
    if participant is None:
        raise Forbidden("Only the people in this conversation can write here.")
    return conversation, participant


def visible(actor: Actor, stmt: Select[Conversation]) -> Select[Conversation]:
    """Narrow a select of conversations to those the actor takes part in (the inbox list;
    moderation reaches a conversation through its match or a report, not through a list)."""
    return stmt.join(
        Participant,
        and_(
            Participant.conversation_id == Conversation.id, Participant.user_id == (actor.id or "")
        ),
    )
