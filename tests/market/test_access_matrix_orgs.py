"""Every organisation route, page and JSON, tried by everyone who might ask.

Two regions (Leipzig and Halle). Organisation A is approved and posts a programme in Leipzig,
to which one volunteer applied; it has an owner, a member, a client and an open invitation.
Organisation U is not approved yet and has a request waiting in Leipzig. The callers: nobody,
A's owner and member, the owner of another organisation B, U's owner, the volunteer who applied,
another volunteer, a seeker, a coordinator of Leipzig, a coordinator of Halle only, a
coordinator of every region and an admin.

For each object the page and the API give the same answer (200, 403 or 404); a page that needs
a login sends anonymous visitors there (303) where the API answers 401. Changes are only tried
by callers who must be refused, and the objects are checked unchanged afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from market.accounts.models import CoordinatorRegion
from market.db import make_sessionmaker
from market.organisations.models import Application, Invitation, OrganisationMember
from market.posts.models import Region
from tests.factories import Actor, make_user, post_body
from tests.market.organisations.helpers import add_member, apply, posting, volunteer
from tests.pages import browser

CSRF = "matrix-csrf-token-0123456789"
LEIPZIG = {"lat": 51.3397, "lon": 12.3731}
HALLE = {"lat": 51.4825, "lon": 11.9697}

CALLERS = (
    "anonymous",
    "owner",
    "member",
    "other_org",
    "pending_owner",
    "applicant",
    "other_volunteer",
    "seeker",
    "coord_here",
    "coord_other",
    "coord_all",
    "admin",
)
LOGIN = "login"  # a page sends the visitor to the login (303), the API answers 401


@dataclass
class World:
    ids: dict[str, str]
    actors: dict[str, Actor]
    browsers: dict[str, httpx.AsyncClient]
    api: httpx.AsyncClient


async def _regions(app: Any) -> dict[str, str]:
    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        leipzig = Region(slug="leipzig", name="Leipzig", radius_km=20, **LEIPZIG)
        halle = Region(slug="halle", name="Halle", radius_km=10, **HALLE)
        session.add_all([leipzig, halle])
        await session.flush()
        return {"leipzig": leipzig.id, "halle": halle.id}


async def _coordinator(app: Any, client: httpx.AsyncClient, *region_ids: str) -> Actor:
    actor = await make_user(app, client, "coordinator")
    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        for region_id in region_ids:
            session.add(CoordinatorRegion(user_id=actor.id, region_id=region_id))
    return actor


@pytest.fixture
async def world(client: httpx.AsyncClient, app: Any) -> AsyncIterator[World]:
    regions = await _regions(app)
    owner = await make_user(app, client, "organisation")
    org_a = owner.organisation_id or ""
    member = await add_member(app, client, org_a)
    other_org = await make_user(app, client, "organisation")
    pending_owner = await make_user(app, client, "organisation", org_status="pending")
    applicant = await volunteer(app, client)
    actors = {
        "owner": owner,
        "member": member,
        "other_org": other_org,
        "pending_owner": pending_owner,
        "applicant": applicant,
        "other_volunteer": await volunteer(app, client),
        "seeker": await make_user(app, client, "seeker"),
        "coord_here": await _coordinator(app, client, regions["leipzig"]),
        "coord_other": await _coordinator(app, client, regions["halle"]),
        "coord_all": await _coordinator(app, client),
        "admin": await make_user(app, client, "admin"),
    }
    programme = await posting(client, owner, location=LEIPZIG)
    assert programme["status"] == "published"
    r = await apply(client, applicant, programme["id"])
    assert r.status_code == 201, r.text
    waiting = await client.post(
        "/api/v1/posts", headers=pending_owner.headers, json=post_body(location=LEIPZIG)
    )
    assert waiting.json()["status"] == "pending_review", waiting.text
    r = await client.post(
        f"/api/v1/organisations/{org_a}/clients",
        headers=owner.headers,
        json={"first_name_or_initials": "A. K.", "languages": ["ar"], "consent": True},
    )
    assert r.status_code == 201, r.text
    client_id = r.json()["id"]
    r = await client.post(
        f"/api/v1/organisations/{org_a}/invitations",
        headers=owner.headers,
        json={"email": "kollegin@example.org", "role": "member"},
    )
    assert r.status_code == 201, r.text
    ids = {
        "A": org_a,
        "B": other_org.organisation_id or "",
        "U": pending_owner.organisation_id or "",
        "P": programme["id"],
        "app": await _application_id(app, programme["id"]),
        "client": client_id,
        "inv": r.json()["id"],
        "member": member.id,
        "owner": owner.id,
    }
    async with AsyncExitStack() as stack:
        browsers = {"anonymous": await stack.enter_async_context(browser(app))}
        for name, actor in actors.items():
            browsers[name] = await stack.enter_async_context(browser(app, actor))
        for web in browsers.values():
            web.cookies.set("anlauf_csrf", CSRF)
        yield World(ids, actors, browsers, client)


async def _application_id(app: Any, post_id: str) -> str:
    async with make_sessionmaker(app.state.engine)() as session:
        found = await session.scalar(select(Application.id).where(Application.post_id == post_id))
        assert found is not None
        return found


def fill(template: str, ids: dict[str, str]) -> str:
    for key, value in ids.items():
        template = template.replace("{" + key + "}", value)
    return template


async def call_page(world: World, who: str, method: str, path: str, form: Any) -> int:
    web = world.browsers[who]
    url = fill(path, world.ids)
    if method == "GET":
        r = await web.get(url)
    else:
        r = await web.post(url, data={"csrf_token": CSRF, **(form or {})})
    if r.status_code == 303 and r.headers["location"].startswith("/login"):
        return -1
    return r.status_code


async def call_api(world: World, who: str, method: str, path: str, body: Any) -> int:
    headers = world.actors[who].headers if who != "anonymous" else {}
    url = fill(path, world.ids)
    r = await world.api.request(method, url, headers=headers, json=body)
    return r.status_code


def expect(default: int | str, **answers: int | str) -> dict[str, int | str]:
    table = dict.fromkeys(CALLERS, default)
    table.update(answers)
    return table


STAFF_HERE = ("coord_here", "coord_all", "admin")
# Staff who oversee an organisation but are not its members: they see it, they may not do this.
SEEN_NOT_ALLOWED = dict.fromkeys(STAFF_HERE, 403)
PRIVATE = expect(403, anonymous=LOGIN, owner=200, member=200, coord_other=404, **SEEN_NOT_ALLOWED)
OWNERS = expect(403, anonymous=LOGIN, owner=200, coord_other=404, **SEEN_NOT_ALLOWED)
OVERVIEW = expect(
    403, anonymous=LOGIN, owner=200, member=200, coord_other=404, **dict.fromkeys(STAFF_HERE, 200)
)
APPLICATIONS = expect(
    403, anonymous=LOGIN, owner=200, member=200, coord_other=404, **dict.fromkeys(STAFF_HERE, 200)
)
UNAPPROVED = expect(404, pending_owner=200, **dict.fromkeys(STAFF_HERE, 200))
ONE_APPLICATION = expect(
    404, anonymous=LOGIN, owner=200, member=200, applicant=200, **dict.fromkeys(STAFF_HERE, 200)
)

# (what, page (method, path, form) or None, API (method, path, body) or None, answers)
ROUTES: list[tuple[str, Any, Any, dict[str, int | str]]] = [
    (
        "approved profile",
        ("GET", "/organisations/{A}", None),
        ("GET", "/api/v1/organisations/{A}", None),
        expect(200),
    ),
    (
        "unapproved profile",
        ("GET", "/organisations/{U}", None),
        ("GET", "/api/v1/organisations/{U}", None),
        UNAPPROVED,
    ),
    ("unapproved postings", None, ("GET", "/api/v1/organisations/{U}/postings", None), UNAPPROVED),
    ("approved postings", None, ("GET", "/api/v1/organisations/{A}/postings", None), expect(200)),
    ("dashboard", ("GET", "/organisations/{A}/dashboard", None), None, OVERVIEW),
    ("postings CSV", ("GET", "/organisations/{A}/postings.csv", None), None, OVERVIEW),
    (
        "unapproved dashboard",
        ("GET", "/organisations/{U}/dashboard", None),
        None,
        expect(404, anonymous=LOGIN, pending_owner=200, **dict.fromkeys(STAFF_HERE, 200)),
    ),
    (
        "members",
        ("GET", "/organisations/{A}/members", None),
        ("GET", "/api/v1/organisations/{A}/members", None),
        PRIVATE,
    ),
    (
        "unapproved members",
        ("GET", "/organisations/{U}/members", None),
        ("GET", "/api/v1/organisations/{U}/members", None),
        expect(404, anonymous=LOGIN, pending_owner=200, **SEEN_NOT_ALLOWED),
    ),
    (
        "invite",
        ("POST", "/organisations/{A}/members", {"email": "x@example.org", "role": "owner"}),
        ("POST", "/api/v1/organisations/{A}/invitations", {"email": "x@example.org"}),
        expect(403, anonymous=LOGIN, owner="skip", coord_other=404, **SEEN_NOT_ALLOWED),
    ),
    ("invitations", None, ("GET", "/api/v1/organisations/{A}/invitations", None), OWNERS),
    (
        "revoke invitation",
        ("POST", "/organisations/{A}/invitations/{inv}/revoke", None),
        ("DELETE", "/api/v1/organisations/{A}/invitations/{inv}", None),
        expect(403, anonymous=LOGIN, owner="skip", coord_other=404, **SEEN_NOT_ALLOWED),
    ),
    (
        "remove the owner",
        ("POST", "/organisations/{A}/members/{owner}/remove", None),
        ("DELETE", "/api/v1/organisations/{A}/members/{owner}", None),
        expect(403, anonymous=LOGIN, owner="skip", coord_other=404, **SEEN_NOT_ALLOWED),
    ),
    (
        "make the member an owner",
        None,
        ("PATCH", "/api/v1/organisations/{A}/members/{member}", {"role": "owner"}),
        expect(403, anonymous=LOGIN, owner="skip", coord_other=404, **SEEN_NOT_ALLOWED),
    ),
    (
        "edit profile",
        ("GET", "/organisations/{A}/edit", None),
        ("PATCH", "/api/v1/organisations/{A}", {"website": "https://example.org"}),
        OWNERS,
    ),
    (
        "clients",
        ("GET", "/organisations/{A}/clients", None),
        ("GET", "/api/v1/organisations/{A}/clients", None),
        PRIVATE,
    ),
    (
        "one client",
        ("GET", "/organisations/{A}/clients/{client}/posts/new", None),
        ("GET", "/api/v1/organisations/{A}/clients/{client}", None),
        PRIVATE,
    ),
    (
        "erase a client",
        ("POST", "/organisations/{A}/clients/{client}/erase", None),
        ("DELETE", "/api/v1/organisations/{A}/clients/{client}", None),
        {**PRIVATE, "owner": "skip", "member": "skip"},
    ),
    (
        "applications",
        ("GET", "/posts/{P}/applications", None),
        ("GET", "/api/v1/posts/{P}/applications", None),
        APPLICATIONS,
    ),
    (
        "describe the posting",
        ("GET", "/posts/{P}/posting", None),
        ("PUT", "/api/v1/posts/{P}/posting", {"training": "Ein Abend"}),
        expect(403, anonymous=LOGIN, owner=200, member=200, coord_other=404, **SEEN_NOT_ALLOWED),
    ),
    ("one application", None, ("GET", "/api/v1/applications/{app}", None), ONE_APPLICATION),
    (
        "decide",
        ("POST", "/applications/{app}/decide", {"decision": "decline"}),
        ("POST", "/api/v1/applications/{app}", {"decision": "decline"}),
        {
            **ONE_APPLICATION,
            "owner": "skip",
            "member": "skip",
            "applicant": 403,
            **SEEN_NOT_ALLOWED,
        },
    ),
    (
        "withdraw",
        ("POST", "/my/applications/{app}/withdraw", None),
        ("POST", "/api/v1/applications/{app}/withdraw", None),
        {
            **ONE_APPLICATION,
            "applicant": "skip",
            "owner": 403,
            "member": 403,
            **SEEN_NOT_ALLOWED,
        },
    ),
    (
        "apply",
        ("POST", "/posts/{P}/apply", {"message": "Gern"}),
        ("POST", "/api/v1/posts/{P}/applications", {"message": "Gern"}),
        expect(403, anonymous=LOGIN, applicant=409, other_volunteer="skip"),
    ),
    (
        "widget",
        ("GET", "/organisations/{A}/widget", None),
        ("GET", "/organisations/{A}/widget.json", None),
        expect(200),
    ),
    (
        "unapproved widget",
        ("GET", "/organisations/{U}/widget", None),
        ("GET", "/organisations/{U}/widget.json", None),
        expect(404),
    ),
]


def _code(answer: int | str, surface: str) -> int:
    if answer == LOGIN:
        return -1 if surface == "page" else 401
    assert isinstance(answer, int)
    return answer


async def test_every_route_for_every_caller(world: World) -> None:
    """One pass over the whole table (one world: building it is the slow part); every wrong
    answer is listed at the end."""
    wrong = []
    for what, page, api, answers in ROUTES:
        for who in CALLERS:
            answer = answers[who]
            if answer == "skip":
                continue
            if page is not None:
                got = await call_page(world, who, *page)
                if got != _code(answer, "page"):
                    wrong.append((what, who, "page", got, answer))
            if api is not None:
                got = await call_api(world, who, *api)
                if got != _code(answer, "api"):
                    wrong.append((what, who, "api", got, answer))
    assert not wrong, "\n".join(map(str, wrong))


async def test_refused_changes_change_nothing(world: World, app: Any) -> None:
    """After every refused change of the table, everything is as it was."""
    for _what, page, api, answers in ROUTES:
        for who in CALLERS:
            if answers[who] in (200, "skip"):
                continue
            if page is not None and page[0] == "POST":
                await call_page(world, who, *page)
            if api is not None and api[0] != "GET":
                await call_api(world, who, *api)
    async with make_sessionmaker(app.state.engine)() as session:
        application = await session.get(Application, world.ids["app"])
        assert application is not None and application.status == "pending"
        invitation = await session.get(Invitation, world.ids["inv"])
        assert invitation is not None and invitation.revoked_at is None
        members = (
            await session.execute(
                select(OrganisationMember.user_id, OrganisationMember.role).where(
                    OrganisationMember.organisation_id == world.ids["A"]
                )
            )
        ).all()
        assert sorted(members) == sorted(
            [(world.ids["owner"], "owner"), (world.ids["member"], "member")]
        )
        invitations = (
            await session.scalars(
                select(Invitation.email).where(Invitation.organisation_id == world.ids["A"])
            )
        ).all()
        assert list(invitations) == ["kollegin@example.org"]
    r = await world.api.get(
        f"/api/v1/organisations/{world.ids['A']}/clients/{world.ids['client']}",
        headers=world.actors["owner"].headers,
    )
    assert r.status_code == 200


async def test_lists_of_a_regional_coordinator(world: World) -> None:
    """The overview of a coordinator of Leipzig shows the Leipzig programme; a coordinator of
    Halle gets no overview at all, and nobody but members sees clients there."""
    page = await world.browsers["coord_here"].get(f"/organisations/{world.ids['A']}/dashboard")
    assert page.status_code == 200
    assert f"/posts/{world.ids['P']}/applications" in page.text
    assert "A. K." not in page.text  # the client stays with the organisation
    assert f"/applications/{world.ids['app']}/decide" not in page.text
    csv_text = (
        await world.browsers["coord_here"].get(f"/organisations/{world.ids['A']}/postings.csv")
    ).text
    assert world.ids["P"] in csv_text
    own = await world.browsers["member"].get(f"/organisations/{world.ids['A']}/dashboard")
    assert "A. K." in own.text
