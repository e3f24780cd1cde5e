"""Every protected endpoint, for every role: 401 without a token, 403 where the role may never
do it, 404 for objects the caller may not see (API.md, Conventions and Roles)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.factories import Actor, make_user, post_body

ROLES = ("volunteer", "seeker", "organisation", "coordinator", "admin")

# (method, path, body); {post} is a published need by a seeker, {pending} a volunteer's offer
# waiting for review, {match} a proposed match, {user} a volunteer, {org} an organisation.
PROTECTED = [
    ("GET", "/api/v1/me", None),
    ("PATCH", "/api/v1/me", {"display_name": "X"}),
    ("GET", "/api/v1/me/export", None),
    ("GET", "/api/v1/me/posts", None),
    ("POST", "/api/v1/posts", post_body()),
    ("PATCH", "/api/v1/posts/{post}", {"title": "Changed title"}),
    ("POST", "/api/v1/posts/{post}/close", None),
    ("POST", "/api/v1/posts/{post}/renew", None),
    ("GET", "/api/v1/posts/{post}/matches", None),
    ("GET", "/api/v1/matches", None),
    ("GET", "/api/v1/matches/{match}", None),
    ("POST", "/api/v1/matches/{match}/accept", None),
    ("POST", "/api/v1/matches/{match}/decline", None),
    (
        "POST",
        "/api/v1/reports",
        {"target_type": "post", "target_id": "{post}", "reason": "Spam here"},
    ),
    ("GET", "/api/v1/review/volunteers", None),
    ("POST", "/api/v1/review/volunteers/{user}", {"decision": "reject", "note": "x"}),
    ("GET", "/api/v1/review/posts", None),
    ("POST", "/api/v1/review/posts/{pending}", {"decision": "reject", "reason": "incomplete"}),
    ("GET", "/api/v1/review/organisations", None),
    ("POST", "/api/v1/review/organisations/{org}", {"decision": "approve"}),
    ("GET", "/api/v1/review/reports", None),
    ("GET", "/api/v1/review/matching-run", None),
    ("GET", "/api/v1/review/unmatched", None),
    # The directory (market/directory): writing, its review and referral; reading is public.
    (
        "POST",
        "/api/v1/services",
        {
            "name": "Beratung",
            "topics": ["health"],
            "languages": ["de"],
            "address": "Markt 1, 04109 Leipzig",
        },
    ),
    ("GET", "/api/v1/review/services", None),
    ("GET", "/api/v1/review/events", None),
    ("POST", "/api/v1/referrals", {"service_id": "nothing", "match_id": "{match}"}),
    ("GET", "/api/v1/review/map", None),
    ("GET", "/api/v1/stats", None),
    ("GET", "/api/v1/stats.csv", None),
]

# What each role gets where it is not the owner or a party (owner cases are tested per feature).
STAFF_ONLY = {p for _, p, _ in PROTECTED if p.startswith(("/api/v1/review/", "/api/v1/stats"))}


def fill(template: str, ids: dict[str, str]) -> str:
    for key, value in ids.items():
        template = template.replace("{" + key + "}", value)
    return template


def fill_body(body: Any, ids: dict[str, str]) -> Any:
    if isinstance(body, dict):
        return {k: fill_body(v, ids) for k, v in body.items()}
    if isinstance(body, str):
        return fill(body, ids)
    return body


@pytest.fixture
async def world(client: httpx.AsyncClient, app: Any) -> dict[str, Any]:
    seeker = await make_user(app, client, "seeker")
    volunteer = await make_user(app, client, "volunteer", approved=True)
    pending_volunteer = await make_user(app, client, "volunteer")
    org = await make_user(app, client, "organisation", org_status="pending")
    need = (await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())).json()
    await client.post("/api/v1/posts", headers=volunteer.headers, json=post_body(kind="offer"))
    pending = (
        await client.post(
            "/api/v1/posts", headers=pending_volunteer.headers, json=post_body(kind="offer")
        )
    ).json()
    (match,) = (await client.get("/api/v1/matches", headers=seeker.headers)).json()["items"]
    ids = {
        "post": need["id"],
        "pending": pending["id"],
        "match": match["id"],
        "user": pending_volunteer.id,
        "org": org.organisation_id or "",
    }
    return {"ids": ids}


async def test_anonymous_gets_401_everywhere(
    client: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    for method, path, body in PROTECTED:
        url = fill(path, world["ids"])
        r = await client.request(method, url, json=fill_body(body, world["ids"]))
        assert r.status_code == 401, (method, url, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["status"] == 401


@pytest.mark.parametrize("role", ROLES)
async def test_strangers_by_role(
    client: httpx.AsyncClient, app: Any, world: dict[str, Any], role: str
) -> None:
    """Someone of this role who is neither author nor party nor staff-with-a-region-restriction."""
    stranger: Actor = await make_user(app, client, role)
    ids = world["ids"]
    staff = role in ("coordinator", "admin")
    expected = {
        # Review endpoints: staff only (and each of these decisions is valid for staff).
        **{(m, p): (200 if staff else 403) for m, p, _ in PROTECTED if p in STAFF_ONLY},
        # Another user's published post: visible, so changing it is 403.
        ("PATCH", "/api/v1/posts/{post}"): 403,
        ("POST", "/api/v1/posts/{post}/close"): 403,
        ("POST", "/api/v1/posts/{post}/renew"): 403,
        ("GET", "/api/v1/posts/{post}/matches"): 200 if staff else 403,
        # Another user's match: 404, never revealing that it exists.
        ("GET", "/api/v1/matches/{match}"): 404,
        ("POST", "/api/v1/matches/{match}/accept"): 404,
        ("POST", "/api/v1/matches/{match}/decline"): 404,
    }
    for method, path, body in PROTECTED:
        if (method, path) not in expected:
            continue
        url = fill(path, ids)
        r = await client.request(method, url, headers=stranger.headers, json=fill_body(body, ids))
        assert r.status_code == expected[(method, path)], (
            role,
            method,
            url,
            r.status_code,
            r.text[:200],
        )
    # An unpublished post of someone else is invisible: 404 for reading and for changing.
    pending_url = f"/api/v1/posts/{ids['pending']}"
    want = 200 if staff else 404
    assert (await client.get(pending_url, headers=stranger.headers)).status_code == want
    if not staff:
        assert (
            await client.patch(pending_url, headers=stranger.headers, json={"title": "Taken over"})
        ).status_code == 404
        assert (
            await client.get(f"{pending_url}/matches", headers=stranger.headers)
        ).status_code == 404


async def test_posting_rights_by_role(client: httpx.AsyncClient, app: Any) -> None:
    allowed = {
        "volunteer": {"offer"},
        "seeker": {"need"},
        "organisation": {"need"},
        "coordinator": {"offer", "need"},
        "admin": {"offer", "need"},
    }
    for role, kinds in allowed.items():
        actor = await make_user(app, client, role)
        for kind in ("offer", "need"):
            r = await client.post("/api/v1/posts", headers=actor.headers, json=post_body(kind=kind))
            assert r.status_code == (201 if kind in kinds else 403), (role, kind, r.text)


# --- Coordinators' regions: every protected route, page and API, for every kind of caller
#
# Two regions, Leipzig and Halle. Every object below lies in Leipzig. A coordinator limited to
# Halle must get 404 for each of them on pages and in the API alike and find none in lists
# (API.md, Release 2, "Coordinators' regions"); a coordinator of Leipzig and one without a
# region work them. Decisions are sent in a form that passes the access check and then fails
# on its merits (approval without checks: 422, publishing an unapproved volunteer's offer or
# applying a stale plan: 409), so the same call can be tried by everyone without changing what
# the next caller finds.

LEIPZIG = (51.3397, 12.3731)
HALLE = (51.4825, 11.9697)
CALLERS = (
    "volunteer",
    "seeker",
    "organisation",  # strangers to every object
    "leipzig",
    "halle",
    "everywhere",
    "admin",  # staff: of the objects' region, of another, of all
    "need_author",
    "offer_author",  # the parties of the match
)
STAFF_OF_LEIPZIG = {"leipzig", "everywhere", "admin"}
PARTIES = {"need_author", "offer_author"}


async def _region(app: Any, slug: str, at: tuple[float, float], radius_km: float) -> str:
    from market.db import make_sessionmaker
    from market.posts.models import Region

    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        region = Region(slug=slug, name=slug.title(), lat=at[0], lon=at[1], radius_km=radius_km)
        s.add(region)
        await s.flush()
        return region.id


async def _limit_to(app: Any, coordinator: Actor, region_id: str) -> None:
    from market.accounts.models import CoordinatorRegion
    from market.db import make_sessionmaker

    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        s.add(CoordinatorRegion(user_id=coordinator.id, region_id=region_id))


@pytest.fixture
async def regions_world(client: httpx.AsyncClient, app: Any) -> dict[str, Any]:
    leipzig = await _region(app, "leipzig", LEIPZIG, 20)
    halle = await _region(app, "halle", HALLE, 15)
    callers: dict[str, Actor] = {}
    for name in ("volunteer", "seeker", "organisation"):
        callers[name] = await make_user(app, client, name)
    for name, region in (("leipzig", leipzig), ("halle", halle), ("everywhere", None)):
        callers[name] = await make_user(app, client, "coordinator")
        if region:
            await _limit_to(app, callers[name], region)
    callers["admin"] = await make_user(app, client, "admin")
    seeker = callers["need_author"] = await make_user(app, client, "seeker")
    volunteer = callers["offer_author"] = await make_user(app, client, "volunteer", approved=True)
    pending_volunteer = await make_user(app, client, "volunteer")
    org = await make_user(app, client, "organisation", org_status="pending")

    async def create(actor: Actor, **body: Any) -> dict[str, Any]:
        r = await client.post("/api/v1/posts", headers=actor.headers, json=post_body(**body))
        assert r.status_code == 201, r.text
        return dict(r.json())

    need = await create(seeker)
    await create(volunteer, kind="offer")
    pending = await create(pending_volunteer, kind="offer")
    org_need = await create(org, title="Patenschaft gesucht")
    assert pending["status"] == org_need["status"] == "pending_review"
    (match,) = (await client.get("/api/v1/matches", headers=seeker.headers)).json()["items"]
    for party in (seeker, volunteer):
        r = await client.post(f"/api/v1/matches/{match['id']}/accept", headers=party.headers)
        assert r.status_code == 200, r.text
    conversation = (
        await client.get(f"/api/v1/matches/{match['id']}", headers=seeker.headers)
    ).json()["conversation_id"]
    r = await client.post(
        f"/api/v1/conversations/{conversation}/messages",
        headers=seeker.headers,
        json={"body": "Hallo!"},
    )
    assert r.status_code == 201, r.text
    message = r.json()["id"]
    reports = {}
    for target_type, target_id in (
        ("post", pending["id"]),
        ("message", message),
        ("user", pending_volunteer.id),
    ):
        r = await client.post(
            "/api/v1/reports",
            headers=seeker.headers,
            json={"target_type": target_type, "target_id": target_id, "reason": "Bitte prüfen"},
        )
        assert r.status_code == 201, r.text
        reports[target_type] = r.json()["id"]
    ids = {
        "need": need["id"],
        "pending": pending["id"],
        "match": match["id"],
        "conversation": conversation,
        "volunteer": pending_volunteer.id,
        "org": org.organisation_id or "",
        "report": reports["post"],
        "message_report": reports["message"],
        "user_report": reports["user"],
    }
    return {"callers": callers, "ids": ids}


def _expect(
    allowed: int, *, denied: int = 404, strangers: int | None = None, parties: int | None = None
) -> dict[str, int]:
    """What each caller gets: `allowed` for staff of Leipzig, `denied` for Halle's coordinator,
    `strangers` (default: as `denied`) for the other roles, `parties` (default: as strangers)."""
    strangers = denied if strangers is None else strangers
    parties = strangers if parties is None else parties
    out = {}
    for name in CALLERS:
        if name in STAFF_OF_LEIPZIG:
            out[name] = allowed
        elif name == "halle":
            out[name] = denied
        elif name in PARTIES:
            out[name] = parties
        else:
            out[name] = strangers
    return out


# (label, API request, page request, expected by caller). A request is (method, path, body);
# page bodies are form fields, sent with the page's CSRF token.
REGION_ROUTES: list[tuple[str, tuple[str, str, Any], tuple[str, str, Any], dict[str, int]]] = [
    (
        "pending post",
        ("GET", "/api/v1/posts/{pending}", None),
        ("GET", "/posts/{pending}", None),
        _expect(200),
    ),
    (
        "a post's matches",
        ("GET", "/api/v1/posts/{need}/matches", None),
        ("GET", "/posts/{need}/matches", None),
        _expect(200, strangers=403, parties=403) | {"need_author": 200},
    ),
    (
        "a pending post's matches",
        ("GET", "/api/v1/posts/{pending}/matches", None),
        ("GET", "/posts/{pending}/matches", None),
        _expect(200),
    ),
    (
        "a match",
        ("GET", "/api/v1/matches/{match}", None),
        ("GET", "/matches/{match}", None),
        _expect(404, parties=200),
    ),
    (
        "answering a match",
        ("POST", "/api/v1/matches/{match}/decline", None),
        ("POST", "/matches/{match}/decline", {}),
        _expect(404, parties=-1),
    ),  # parties: 409 in the API, a redirect with a message on the page
    (
        "a conversation's messages",
        ("GET", "/api/v1/conversations/{conversation}/messages", None),
        ("GET", "/conversations/{conversation}", None),
        _expect(200, parties=-1),
    ),  # parties read it on the match page (303 there)
    (
        "writing in a conversation",
        ("POST", "/api/v1/conversations/{conversation}/messages", {"body": ""}),
        ("POST", "/conversations/{conversation}/messages", {"body": ""}),
        _expect(403, parties=422),
    ),
    (
        "a volunteer's review",
        (
            "POST",
            "/api/v1/review/volunteers/{volunteer}",
            {"decision": "approve", "checks": {"identity": False}},
        ),
        ("POST", "/review/volunteers/{volunteer}", {"decision": "approve"}),
        _expect(422, strangers=403),
    ),
    (
        "the volunteer's page",
        (
            "POST",
            "/api/v1/review/volunteers/{volunteer}",
            {"decision": "approve", "checks": {"identity": False}},
        ),
        ("GET", "/review/volunteers/{volunteer}", None),
        _expect(-1, strangers=403),
    ),  # API 422 (approval without checks), page 200
    (
        "a post's review",
        ("POST", "/api/v1/review/posts/{pending}", {"decision": "publish"}),
        ("POST", "/review/posts/{pending}", {"decision": "publish"}),
        _expect(409, strangers=403),
    ),
    (
        "an organisation's review",
        ("POST", "/api/v1/review/organisations/{org}", {"decision": "maybe"}),
        ("POST", "/review/organisations/{org}", {"decision": "maybe"}),
        _expect(422, strangers=403),
    ),
    (
        "the matching run's preview",
        ("GET", "/api/v1/review/matching-run?region=leipzig", None),
        ("GET", "/review/matching?region=leipzig", None),
        _expect(200, strangers=403),
    ),
    (
        "applying the matching run",
        ("POST", "/api/v1/review/matching-run", {"region": "leipzig", "plan_id": "stale"}),
        ("POST", "/review/matching", {"region": "leipzig", "plan_id": "stale"}),
        _expect(409, strangers=403),
    ),
    (
        "the unmatched view",
        ("GET", "/api/v1/review/unmatched?region=leipzig", None),
        ("GET", "/review/unmatched?region=leipzig", None),
        _expect(200, strangers=403),
    ),
    (
        "resolving a report",
        ("POST", "/api/v1/review/reports/{report}", {"resolution": ""}),
        ("POST", "/review/reports/{report}", {"action": "maybe"}),
        _expect(422, strangers=403),
    ),
    (
        "taking a post down",
        ("POST", "/api/v1/review/posts/{need}", {"decision": "reject"}),
        ("POST", "/posts/{need}/unpublish", {"reason": ""}),
        _expect(422, strangers=403),
    ),
    (
        "a region's statistics",
        ("GET", "/api/v1/stats?region=leipzig", None),
        ("GET", "/review/stats?region=leipzig", None),
        _expect(200, strangers=403),
    ),
    (
        "a region's statistics as CSV",
        ("GET", "/api/v1/stats.csv?region=leipzig", None),
        ("GET", "/review/stats.csv?region=leipzig", None),
        _expect(200, strangers=403),
    ),
    (
        "the map of waiting needs",  # each coordinator sees their own regions' needs
        ("GET", "/api/v1/review/map", None),
        ("GET", "/review/map", None),
        _expect(200, denied=200, strangers=403),
    ),
]
# Where a page answers otherwise than the API by design (a redirect after a form, a page that
# lives elsewhere), the two are given separately: caller -> (API, page).
SPLIT = {
    ("answering a match", "need_author"): (409, 303),
    ("answering a match", "offer_author"): (409, 303),
    ("a conversation's messages", "need_author"): (200, 303),
    ("a conversation's messages", "offer_author"): (200, 303),
    **{("the volunteer's page", name): (422, 200) for name in STAFF_OF_LEIPZIG},
    # The API answers as in release 1 (409: the plan is stale); the page hands the confirmation
    # to a job and redirects to the run's page, which tells the same.
    **{("applying the matching run", name): (409, 303) for name in STAFF_OF_LEIPZIG},
}


async def _page_request(c: httpx.AsyncClient, method: str, url: str, body: Any) -> httpx.Response:
    if method == "GET":
        return await c.get(url)
    home = await c.get("/")
    token = re.search(r'name="csrf_token" value="([^"]*)"', home.text)
    assert token, home.text[:500]
    return await c.post(url, data={"csrf_token": token.group(1), **(body or {})})


async def test_regions_hold_on_pages_and_api_alike(
    client: httpx.AsyncClient, app: Any, regions_world: dict[str, Any]
) -> None:
    from tests.pages import browser

    callers, ids = regions_world["callers"], regions_world["ids"]
    wrong = []
    for name in CALLERS:
        actor = callers[name]
        async with browser(app, actor) as c:
            for label, (am, ap, ab), (pm, pp, pb), expected in REGION_ROUTES:
                api = await client.request(
                    am, fill(ap, ids), headers=actor.headers, json=fill_body(ab, ids)
                )
                html = await _page_request(c, pm, fill(pp, ids), fill_body(pb, ids))
                want = SPLIT.get((label, name), (expected[name], expected[name]))
                if (api.status_code, html.status_code) != want:
                    wrong.append(
                        (label, name, "want", want, "got", (api.status_code, html.status_code))
                    )
                if api.status_code == 404:
                    assert api.headers["content-type"].startswith("application/problem+json")
                if html.status_code == 404:
                    assert html.headers["content-type"].startswith("text/html")
    assert not wrong, "\n".join(map(str, wrong))


def _listed(body: Any) -> set[str]:
    return {str(item.get("id") or item.get("user_id")) for item in body["items"]}


async def test_lists_show_a_coordinator_only_their_regions(
    client: httpx.AsyncClient, app: Any, regions_world: dict[str, Any]
) -> None:
    from tests.pages import browser

    callers, ids = regions_world["callers"], regions_world["ids"]
    leipzig_objects = {
        "/review/volunteers": ids["volunteer"],
        "/review/posts": ids["pending"],
        "/review/organisations": ids["org"],
        "/review/reports": ids["report"],
    }
    reports = {ids["report"], ids["message_report"], ids["user_report"]}
    for name in ("leipzig", "halle", "everywhere", "admin"):
        actor = callers[name]
        mine = name != "halle"
        for path, object_id in leipzig_objects.items():
            r = await client.get(f"/api/v1{path}", headers=actor.headers)
            assert r.status_code == 200, r.text
            assert (object_id in _listed(r.json())) is mine, (name, path)
        listed = _listed((await client.get("/api/v1/review/reports", headers=actor.headers)).json())
        assert (listed == reports) if mine else not (listed & reports), (name, listed)
        async with browser(app, actor) as c:
            for path, object_id in leipzig_objects.items():
                if path == "/review/reports":
                    continue  # the page names a report by its target, checked below
                page = await c.get(path)
                assert page.status_code == 200
                assert (object_id in page.text) is mine, (name, path)
            page = await c.get("/review/reports")
            assert (ids["pending"] in page.text) is mine, name
            # The overview counts only what the coordinator may open.
            overview = await c.get("/review")
            assert overview.status_code == 200
        run = await client.get("/api/v1/review/matching-run?region=halle", headers=actor.headers)
        assert run.status_code == (404 if name == "leipzig" else 200), (name, run.text)
    # A coordinator with regions must name one of them for a run; one without may run everywhere.
    assert (
        await client.get("/api/v1/review/unmatched", headers=callers["halle"].headers)
    ).status_code == 422
    assert (
        await client.get("/api/v1/review/unmatched", headers=callers["everywhere"].headers)
    ).status_code == 200
    # Resolving: another region's report does not exist; the region's coordinator resolves it.
    url = f"/api/v1/review/reports/{ids['message_report']}"
    assert (
        await client.post(url, headers=callers["halle"].headers, json={"resolution": "erledigt"})
    ).status_code == 404
    assert (
        await client.post(url, headers=callers["leipzig"].headers, json={"resolution": "erledigt"})
    ).status_code == 200


async def test_exact_place_only_for_author_and_the_regions_coordinators(
    client: httpx.AsyncClient, app: Any, regions_world: dict[str, Any]
) -> None:
    callers, ids = regions_world["callers"], regions_world["ids"]
    for name in CALLERS:
        r = await client.get(f"/api/v1/posts/{ids['need']}", headers=callers[name].headers)
        assert r.status_code == 200
        exact = name in STAFF_OF_LEIPZIG or name == "need_author"
        assert r.json()["location"]["approximate"] is (not exact), name
