"""The map's features: published posts at their public (coarse) point, clustered past a limit.

Only `public_lat`/`public_lon` are ever read here, never the exact point, whoever asks
(market.posts.models: the public point is the centre of the ~1 km cell). Past MAX_FEATURES the
posts in view are grouped on a grid of at most GRID x GRID cells, in SQL (GROUP BY the cell), so
the answer stays small whatever the number of posts; a cell holding one post is that post.
Whether there are too many is known after reading MAX_FEATURES + 1 posts; the grid is worked
out in one pass over the public points, which an index holds (_cells).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Float, Integer, Select, bindparam, case, cast, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter

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
    if base is None:
        return _public_view(kind, category, language, box)
    return _in_view(base, box)


@lru_cache(maxsize=256)
def _public_view(
    kind: str | None, category: str | None, language: str | None, box: Box | None
) -> Select[Any]:
    # Built once per filters and box (the map's script asks for boxes on a grid), so that the
    # statements built on it are found again too (_Statements).
    return _in_view(post_queries.search(kind=kind, category=category, language=language), box)


def _in_view(stmt: Select[Any], box: Box | None) -> Select[Any]:
    stmt = stmt.where(Post.public_lat.is_not(None), Post.public_lon.is_not(None))
    if box is not None:
        # The box is written into the statement (finite floats, checked by params.parse_box),
        # so that every box is planned with its values: bound, the prepared statement of a
        # view got a generic plan after five uses that took any box for a few rows, and read
        # every post in a big one once per single post to fetch (130-200 ms, not 3 ms).
        lat0, lat1, lon0, lon1 = (
            literal(v, Float, literal_execute=True)
            for v in (box.min_lat, box.max_lat, box.min_lon, box.max_lon)
        )
        stmt = stmt.where(Post.public_lat.between(lat0, lat1), Post.public_lon.between(lon0, lon1))
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


def _shown(view: Any) -> Select[Any]:
    """What a post's feature shows, at its public point (never the exact one)."""
    return select(
        view.c.id,
        view.c.kind,
        view.c.category,
        view.c.title,
        view.c.public_lat.label("lat"),
        view.c.public_lon.label("lon"),
    )


@dataclass(frozen=True)
class _Statements:
    """A view's statements, built once per view and limits: building them costs more than
    running them for a small box."""

    view: Any
    capped: Select[Any]  # how many posts are in view, up to max_features + 1
    listing: Select[Any]  # every post in view, newest first
    cells: Select[Any]  # the grid's cells


@lru_cache(maxsize=256)
def _statements(posts: Select[Any], max_features: int, grid_size: int) -> _Statements:
    view = posts.subquery()
    # Whether the posts in view fit: counting stops after max_features + 1 (a city's posts
    # under a filter are found without reading all 200,000).
    capped = select(func.count()).select_from(
        select(view.c.public_lat).limit(max_features + 1).subquery()
    )
    listing = _shown(view).order_by(view.c.created_at.desc(), view.c.id)
    return _Statements(view, capped, listing, _cells(view, grid_size))


def _cells(view: Any, grid_size: int) -> Select[Any]:
    """The posts in view on a grid of at most grid_size x grid_size cells, in one statement
    that reads the public points once: the posts are first grouped by their point (a post's
    public point is the centre of its ~1 km cell, so there are far fewer points than posts,
    and the index hands them over in order: no sort, no hash of every post), then the grid
    spans those points (not the asked box, which may be the whole world) and the points are
    summed per cell."""
    points = (
        select(
            view.c.public_lat.label("lat"),
            view.c.public_lon.label("lon"),
            func.count().label("n"),
        )
        .group_by(view.c.public_lat, view.c.public_lon)
        .cte("points")
    )
    extent = select(
        func.min(points.c.lat).label("lat0"),
        func.max(points.c.lat).label("lat1"),
        func.min(points.c.lon).label("lon0"),
        func.max(points.c.lon).label("lon1"),
        func.sum(points.c.n).label("total"),
    ).cte("extent")
    span = case(
        (
            extent.c.lat1 - extent.c.lat0 > extent.c.lon1 - extent.c.lon0,
            extent.c.lat1 - extent.c.lat0,
        ),
        else_=extent.c.lon1 - extent.c.lon0,
    )
    size = (case((span > 1e-6, span), else_=1e-6) / grid_size * 1.0001).label("size")
    grid = select(extent.c.lat0, extent.c.lon0, extent.c.total, size).cte("grid")
    # The grid's numbers as scalar subqueries, worked out once (InitPlans): joined instead, a
    # generic plan of the prepared statement recomputed them for every point (10 s, not 30 ms).
    lat0, lon0, step = (
        select(c).scalar_subquery() for c in (grid.c.lat0, grid.c.lon0, grid.c.size)
    )
    # Offsets from the minimum are never negative, so truncation is floor on both databases.
    cell_lat = cast((points.c.lat - lat0) / step, Integer)
    cell_lon = cast((points.c.lon - lon0) / step, Integer)
    return select(
        # An integer, not PostgreSQL's numeric sum (a Decimal each, slow to read in Python).
        cast(func.sum(points.c.n), Integer).label("n"),
        # n * lat of a point holding one post is that post's own point, exactly.
        func.sum(points.c.lat * points.c.n).label("lat"),
        func.sum(points.c.lon * points.c.n).label("lon"),
        select(grid.c.total).scalar_subquery().label("total"),
    ).group_by(cell_lat, cell_lon)


async def features(session: AsyncSession, posts: Select[Any]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection: each post, or grid clusters when there are too many."""
    built = _statements(posts, MAX_FEATURES, GRID)
    capped = (await session.execute(built.capped)).scalar_one()
    if capped <= MAX_FEATURES:
        rows = await session.execute(built.listing)
        return {
            "type": "FeatureCollection",
            "features": [_post(r) for r in rows],
            "clustered": False,
            "total": int(capped),
        }
    return await _clusters(session, built)


async def _clusters(session: AsyncSession, built: _Statements) -> dict[str, Any]:
    """The posts in view as grid cells (_cells); the few cells holding a single post then
    fetch that post by its point."""
    view = built.view
    cells = (await session.execute(built.cells)).all()
    count = int(cells[0].total) if cells else 0
    alone = [(float(c.lat), float(c.lon)) for c in cells if c.n == 1]
    singles: dict[tuple[float, float], Any] = {}
    if alone:
        # A cell with one post holds no other post at its point: the point names the post.
        # Asked as two lists of values the index is entered with (each latitude, then each
        # longitude), written into the statement: they are the database's own floats, not a
        # visitor's input. As pairs, (lat, lon) IN (...), the index could not use them, and
        # once the prepared statement of a view had a generic plan it read every post in the
        # box to test each against every pair (200 ms, not 2 ms, under load).
        lats: BindParameter[Any] = bindparam(
            "lats", sorted({p[0] for p in alone}), expanding=True, literal_execute=True
        )
        lons: BindParameter[Any] = bindparam(
            "lons", sorted({p[1] for p in alone}), expanding=True, literal_execute=True
        )
        found = await session.execute(
            _shown(view).where(
                view.c.public_lat.in_(lats),
                view.c.public_lon.in_(lons),
                tuple_(view.c.public_lat, view.c.public_lon).in_(
                    bindparam("alone", alone, expanding=True, literal_execute=True)
                ),
            )
        )
        singles = {(float(r.lat), float(r.lon)): r for r in found}
    shown: list[tuple[tuple[int, str, float, float], dict[str, Any]]] = []
    for c in cells:
        n, lat, lon = int(c.n), float(c.lat), float(c.lon)
        if n == 1 and (lat, lon) in singles:
            row = singles[(lat, lon)]
            shown.append(((-1, row.id, lat, lon), _post(row)))
        else:
            lat, lon = lat / n, lon / n
            cluster = {
                "type": "Feature",
                "geometry": _point(lon, lat),
                "properties": {"cluster": True, "count": n},
            }
            shown.append(((-n, "", lat, lon), cluster))
    # Biggest clusters first, then single posts by id: the same order on every call.
    shown.sort(key=lambda item: item[0])
    return {
        "type": "FeatureCollection",
        "features": [feature for _, feature in shown],
        "clustered": True,
        "total": count,
    }
