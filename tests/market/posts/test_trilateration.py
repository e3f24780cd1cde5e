"""Privacy of places, tried as an attacker would (API.md, Release 2, Privacy of places).

An anonymous visitor may ask "which posts are within r km of here?" as often as they like, from
wherever they like, through `GET /api/v1/posts` and the `/posts` page, with coordinates or with
a place. A binary search on `radius_km` from three anchors gives three distances, and least
squares turns them into a point. That point must be the post's public point (the ~1 km cell
centre it is shown at), never nearer to the exact point than that. Shown distances and a
proposed match's distance must not tell more either.
"""

from __future__ import annotations

import asyncio
import math
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from market.db import UTCDateTime, make_engine, make_sessionmaker, utcnow
from market.migrate import upgrade
from market.posts.geo import coarsen, haversine_km
from market.posts.models import Post, Postcode
from tests.factories import Actor, make_user, post_body
from tests.pages import browser

KM_PER_DEGREE = 111.195  # the search's own flat-earth scale (market.posts.queries)
# Exact points 546 m (SECRET) and 230 m (NEAR_BORDER) from their cell centres.
SECRET = (51.33412, 12.38123)
NEAR_BORDER = (51.3443, 12.3868)
# Three anchors 3-5 km around Leipzig's centre, and postcodes placed on them for `place=`.
ANCHORS = ((51.3650, 12.3500), (51.3100, 12.3600), (51.3400, 12.4400))
ANCHOR_POSTCODES = ("99901", "99902", "99903")
PRECISION_KM = 0.0005  # the binary search stops at half a metre

Oracle = Callable[[int, float], Awaitable[bool]]


def flat_km(anchor: tuple[float, float], lat: float, lon: float) -> float:
    """The distance as the search measures it (equirectangular, cosine at the anchor)."""
    coslat = math.cos(math.radians(anchor[0]))
    dy = (lat - anchor[0]) * KM_PER_DEGREE
    dx = (lon - anchor[1]) * KM_PER_DEGREE * coslat
    return math.hypot(dx, dy)


def least_squares(distances: list[float]) -> tuple[float, float]:
    """The point whose distances to the anchors fit best (Gauss-Newton, from their centroid)."""
    lat = sum(a[0] for a in ANCHORS) / len(ANCHORS)
    lon = sum(a[1] for a in ANCHORS) / len(ANCHORS)
    for _ in range(50):
        # Normal equations of the 2x2 problem, with numeric partial derivatives.
        h = 1e-7
        jtj = [[0.0, 0.0], [0.0, 0.0]]
        jtr = [0.0, 0.0]
        for anchor, measured in zip(ANCHORS, distances, strict=True):
            r = flat_km(anchor, lat, lon) - measured
            j = (
                (flat_km(anchor, lat + h, lon) - flat_km(anchor, lat, lon)) / h,
                (flat_km(anchor, lat, lon + h) - flat_km(anchor, lat, lon)) / h,
            )
            for a in range(2):
                jtr[a] += j[a] * r
                for b in range(2):
                    jtj[a][b] += j[a] * j[b]
        det = jtj[0][0] * jtj[1][1] - jtj[0][1] * jtj[1][0]
        step_lat = (jtj[1][1] * jtr[0] - jtj[0][1] * jtr[1]) / det
        step_lon = (jtj[0][0] * jtr[1] - jtj[1][0] * jtr[0]) / det
        lat, lon = lat - step_lat, lon - step_lon
        if abs(step_lat) < 1e-10 and abs(step_lon) < 1e-10:
            break
    return lat, lon


async def smallest_radius(found: Oracle, anchor: int) -> tuple[float, int]:
    """The smallest radius_km at which the post is found from an anchor, and the searches spent."""
    lo, hi = 0.0, 20.0
    assert await found(anchor, hi), "the post must be found within 20 km of every anchor"
    searches = 1
    while hi - lo > PRECISION_KM:
        mid = (lo + hi) / 2
        searches += 1
        if await found(anchor, mid):
            hi = mid
        else:
            lo = mid
    return hi, searches


async def trilaterate(found: Oracle) -> tuple[tuple[float, float], int]:
    distances, spent = [], 0
    for anchor in range(len(ANCHORS)):
        radius, searches = await smallest_radius(found, anchor)
        distances.append(radius)
        spent += searches
    return least_squares(distances), spent


def oracles(client: httpx.AsyncClient, post_id: str) -> dict[str, Oracle]:
    """Every way an anonymous visitor can ask "is it within r km of this anchor?"."""

    async def api_coordinates(anchor: int, radius: float) -> bool:
        lat, lon = ANCHORS[anchor]
        r = await client.get(
            "/api/v1/posts", params={"lat": lat, "lon": lon, "radius_km": radius, "limit": 100}
        )
        assert r.status_code == 200, r.text
        return post_id in {p["id"] for p in r.json()["items"]}

    async def api_place(anchor: int, radius: float) -> bool:
        params = {"place": ANCHOR_POSTCODES[anchor], "radius_km": radius, "limit": 100}
        r = await client.get("/api/v1/posts", params=params)
        assert r.status_code == 200, r.text
        return post_id in {p["id"] for p in r.json()["items"]}

    async def page_coordinates(anchor: int, radius: float) -> bool:
        lat, lon = ANCHORS[anchor]
        r = await client.get("/posts", params={"lat": lat, "lon": lon, "radius_km": radius})
        assert r.status_code == 200, r.text
        return f'href="/posts/{post_id}"' in r.text

    async def page_place(anchor: int, radius: float) -> bool:
        r = await client.get(
            "/posts", params={"place": ANCHOR_POSTCODES[anchor], "radius_km": radius}
        )
        assert r.status_code == 200, r.text
        return f'href="/posts/{post_id}"' in r.text

    return {
        "api lat/lon": api_coordinates,
        "api place": api_place,
        "page lat/lon": page_coordinates,
        "page place": page_place,
    }


async def _anchor_postcodes(app: Any) -> None:
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        for code, (lat, lon) in zip(ANCHOR_POSTCODES, ANCHORS, strict=True):
            s.add(Postcode(country="DE", postcode=code, place=f"Anker {code}", lat=lat, lon=lon))


async def _post_at(client: httpx.AsyncClient, author: Actor, point: tuple[float, float]) -> str:
    body = post_body(location={"lat": point[0], "lon": point[1]})
    r = await client.post("/api/v1/posts", headers=author.headers, json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _stored(app: Any, post_id: str) -> Post:
    async with make_sessionmaker(app.state.engine)() as s:
        post = await s.get(Post, post_id)
        assert post is not None
        return post


@pytest.mark.parametrize("point", [SECRET, NEAR_BORDER], ids=["546m", "230m"])
async def test_trilateration_finds_the_public_point_not_the_exact_one(
    client: httpx.AsyncClient, app: Any, point: tuple[float, float]
) -> None:
    await _anchor_postcodes(app)
    author = await make_user(app, client, "seeker")
    post_id = await _post_at(client, author, point)
    stored = await _stored(app, post_id)
    # The public point was fixed when the place was set, and it is what everybody is shown.
    assert (stored.lat, stored.lon) == point
    assert (stored.public_lat, stored.public_lon) == coarsen(*point)
    shown = (await client.get(f"/api/v1/posts/{post_id}")).json()["location"]
    assert shown["approximate"] is True
    public = (shown["lat"], shown["lon"])
    assert public == (stored.public_lat, stored.public_lon)
    public_to_exact = haversine_km(*public, *point)
    assert public_to_exact > 0.2  # the attack has something to find

    for surface, found in oracles(client, post_id).items():
        estimate, searches = await trilaterate(found)
        estimate_to_exact = haversine_km(*estimate, *point)
        # The attack learns nothing nearer to the exact point than what is shown anyway ...
        assert estimate_to_exact >= public_to_exact - 0.005, (
            f"{surface}: {searches} searches put the post {estimate_to_exact * 1000:.1f} m from "
            f"its exact point; the public point is {public_to_exact * 1000:.0f} m from it"
        )
        # ... though it works: it lands on a point to within metres, the public one.
        assert haversine_km(*estimate, *public) < 0.005, (surface, estimate, public)
        assert 40 <= searches <= 60  # about 16 per anchor


async def test_searching_again_after_a_move_finds_the_new_public_point(
    client: httpx.AsyncClient, app: Any
) -> None:
    """The public point follows a changed place (set once per place, not per request)."""
    await _anchor_postcodes(app)
    author = await make_user(app, client, "seeker")
    post_id = await _post_at(client, author, NEAR_BORDER)
    r = await client.patch(
        f"/api/v1/posts/{post_id}",
        headers=author.headers,
        json={"location": {"lat": SECRET[0], "lon": SECRET[1]}},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["location"]["lat"], r.json()["location"]["lon"]) == SECRET  # the author
    stored = await _stored(app, post_id)
    assert (stored.public_lat, stored.public_lon) == coarsen(*SECRET)
    estimate, _ = await trilaterate(oracles(client, post_id)["api lat/lon"])
    assert haversine_km(*estimate, *coarsen(*SECRET)) < 0.005


# --- Distances shown and which posts a radius finds

FROM = (51.30, 12.38)  # a searcher south of both posts
# CLOSER's exact point is 4.43 km away, its public point 3.92 km; FARTHER's 4.47 and 5.01 km:
# by exact points FARTHER is found at 4.7 km and CLOSER not at 4.2 km; by public points the
# other way round, and FARTHER shows as "about 5 km" rather than "about 4 km".
CLOSER = (51.3398, 12.3801)
FARTHER = (51.3402, 12.3801)
DISTANCE_RE = r'href="/posts/{id}".*?(?:about (\d+) km away|(less than 1 km away))'


def shown_km(page: str, post_id: str) -> int | None:
    found = re.search(DISTANCE_RE.format(id=post_id), page, re.S)
    if found is None:
        return None
    return 0 if found.group(2) else int(found.group(1))


async def test_filters_and_shown_distances_use_the_public_point(
    client: httpx.AsyncClient, app: Any
) -> None:
    author = await make_user(app, client, "seeker")
    closer = await _post_at(client, author, CLOSER)
    farther = await _post_at(client, author, FARTHER)
    exact = {closer: CLOSER, farther: FARTHER}
    public = {pid: coarsen(*p) for pid, p in exact.items()}

    async def api_ids(radius: float, headers: dict[str, str] | None = None) -> set[str]:
        params = {"lat": FROM[0], "lon": FROM[1], "radius_km": radius}
        r = await client.get("/api/v1/posts", params=params, headers=headers or {})
        assert r.status_code == 200, r.text
        return {p["id"] for p in r.json()["items"]}

    for radius in (3.5, 4.2, 4.45, 4.7, 5.5):
        by_public = {pid for pid, p in public.items() if flat_km(FROM, *p) <= radius}
        assert await api_ids(radius) == by_public, radius
        # Staff and the author search the same way: a filter is no place to show exact points.
        assert await api_ids(radius, author.headers) == by_public, radius
    assert await api_ids(4.2) == {closer}  # by the exact point it would be nobody
    assert await api_ids(4.7) == {closer}  # by the exact point it would be both

    query = f"/posts?lat={FROM[0]}&lon={FROM[1]}&radius_km=10&lang=en"
    async with browser(app) as anonymous:
        page = (await anonymous.get(query)).text
    for pid in exact:
        assert shown_km(page, pid) == round(haversine_km(*FROM, *public[pid])), pid
    assert shown_km(page, farther) == 5  # the exact point is 4.47 km away
    # The author is told the distance to their own exact point.
    async with browser(app, author) as own:
        page = (await own.get(query)).text
    assert shown_km(page, farther) == round(haversine_km(*FROM, *FARTHER)) == 4

    # The list is newest first, whatever the distances: no order to read a distance from.
    r = await client.get("/api/v1/posts", params={"lat": FROM[0], "lon": FROM[1]})
    assert [p["id"] for p in r.json()["items"]] == [farther, closer]


# --- A match's distance


async def test_a_proposed_match_tells_whole_kilometres_until_connected(
    client: httpx.AsyncClient, app: Any
) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker", locale="en")
    near_seeker = await make_user(app, client, "seeker", locale="en")
    offer_at = (51.3397, 12.3731)
    r = await client.post(
        "/api/v1/posts",
        headers=volunteer.headers,
        json=post_body(
            kind="offer",
            title="Ich begleite Sie",
            location={"lat": offer_at[0], "lon": offer_at[1]},
        ),
    )
    assert r.status_code == 201, r.text
    # 2.16 km and 0.33 km from the offer.
    needs = {seeker.id: (51.3560, 12.3900), near_seeker.id: (51.3420, 12.3760)}
    for actor in (seeker, near_seeker):
        await _post_at(client, actor, needs[actor.id])

    def english(actor: Actor) -> dict[str, str]:
        return {**actor.headers, "Accept-Language": "en"}

    async def match_of(actor: Actor) -> dict[str, Any]:
        r = await client.get("/api/v1/matches", headers=english(actor))
        assert r.status_code == 200, r.text
        (m,) = r.json()["items"]
        return dict(m)

    for actor, whole in ((seeker, 2), (near_seeker, 1)):
        exact = haversine_km(*offer_at, *needs[actor.id])
        m = await match_of(actor)
        assert m["status"] == "proposed"
        assert m["distance_km"] == whole and isinstance(m["distance_km"], int), m["distance_km"]
        assert f"{whole} km apart" in m["reasons"], m["reasons"]
        detail = (await client.get(f"/api/v1/matches/{m['id']}", headers=actor.headers)).json()
        assert detail["distance_km"] == whole
        listed = (
            await client.get(f"/api/v1/posts/{m['need']['id']}/matches", headers=actor.headers)
        ).json()["items"]
        assert [x["distance_km"] for x in listed] == [whole]
        async with browser(app, actor) as pages:
            for url in (f"/matches/{m['id']}?lang=en", "/my/matches?lang=en"):
                text = (await pages.get(url)).text
                assert f"about {whole} km away" in text, url
                assert "less than 1 km away" not in text, url

        # Connected: the parties exchange contact, and the distance is told as measured.
        for party in (actor, volunteer):
            r = await client.post(f"/api/v1/matches/{m['id']}/accept", headers=party.headers)
            assert r.status_code == 200, r.text
        m = await match_of(actor)
        assert m["status"] == "connected"
        assert m["distance_km"] == pytest.approx(exact, abs=0.06)
        assert not float(m["distance_km"]).is_integer()


# --- Posts written before the public point existed


async def test_the_migration_gives_existing_posts_their_public_point(
    database_url: str, tmp_path: Path
) -> None:
    """0002 backfills the public point from the exact one, so old posts are not found by it."""
    admin = None
    if database_url.startswith("postgresql"):
        name = f"anlauf_places_{uuid.uuid4().hex[:8]}"
        url = str(make_url(database_url).set(database=name))
        admin = create_async_engine(
            make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
        )
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    try:
        await asyncio.to_thread(upgrade, url, "0001")
        now = bindparam("now", utcnow(), type_=UTCDateTime(timezone=True))
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO users (id, email, display_name, role, locale, is_active,"
                    " password_changed_at, max_open_matches, created_at) VALUES"
                    " ('u1', 'a@example.org', 'A', 'seeker', 'de', true, :now, 5, :now)"
                ).bindparams(now)
            )
            for post_id, point in (("p1", SECRET), ("p2", NEAR_BORDER), ("p3", None)):
                await conn.execute(
                    text(
                        "INSERT INTO posts (id, kind, category, title, body, mode, status,"
                        " author_id, search_text, availability, lat, lon, created_at, updated_at)"
                        " VALUES (:id, 'need', 'education', 'Alt', '', :mode, 'published', 'u1',"
                        " '', '[]', :lat, :lon, :now, :now)"
                    ).bindparams(now),
                    {
                        "id": post_id,
                        "mode": "remote" if point is None else "in_person",
                        "lat": point[0] if point else None,
                        "lon": point[1] if point else None,
                    },
                )
        await engine.dispose()
        await asyncio.to_thread(upgrade, url, "0002")
        engine = make_engine(url)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(text("SELECT id, public_lat, public_lon FROM posts ORDER BY id"))
            ).all()
        await engine.dispose()
        assert [tuple(r) for r in rows] == [
            ("p1", *coarsen(*SECRET)),
            ("p2", *coarsen(*NEAR_BORDER)),
            ("p3", None, None),
        ]
    finally:
        if admin is not None:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await admin.dispose()
