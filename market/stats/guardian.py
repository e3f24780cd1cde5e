"""Who may read which statistics: the one place that decides it.

Statistics are for staff (403 for everyone else). A coordinator with regions reads only their
regions: without `region` the figures cover all of theirs, and a region that is not theirs
answers 404, as an unknown one does (API.md, "Coordinators' regions"). Admins and coordinators
without a region read every region, and everything outside any region too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.actor import Actor
from market.errors import Forbidden, NotFound
from market.posts.models import Region


@dataclass(frozen=True)
class Scope:
    """What the figures cover. `region_ids` None: every post, with or without a region."""

    region: Region | None
    region_ids: frozenset[str] | None
    # The regions the reader may pick from (the page's form).
    choices: tuple[Region, ...]


def require_reader(actor: Actor) -> None:
    if not actor.is_staff:
        raise Forbidden()


async def scope(session: AsyncSession, actor: Actor, region_slug: str | None) -> Scope:
    require_reader(actor)
    regions = list(await session.scalars(select(Region).order_by(Region.name)))
    choices = tuple(r for r in regions if actor.works(r.id))
    if region_slug:
        region = next((r for r in choices if r.slug == region_slug), None)
        if region is None:
            raise NotFound("There is no such region in your regions.")
        return Scope(region=region, region_ids=frozenset({region.id}), choices=choices)
    if actor.region_ids:
        return Scope(region=None, region_ids=frozenset(actor.region_ids), choices=choices)
    return Scope(region=None, region_ids=None, choices=choices)
