"""All selects for posts: search with cheap indexed filters, visibility, the author's list."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from market.posts import search as text_search
from market.posts import taxonomy
from market.posts.distance import coarse_latitudes
from market.posts.models import Post, PostLanguage

KM_PER_DEGREE = 111.195


def published() -> Select[Post]:
    return select(Post).where(Post.status == "published")


def with_language(stmt: Select[Any], code: str) -> Select[Any]:
    # "ar" finds posts in "ar-SY" too: the primary subtag is what people search by.
    return stmt.where(
        exists().where(
            PostLanguage.post_id == Post.id,
            or_(PostLanguage.code == code, PostLanguage.code.like(f"{code}-%")),
        )
    )


def near(lat: float, lon: float, radius_km: float) -> ColumnElement[bool]:
    """Posts whose public point lies within radius_km: a box (ix_posts_status_public_point_created)
    and an equirectangular distance.

    Always the public point, never the exact one, whoever searches: a filter on the exact point
    answers "is it within r?" for any r, and a binary search on r from three places would
    trilaterate the exact point to the metre (tests/market/posts/test_trilateration.py).
    The equirectangular formula needs only arithmetic, so it runs on SQLite and PostgreSQL
    alike, and is within 0.5 % of the great-circle distance at these ranges.
    """
    dlat = radius_km / KM_PER_DEGREE
    coslat = max(math.cos(math.radians(lat)), 0.01)
    dlon = radius_km / (KM_PER_DEGREE * coslat)
    dy = (Post.public_lat - lat) * KM_PER_DEGREE
    dx = (Post.public_lon - lon) * (KM_PER_DEGREE * coslat)
    # The public latitudes of the band one by one (distance.coarse_latitudes): the index is entered
    # at each and read only across the asked longitudes. As a range, the band's every post
    # around the earth was read (for Leipzig, 25 km, the Ruhr's too: 6 ms of an 8 ms count).
    rows = coarse_latitudes(lat - dlat, lat + dlat)
    in_band = (
        Post.public_lat.between(lat - dlat, lat + dlat)
        if rows is None
        else Post.public_lat.in_(rows)
    )
    return and_(
        in_band,
        Post.public_lon.between(lon - dlon, lon + dlon),
        dx * dx + dy * dy <= radius_km * radius_km,
    )


def within(stmt: Select[Any], lat: float, lon: float, radius_km: float) -> Select[Any]:
    return stmt.where(near(lat, lon, radius_km))


def matching_text(stmt: Select[Any], q: str) -> Select[Any]:
    """Posts of a category the query names or whose text holds its words (market.posts.search);
    a query of punctuation only filters nothing."""
    condition = text_search.any_tier(text_search.understand(q))
    return stmt if condition is None else stmt.where(condition)


def search(
    *,
    kind: str | None = None,
    category: str | None = None,
    language: str | None = None,
    place: tuple[float, float, float] | None = None,
    q: str | None = None,
) -> Select[Post]:
    # Keyed by the query as read (its folded words), not as typed: "Deutsch" and "deutsch" are
    # one statement, and a long query is kept as its first words only.
    understood = text_search.understand(q) if q else None
    return _search(kind, category, language, None if place is None else (*place,), understood)


@lru_cache(maxsize=512)
def _search(
    kind: str | None,
    category: str | None,
    language: str | None,
    place: tuple[float, float, float] | None,
    understood: text_search.Understood | None,
) -> Select[Post]:
    # Built once per set of filters: a statement is immutable (each .where is a new one), and
    # the search page asks for the same filters twice (with and without q) on every request.
    stmt = published()
    if kind:
        stmt = stmt.where(Post.kind == kind)
    if category:
        stmt = stmt.where(Post.category.in_(taxonomy.subtree(category)))
    if language:
        stmt = with_language(stmt, language)
    if place:
        # Online-only posts have no place, and are no farther from anyone than from anyone else.
        # Only public_lat is tested, though public_lon is NULL with it: testing both made
        # PostgreSQL multiply their shares of NULLs (687 posts expected, 11,359 found) and
        # choose plans for a few rows (a place and a word: 133 ms instead of 19).
        stmt = stmt.where(or_(near(*place), and_(Post.mode == "remote", Post.public_lat.is_(None))))
    walk = stmt
    if understood is not None:
        condition, row_by_row = text_search.any_tiers(understood)
        if condition is not None and row_by_row is not None:
            stmt, walk = stmt.where(condition), walk.where(row_by_row)
    # Its twin with the full-text tests done row by row, for the window of the newest posts
    # (search.scanning): built here at the cost of a .where, not by rewriting the statement.
    text_search.remember_walk(stmt, walk)
    return stmt


async def get(session: AsyncSession, post_id: str) -> Post | None:
    if not post_id or len(post_id) > 32:
        return None
    # With its languages joined: one round trip, not the relationship's own second SELECT.
    return await session.get(Post, post_id, options=(joinedload(Post.languages),))


def open_of_author(author_id: str) -> Select[Post]:
    return select(Post).where(
        and_(Post.author_id == author_id, Post.status.in_(("pending_review", "published")))
    )
