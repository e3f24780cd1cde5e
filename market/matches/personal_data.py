"""The matches' part of a person's export (market.accounts.export) and of erasing them
(market.accounts.erasure); both listed in market/features.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.erasure import Eraser, Person, ids
from market.accounts.export import iso
from market.accounts.models import User
from market.matches.api import match_json
from market.matches.models import Match


async def matches(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """The caller's matches as the API shows them to the caller (partner's display name,
    reasons in words, outcome where the match object has one)."""
    stmt = (
        select(Match)
        .where(or_(Match.volunteer_id == user.id, Match.need_author_id == user.id))
        .order_by(Match.created_at, Match.id)
    )
    result = []
    for match in await session.scalars(stmt):
        side = "offer" if match.volunteer_id == user.id else "need"
        item = await match_json(session, match, user, side)
        item.update(
            side=side,
            closed_reason=match.closed_reason,
            connected_at=iso(match.connected_at),
            closed_at=iso(match.closed_at),
        )
        result.append(item)
    return result


class MatchesEraser(Eraser):
    """Matches stay as they are (the partners' history); other people's notifications about
    them name the person, so their ids count as the person's things."""

    async def related(self, session: AsyncSession, person: Person) -> set[str]:
        return await ids(
            session,
            select(Match.id).where(
                or_(Match.volunteer_id == person.id, Match.need_author_id == person.id)
            ),
        )


ERASER = MatchesEraser()
