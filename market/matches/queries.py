"""Candidate selection with cheap indexed filters; the matcher does the exact judgement."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.matches.models import OPEN, Match
from market.posts import queries as post_queries
from market.posts import taxonomy
from market.posts.models import Post, PostLanguage

# The largest radius a post may have (API.md): the widest in-person prefilter we ever need.
MAX_RADIUS_KM = 200.0


def _language_filter(codes: Iterable[str]) -> object:
    primaries = sorted({c.split("-")[0].lower() for c in codes})
    conditions = [PostLanguage.code == p for p in primaries] + [
        PostLanguage.code.like(f"{p}-%") for p in primaries
    ]
    return exists().where(PostLanguage.post_id == Post.id, or_(*conditions))


def _reach_filter(post: Post, radius_km: float) -> object:
    """In-person posts within reach, or remote-capable ones when this post is too."""
    branches = []
    if post.mode in ("in_person", "either") and post.lat is not None and post.lon is not None:
        near = post_queries.within(select(Post.id), post.lat, post.lon, radius_km)
        branches.append(
            and_(Post.mode.in_(("in_person", "either")), Post.id.in_(near.scalar_subquery()))
        )
    if post.mode in ("remote", "either"):
        branches.append(Post.mode.in_(("remote", "either")))
    return or_(*branches) if branches else Post.id.is_(None)


def offers_for_need(need: Post) -> Select[tuple[Post]]:
    # Rule 1 seen from the need: the offer's category is the need's or one of its ancestors.
    radius = min(need.radius_km, MAX_RADIUS_KM) if need.radius_km is not None else MAX_RADIUS_KM
    return (
        select(Post)
        .join(User, User.id == Post.author_id)
        .where(
            Post.status == "published",
            Post.kind == "offer",
            Post.category.in_(taxonomy.path(need.category)),
            _language_filter(need.language_codes),
            _reach_filter(need, radius),
            User.is_active.is_(True),
            or_(User.vetting_status == "approved", User.role.in_(("coordinator", "admin"))),
            ~exists().where(Match.offer_id == Post.id, Match.need_id == need.id),
        )
    )


def needs_for_offer(offer: Post) -> Select[tuple[Post]]:
    radius = offer.radius_km if offer.radius_km is not None else 10.0
    return select(Post).where(
        Post.status == "published",
        Post.kind == "need",
        Post.category.in_(taxonomy.subtree(offer.category)),
        _language_filter(offer.language_codes),
        _reach_filter(offer, radius),
        ~exists().where(Match.offer_id == offer.id, Match.need_id == Post.id),
    )


async def open_counts(session: AsyncSession, volunteer_ids: Iterable[str]) -> dict[str, int]:
    ids = list(set(volunteer_ids))
    if not ids:
        return {}
    stmt = (
        select(Match.volunteer_id, func.count())
        .where(Match.volunteer_id.in_(ids), Match.status.in_(OPEN))
        .group_by(Match.volunteer_id)
    )
    return {row[0]: int(row[1]) for row in (await session.execute(stmt)).all()}


async def users_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, User]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    return {u.id: u for u in (await session.execute(select(User).where(User.id.in_(wanted)))).scalars()}


def open_of_post(post_id: str) -> Select[tuple[Match]]:
    return select(Match).where(
        or_(Match.offer_id == post_id, Match.need_id == post_id), Match.status.in_(OPEN)
    )


def of_user(user_id: str, org_need_ids: Select[tuple[str]] | None = None) -> Select[tuple[Match]]:
    conditions = [Match.volunteer_id == user_id, Match.need_author_id == user_id]
    if org_need_ids is not None:
        conditions.append(Match.need_id.in_(org_need_ids))
    return select(Match).where(or_(*conditions))
