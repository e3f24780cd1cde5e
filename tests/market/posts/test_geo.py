"""Offline geocoding: gazetteer lookups, grids, the postcode import on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import random
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

import market.models  # noqa: F401 - registers every table on Base.metadata
from market.db import Base, make_engine, make_sessionmaker
from market.posts import geo
from market.posts.models import Postcode, Region

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "postcodes_DE_sample.txt"
SAMPLE_ROWS = 42  # good lines in the sample; it also has two malformed ones
SAMPLE_BAD_LINES = [21, 36]

BERLIN_ALEX = (52.5219, 13.4132)
MUNICH_MARIENPLATZ = (48.1374, 11.5755)


# ------------------------------------------------------------------------------------------
# Databases


@pytest.fixture(params=["sqlite", "postgresql"])
async def session(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str
) -> AsyncIterator[AsyncSession]:
    """A SQLite file of its own, or the PostgreSQL database of the run (the PostgreSQL pass of
    scripts/test.sh), emptied of postcodes and regions."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'geo.db'}")
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
    else:
        if not database_url.startswith("postgresql"):
            pytest.skip(
                "runs in the PostgreSQL pass (ANLAUF_TEST_DATABASE_URL=postgresql+asyncpg://...)"
            )
        engine = make_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(delete(Postcode))
            await conn.execute(delete(Region))
    async with make_sessionmaker(engine)() as s:
        yield s
    await engine.dispose()


async def _count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Postcode))).scalar_one())


async def _imported(session: AsyncSession) -> AsyncSession:
    assert await geo.import_postcodes(session, SAMPLE) == SAMPLE_ROWS
    await session.commit()
    return session


# ------------------------------------------------------------------------------------------
# City names


@pytest.mark.parametrize(
    ("query", "city"),
    [
        ("München", "München"),
        ("Muenchen", "München"),
        ("munich", "München"),
        ("MÜNCHEN", "München"),
        ("Munchen", "München"),
        ("Köln", "Köln"),
        ("Koeln", "Köln"),
        ("koln", "Köln"),
        ("Cologne", "Köln"),
        ("Frankfurt", "Frankfurt am Main"),
        ("frankfurt am main", "Frankfurt am Main"),
        ("Frankfurt/Main", "Frankfurt am Main"),
        ("Frankfurt (Oder)", "Frankfurt (Oder)"),
        ("Düsseldorf", "Düsseldorf"),
        ("Duesseldorf", "Düsseldorf"),
        ("DUSSELDORF", "Düsseldorf"),
        ("Gießen", "Gießen"),
        ("Giessen", "Gießen"),
        ("GIESSEN", "Gießen"),
        ("  berlin ", "Berlin"),
        ("Nuremberg", "Nürnberg"),
        ("Halle", "Halle (Saale)"),  # the big one, though a small Halle has it as its own name
        ("St. Ingbert", "Sankt Ingbert"),
    ],
)
def test_find_city_variants(query: str, city: str) -> None:
    place = geo.find_city(query)
    assert place is not None
    assert place.city == city
    assert place.country == "DE"
    assert place.postcode is None


def test_find_city_coordinates_and_misses() -> None:
    munich = geo.find_city("Muenchen")
    assert munich is not None
    assert geo.haversine_km(munich.lat, munich.lon, *MUNICH_MARIENPLATZ) < 3
    assert geo.find_city("Atlantis") is None
    assert geo.find_city("") is None
    assert geo.find_city("   ") is None
    assert geo.find_city("x" * 500) is None
    assert geo.find_city("Wien") is None  # German gazetteer by default
    assert geo.find_city("Berlin", "XX") is None
    assert geo.nearest_city(*BERLIN_ALEX, country="XX") is None
    vienna = geo.find_city("Wien", "at")
    assert vienna is not None and vienna.country == "AT"
    assert abs(vienna.lat - 48.2) < 0.1


def test_find_city_is_fast() -> None:
    geo.warm_up()
    start = time.perf_counter()
    for name in ["Muenchen", "Köln", "Cologne", "Frankfurt", "nowhere"] * 400:
        geo.find_city(name)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("lat", "lon", "city"),
    [
        (*BERLIN_ALEX, "Berlin"),
        (52.4990, 13.4030, "Berlin"),  # Kreuzberg: a district shows as its city
        (52.5350, 13.2000, "Berlin"),  # Spandau
        (53.5500, 9.9350, "Hamburg"),  # Altona
        (50.9220, 6.9560, "Köln"),  # Südstadt
        (*MUNICH_MARIENPLATZ, "München"),
        (50.1106, 8.6820, "Frankfurt am Main"),
        (50.1000, 8.7660, "Offenbach"),  # a town of its own next door
        (51.3397, 12.3731, "Leipzig"),
        (51.4566, 7.0123, "Essen"),
    ],
)
def test_nearest_city(lat: float, lon: float, city: str) -> None:
    assert geo.nearest_city(lat, lon) == city


def test_nearest_city_out_of_range_and_fast() -> None:
    assert geo.nearest_city(45.0, -30.0) is None  # the Atlantic
    assert geo.nearest_city(54.3, 7.9, max_km=5) is None  # North Sea off Heligoland
    assert geo.nearest_city(float("nan"), 13.4) is None
    start = time.perf_counter()
    for i in range(2000):
        geo.nearest_city(47.5 + (i % 50) * 0.1, 6.0 + (i % 90) * 0.1)
    assert time.perf_counter() - start < 0.5


# ------------------------------------------------------------------------------------------
# Grids and distances


def test_haversine() -> None:
    assert geo.haversine_km(*BERLIN_ALEX, *BERLIN_ALEX) == 0
    assert 500 < geo.haversine_km(52.52, 13.405, *MUNICH_MARIENPLATZ) < 510
    assert geo.haversine_km(0, 179.9, 0, -179.9) == pytest.approx(22.24, abs=0.05)


def test_coarsen_moves_less_than_a_kilometre_and_hides_the_point() -> None:
    rng = random.Random(7)
    moved = []
    for _ in range(2000):
        lat, lon = rng.uniform(47.2, 55.1), rng.uniform(5.8, 15.1)
        c = geo.coarsen(lat, lon)
        d = geo.haversine_km(lat, lon, *c)
        assert d < 0.85
        moved.append(d)
        assert geo.coarsen(*c) == c  # a cell centre stays where it is
    assert max(moved) > 0.5  # it really moves points
    # Points a few hundred metres apart inside one cell all show the same value.
    centre = geo.coarsen(*BERLIN_ALEX)
    for dlat, dlon in [(0.004, 0.006), (-0.004, -0.006), (0.004, -0.006), (-0.004, 0.006)]:
        assert geo.coarsen(centre[0] + dlat, centre[1] + dlon) == centre
    # ... and the grid is about 1 km in both directions, far north as well.
    for lat in (48.1, 52.5, 69.6):
        here = geo.coarsen(lat, 10.0)
        north = geo.coarsen(lat + 0.01, 10.0)
        east = geo.coarsen(here[0], here[1] + 0.01 / math.cos(math.radians(lat)))
        # (rows differ in their longitude step, so compare the latitudes only)
        assert 0.9 < geo.haversine_km(here[0], 0.0, north[0], 0.0) < 1.3
        assert 0.9 < geo.haversine_km(*here, *east) < 1.3
    assert geo.coarsen(90.0, 180.0)[0] <= 90
    assert geo.coarsen(-90.0, -180.0)[0] >= -90


def test_cell_of() -> None:
    assert geo.cell_of(52.52, 13.405) == (525, 134)
    assert geo.cell_of(-0.05, -0.05) == (-1, -1)
    assert geo.cell_of(48.1374, 11.5755) == (481, 115)


def _destination(lat: float, lon: float, bearing: float, km: float) -> tuple[float, float]:
    d = km / geo.EARTH_RADIUS_KM
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), math.degrees(l2)


@pytest.mark.parametrize(
    ("lat", "lon", "km"), [(52.52, 13.405, 10), (48.1, 11.5, 55), (69.6, 18.9, 80)]
)
def test_cells_within_covers_the_circle(lat: float, lon: float, km: float) -> None:
    lat_cells, lon_cells = geo.cells_within(lat, lon, km)
    for bearing in range(0, 360, 5):
        for frac in (0.5, 0.999):
            cell = geo.cell_of(*_destination(lat, lon, bearing, km * frac))
            assert cell[0] in lat_cells and cell[1] in lon_cells
    # A prefilter, but not a wasteful one.
    assert len(lat_cells) <= 2 * km / 11.1 + 2


def test_cells_within_edges() -> None:
    assert geo.cells_within(52.5, 13.4, 0) == (range(525, 526), range(134, 135))
    _, lons = geo.cells_within(0.0, 179.95, 20)  # crosses the antimeridian
    assert geo.cell_of(0, -179.95)[1] in lons and geo.cell_of(0, 179.95)[1] in lons
    lats, lons = geo.cells_within(89.95, 0.0, 50)
    assert lats.stop == 901 and len(lons) == 3601


# ------------------------------------------------------------------------------------------
# The sample file itself


def test_sample_fixture_is_plausible() -> None:
    seen = 0
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        cols = line.split("\t")
        if len(cols) != 12 or not cols[9].replace(".", "").isdigit():
            continue
        seen += 1
        place, lat, lon = cols[2], float(cols[9]), float(cols[10])
        city = geo.find_city(place) or geo.find_city("Hamburg")  # Wentorf is too small
        assert city is not None
        assert geo.haversine_km(lat, lon, city.lat, city.lon) < 20, line
    assert seen == SAMPLE_ROWS


# ------------------------------------------------------------------------------------------
# Importing postcodes


async def test_import_postcodes(session: AsyncSession) -> None:
    skipped: list[tuple[int, str]] = []
    n = await geo.import_postcodes(
        session, SAMPLE, on_skip=lambda no, why: skipped.append((no, why))
    )
    assert n == SAMPLE_ROWS
    assert [no for no, _ in skipped] == SAMPLE_BAD_LINES
    assert "coordinates" in skipped[0][1] and "columns" in skipped[1][1]
    assert await _count(session) == SAMPLE_ROWS
    await session.commit()

    berlin = await geo.find_postcode(session, "10115")
    assert berlin == geo.Place(52.5323, 13.3846, "Berlin", "10115", "DE")
    munich = await geo.find_postcode(session, " 80331 ", "de")
    assert munich is not None and munich.city == "München"
    assert geo.haversine_km(munich.lat, munich.lon, *MUNICH_MARIENPLATZ) < 1
    assert await geo.find_postcode(session, "99999") is None
    assert await geo.find_postcode(session, "10115", "AT") is None
    assert await geo.find_postcode(session, "10;115") is None


async def test_postcode_with_two_places_is_averaged(session: AsyncSession) -> None:
    await _imported(session)
    place = await geo.find_postcode(session, "21465")
    assert place is not None
    assert place.city == "Reinbek"  # the first by name
    assert place.lat == pytest.approx((53.5170 + 53.4930) / 2)
    assert place.lon == pytest.approx((10.2480 + 10.2500) / 2)


async def test_reimport_upserts(session: AsyncSession, tmp_path: Path) -> None:
    await _imported(session)
    assert await geo.import_postcodes(session, SAMPLE, batch=7) == SAMPLE_ROWS
    await session.commit()
    assert await _count(session) == SAMPLE_ROWS

    # A newer file moves a postcode and repeats one line: replaced, never duplicated.
    text = SAMPLE.read_text(encoding="utf-8").replace("52.5323\t13.3846", "52.5300\t13.3800")
    first = text.splitlines()[0]
    newer = tmp_path / "DE.txt"
    newer.write_text(text + first + "\n", encoding="utf-8")
    assert await geo.import_postcodes(session, newer, batch=10) == SAMPLE_ROWS + 1
    await session.commit()
    assert await _count(session) == SAMPLE_ROWS
    moved = await geo.find_postcode(session, "10115")
    assert moved is not None and (moved.lat, moved.lon) == (52.53, 13.38)


async def test_import_from_zip_with_crlf(session: AsyncSession, tmp_path: Path) -> None:
    archive = tmp_path / "DE.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "GeoNames postal codes\n")
        zf.writestr("DE.txt", SAMPLE.read_bytes().replace(b"\n", b"\r\n"))
    assert await geo.import_postcodes(session, archive) == SAMPLE_ROWS
    assert await _count(session) == SAMPLE_ROWS


async def test_import_only_flushes(session: AsyncSession) -> None:
    await geo.import_postcodes(session, SAMPLE)
    assert await _count(session) == SAMPLE_ROWS
    await session.rollback()  # the CLI commits; without that nothing stays
    assert await _count(session) == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.txt", None, "not found"),
        ("empty.txt", b"", "not a GeoNames"),
        (
            "zips.csv",
            b"country,postcode,place,lat,lon\nDE,10115,Berlin,52.5,13.4\n",
            "not a GeoNames",
        ),
        ("image.txt", b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00garbage", "not UTF-8"),
    ],
)
async def test_import_rejects_bad_files(
    session: AsyncSession, tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(geo.PostcodeImportError, match=message):
        await geo.import_postcodes(session, path)
    assert await _count(session) == 0


async def test_import_rejects_zip_without_data(session: AsyncSession, tmp_path: Path) -> None:
    archive = tmp_path / "DE.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "nothing here\n")
    with pytest.raises(geo.PostcodeImportError, match=r"DE\.txt"):
        await geo.import_postcodes(session, archive)


async def test_import_gives_up_early_on_foreign_files(
    session: AsyncSession, tmp_path: Path
) -> None:
    path = tmp_path / "big.txt"
    path.write_text("this is not it\n" * 200_000, encoding="utf-8")
    seen: list[int] = []
    with pytest.raises(geo.PostcodeImportError, match="malformed"):
        await geo.import_postcodes(session, path, on_skip=lambda no, _: seen.append(no))
    assert len(seen) == 100  # did not read the whole file to find out


# ------------------------------------------------------------------------------------------
# Resolving a location


async def test_resolve_coordinates(session: AsyncSession) -> None:
    place = await geo.resolve(session, lat=BERLIN_ALEX[0], lon=BERLIN_ALEX[1])
    assert place == geo.Place(BERLIN_ALEX[0], BERLIN_ALEX[1], "Berlin", None, "DE")
    # Coordinates win over anything else given, even an unknown postcode.
    place = await geo.resolve(session, lat=48.1374, lon=11, postcode="99999", city="Atlantis")
    assert (place.lat, place.lon) == (48.1374, 11.0)
    far = await geo.resolve(session, lat=45.0, lon=-30.0)
    assert far.city is None and far.country is None
    explicit = await geo.resolve(session, lat=52.0, lon=-30.0, country="pt")
    assert explicit.country == "PT"


async def test_resolve_postcode(session: AsyncSession) -> None:
    await _imported(session)
    place = await geo.resolve(session, postcode="50667", country="de")
    assert place.city == "Köln" and place.postcode == "50667" and place.country == "DE"
    place = await geo.resolve(session, postcode="80331")  # country defaults to DE
    assert place.city == "München"
    place = await geo.resolve(session, postcode="60311", city="Berlin")  # postcode before city
    assert place.city == "Frankfurt am Main"


async def test_resolve_city(session: AsyncSession) -> None:
    place = await geo.resolve(session, city="Koeln", country="DE")
    assert place.city == "Köln" and place.country == "DE" and place.postcode is None
    place = await geo.resolve(session, city="munich", postcode="  ")
    assert place.city == "München"


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"lat": 91.0, "lon": 13.0}, "location.lat", "Latitude must be between -90 and 90."),
        ({"lat": -90.5, "lon": 13.0}, "location.lat", "Latitude must be between -90 and 90."),
        (
            {"lat": float("nan"), "lon": 13.0},
            "location.lat",
            "Latitude must be between -90 and 90.",
        ),
        ({"lat": 52.0, "lon": 180.5}, "location.lon", "Longitude must be between -180 and 180."),
        ({"lat": 52.0}, "location.lon", "Give the longitude too."),
        ({"lon": 13.0}, "location.lat", "Give the latitude too."),
        ({"lat": 52.0, "lon": 13.0, "country": "XX"}, "location.country", geo.MSG_BAD_COUNTRY),
        ({"postcode": "99999"}, "location.postcode", "We do not know this postcode."),
        (
            {"postcode": "10115", "country": "AT"},
            "location.postcode",
            "We do not know this postcode.",
        ),
        ({"postcode": "%%%"}, "location.postcode", "We do not know this postcode."),
        ({"postcode": "10115", "country": "DEU"}, "location.country", geo.MSG_BAD_COUNTRY),
        ({"postcode": "10115", "country": "ZZ"}, "location.country", geo.MSG_BAD_COUNTRY),
        ({"city": "Atlantis"}, "location.city", "We do not know this city."),
        ({"city": "Köln", "country": "1"}, "location.country", geo.MSG_BAD_COUNTRY),
        ({}, "location", "Give coordinates, a postcode or a city."),
        ({"postcode": "", "city": " "}, "location", "Give coordinates, a postcode or a city."),
    ],
)
async def test_resolve_errors(
    session: AsyncSession, kwargs: dict[str, object], field: str, message: str
) -> None:
    await _imported(session)
    with pytest.raises(geo.GeoError) as info:
        await geo.resolve(session, **kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert info.value.message == message
    assert isinstance(info.value, ValueError)


# ------------------------------------------------------------------------------------------
# Regions


async def test_region_for(session: AsyncSession) -> None:
    session.add_all(
        [
            Region(slug="berlin", name="Berlin", lat=52.52, lon=13.405, radius_km=25),
            Region(slug="potsdam", name="Potsdam", lat=52.3906, lon=13.0645, radius_km=15),
            Region(slug="koeln", name="Köln", lat=50.9375, lon=6.9603, radius_km=20),
        ]
    )
    await session.commit()
    assert (await geo.region_for(session, *BERLIN_ALEX)).slug == "berlin"  # type: ignore[union-attr]
    # Wannsee lies in both circles; Potsdam's centre is nearer.
    assert (await geo.region_for(session, 52.42, 13.16)).slug == "potsdam"  # type: ignore[union-attr]
    assert (await geo.region_for(session, 50.94, 7.0)).slug == "koeln"  # type: ignore[union-attr]
    assert await geo.region_for(session, *MUNICH_MARIENPLATZ) is None


def test_coarse_latitudes_are_every_public_latitude_of_the_band() -> None:
    """queries.near asks `public_lat IN coarse_latitudes(south, north)` instead of BETWEEN: for
    that to find the same posts, every public latitude `coarsen` gives must be listed exactly
    when it lies in the band, down to the float."""
    from market.posts.distance import MAX_COARSE_ROWS, coarse_latitudes, coarsen

    rng = random.Random(20261206)
    for _ in range(3000):
        lat = rng.uniform(-89.99, 89.99)
        # Bands of every size the search asks (radius up to 200 km), with edges on, beside
        # and between the rows' centres.
        centre = rng.choice([lat, coarsen(lat, 0)[0], round(lat, 2), round(lat, 3)])
        half = rng.choice([0.0, 0.005, 0.01, rng.uniform(0, 1.8)])
        south, north = centre - half, centre + half
        band = coarse_latitudes(south, north)
        assert band is not None and band == sorted(band) and len(band) == len(set(band))
        for probe in (lat, south, north, south - 0.006, north + 0.006, centre):
            public = coarsen(min(max(probe, -90), 90), 13.4)[0]
            assert (public in band) == (south <= public <= north), (south, north, public)
        assert all(coarsen(v, 0)[0] == v for v in band)
    # A band wider than the limit is asked as a range.
    assert coarse_latitudes(40.0, 40.0 + (MAX_COARSE_ROWS + 5) * 0.01) is None
    assert coarse_latitudes(52.0, 51.0) == []
