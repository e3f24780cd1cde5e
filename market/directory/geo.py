"""Published services as map points: GET /api/v1/services.geojson.

Services are public places, so each point is the service's own address (posts, by contrast,
show only coarse points). The search page's map draws them as a layer of their own beside
the posts (market/static/map.js, `data-services`). Only published services: the same rule as
the public service list.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.directory.models import Entry, EntryKind, EntryStatus
from market.errors import Invalid

# A city's directory holds a few hundred services; the cap keeps a whole-country view small.
LIMIT = 2000
BBOX_MESSAGE = "Give bbox as minlon,minlat,maxlon,maxlat in degrees."


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """`minlon,minlat,maxlon,maxlat` (the GeoJSON order, as /api/v1/map takes it)."""
    if not raw:
        return None
    parts = raw.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError as exc:
        raise Invalid.one("bbox", BBOX_MESSAGE) from exc
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise Invalid.one("bbox", BBOX_MESSAGE)
    min_lon, min_lat, max_lon, max_lat = values
    inside = all(-180 <= v <= 180 for v in (min_lon, max_lon)) and all(
        -90 <= v <= 90 for v in (min_lat, max_lat)
    )
    if not inside or min_lon > max_lon or min_lat > max_lat:
        raise Invalid.one("bbox", BBOX_MESSAGE)
    return min_lon, min_lat, max_lon, max_lat


async def service_points(
    session: AsyncSession, box: tuple[float, float, float, float] | None
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of published services (in `box` when given)."""
    stmt = select(Entry.id, Entry.name, Entry.address, Entry.lat, Entry.lon).where(
        Entry.kind == EntryKind.SERVICE, Entry.status == EntryStatus.PUBLISHED
    )
    if box is not None:
        min_lon, min_lat, max_lon, max_lat = box
        stmt = stmt.where(Entry.lon.between(min_lon, max_lon), Entry.lat.between(min_lat, max_lat))
    rows = (await session.execute(stmt.order_by(Entry.name, Entry.id).limit(LIMIT))).all()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "id": entry_id,
                    "kind": "service",
                    "name": name,
                    "address": address,
                    "url": f"/services/{entry_id}",
                },
            }
            for entry_id, name, address, lat, lon in rows
        ],
    }
