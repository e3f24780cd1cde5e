"""Offers and needs through the JSON API (API.md, Posts and Reference data)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from market.db import make_sessionmaker
from market.posts.geo import haversine_km, import_postcodes
from market.posts.models import Region
from tests.factories import make_user, post_body

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LEIPZIG = {"lat": 51.3397, "lon": 12.3731}


async def test_seeker_need_is_published_at_once(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker")
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    assert r.status_code == 201, r.text
    post = r.json()
    assert post["status"] == "published"
    assert post["kind"] == "need"
    assert post["languages"] == ["ar", "de"]
    assert post["mode"] == "in_person"
    assert post["author"] == {"id": seeker.id, "display_name": post["author"]["display_name"]}
    assert post["organisation"] is None
    assert post["location"]["approximate"] is False
    assert post["location"]["lat"] == pytest.approx(51.3397)
    assert post["location"]["city"]
    assert post["created_at"].endswith("+00:00")
    from datetime import datetime

    lifetime = datetime.fromisoformat(post["expires_at"]) - datetime.fromisoformat(
        post["created_at"]
    )
    assert timedelta(days=89) < lifetime <= timedelta(days=90, minutes=1)


async def test_public_view_is_coarse_and_without_contact(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    exact = {"lat": 51.33412, "lon": 12.38123}
    created = (
        await client.post("/api/v1/posts", headers=seeker.headers, json=post_body(location=exact))
    ).json()
    public = (await client.get(f"/api/v1/posts/{created['id']}")).json()
    loc = public["location"]
    assert loc["approximate"] is True
    assert (loc["lat"], loc["lon"]) != (exact["lat"], exact["lon"])
    assert haversine_km(loc["lat"], loc["lon"], exact["lat"], exact["lon"]) < 1.0
    assert loc["postcode"] is None
    assert "email" not in str(public)
    other = await make_user(app, client, "seeker")
    seen_by_other = (
        await client.get(f"/api/v1/posts/{created['id']}", headers=other.headers)
    ).json()
    assert seen_by_other["location"]["approximate"] is True


async def test_offer_waits_for_vetting(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer")
    r = await client.post(
        "/api/v1/posts",
        headers=volunteer.headers,
        json=post_body(kind="offer", title="Ich begleite"),
    )
    assert r.status_code == 201
    offer = r.json()
    assert offer["status"] == "pending_review"
    assert offer["radius_km"] == 10  # an offer's default radius
    assert (await client.get(f"/api/v1/posts/{offer['id']}")).status_code == 404
    other = await make_user(app, client, "seeker")
    assert (
        await client.get(f"/api/v1/posts/{offer['id']}", headers=other.headers)
    ).status_code == 404
    assert (
        await client.get(f"/api/v1/posts/{offer['id']}", headers=volunteer.headers)
    ).status_code == 200
    coordinator = await make_user(app, client, "coordinator")
    assert (
        await client.get(f"/api/v1/posts/{offer['id']}", headers=coordinator.headers)
    ).status_code == 200

    approve = {
        "decision": "approve",
        "checks": {"identity": True, "interview": True, "code_of_conduct": True},
        "police_certificate_until": None,
        "note": "Met in person",
    }
    r = await client.post(
        f"/api/v1/review/volunteers/{volunteer.id}", headers=coordinator.headers, json=approve
    )
    assert r.status_code == 200, r.text
    assert (await client.get(f"/api/v1/posts/{offer['id']}")).json()["status"] == "published"


async def test_roles_may_post_only_their_kind(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker")
    r = await client.post("/api/v1/posts", headers=volunteer.headers, json=post_body(kind="need"))
    assert r.status_code == 403
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body(kind="offer"))
    assert r.status_code == 403
    assert (await client.post("/api/v1/posts", json=post_body())).status_code == 401
    coordinator = await make_user(app, client, "coordinator")
    for kind in ("offer", "need"):
        r = await client.post(
            "/api/v1/posts", headers=coordinator.headers, json=post_body(kind=kind)
        )
        assert r.status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "ab"}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"body": "x" * 4001}, "body"),
        ({"languages": []}, "languages"),
        ({"languages": [f"l{i}" for i in range(11)]}, "languages"),
        ({"languages": ["klingon-nonsense"]}, "languages.0"),
        ({"category": "astrology"}, "category"),
        ({"kind": "wish"}, "kind"),
        ({"mode": "teleport"}, "mode"),
        ({"radius_km": 201}, "radius_km"),
        ({"radius_km": -1}, "radius_km"),
        ({"location": None}, "location"),
        ({"location": {"lat": 51.3}}, "location"),
        ({"location": {"lat": 95, "lon": 12}}, "location.lat"),
        ({"location": {"postcode": "99999", "country": "DE"}}, "location.postcode"),
        ({"location": {"city": "Atlantis", "country": "DE"}}, "location.city"),
        ({"seats": 0}, "seats"),
        ({"seats": 101}, "seats"),
    ],
)
async def test_invalid_posts_are_rejected(
    client: httpx.AsyncClient, app: Any, overrides: dict[str, Any], field: str
) -> None:
    seeker = await make_user(app, client, "seeker")
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body(**overrides))
    assert r.status_code == 422, r.text
    fields = [e["field"] for e in r.json()["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    mine = (await client.get("/api/v1/me/posts", headers=seeker.headers)).json()
    assert mine["items"] == []


async def test_remote_needs_no_location(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker")
    r = await client.post(
        "/api/v1/posts", headers=seeker.headers, json=post_body(mode="remote", location=None)
    )
    assert r.status_code == 201
    assert r.json()["location"] is None


async def test_location_by_city_and_postcode(client: httpx.AsyncClient, app: Any) -> None:
    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        await import_postcodes(session, FIXTURES / "postcodes_DE_sample.txt")
    seeker = await make_user(app, client, "seeker")
    by_city = await client.post(
        "/api/v1/posts",
        headers=seeker.headers,
        json=post_body(location={"city": "Muenchen", "country": "DE"}),
    )
    assert by_city.status_code == 201, by_city.text
    loc = by_city.json()["location"]
    assert haversine_km(loc["lat"], loc["lon"], 48.137, 11.575) < 10
    by_postcode = await client.post(
        "/api/v1/posts",
        headers=seeker.headers,
        json=post_body(location={"postcode": "04109", "country": "DE"}),
    )
    assert by_postcode.status_code == 201, by_postcode.text
    loc = by_postcode.json()["location"]
    assert loc["postcode"] == "04109"
    assert haversine_km(loc["lat"], loc["lon"], 51.34, 12.37) < 5


async def test_post_belongs_to_region(client: httpx.AsyncClient, app: Any, session: Any) -> None:
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        s.add(Region(slug="leipzig", name="Leipzig", lat=51.3397, lon=12.3731, radius_km=20))
    seeker = await make_user(app, client, "seeker")
    inside = (await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())).json()
    outside = (
        await client.post(
            "/api/v1/posts",
            headers=seeker.headers,
            json=post_body(location={"lat": 52.52, "lon": 13.40}),
        )
    ).json()
    from market.posts.models import Post

    assert (await session.get(Post, inside["id"])).region_id is not None
    assert (await session.get(Post, outside["id"])).region_id is None


async def test_search_filters(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker")
    coordinator = await make_user(app, client, "coordinator")

    async def create(actor: Any, **kw: Any) -> str:
        r = await client.post("/api/v1/posts", headers=actor.headers, json=post_body(**kw))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    homework = await create(
        seeker, category="education-homework", title="Hausaufgaben Mathe", languages=["fa"]
    )
    school = await create(seeker, category="education", title="Schule finden", languages=["uk"])
    flat = await create(
        seeker,
        category="housing",
        title="Wohnung gesucht",
        languages=["ar"],
        location={"lat": 52.52, "lon": 13.405},
    )
    offer = await create(
        coordinator, kind="offer", category="housing", title="Helfe bei Wohnungssuche"
    )

    async def ids(**params: Any) -> set[str]:
        r = await client.get("/api/v1/posts", params=params)
        assert r.status_code == 200, r.text
        return {p["id"] for p in r.json()["items"]}

    assert await ids() == {homework, school, flat, offer}
    assert await ids(kind="offer") == {offer}
    assert await ids(category="education") == {homework, school}  # includes subcategories
    assert await ids(category="education-homework") == {homework}
    assert await ids(language="fa") == {homework}
    assert await ids(lat=51.34, lon=12.37, radius_km=10) == {homework, school, offer}
    assert await ids(lat=52.52, lon=13.40, radius_km=10) == {flat}
    assert await ids(q="wohnung") == {flat, offer}
    assert await ids(q="WOHNUNG gesucht") == {flat}
    assert await ids(place="Berlin", radius_km=20) == {flat}
    for bad in (
        {"kind": "x"},
        {"category": "nope"},
        {"lat": 91, "lon": 0},
        {"lat": 51},
        {"limit": 0},
        {"limit": 101},
        {"cursor": "###"},
        {"place": "Atlantis"},
    ):
        r = await client.get("/api/v1/posts", params=bad)
        assert r.status_code == 422, bad


async def test_pagination(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker")
    for i in range(5):
        await client.post(
            "/api/v1/posts", headers=seeker.headers, json=post_body(title=f"Need {i}")
        )
    first = (await client.get("/api/v1/posts", params={"limit": 2})).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = (
        await client.get("/api/v1/posts", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    third = (
        await client.get("/api/v1/posts", params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()
    assert third["next_cursor"] is None
    titles = [p["title"] for page in (first, second, third) for p in page["items"]]
    assert titles == [f"Need {i}" for i in range(4, -1, -1)]  # newest first, each once


async def test_update_and_close(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker")
    other = await make_user(app, client, "seeker")
    post = (await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())).json()
    url = f"/api/v1/posts/{post['id']}"
    r = await client.patch(
        url,
        headers=seeker.headers,
        json={"title": "Begleitung zur Ausländerbehörde", "radius_km": 5},
    )
    assert r.status_code == 200
    assert r.json()["title"] == "Begleitung zur Ausländerbehörde" and r.json()["radius_km"] == 5
    assert (
        await client.patch(url, headers=other.headers, json={"title": "Hijacked"})
    ).status_code == 403
    assert (await client.patch(url, json={"title": "Anonymous"})).status_code == 401
    bad = await client.patch(url, headers=seeker.headers, json={"title": "x"})
    assert bad.status_code == 422
    assert (await client.get(url)).json()["title"] == "Begleitung zur Ausländerbehörde"

    assert (await client.post(f"{url}/close", headers=other.headers)).status_code == 403
    closed = await client.post(f"{url}/close", headers=seeker.headers)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert (await client.post(f"{url}/close", headers=seeker.headers)).status_code == 409
    assert (
        await client.patch(url, headers=seeker.headers, json={"title": "Again"})
    ).status_code == 409
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=other.headers)).status_code == 404
    assert (await client.post(f"{url}/close", headers=other.headers)).status_code == 404
    mine = (await client.get("/api/v1/me/posts", headers=seeker.headers)).json()["items"]
    assert [p["status"] for p in mine] == ["closed"]


async def test_unknown_post(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker")
    assert (await client.get("/api/v1/posts/doesnotexist")).status_code == 404
    r = await client.patch(
        "/api/v1/posts/doesnotexist", headers=seeker.headers, json={"title": "abc"}
    )
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_user_text_is_stripped_of_markup(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker")
    r = await client.post(
        "/api/v1/posts",
        headers=seeker.headers,
        json=post_body(title="Hilfe <script>alert(1)</script>", body="<b>Bitte</b> & danke"),
    )
    assert "<script>" not in r.json()["title"]
    assert r.json()["body"] == "Bitte & danke"


async def test_categories_and_languages(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/categories", headers={"Accept-Language": "en"})
    assert r.status_code == 200
    cats = {c["slug"]: c for c in r.json()}
    required = {
        "accompaniment": None,
        "accompaniment-authorities": "accompaniment",
        "accompaniment-doctor": "accompaniment",
        "language": None,
        "language-tandem": "language",
        "translation": None,
        "housing": None,
        "work": None,
        "education": None,
        "education-homework": "education",
        "childcare": None,
        "mentoring": None,
        "leisure": None,
        "goods": None,
        "transport": None,
        "digital": None,
        "health": None,
    }
    for slug, parent in required.items():
        assert cats[slug]["parent"] == parent
    assert cats["childcare"]["requires_police_certificate"] is True
    assert cats["education-homework"]["requires_police_certificate"] is True
    assert cats["housing"]["requires_police_certificate"] is False
    german = {
        c["slug"]: c["name"]
        for c in (await client.get("/api/v1/categories", headers={"Accept-Language": "de"})).json()
    }
    arabic = {
        c["slug"]: c["name"]
        for c in (await client.get("/api/v1/categories", headers={"Accept-Language": "ar"})).json()
    }
    assert german["housing"] != cats["housing"]["name"] != arabic["housing"]

    langs = (await client.get("/api/v1/languages", headers={"Accept-Language": "de"})).json()
    by_code = {lang["code"]: lang for lang in langs}
    for code in (
        "ar",
        "fa",
        "prs",
        "ps",
        "ti",
        "uk",
        "ru",
        "tr",
        "ku",
        "kmr",
        "so",
        "en",
        "fr",
        "de",
    ):
        assert code in by_code
    assert by_code["ar"]["name"] == "Arabisch"
    assert by_code["ar"]["native_name"] == "العربية"
