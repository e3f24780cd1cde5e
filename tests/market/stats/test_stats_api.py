"""GET /api/v1/stats and /api/v1/stats.csv: every figure equals a count made here, in Python,
from the rows this test wrote (several categories, languages and two regions), and a coordinator
with one region sees only that region."""

from __future__ import annotations

import csv
import io
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from market.accounts.models import CoordinatorRegion, User, UserLanguage, WebSession
from market.db import make_sessionmaker, new_id, utcnow
from market.matches.models import Match
from market.posts.models import Post, PostLanguage, Region
from tests.factories import make_user

DAY = timedelta(days=1)
CATEGORIES = ("accompaniment-authorities", "housing", "education-homework")
LANGUAGES = ("ar", "de", "uk", "fa")


@dataclass
class NeedRow:
    id: str
    region: str | None
    category: str
    languages: list[str]
    created: datetime
    status: str
    connected: list[datetime] = field(default_factory=list)


@dataclass
class MatchRow:
    need: NeedRow
    created: datetime
    status: str
    connected: datetime | None
    seconds: int | None
    met: bool


@dataclass
class VolunteerRow:
    id: str
    approved: bool
    languages: list[str]
    offers: list[tuple[str | None, str]]  # (region, category)
    active: bool


@dataclass
class World:
    now: datetime
    start: datetime
    end: datetime
    regions: dict[str, str]  # slug -> id
    needs: list[NeedRow]
    matches: list[MatchRow]
    volunteers: list[VolunteerRow]


async def build_world(app: Any, seed: int = 13) -> World:
    """Rows straight into the database with chosen times, remembering what was written."""
    rnd = random.Random(seed)
    now = utcnow()
    start, end = now - 30 * DAY, now
    factory = make_sessionmaker(app.state.engine)
    async with factory() as s, s.begin():
        regions = {}
        for slug, lat, lon in (("leipzig", 51.34, 12.37), ("halle", 51.48, 11.97)):
            place = Region(slug=slug, name=slug.title(), lat=lat, lon=lon, radius_km=25)
            s.add(place)
            await s.flush()
            regions[slug] = place.id
        seeker = User(email="seeker@example.org", display_name="S", role="seeker")
        s.add(seeker)
        await s.flush()

        volunteers: list[VolunteerRow] = []
        offer_ids: list[tuple[str, str]] = []  # (offer id, volunteer id)
        for n in range(12):
            approved = n % 5 != 4
            active = n % 3 == 0
            langs = rnd.sample(LANGUAGES, rnd.randint(1, 2))
            user = User(
                email=f"v{n}@example.org",
                display_name=f"V{n}",
                role="volunteer",
                vetting_status="approved" if approved else "pending",
                created_at=now - 200 * DAY,
            )
            user.languages = [UserLanguage(code=c, position=i) for i, c in enumerate(langs)]
            s.add(user)
            await s.flush()
            if active:
                s.add(
                    WebSession(
                        id=new_id(),
                        user_id=user.id,
                        csrf_token="x",
                        expires_at=now + DAY,
                        created_at=now - 10 * DAY,
                    )
                )
            else:
                # Signed in long ago: not active in the last 90 days.
                s.add(
                    WebSession(
                        id=new_id(),
                        user_id=user.id,
                        csrf_token="x",
                        expires_at=now - 100 * DAY,
                        created_at=now - 120 * DAY,
                    )
                )
            offers: list[tuple[str | None, str]] = []
            for _ in range(rnd.randint(0 if n == 11 else 1, 2)):
                region = rnd.choice(["leipzig", "halle"])
                category = rnd.choice(CATEGORIES)
                post = Post(
                    kind="offer",
                    category=category,
                    title="Offer",
                    status="published",
                    author_id=user.id,
                    region_id=regions[region],
                    lat=51.3,
                    lon=12.3,
                )
                s.add(post)
                await s.flush()
                offers.append((region, category))
                offer_ids.append((post.id, user.id))
            volunteers.append(VolunteerRow(user.id, approved, langs, offers, active))

        needs: list[NeedRow] = []
        for n in range(36):
            where = rnd.choice(["leipzig", "halle", "leipzig", None])
            created = now - timedelta(days=rnd.choice([2, 5, 12, 25, 29, 45]), hours=n % 7)
            row = NeedRow(
                id="",
                region=where,
                category=rnd.choice(CATEGORIES),
                languages=rnd.sample(LANGUAGES, rnd.randint(1, 2)),
                created=created,
                status=rnd.choice(["published", "published", "closed"]),
            )
            post = Post(
                kind="need",
                category=row.category,
                title="Need",
                status=row.status,
                author_id=seeker.id,
                region_id=regions[where] if where else None,
                lat=51.3,
                lon=12.3,
                created_at=created,
            )
            post.languages = [PostLanguage(code=c, position=i) for i, c in enumerate(row.languages)]
            s.add(post)
            await s.flush()
            row.id = post.id
            needs.append(row)

        matches: list[MatchRow] = []
        for need in needs:
            for offer_id, volunteer_id in rnd.sample(offer_ids, rnd.randint(0, 2)):
                status = rnd.choice(["proposed", "connected", "declined", "expired", "closed"])
                created = need.created + timedelta(hours=rnd.choice([1, 30, 100]))
                if status == "proposed":
                    # Recent: the app's own follow-through expires proposals after 7 days.
                    created = now - timedelta(hours=2)
                connected = None
                seconds = None
                if status in ("connected", "closed"):
                    seconds = rnd.choice([3600, 86400, 3 * 86400, 9 * 86400, 20 * 86400])
                    connected = created + timedelta(seconds=seconds)
                    need.connected.append(connected)
                met = status in ("connected", "closed") and rnd.random() < 0.5
                s.add(
                    Match(
                        offer_id=offer_id,
                        need_id=need.id,
                        volunteer_id=volunteer_id,
                        need_author_id=seeker.id,
                        score=1.0,
                        status=status,
                        created_at=created,
                        connected_at=connected,
                        first_contact_seconds=seconds,
                        offer_met=True if met else None,
                    )
                )
                matches.append(MatchRow(need, created, status, connected, seconds, met))
    return World(now, start, end, regions, needs, matches, volunteers)


def _p(values: list[int], fraction: float) -> float | None:
    """Independent of the app: the statistics module's inclusive quantiles (R type 7)."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0] / 86400, 2)
    if fraction == 0.5:
        return round(statistics.median(values) / 86400, 2)
    return round(statistics.quantiles(values, n=10, method="inclusive")[8] / 86400, 2)


def expected(world: World, regions: set[str | None] | None) -> dict[str, Any]:
    """Every figure, counted from the remembered rows. `regions` None: everything."""

    def inside(region: str | None) -> bool:
        return regions is None or region in regions

    def blank() -> dict[str, Any]:
        return {
            "needs": dict.fromkeys(
                ("created", "matched_within_7_days", "matched_within_30_days", "waiting"), 0
            ),
            "seconds": [],
            "matches": dict.fromkeys(("proposed", "connected", "declined", "expired", "met"), 0),
            "volunteers": {"approved": 0, "active_90_days": 0},
        }

    total = blank()
    groups: dict[str, dict[Any, dict[str, Any]]] = {
        d: defaultdict(blank) for d in ("category", "language", "region")
    }

    def targets(need: NeedRow) -> list[dict[str, Any]]:
        return [
            total,
            groups["category"][need.category],
            groups["region"][need.region],
            *(groups["language"][c] for c in need.languages),
        ]

    for need in world.needs:
        if not inside(need.region) or not world.start <= need.created < world.end:
            continue
        first = min(need.connected) if need.connected else None
        for t in targets(need):
            t["needs"]["created"] += 1
            if first and first - need.created <= 7 * DAY:
                t["needs"]["matched_within_7_days"] += 1
            if first and first - need.created <= 30 * DAY:
                t["needs"]["matched_within_30_days"] += 1
            if need.status == "published" and first is None:
                t["needs"]["waiting"] += 1
    for m in world.matches:
        if not inside(m.need.region):
            continue
        if world.start <= m.created < world.end:
            for t in targets(m.need):
                if m.status in t["matches"]:
                    t["matches"][m.status] += 1
                t["matches"]["met"] += int(m.met)
        if m.connected and world.start <= m.connected < world.end:
            for t in targets(m.need):
                t["seconds"].append(m.seconds)
    for v in world.volunteers:
        if not v.approved:
            continue
        mine = [(r, c) for r, c in v.offers if inside(r)]
        if regions is not None and not mine:
            continue
        keys = {
            ("total", None),
            *(("category", c) for _, c in mine),
            *(("region", r) for r, _ in mine),
            *(("language", c) for c in v.languages),
        }
        for dimension, key in keys:
            t = total if dimension == "total" else groups[dimension][key]
            t["volunteers"]["approved"] += 1
            t["volunteers"]["active_90_days"] += int(v.active)

    def shape(t: dict[str, Any]) -> dict[str, Any]:
        return {
            "needs": t["needs"],
            "time_to_first_contact_days": {
                "median": _p(t["seconds"], 0.5),
                "p90": _p(t["seconds"], 0.9),
            },
            "matches": t["matches"],
            "volunteers": t["volunteers"],
        }

    return {
        "total": shape(total),
        **{d: {k: shape(v) for k, v in g.items()} for d, g in groups.items()},
    }


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 0.011


def check(body: dict[str, Any], want: dict[str, Any], world: World) -> None:
    def same(got: dict[str, Any], exp: dict[str, Any], where: str) -> None:
        for part in ("needs", "matches", "volunteers"):
            assert got[part] == exp[part], (where, part, got[part], exp[part])
        for k in ("median", "p90"):
            g, e = got["time_to_first_contact_days"][k], exp["time_to_first_contact_days"][k]
            assert _close(g, e), (where, k, g, e)

    same(body, want["total"], "total")
    slug_of = {v: k for k, v in world.regions.items()}
    for dimension, name in (("category", "category"), ("language", "language")):
        got = {row[name]: row for row in body[f"by_{dimension}"]}
        assert set(got) == set(want[dimension]), dimension
        for key, row in got.items():
            same(row, want[dimension][key], f"{dimension} {key}")
    got_regions = {row["region"]: row for row in body["by_region"]}
    want_regions = dict(want["region"].items())
    assert set(got_regions) == set(want_regions)
    for key, row in got_regions.items():
        same(row, want_regions[key], f"region {key}")
        if key is not None:
            assert world.regions[key] in slug_of


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _query(world: World, **more: str) -> dict[str, str]:
    return {"from": _iso(world.start), "to": _iso(world.end), **more}


async def test_figures_equal_counts_from_the_rows(client: httpx.AsyncClient, app: Any) -> None:
    world = await build_world(app)
    admin = await make_user(app, client, "admin")
    r = await client.get("/api/v1/stats", params=_query(world), headers=admin.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    want = expected(world, None)
    # The data must exercise every figure, or the comparison proves little.
    assert want["total"]["needs"]["matched_within_7_days"] > 0
    assert want["total"]["needs"]["waiting"] > 0
    assert all(want["total"]["matches"][k] > 0 for k in want["total"]["matches"])
    assert (
        0 < want["total"]["volunteers"]["active_90_days"] < want["total"]["volunteers"]["approved"]
    )
    check(body, want, world)
    assert body["region"] is None

    r = await client.get(
        "/api/v1/stats", params=_query(world, region="halle"), headers=admin.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["region"] == "halle"
    check(r.json(), expected(world, {"halle"}), world)


async def test_a_coordinator_with_one_region_sees_only_it(
    client: httpx.AsyncClient, app: Any
) -> None:
    world = await build_world(app)
    coordinator = await make_user(app, client, "coordinator")
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        s.add(CoordinatorRegion(user_id=coordinator.id, region_id=world.regions["leipzig"]))
    r = await client.get("/api/v1/stats", params=_query(world), headers=coordinator.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    check(body, expected(world, {"leipzig"}), world)
    assert [row["region"] for row in body["by_region"]] == ["leipzig"]
    # Another region, or one that does not exist, is not there for them.
    for slug in ("halle", "nowhere"):
        r = await client.get(
            "/api/v1/stats", params=_query(world, region=slug), headers=coordinator.headers
        )
        assert r.status_code == 404, r.text
        r = await client.get(
            "/api/v1/stats.csv", params=_query(world, region=slug), headers=coordinator.headers
        )
        assert r.status_code == 404


async def test_csv_has_the_same_rows(client: httpx.AsyncClient, app: Any) -> None:
    world = await build_world(app)
    admin = await make_user(app, client, "admin")
    body = (await client.get("/api/v1/stats", params=_query(world), headers=admin.headers)).json()
    r = await client.get("/api/v1/stats.csv", params=_query(world), headers=admin.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["dimension"] == "total"
    expected_rows = 1 + sum(len(body[f"by_{d}"]) for d in ("category", "language", "region"))
    assert len(rows) == expected_rows

    def as_row(dimension: str, key: str, figures: dict[str, Any]) -> dict[str, str]:
        out = {"dimension": dimension, "key": key}
        for part in ("needs", "matches", "volunteers"):
            for k, v in figures[part].items():
                out[f"{part}_{k}"] = str(v)
        for k, v in figures["time_to_first_contact_days"].items():
            out[f"time_to_first_contact_days_{k}"] = "" if v is None else str(v)
        return out

    want = [as_row("total", "", body)]
    for d in ("category", "language", "region"):
        want.extend(as_row(d, row[d] or "", row) for row in body[f"by_{d}"])
    assert rows == want


async def test_who_may_read_and_bad_periods(client: httpx.AsyncClient, app: Any) -> None:
    assert (await client.get("/api/v1/stats")).status_code == 401
    assert (await client.get("/api/v1/stats.csv")).status_code == 401
    for role in ("seeker", "volunteer", "organisation"):
        person = await make_user(app, client, role)
        assert (await client.get("/api/v1/stats", headers=person.headers)).status_code == 403
    admin = await make_user(app, client, "admin")
    for params in (
        {"from": "yesterday"},
        {"to": "2027-13-01"},
        {"from": "2027-02-01", "to": "2027-01-01"},
    ):
        r = await client.get("/api/v1/stats", params=params, headers=admin.headers)
        assert r.status_code == 422, (params, r.text)
    # Dates are whole days: `to` includes its day.
    r = await client.get(
        "/api/v1/stats", params={"from": "2027-01-01", "to": "2027-01-31"}, headers=admin.headers
    )
    assert r.status_code == 200
    assert (r.json()["from"], r.json()["to"]) == ("2027-01-01T00:00:00Z", "2027-02-01T00:00:00Z")


@pytest.mark.parametrize("seed", [1, 2])
async def test_other_worlds(client: httpx.AsyncClient, app: Any, seed: int) -> None:
    world = await build_world(app, seed)
    admin = await make_user(app, client, "admin")
    r = await client.get("/api/v1/stats", params=_query(world), headers=admin.headers)
    check(r.json(), expected(world, None), world)
