"""Candidate selection with cheap indexed filters; the matcher does the exact judgement.

The filters here may let through a pair the matcher then rejects, never hold back one it would
accept: every distance test is a little generous (see `_near`), and only rules that SQL can
decide safely are applied.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.db import utcnow
from market.matches.models import OPEN, Match
from market.posts import taxonomy
from market.posts.models import Post, PostLanguage
from matching import DEFAULT_OFFER_RADIUS_KM

# The largest radius a post may have (API.md): the widest in-person prefilter we ever need.
MAX_RADIUS_KM = 200.0
# SQL measures distances with plain arithmetic (equirectangular, so SQLite runs it too), the
# matcher along great circles. A shorter degree than the matcher's (111.195 km), the cosine of
# the latitude nearer the pole and a radius 0.5 % + 10 m larger make the SQL distance never
# exceed the matcher's (its error is below 0.3 % within 10 degrees of longitude).
_KM_PER_DEGREE = 111.19
_SLACK = 1.005
_SLACK_KM = 0.01
_CELLS_PER_DEGREE = 10  # Post.cell_lat / cell_lon (market.posts.geo.cell_of)


def _language_filter(codes: Iterable[str]) -> ColumnElement[bool]:
    primaries = sorted({c.split("-")[0].lower() for c in codes})
    conditions = [PostLanguage.code == p for p in primaries] + [
        PostLanguage.code.like(f"{p}-%") for p in primaries
    ]
    return exists().where(PostLanguage.post_id == Post.id, or_(*conditions))


def _generous(km: Any) -> Any:
    return km * _SLACK + _SLACK_KM


def _near(post: Post, reach_km: float, other_radius: Any) -> list[ColumnElement[bool]]:
    """Rows with coordinates within reach_km of `post` and within `other_radius` (a column
    expression: the row's own limit), generously measured: a box of grid cells for the posts
    indexes, the same box in degrees, then the distance itself."""
    assert post.lat is not None and post.lon is not None
    box = box_around(post.lat, post.lon, reach_km)
    return box_conditions(box.values(), box.flat, other_radius)[0]


@dataclass(frozen=True)
class Box:
    """The numbers of the in-person filter around a point (see `box_conditions`)."""

    lat: float
    lon: float
    south: float
    north: float
    cell_south: int
    cell_north: int
    # Whether the flat distance measure is safe here, and then its numbers; where the box spans
    # more than 10 degrees of longitude (near a pole) or crosses the antimeridian it is not, and
    # only the latitude filters apply (the matcher sorts out the rest).
    flat: bool
    west: float = 0.0
    east: float = 0.0
    cell_west: int = 0
    cell_east: int = 0
    km_per_degree_lon: float = 0.0
    reach2: float = 0.0

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def box_around(lat: float, lon: float, reach_km: float) -> Box:
    dlat = _generous(reach_km) / _KM_PER_DEGREE
    south, north = lat - dlat, lat + dlat
    cells = math.floor(south * _CELLS_PER_DEGREE), math.floor(north * _CELLS_PER_DEGREE)
    # East-west distances use the cosine at the box's edge nearer the pole, so that they come
    # out no longer than on the globe.
    edge = abs(lat) + dlat
    coslat = math.cos(math.radians(edge)) if edge < 89.0 else 0.0
    dlon = dlat / coslat if coslat else 360.0
    if dlon > 10.0 or lon - dlon < -180.0 or lon + dlon > 180.0:
        return Box(lat, lon, south, north, *cells, flat=False)
    return Box(
        lat,
        lon,
        south,
        north,
        *cells,
        flat=True,
        west=lon - dlon,
        east=lon + dlon,
        cell_west=math.floor((lon - dlon) * _CELLS_PER_DEGREE),
        cell_east=math.floor((lon + dlon) * _CELLS_PER_DEGREE),
        km_per_degree_lon=_KM_PER_DEGREE * coslat,
        reach2=_generous(reach_km) ** 2,
    )


def box_conditions(
    v: Mapping[str, Any], flat: bool, other_radius: Any
) -> tuple[list[ColumnElement[bool]], Any, Any]:
    """The filter of a Box whose numbers are `v` (plain values or SQL parameters), and the flat
    east-west and north-south kilometres to the row (None, None when not `flat`). These are never
    longer than on the globe, within the slack of `_generous`."""
    near: list[ColumnElement[bool]] = [
        Post.lat.is_not(None),
        Post.lon.is_not(None),
        Post.lat.between(v["south"], v["north"]),
        Post.cell_lat.between(v["cell_south"], v["cell_north"]),
    ]
    if not flat:
        return near, None, None
    dy = (Post.lat - v["lat"]) * _KM_PER_DEGREE
    dx = (Post.lon - v["lon"]) * v["km_per_degree_lon"]
    distance2 = dx * dx + dy * dy
    conditions = [
        *near,
        Post.lon.between(v["west"], v["east"]),
        Post.cell_lon.between(v["cell_west"], v["cell_east"]),
        distance2 <= v["reach2"],
        distance2 <= _generous(other_radius) * _generous(other_radius),
    ]
    return conditions, dx, dy


def _reach_filter(post: Post, reach_km: float, other_radius: Any) -> ColumnElement[bool]:
    """Rule 3 from `post`'s side: in-person-capable rows within reach (within `reach_km`, the
    farthest `post` allows, and within `other_radius`, the row's own limit), or remote-capable
    rows when `post` is remote-capable too."""
    branches: list[ColumnElement[bool]] = []
    if post.mode in ("in_person", "either") and post.lat is not None and post.lon is not None:
        branches.append(
            and_(Post.mode.in_(("in_person", "either")), *_near(post, reach_km, other_radius))
        )
    if post.mode in ("remote", "either"):
        branches.append(Post.mode.in_(("remote", "either")))
    return or_(*branches) if branches else Post.id.is_(None)


def _certificate_filter(category: str) -> ColumnElement[bool]:
    """Rule 4's police certificate, where the need's category asks for one. A day's margin: the
    matcher judges by its own today, which may be a day behind a date taken here."""
    if not taxonomy.requires_police_certificate(category):
        return true()
    return User.police_certificate_until >= utcnow().date() - timedelta(days=1)


def offers_for_need(need: Post) -> Select[Post]:
    # Rule 1 seen from the need: the offer's category is the need's or one of its ancestors.
    # Rule 3: within the need's radius (when it has one) and within the offer's own radius.
    reach = min(need.radius_km, MAX_RADIUS_KM) if need.radius_km is not None else MAX_RADIUS_KM
    offer_radius = func.coalesce(Post.radius_km, DEFAULT_OFFER_RADIUS_KM)
    return (
        select(Post)
        .join(User, User.id == Post.author_id)
        .where(
            Post.status == "published",
            Post.kind == "offer",
            Post.category.in_(taxonomy.path(need.category)),
            _language_filter(need.language_codes),
            _reach_filter(need, reach, offer_radius),
            User.is_active.is_(True),
            User.available.is_(True),
            or_(User.vetting_status == "approved", User.role.in_(("coordinator", "admin"))),
            _certificate_filter(need.category),
            ~exists().where(Match.offer_id == Post.id, Match.need_id == need.id),
        )
    )


def needs_for_offer(offer: Post) -> Select[Post]:
    # Rule 3: within the offer's radius, and within the need's when it gives one.
    reach = offer.radius_km if offer.radius_km is not None else DEFAULT_OFFER_RADIUS_KM
    need_radius = func.coalesce(Post.radius_km, reach)
    return select(Post).where(
        Post.status == "published",
        Post.kind == "need",
        Post.category.in_(taxonomy.subtree(offer.category)),
        _language_filter(offer.language_codes),
        _reach_filter(offer, reach, need_radius),
        ~exists().where(Match.offer_id == offer.id, Match.need_id == Post.id),
    )


async def open_counts(session: AsyncSession, volunteer_ids: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for ids in chunks(set(volunteer_ids)):
        stmt = (
            select(Match.volunteer_id, func.count())
            .where(Match.volunteer_id.in_(ids), Match.status.in_(OPEN))
            .group_by(Match.volunteer_id)
        )
        counts |= {row[0]: int(row[1]) for row in (await session.execute(stmt)).all()}
    return counts


async def users_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, User]:
    users: dict[str, User] = {}
    for part in chunks(set(ids)):
        stmt = select(User).where(User.id.in_(part))
        users |= {u.id: u for u in (await session.execute(stmt)).scalars()}
    return users


# Ids per IN (...) list: a region's run may name tens of thousands, and a statement may carry
# at most 32,766 parameters on SQLite, 32,767 on PostgreSQL.
CHUNK = 5_000


def chunks(ids: Iterable[str]) -> Iterator[list[str]]:
    """`ids` in lists of at most CHUNK, in their order."""
    batch: list[str] = []
    for item in ids:
        batch.append(item)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def open_of_post(post_id: str) -> Select[Match]:
    return select(Match).where(
        or_(Match.offer_id == post_id, Match.need_id == post_id), Match.status.in_(OPEN)
    )
