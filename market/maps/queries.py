"""The map's features: published posts at their public (coarse) point, clustered past a limit.

Only `public_lat`/`public_lon` are ever read here, never the exact point, whoever asks
(market.posts.models: the public point is the centre of the ~1 km cell). Past MAX_FEATURES the
posts in view are grouped on a grid of at most GRID x GRID cells, in SQL (GROUP BY the cell), so
the answer stays small whatever the number of posts; a cell holding one post is that post.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.posts import queries as post_queries
from market.posts.models import Post

MAX_FEATURES = 2000
# 40 x 40 = 1,600 cells at most, under MAX_FEATURES.
GRID = 40


@dataclass(frozen=True)
class Box:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float


def posts_in_view(
    *,
    kind: str | None,
    category: str | None,
    language: str | None,
    box: Box | None,
    base: Select[Any] | None = None,
) -> Select[Any]:
    """The filtered published posts that have a public point (the search's own filters)."""
    stmt = (
        base
        if base is not None
        else post_queries.search(kind=kind, category=category, language=language)
    )
    stmt = stmt.where(Post.public_lat.is_not(None), Post.public_lon.is_not(None))
    if box is not None:
        stmt = stmt.where(
            Post.public_lat.between(box.min_lat, box.max_lat),
            Post.public_lon.between(box.min_lon, box.max_lon),
        )
    return stmt


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(lon, 5), round(lat, 5)]}


def _post(row: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": _point(row.lon, row.lat),
        "properties": {
            "id": row.id,
            "kind": row.kind,
            "category": row.category,
            "title": row.title,
        },
    }


async def features(session: AsyncSession, posts: Select[Any]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection: each post, or grid clusters when there are too many."""
    view = posts.subquery()
    # The count and the extent of the posts in view in one pass over them (at 200,000 posts
    # each pass is most of the answer's time; they were two).
    summary = (
        await session.execute(
            select(
                func.count(),
                func.min(view.c.public_lat),
                func.max(view.c.public_lat),
                func.min(view.c.public_lon),
                func.max(view.c.public_lon),
            )
        )
    ).one()
    count = int(summary[0] or 0)
    if count <= MAX_FEATURES:
        rows = await session.execute(
            select(
                view.c.id,
                view.c.kind,
                view.c.category,
                view.c.title,
                view.c.public_lat.label("lat"),
                view.c.public_lon.label("lon"),
            ).order_by(view.c.created_at.desc(), view.c.id)
        )
        return {
            "type": "FeatureCollection",
            "features": [_post(r) for r in rows],
            "clustered": False,
            "total": count,
        }
    # The grid spans the posts in view (not the asked box, which may be the whole world).
    min_lat, max_lat, min_lon, max_lon = (float(v) for v in summary[1:])
    size = max(max_lat - min_lat, max_lon - min_lon, 1e-6) / GRID * 1.0001
    # Offsets from the minimum are never negative, so truncation is floor on both databases.
    cell_lat = cast((view.c.public_lat - min_lat) / size, Integer)
    cell_lon = cast((view.c.public_lon - min_lon) / size, Integer)
    rows = await session.execute(
        select(
            func.count().label("n"),
            func.min(view.c.id).label("id"),
            func.min(view.c.kind).label("kind"),
            func.min(view.c.category).label("category"),
            func.min(view.c.title).label("title"),
            func.avg(view.c.public_lat).label("lat"),
            func.avg(view.c.public_lon).label("lon"),
        )
        .group_by(cell_lat, cell_lon)
        .order_by(func.count().desc(), func.min(view.c.id))
    )
    found: list[dict[str, Any]] = []
    for row in rows:
        if row.n == 1:
            found.append(_post(row))
        else:
            found.append(
                {
                    "type": "Feature",
                    "geometry": _point(float(row.lon), float(row.lat)),
                    "properties": {"cluster": True, "count": int(row.n)},
                }
            )
    return {"type": "FeatureCollection", "features": found, "clustered": True, "total": count}
