"""Which offer-need pairs of a region are worth judging at all.

A region's run would otherwise judge every need against every offer of its category: 5,000 x
5,000 posts make millions of pairs, nearly all of them in the wrong place or without a common
language. `nearby_pairs` finds the pairs that pass the first three rules of API.md (category,
language, reach) through indexes instead, so that `judge` sees only those and drops the pairs
that fail the other rules (published, vetted, certificate, declined).

Offers that meet in person are kept in grids: one per class of radius (5 km, 10, 20, 40 ... up
to 320, enough for the API's 200 km), with cells as large as the class in km, so that a need
looks at a few cells per class around it and a single offer with a 200 km radius does not widen
everyone's search. Each cell is further keyed by the offer's category path and a primary language.
Remote-capable offers are kept by category path and language alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from matching.geo import EARTH_RADIUS_KM, haversine_km
from matching.model import PostFacts
from matching.reach import pair_radius, radius_of_offer

# Kilometres per degree of latitude on the matcher's sphere; a distance is never less than
# this times the difference in latitude.
_KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180
# Radius classes in km: an offer goes into the first class at least its radius.
_CLASSES = (5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0, math.inf)
_FULL_CIRCLE = 360.0
_Key = tuple[tuple[str, ...], str]


def _radius_class(radius_km: float) -> float:
    return next(c for c in _CLASSES if radius_km <= c)


def _cell_degrees(radius_class: float) -> float:
    """At least the class in degrees of latitude, and a whole fraction of the circle, so that
    columns wrap around the date line exactly."""
    if not math.isfinite(radius_class):
        return _FULL_CIRCLE
    return _FULL_CIRCLE / max(1, math.floor(_FULL_CIRCLE / (radius_class / _KM_PER_DEGREE)))


def _cell(lat: float, lon: float, size: float) -> tuple[int, int]:
    # Longitude 180 is -180: its column wraps to the first.
    return math.floor((lat + 90.0) / size), math.floor((lon + 180.0) / size) % round(
        _FULL_CIRCLE / size
    )


def _lon_reach_degrees(lat: float, lat_reach: float, km: float) -> float:
    """How far in longitude a point within `km` of (lat, .) can lie: from the haversine formula,
    cos(lat1) * cos(lat2) * sin^2(dlon / 2) <= sin^2(km / 2R), with lat2 at the pole-most edge of
    the latitude band. 180 where the band reaches a pole or the bound says nothing."""
    edge = min(90.0, abs(lat) + lat_reach)
    product = math.cos(math.radians(abs(lat))) * math.cos(math.radians(edge))
    if product <= 0.0:
        return 180.0
    sine = math.sin(min(math.pi / 2, km / (2 * EARTH_RADIUS_KM))) / math.sqrt(product)
    if sine >= 1.0:
        return 180.0
    return math.degrees(2 * math.asin(sine))


class _Grids:
    """Offers that meet in person, by radius class, cell, category path and language."""

    def __init__(self, offers: Sequence[PostFacts]) -> None:
        self.cells: dict[tuple[float, int, int, _Key], list[int]] = {}
        self.classes: set[float] = set()
        for j, offer in enumerate(offers):
            if not offer.meets_in_person or offer.lat is None or offer.lon is None:
                continue
            radius_class = _radius_class(radius_of_offer(offer))
            self.classes.add(radius_class)
            row, col = _cell(offer.lat, offer.lon, _cell_degrees(radius_class))
            for language in offer.levels:
                key = (radius_class, row, col, (offer.category_path, language))
                self.cells.setdefault(key, []).append(j)

    def around(self, need: PostFacts, keys: list[_Key]) -> Iterator[int]:
        """Offers in the cells within reach of the need, for any of `keys`."""
        assert need.lat is not None and need.lon is not None
        for radius_class in self.classes:
            km = radius_class if need.radius_km is None else min(radius_class, need.radius_km)
            size = _cell_degrees(radius_class)
            # A hair more than the bound, against rounding in the degrees.
            lat_reach = km / _KM_PER_DEGREE * 1.000001 + 1e-9
            lon_reach = _lon_reach_degrees(need.lat, lat_reach, km) * 1.000001 + 1e-9
            columns = round(_FULL_CIRCLE / size)
            row_low = math.floor((need.lat - lat_reach + 90.0) / size)
            row_high = math.floor((need.lat + lat_reach + 90.0) / size)
            # Unwrapped here; `% columns` below wraps them around the date line.
            col_low = math.floor((need.lon - lon_reach + 180.0) / size)
            col_high = math.floor((need.lon + lon_reach + 180.0) / size)
            if col_high - col_low + 1 >= columns:
                col_low, col_high = 0, columns - 1
            for row in range(row_low, row_high + 1):
                for col in range(col_low, col_high + 1):
                    for key in keys:
                        yield from self.cells.get((radius_class, row, col % columns, key), ())


def nearby_pairs(needs: Sequence[PostFacts], offers: Sequence[PostFacts]) -> NDArray[np.intp]:
    """(need index, offer index) rows, shape (n, 2), for every pair that passes the category,
    language and reach rules; needs in order, each need's offers ascending. Pairs failing those
    rules are left out (tests/matching/test_nearby.py compares with `check` on every pair)."""
    grids = _Grids(offers)
    remote: dict[_Key, list[int]] = {}
    for j, offer in enumerate(offers):
        if offer.meets_remotely:
            for language in offer.levels:
                remote.setdefault((offer.category_path, language), []).append(j)

    need_column: list[int] = []
    offer_column: list[int] = []
    for i, need in enumerate(needs):
        # The offer's category path is a prefix of the need's: the same category or an ancestor.
        path = need.category_path
        keys = [
            (path[:depth], language)
            for depth in range(1, len(path) + 1)
            for language in need.levels
        ]
        found: set[int] = set()
        if need.meets_remotely:
            for key in keys:
                found.update(remote.get(key, ()))
        if need.meets_in_person and need.lat is not None and need.lon is not None:
            for j in grids.around(need, keys):
                if j in found:
                    continue
                offer = offers[j]
                assert offer.lat is not None and offer.lon is not None
                # The very test of `reach`, so that exactly its pairs come through.
                distance = haversine_km(offer.lat, offer.lon, need.lat, need.lon)
                if distance <= pair_radius(offer, need):
                    found.add(j)
        need_column.extend([i] * len(found))
        offer_column.extend(sorted(found))
    return np.column_stack(
        [np.array(need_column, dtype=np.intp), np.array(offer_column, dtype=np.intp)]
    )
