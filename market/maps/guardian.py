"""Who sees which map. The public map (published posts at their coarse points) is for anyone.
The coordinators' map of waiting needs is for staff (403 otherwise), each seeing the needs of the
regions they work (market.actor.Actor.works), as on every review page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, exists, true

from market.actor import Actor
from market.errors import Forbidden
from market.matches.models import OPEN, Match
from market.posts import queries as post_queries
from market.posts.models import Post


def require_staff(actor: Actor) -> None:
    if not actor.is_staff:
        raise Forbidden()


def waiting_needs(actor: Actor, category: str | None, language: str | None) -> Select[Any]:
    """Published needs with no open match (nobody proposed or connected): where volunteers are
    missing. Narrowed to the actor's regions."""
    require_staff(actor)
    stmt = post_queries.search(kind="need", category=category, language=language)
    stmt = stmt.where(
        ~exists().where(Match.need_id == Post.id, Match.status.in_(OPEN)),
    )
    if actor.region_ids:
        return stmt.where(Post.region_id.in_(sorted(actor.region_ids)))
    return stmt.where(true())
