"""The HTML pages: the public page, dashboard, CSV export, widget, and apply-and-accept by form."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.conftest import token_from
from tests.factories import PASSWORD, Actor, make_user
from tests.market.organisations.helpers import add_member, apply, posting, volunteer
from tests.smtp import SmtpServer

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@asynccontextmanager
async def browser(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of its own that keeps cookies, like one person's browser."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, html[:500]
    return found.group(1)


async def log_in(web: httpx.AsyncClient, actor: Actor) -> None:
    form = await web.get("/login")
    r = await web.post(
        "/login",
        data={
            "email": actor.email,
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
            "next": "/",
        },
    )
    assert r.status_code == 303, r.text


async def test_public_page_only_for_approved_organisations(
    client: httpx.AsyncClient, app: Any
) -> None:
    owner = await make_user(app, client, "organisation")
    await client.patch(
        f"/api/v1/organisations/{owner.organisation_id}",
        headers=owner.headers,
        json={
            "description": "Wir begleiten Familien <b>seit 1990</b>.",
            "address": "Markt 1, Leipzig",
        },
    )
    post = await posting(client, owner, title="Familienlotsen gesucht")
    r = await client.get(f"/organisations/{owner.organisation_id}")
    assert r.status_code == 200
    assert "Familienlotsen gesucht" in r.text
    assert f"/posts/{post['id']}/apply" in r.text
    assert "Markt 1, Leipzig" in r.text
    assert "<b>seit" not in r.text  # markup is stripped or escaped, never rendered

    pending = await make_user(app, client, "organisation", org_status="pending")
    assert (await client.get(f"/organisations/{pending.organisation_id}")).status_code == 404
    assert (await client.get("/organisations/unknown")).status_code == 404
    # Its own members see it, with a notice.
    async with browser(app) as web:
        await log_in(web, pending)
        r = await web.get(f"/organisations/{pending.organisation_id}")
        assert r.status_code == 200


async def test_dashboard_is_for_members(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    stranger = await make_user(app, client, "organisation")
    helper = await volunteer(app, client)
    post = await posting(client, owner, title="Hausaufgaben-Paten")
    await apply(client, helper, post["id"], "Ich habe dienstags Zeit.")
    url = f"/organisations/{owner.organisation_id}/dashboard"

    r = await client.get(url)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    async with browser(app) as web:
        await log_in(web, stranger)
        assert (await web.get(url)).status_code == 403
        assert (
            await web.get(f"/organisations/{owner.organisation_id}/postings.csv")
        ).status_code == 403
        assert (await web.get(f"/posts/{post['id']}/applications")).status_code == 403
    async with browser(app) as web:
        await log_in(web, owner)
        r = await web.get(url)
        assert r.status_code == 200
        assert "Hausaufgaben-Paten" in r.text
        assert "Ich habe dienstags Zeit." in r.text
        assert 'name="decision" value="accept"' in r.text
        assert f"/organisations/{owner.organisation_id}/widget" in r.text  # the snippet
        assert "&lt;iframe" in r.text
        for path in ("members", "clients", "edit"):
            assert (
                await web.get(f"/organisations/{owner.organisation_id}/{path}")
            ).status_code == 200
        assert (await web.get("/my/organisation")).headers["location"] == url


async def test_csv_export(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    first = await posting(client, owner, title='=HYPERLINK("http://evil")', seats=3)
    second = await posting(client, owner, title="Sprachcafé Gastgeber", seats=1)
    helpers = [await volunteer(app, client) for _ in range(2)]
    a = (await apply(client, helpers[0], first["id"])).json()
    await apply(client, helpers[1], first["id"])
    await client.post(
        f"/api/v1/applications/{a['id']}", headers=owner.headers, json={"decision": "accept"}
    )

    async with browser(app) as web:
        await log_in(web, owner)
        r = await web.get(f"/organisations/{owner.organisation_id}/postings.csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "id",
        "title",
        "category",
        "status",
        "seats",
        "accepted",
        "pending_applications",
        "created_at",
    ]
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id[first["id"]][1] == '\'=HYPERLINK("http://evil")'  # never a formula
    assert by_id[first["id"]][3:7] == ["published", "3", "1", "1"]
    assert by_id[second["id"]][1] == "Sprachcafé Gastgeber"
    assert by_id[second["id"]][4:7] == ["1", "0", "0"]


async def test_widget_feed_and_page(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    post = await posting(client, owner, title="Lesepaten", seats=4)
    helper = await volunteer(app, client)
    a = (await apply(client, helper, post["id"])).json()
    await client.post(
        f"/api/v1/applications/{a['id']}", headers=owner.headers, json={"decision": "accept"}
    )

    r = await client.get(
        f"/organisations/{owner.organisation_id}/widget.json",
        headers={"Origin": "https://verein.example"},
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "set-cookie" not in r.headers
    body = r.json()
    assert body["organisation"]["id"] == owner.organisation_id
    (item,) = body["items"]
    assert item["title"] == "Lesepaten"
    assert item["category"] == "mentoring" and item["category_name"]
    assert item["city"] and item["seats_left"] == 3
    assert item["link"] == f"http://testserver/posts/{post['id']}"

    r = await client.get(f"/organisations/{owner.organisation_id}/widget")
    assert r.status_code == 200
    assert "frame-ancestors *" in r.headers["content-security-policy"]
    assert "x-frame-options" not in r.headers
    assert "set-cookie" not in r.headers
    assert "Lesepaten" in r.text and "<script" not in r.text

    pending = await make_user(app, client, "organisation", org_status="pending")
    await posting(client, pending)
    assert (
        await client.get(f"/organisations/{pending.organisation_id}/widget.json")
    ).status_code == 404
    assert (await client.get(f"/organisations/{pending.organisation_id}/widget")).status_code == 404


async def test_apply_and_accept_through_the_pages(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    owner = await make_user(app, client, "organisation")
    colleague = await add_member(app, client, owner.organisation_id)
    helper = await volunteer(app, client, name="Dilnoza")
    post = await posting(client, owner, title="Lotsen für Familien", seats=1)

    async with browser(app) as web:
        # Not logged in: the apply page sends to the login first.
        r = await web.get(f"/posts/{post['id']}/apply")
        assert r.status_code == 303 and "/login?next=" in r.headers["location"]
        await log_in(web, helper)
        r = await web.get(f"/posts/{post['id']}/apply")
        assert r.status_code == 200 and 'name="message"' in r.text
        r = await web.post(
            f"/posts/{post['id']}/apply",
            data={"message": "Ich spreche Usbekisch und Russisch.", "csrf_token": "wrong"},
        )
        assert r.status_code == 403
        r = await web.post(
            f"/posts/{post['id']}/apply",
            data={"message": "Ich spreche Usbekisch und Russisch.", "csrf_token": csrf_of(r.text)},
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/my/applications")
        mine = await web.get("/my/applications")
        assert "Lotsen für Familien" in mine.text
        assert "/withdraw" in mine.text
        # Applying again shows the application instead of the form.
        again = await web.get(f"/posts/{post['id']}/apply")
        assert 'name="message"' not in again.text

    await mailbox.wait_for(colleague.email)
    async with browser(app) as web:
        await log_in(web, colleague)
        board = await web.get(f"/organisations/{owner.organisation_id}/dashboard")
        assert "Dilnoza" in board.text and "Ich spreche Usbekisch und Russisch." in board.text
        app_id = re.search(r'action="/applications/([0-9a-f]+)/decide"', board.text).group(1)
        r = await web.post(
            f"/applications/{app_id}/decide",
            data={
                "decision": "accept",
                "message": "Herzlich willkommen!",
                "next": f"/organisations/{owner.organisation_id}/dashboard",
                "csrf_token": csrf_of(board.text),
            },
        )
        assert r.status_code == 303
        assert r.headers["location"].startswith(f"/organisations/{owner.organisation_id}/dashboard")
        board = await web.get(r.headers["location"])
        assert "1 of 1 places filled" in board.text or "1 von 1" in board.text
        listing = await web.get(f"/posts/{post['id']}/applications")
        assert "Herzlich willkommen!" in listing.text

    (mail,) = await mailbox.wait_for(helper.email)
    assert "Herzlich willkommen!" in mail.text
    async with browser(app) as web:
        await log_in(web, helper)
        mine = await web.get("/my/applications")
        assert "/conversations/" in mine.text
    # Every place is taken: the posting closed.
    assert (await client.get(f"/api/v1/posts/{post['id']}", headers=owner.headers)).json()[
        "status"
    ] == "closed"


async def test_withdraw_and_problems_on_the_apply_page(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    post = await posting(client, owner, category="education-homework", title="Hausaufgabenhilfe")
    helper = await volunteer(app, client)
    seeker = await make_user(app, client, "seeker")
    async with browser(app) as web:
        await log_in(web, helper)
        r = await web.get(f"/posts/{post['id']}/apply")
        assert "police certificate" in r.text.lower() or "Führungszeugnis" in r.text
        assert 'name="message"' not in r.text
    async with browser(app) as web:
        await log_in(web, seeker)
        r = await web.get(f"/posts/{post['id']}/apply")
        assert 'name="message"' not in r.text
    mentoring = await posting(client, owner)
    created = (await apply(client, helper, mentoring["id"])).json()
    async with browser(app) as web:
        await log_in(web, helper)
        page = await web.get("/my/applications")
        r = await web.post(
            f"/my/applications/{created['id']}/withdraw", data={"csrf_token": csrf_of(page.text)}
        )
        assert r.status_code == 303
    status = (
        await client.get(f"/api/v1/applications/{created['id']}", headers=helper.headers)
    ).json()["status"]
    assert status == "withdrawn"


async def test_invite_and_join_through_the_pages(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    owner = await make_user(app, client, "organisation")
    email = "kollegin@example.org"
    async with browser(app) as web:
        await log_in(web, owner)
        members = await web.get(f"/organisations/{owner.organisation_id}/members")
        r = await web.post(
            f"/organisations/{owner.organisation_id}/members",
            data={"email": email, "role": "member", "csrf_token": csrf_of(members.text)},
        )
        assert r.status_code == 303
        assert email in (await web.get(f"/organisations/{owner.organisation_id}/members")).text
    (mail,) = await mailbox.wait_for(email)
    token = token_from(mail.text)
    async with browser(app) as web:
        page = await web.get(f"/organisations/join?token={token}")
        assert page.status_code == 200 and 'name="display_name"' in page.text
        r = await web.post(
            "/organisations/join",
            data={
                "token": token,
                "action": "signup",
                "display_name": "Kollegin",
                "password": "ein sehr langes Passwort",
                "password_confirm": "ein sehr langes Passwort",
                "locale": "de",
                "language_1": "de",
                "level_1": "native",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert r.status_code == 303, r.text
        board = await web.get(r.headers["location"])
        assert board.status_code == 200  # logged in, and a member
    assert (await client.get(f"/organisations/join?token={token}")).status_code == 400


async def test_client_page_and_need_for_a_client(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    async with browser(app) as web:
        await log_in(web, owner)
        page = await web.get(f"/organisations/{owner.organisation_id}/clients")
        token = csrf_of(page.text)
        r = await web.post(
            f"/organisations/{owner.organisation_id}/clients",
            data={"label": "S. A.", "languages": ["ar"], "csrf_token": token},
        )
        assert r.status_code == 422  # no consent
        r = await web.post(
            f"/organisations/{owner.organisation_id}/clients",
            data={"label": "S. A.", "languages": ["ar"], "consent": "1", "csrf_token": token},
        )
        assert r.status_code == 303
        page = await web.get(f"/organisations/{owner.organisation_id}/clients")
        new_url = re.search(r'href="(/organisations/[^"]+/posts/new)"', page.text).group(1)
        form = await web.get(new_url)
        assert form.status_code == 200
        r = await web.post(
            new_url,
            data={
                "category": "accompaniment-doctor",
                "title": "Begleitung zur Kinderärztin",
                "body": "",
                "languages": ["ar"],
                "mode": "in_person",
                "city": "Leipzig",
                "country": "DE",
                "csrf_token": token,
            },
        )
        assert r.status_code == 303, r.text
        assert (
            "Begleitung zur Kinderärztin"
            in (await web.get(f"/organisations/{owner.organisation_id}/clients")).text
        )


async def test_join_refuses_a_personal_password_next_to_the_field(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    """A password holding the display name is refused on the join form itself (422, the message
    next to the field, nothing created), not by a bare error page."""
    owner = await make_user(app, client, "organisation")
    email = "kollege@example.org"
    r = await client.post(
        f"/api/v1/organisations/{owner.organisation_id}/invitations",
        headers=owner.headers,
        json={"email": email, "role": "member"},
    )
    assert r.status_code == 201, r.text
    (mail,) = await mailbox.wait_for(email)
    token = token_from(mail.text)
    async with browser(app) as web:
        page = await web.get(f"/organisations/join?token={token}")
        fields = {
            "token": token,
            "action": "signup",
            "display_name": "Konstantin",
            "password": "Konstantin sagt hallo",
            "password_confirm": "Konstantin sagt hallo",
            "locale": "de",
            "language_1": "de",
            "level_1": "native",
            "csrf_token": csrf_of(page.text),
        }
        r = await web.post("/organisations/join", data=fields)
        assert r.status_code == 422, r.text[:500]
        assert 'id="e-password"' in r.text and 'name="display_name"' in r.text
    assert (await client.get(f"/organisations/join?token={token}")).status_code == 200
