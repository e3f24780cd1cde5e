"""Distances and grids on the earth: pure arithmetic, no data and no database.

`cell_of` (0.1 degree) is the index key stored on posts so that distance filters can use an
index; `coarsen` (about 1 km) is what anonymous readers see instead of exact coordinates.
Re-exported by market.posts.geo.
"""

from __future__ import annotations

import math
from typing import Final

EARTH_RADIUS_KM: Final = 6371.0088  # mean radius (IUGG)
KM_PER_DEGREE: Final = math.pi * EARTH_RADIUS_KM / 180  # about 111.2 km along a meridian
CELL_DEGREES: Final = 0.1  # the post index grid (`cell_of`); keep in step with Post.cell_lat
COARSE_DEGREES: Final = 0.01  # about 1.1 km of latitude: what the public sees


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance; exact enough (0.5 %) for "within 10 km" on a spherical earth."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def cell_of(lat: float, lon: float) -> tuple[int, int]:
    """The 0.1 degree grid cell stored on a post (cell_lat, cell_lon)."""
    return math.floor(lat * 10), math.floor(lon * 10)


_ALL_LON_CELLS: Final = range(-1800, 1801)


def cells_within(lat: float, lon: float, radius_km: float) -> tuple[range, range]:
    """Cell ranges covering every point within radius_km, for `cell_lat IN ... AND cell_lon IN ...`.

    A prefilter only: it may include cells farther away (the corners of the bounding box), never
    miss a nearer one; the exact distance is checked afterwards.
    """
    radius_km = max(0.0, radius_km)
    dlat = radius_km / KM_PER_DEGREE
    south, north = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    lat_cells = range(math.floor(south * 10), math.floor(north * 10) + 1)
    # Meridians converge: the circle is widest in longitude at the box edge nearer the pole.
    # Dividing by the cosine there over-estimates a little (safe for a prefilter).
    edge = max(abs(south), abs(north))
    if edge >= 89.9:
        return lat_cells, _ALL_LON_CELLS
    dlon = dlat / math.cos(math.radians(edge))
    west, east = lon - dlon, lon + dlon
    if dlon >= 180 or west < -180 or east >= 180:
        # A range cannot wrap round the antimeridian; take every longitude instead.
        return lat_cells, _ALL_LON_CELLS
    return lat_cells, range(math.floor(west * 10), math.floor(east * 10) + 1)


_COARSE_ROWS: Final = round(180 / COARSE_DEGREES)


def _row_centre(row: int) -> float:
    """The public latitude of a row of `coarsen`'s grid."""
    return round(-90 + (row + 0.5) * COARSE_DEGREES, 6)


# More rows than this (a band of 4 degrees, 440 km) are asked as a range instead.
MAX_COARSE_ROWS: Final = 400


def coarse_latitudes(south: float, north: float) -> list[float] | None:
    """Every public latitude (`coarsen`'s row centres) from south to north, or None when the
    band holds more than MAX_COARSE_ROWS rows. A public latitude is always one of these values,
    computed by the same arithmetic: `public_lat IN (...)` finds exactly the posts that
    `public_lat BETWEEN south AND north` finds, but an index on (public_lat, public_lon, ...)
    is entered once per row at the asked longitudes instead of reading the whole band of
    latitude around the earth."""
    if south > north:
        return []
    first = max(math.floor(round((south + 90) / COARSE_DEGREES, 9)) - 1, 0)
    last = min(math.floor(round((north + 90) / COARSE_DEGREES, 9)) + 1, _COARSE_ROWS - 1)
    if last - first + 1 > MAX_COARSE_ROWS + 2:
        return None
    return [c for c in map(_row_centre, range(first, last + 1)) if south <= c <= north]


def coarsen(lat: float, lon: float) -> tuple[float, float]:
    """The centre of the ~1 km grid cell holding the point, shown to the public instead of it.

    Rows are 0.01 degree of latitude (1.1 km). Within a row the longitude step is widened by
    1/cos(latitude of the row's centre) so cells are about 1.1 km wide too; it depends on the row,
    not on the point, so every point of a cell maps to the same centre and nothing of the exact
    position survives. The largest shift is half a cell diagonal, about 0.8 km.
    """
    # Rounding first keeps decimal boundaries exact: 52.51 starts a row, whatever 52.51 + 90
    # happens to be in binary.
    row = min(max(math.floor(round((lat + 90) / COARSE_DEGREES, 9)), 0), _COARSE_ROWS - 1)
    centre_lat = -90 + (row + 0.5) * COARSE_DEGREES
    cos_lat = max(math.cos(math.radians(centre_lat)), 1e-9)
    # A whole number of cells per circle of latitude keeps the grid seamless at +/-180.
    cells = max(1, math.floor(360 * cos_lat / COARSE_DEGREES))
    step = 360 / cells
    col = math.floor((lon + 180) / step) % cells
    centre_lon = -180 + (col + 0.5) * step
    return _row_centre(row), round(centre_lon, 6)
