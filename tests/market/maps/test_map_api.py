"""GET /api/v1/map (anyone) and GET /api/v1/review/map (staff): published posts at their coarse
points only, the search's filters, bbox validation, the 2,000 limit and its grid clusters."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from market.accounts.models import CoordinatorRegion, User
from market.db import make_sessionmaker, utcnow
from market.maps import queries
from market.matches.models import Match
from market.posts.geo import coarsen
from market.posts.models import Post, PostLanguage, Region
from tests.factories import make_user

LEIPZIG = (51.3397, 12.3731)
HALLE = (51.4825, 11.9705)


async def _world(app: Any) -> dict[str, Any]:
    """Posts at chosen exact places: published ones of both kinds, and some nobody may map."""
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        regions = {}
        for slug, (lat, lon) in (("leipzig", LEIPZIG), ("halle", HALLE)):
            place = Region(slug=slug, name=slug.title(), lat=lat, lon=lon, radius_km=25)
            s.add(place)
            await s.flush()
            regions[slug] = place.id
        author = User(email="a@example.org", display_name="A", role="seeker")
        s.add(author)
        await s.flush()
        posts: dict[str, Post] = {}
        specs = [
            (
                "need-leipzig",
                "need",
                "housing",
                ["ar"],
                "published",
                "leipzig",
                (51.34123, 12.37456),
            ),
            ("need-halle", "need", "housing", ["uk"], "published", "halle", (51.48311, 11.97222)),
            (
                "offer-leipzig",
                "offer",
                "language",
                ["de", "ar"],
                "published",
                "leipzig",
                (51.3311, 12.3911),
            ),
            ("pending", "need", "housing", ["ar"], "pending_review", "leipzig", (51.35, 12.38)),
            ("closed", "need", "housing", ["ar"], "closed", "leipzig", (51.36, 12.36)),
            ("remote", "offer", "language", ["de"], "published", None, None),
        ]
        for name, kind, category, langs, status, region, at in specs:
            post = Post(
                kind=kind,
                category=category,
                title=name,
                status=status,
                author_id=author.id,
                region_id=regions[region] if region else None,
                lat=at[0] if at else None,
                lon=at[1] if at else None,
                mode="in_person" if at else "remote",
            )
            post.languages = [PostLanguage(code=c, position=i) for i, c in enumerate(langs)]
            s.add(post)
            await s.flush()
            posts[name] = post
        return {"regions": regions, "posts": posts, "author": author.id}


def _titles(body: dict[str, Any]) -> set[str]:
    return {f["properties"]["title"] for f in body["features"]}


async def test_published_posts_at_coarse_points_only(client: httpx.AsyncClient, app: Any) -> None:
    world = await _world(app)
    r = await client.get("/api/v1/map")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert _titles(body) == {"need-leipzig", "need-halle", "offer-leipzig"}
    for feature in body["features"]:
        post = world["posts"][feature["properties"]["title"]]
        assert set(feature["properties"]) == {"id", "kind", "category", "title"}
        assert feature["properties"]["id"] == post.id
        assert feature["properties"]["kind"] == post.kind
        lon, lat = feature["geometry"]["coordinates"]
        public_lat, public_lon = coarsen(post.lat, post.lon)
        assert (lat, lon) == pytest.approx((public_lat, public_lon), abs=1e-5)
        # Never the exact point, nor anything nearer to it than the public point is.
        assert (round(lat, 4), round(lon, 4)) != (round(post.lat, 4), round(post.lon, 4))
    assert str(world["posts"]["need-leipzig"].lat) not in r.text
    assert str(world["posts"]["need-leipzig"].lon) not in r.text


async def test_filters_like_the_search(client: httpx.AsyncClient, app: Any) -> None:
    await _world(app)
    assert _titles((await client.get("/api/v1/map?kind=offer")).json()) == {"offer-leipzig"}
    assert _titles((await client.get("/api/v1/map?kind=need&category=housing")).json()) == {
        "need-leipzig",
        "need-halle",
    }
    assert _titles((await client.get("/api/v1/map?language=uk")).json()) == {"need-halle"}
    # Around Halle only (minlon,minlat,maxlon,maxlat).
    r = await client.get("/api/v1/map?bbox=11.8,51.4,12.1,51.6")
    assert _titles(r.json()) == {"need-halle"}
    # The box is written into the statement: every float a visitor may send is valid SQL, the
    # same box with more digits finds the same posts, and one of zero size or of subnormal
    # numbers finds none (and is no error).
    r = await client.get("/api/v1/map?bbox=11.800000000000001,51.4e0,12.1000,5.16E1")
    assert r.status_code == 200 and _titles(r.json()) == {"need-halle"}
    for box in ("-0,-0,0,0", "1e-320,5e-324,1e-300,1e-310", "-180,-90,-180,-90"):
        r = await client.get("/api/v1/map", params={"bbox": box})
        assert r.status_code == 200 and r.json()["features"] == [], (box, r.text)
    for params in (
        {"kind": "both"},
        {"category": "nothing-like-this"},
        {"bbox": "12,51,13"},
        {"bbox": "a,b,c,d"},
        {"bbox": "13,51,12,52"},
        {"bbox": "12,52,13,51"},
        {"bbox": "12,51,200,52"},
        {"bbox": "12,-91,13,52"},
        {"bbox": "nan,51,13,52"},
        {"bbox": "12,51,inf,52"},
        {"radius": "3"},
    ):
        r = await client.get("/api/v1/map", params=params)
        assert r.status_code == 422, (params, r.text)


async def test_anonymous_answers_are_cached(client: httpx.AsyncClient, app: Any) -> None:
    await _world(app)
    first = await client.get("/api/v1/map?kind=need")
    assert first.status_code == 200
    if app.state.settings.public_cache_seconds:
        assert first.headers["cache-control"].startswith("public")


async def _published_at(
    app: Any, places: list[tuple[float, float]], *, kind: str, category: str, prefix: str
) -> None:
    """A published post at each exact place, titled prefix + its index, by one new seeker."""
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        author = User(email=f"{prefix}@example.org", display_name=prefix, role="seeker")
        s.add(author)
        await s.flush()
        s.add_all(
            Post(
                kind=kind,
                category=category,
                title=f"{prefix}{i}",
                status="published",
                author_id=author.id,
                lat=lat,
                lon=lon,
            )
            for i, (lat, lon) in enumerate(places)
        )


async def test_clusters_past_the_limit(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_FEATURES every post still counts once, in a cluster or as itself, and the
    answer has no more features than the limit. The limit is lowered so the test stays quick;
    test_the_real_limit below writes 2,001 posts once."""
    monkeypatch.setattr(queries, "MAX_FEATURES", 10)
    monkeypatch.setattr(queries, "GRID", 3)
    # Two dense groups (Leipzig, Halle) and one post alone far off (Dresden).
    places = [(LEIPZIG[0] + i * 0.002, LEIPZIG[1]) for i in range(12)]
    places += [(HALLE[0], HALLE[1] + i * 0.003) for i in range(6)]
    places += [(51.05, 13.74)]
    await _published_at(app, places, kind="need", category="housing", prefix="p")
    body = (await client.get("/api/v1/map")).json()
    assert body["clustered"] is True and body["total"] == len(places)
    assert len(body["features"]) <= 10
    clusters = [f for f in body["features"] if f["properties"].get("cluster")]
    singles = [f for f in body["features"] if not f["properties"].get("cluster")]
    assert clusters and singles
    assert sum(f["properties"]["count"] for f in clusters) + len(singles) == len(places)
    assert all(set(f["properties"]) == {"cluster", "count"} for f in clusters)
    # The post alone in Dresden is shown as itself, at its public point.
    dresden = coarsen(51.05, 13.74)
    assert any(
        f["geometry"]["coordinates"] == pytest.approx([dresden[1], dresden[0]], abs=1e-5)
        for f in singles
    )
    # Below the limit (a filter leaves fewer), posts again, not clusters.
    narrow = (await client.get("/api/v1/map?bbox=13.5,50.9,14,51.2")).json()
    assert narrow["clustered"] is False and len(narrow["features"]) == 1


async def test_the_real_limit(client: httpx.AsyncClient, app: Any) -> None:
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        author = User(email="c@example.org", display_name="C", role="seeker")
        s.add(author)
        await s.flush()
        s.add_all(
            Post(
                kind="offer",
                category="language",
                title=f"p{i}",
                status="published",
                author_id=author.id,
                lat=51.0 + (i % 50) * 0.02,
                lon=12.0 + (i // 50) * 0.02,
            )
            for i in range(queries.MAX_FEATURES + 1)
        )
    body = (await client.get("/api/v1/map")).json()
    assert body["clustered"] is True
    assert body["total"] == queries.MAX_FEATURES + 1
    assert len(body["features"]) <= queries.MAX_FEATURES
    counted = sum(f["properties"].get("count", 1) for f in body["features"])
    assert counted == queries.MAX_FEATURES + 1


async def test_waiting_needs_for_coordinators(client: httpx.AsyncClient, app: Any) -> None:
    world = await _world(app)
    # The Leipzig offer is proposed to the Leipzig need: that need is no longer waiting.
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        extra = Post(
            kind="need",
            category="housing",
            title="need-leipzig-proposed",
            status="published",
            author_id=world["author"],
            region_id=world["regions"]["leipzig"],
            lat=51.33,
            lon=12.35,
        )
        s.add(extra)
        await s.flush()
        s.add(
            Match(
                offer_id=world["posts"]["offer-leipzig"].id,
                need_id=extra.id,
                volunteer_id=world["author"],
                need_author_id=world["author"],
                score=1.0,
                status="proposed",
                created_at=utcnow(),
            )
        )
    assert (await client.get("/api/v1/review/map")).status_code == 401
    seeker = await make_user(app, client, "seeker")
    assert (await client.get("/api/v1/review/map", headers=seeker.headers)).status_code == 403
    admin = await make_user(app, client, "admin")
    r = await client.get("/api/v1/review/map", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert _titles(r.json()) == {"need-leipzig", "need-halle"}
    coordinator = await make_user(app, client, "coordinator")
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        s.add(CoordinatorRegion(user_id=coordinator.id, region_id=world["regions"]["halle"]))
    r = await client.get("/api/v1/review/map", headers=coordinator.headers)
    assert _titles(r.json()) == {"need-halle"}
    for feature in r.json()["features"]:
        post = world["posts"][feature["properties"]["title"]]
        lon, lat = feature["geometry"]["coordinates"]
        assert (lat, lon) == pytest.approx(coarsen(post.lat, post.lon), abs=1e-5)


async def test_clusters_count_posts_sharing_a_point(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Posts are grouped by their public point before the grid sums them: two posts at one
    point, alone in their cell, are a cluster of two at that point, never a single post; a
    post alone in its cell is itself; every cluster sits at the mean of its posts' points."""
    monkeypatch.setattr(queries, "MAX_FEATURES", 3)
    monkeypatch.setattr(queries, "GRID", 4)
    twin = (51.05, 13.74)  # Dresden: two posts whose exact places share one public cell
    places = [twin, (twin[0] + 0.0001, twin[1] + 0.0001)]
    places += [(LEIPZIG[0] + i * 0.01, LEIPZIG[1]) for i in range(3)]  # three apart, one cell
    places += [(54.32, 10.13)]  # Kiel, alone
    assert coarsen(*places[0]) == coarsen(*places[1])
    await _published_at(app, places, kind="offer", category="language", prefix="t")
    body = (await client.get("/api/v1/map")).json()
    assert body["clustered"] is True and body["total"] == len(places)
    by_count = sorted(
        (
            f["properties"].get("count", 1),
            f["properties"].get("title"),
            f["geometry"]["coordinates"],
        )
        for f in body["features"]
    )
    dresden, kiel = coarsen(*twin), coarsen(54.32, 10.13)
    leipzig = [coarsen(*p) for p in places[2:5]]
    assert [(n, title) for n, title, _ in by_count] == [(1, "t5"), (2, None), (3, None)]
    assert by_count[0][2] == pytest.approx([kiel[1], kiel[0]], abs=1e-5)
    assert by_count[1][2] == pytest.approx([dresden[1], dresden[0]], abs=1e-5)
    mean = [sum(p[1] for p in leipzig) / 3, sum(p[0] for p in leipzig) / 3]
    assert by_count[2][2] == pytest.approx(mean, abs=1e-5)
