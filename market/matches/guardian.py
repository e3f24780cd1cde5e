"""Who may see and answer matches, see a post's matches, and run matching for a region.

The one place for these rules; pages and the JSON API only ask (tests/market/test_guardian_rule.py).

- A match's parties are the offer's volunteer and the need's side: its author and, for an
  organisation's need, the organisation's members. They read and answer it; for everyone else
  it does not exist (404).
- A post's matches: its author, its organisation's members, and the coordinators who work its
  region. A coordinator of another region gets 404 (the matches belong to a region that is not
  theirs); anyone else who may see the post gets 403.
- The matching run and the unmatched view: staff; a coordinator with regions for their regions
  only (another region answers 404, no region at all 422).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.actor import Actor
from market.conversations.models import Conversation
from market.errors import Forbidden, Invalid, NotFound
from market.matches.models import Match
from market.posts import guardian as posts_guardian
from market.posts.models import Post, Region

if TYPE_CHECKING:
    from market.matches.runs import RegionalRun


def require_staff(actor: Actor) -> None:
    """The coordinators' pages and endpoints: 403 for everyone else (callers check login)."""
    if not actor.is_staff:
        raise Forbidden()


# --- Matches of a party


def _organisation_needs(actor: Actor) -> Select[str]:
    return select(Post.id).where(Post.organisation_id.in_(sorted(actor.organisation_ids)))


def visible(actor: Actor, stmt: Select[Match]) -> Select[Match]:
    """Narrow a select of matches to the actor's own: as volunteer, as the need's author, or
    for a need of one of their organisations."""
    if actor.id is None:
        return stmt.where(Match.id.is_(None))
    conditions = [Match.volunteer_id == actor.id, Match.need_author_id == actor.id]
    if actor.organisation_ids:
        conditions.append(Match.need_id.in_(_organisation_needs(actor)))
    return stmt.where(or_(*conditions))


async def side_of(session: AsyncSession, actor: Actor, match: Match) -> str | None:
    """The actor's side of the match ("offer" or "need"), or None for an onlooker."""
    if actor.id is None:
        return None
    if actor.id == match.volunteer_id:
        return "offer"
    if actor.id == match.need_author_id:
        return "need"
    if actor.organisation_ids:
        need = await session.get(Post, match.need_id)
        if need is not None and actor.member_of(need.organisation_id):
            return "need"
    return None


async def readable(session: AsyncSession, actor: Actor, match_id: str) -> tuple[Match, str]:
    """The match and the actor's side; NotFound unless the actor is a party."""
    match = await session.get(Match, match_id) if match_id and len(match_id) <= 32 else None
    side = await side_of(session, actor, match) if match is not None else None
    if match is None or side is None:
        raise NotFound("There is no such match.")
    return match, side


def may_answer(side: str | None) -> bool:
    """Accepting and declining: a party, on their own side."""
    return side is not None


def may_reopen(side: str | None) -> bool:
    """Reopening a match that did not happen: the need's side only (its author or the
    organisation's members), since the need is what is proposed again."""
    return side == "need"


# --- A post's matches


def may_see_post_matches(actor: Actor, post: Post) -> bool:
    return (
        actor.id == post.author_id
        or actor.member_of(post.organisation_id)
        or actor.works(post.region_id)
    )


async def post_for_matches(session: AsyncSession, actor: Actor, post_id: str) -> Post:
    """The post whose matches the actor may list: 404 when the post is invisible or belongs
    to another coordinator's region, 403 for other onlookers."""
    post = await posts_guardian.readable(session, actor, post_id)
    if may_see_post_matches(actor, post):
        return post
    if actor.is_staff:
        raise NotFound("There is no such post.")
    raise Forbidden("Only the author and coordinators see a post's matches.")


def of_post(post: Post) -> Select[Match]:
    """All matches of a post the caller was allowed to see (see `post_for_matches`)."""
    return select(Match).where(or_(Match.offer_id == post.id, Match.need_id == post.id))


async def best_of_post(session: AsyncSession, post: Post, offset: int, limit: int) -> list[Match]:
    """A page of `of_post`, best score first (ties by id), as the API and the page list it."""
    stmt = of_post(post).order_by(Match.score.desc(), Match.id).offset(offset).limit(limit)
    return list(await session.scalars(stmt))


# --- The coordinators' matching run and unmatched view, by region


def regions(actor: Actor) -> Select[Region]:
    """The regions the actor may run matching for, by name (all of them for staff without a
    region, none for anyone else)."""
    stmt = select(Region).order_by(Region.name)
    if not actor.is_staff:
        return stmt.where(Region.id.is_(None))
    if actor.region_ids:
        return stmt.where(Region.id.in_(sorted(actor.region_ids)))
    return stmt


def may_run_everywhere(actor: Actor) -> bool:
    """Whether the actor may run matching over the whole installation (no region chosen)."""
    return actor.is_staff and not actor.region_ids


async def region_to_run(session: AsyncSession, actor: Actor, wanted: str | None) -> Region | None:
    """The region asked for (slug or id), if the actor works it; None means every region.

    Another coordinator's region answers 404, as if it did not exist; a coordinator with
    regions who names none is asked to choose (422)."""
    require_staff(actor)
    if not wanted:
        if not may_run_everywhere(actor):
            raise Invalid.one("region", "Please choose one of your regions.")
        return None
    region = (
        await session.execute(select(Region).where((Region.slug == wanted) | (Region.id == wanted)))
    ).scalar_one_or_none()
    if region is None or not actor.works(region.id):
        raise NotFound("There is no such region.")
    return region


# --- The coordinators' "waiting for an answer" queue (matches.followthrough)


def waiting_for_answer(actor: Actor) -> Select[Match, Post]:
    """Proposed matches waiting 5 days or more (stalled) with their need, oldest first: staff
    only (403), and a coordinator with regions sees only theirs."""
    require_staff(actor)
    stmt = (
        select(Match, Post)
        .join(Post, Post.id == Match.need_id)
        .where(Match.status == "proposed", Match.stalled_at.is_not(None))
        .order_by(Match.created_at, Match.id)
    )
    if actor.region_ids:
        stmt = stmt.where(Post.region_id.in_(sorted(actor.region_ids)))
    return stmt


async def waiting_match(session: AsyncSession, actor: Actor, match_id: str) -> Match:
    """A match in the actor's waiting queue, for its one-click actions; another region's or
    one no longer waiting answers 404."""
    stmt = waiting_for_answer(actor).where(Match.id == match_id)
    row = (await session.execute(stmt)).first() if match_id and len(match_id) <= 32 else None
    if row is None:
        raise NotFound("There is no such match.")
    return row[0]


def may_set_availability(actor: Actor, user_id: str) -> bool:
    """Only the volunteer themselves says whether they are available."""
    return actor.id is not None and actor.id == user_id


async def run_to_show(session: AsyncSession, actor: Actor, run_id: str, kind: str) -> RegionalRun:
    """A regional run (market.matches.runs) of this kind, for staff who work its region.

    Another region's run answers 404, as its region would; a run over every region belongs to
    those who may run everywhere."""
    # Imported here: the runs' jobs import the matching services, which import this module.
    from market.matches.runs import RegionalRun as Run

    require_staff(actor)
    run = await session.get(Run, run_id) if run_id and len(run_id) <= 32 else None
    if run is None or run.kind != kind:
        raise NotFound("There is no such run.")
    allowed = actor.works(run.region_id) if run.region_id else may_run_everywhere(actor)
    if not allowed:
        raise NotFound("There is no such run.")
    return run


async def conversation_region(session: AsyncSession, conversation: Conversation) -> str | None:
    """The region of a match's conversation, its need's (for market.conversations.guardian)."""
    if not conversation.match_id:
        return None
    return await session.scalar(
        select(Post.region_id)
        .join(Match, Match.need_id == Post.id)
        .where(Match.id == conversation.match_id)
    )
