"""The notification centre, conversations and reporting in a browser session, without JavaScript."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select

from market.db import make_sessionmaker
from market.i18n import ngettext, use_locale
from market.vetting.models import Report
from tests.factories import make_user
from tests.market.conversations.helpers import (
    connected_match,
    post_form,
    write,
)
from tests.market.organisations.helpers import apply, posting, volunteer
from tests.pages import browser


def badge(html: str) -> int:
    # The bell's link: its icon and hidden label come first, the count (if any) inside it.
    found = re.search(
        r'href="/notifications"[^>]*>(?:(?!</a>).)*?<span class="badge"[^>]*>(\d+)</span>',
        html,
        re.S,
    )
    return int(found.group(1)) if found else 0


async def test_header_badge_list_mark_read_and_mark_all(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, seeker, match_id, _cid = await connected_match(client, app)
    async with browser(app, vol) as c:
        home = await c.get("/conversations?lang=en")
        assert badge(home.text) == 2
        # The number is read out from a visually hidden label (the badge itself is aria-hidden).
        assert '<span class="visually-hidden badge-label">2 unread</span>' in home.text
        german = await c.get("/conversations?lang=de")
        with use_locale("de"):
            label = ngettext("%(num)d unread", "%(num)d unread", 2)
        assert label != "2 unread" and f'badge-label">{label}</span>' in german.text
        await c.get("/conversations?lang=en")
        assert re.search(
            r'<script src="/static/notifications\.js(\?v=[0-9a-f]+)?" defer></script>', home.text
        )
        page = await c.get("/notifications")
        assert page.status_code == 200
        assert "A new match for your post “Ich begleite Sie zum Amt”" in page.text
        ids = re.findall(r'id="n-([0-9a-f]{32})"', page.text)
        assert len(ids) == 2
        # Each item links to what it is about, through /open (which marks it read).
        assert f'href="/notifications/{ids[0]}/open"' in page.text

        r = await post_form(
            c, "/notifications", f"/notifications/{ids[1]}/read", next="/notifications"
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/notifications")
        page = await c.get(r.headers["location"])
        assert badge(page.text) == 1
        assert "Marked as read." in page.text

        r = await c.get(f"/notifications/{ids[0]}/open", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/matches/{match_id}"
        page = await c.get("/notifications?show=unread")
        assert badge(page.text) == 0 and "You have read everything." in page.text

        # Without the CSRF token nothing happens.
        r = await c.post(f"/notifications/{ids[0]}/read", data={})
        assert r.status_code == 403

    async with browser(app, seeker) as c:
        page = await c.get("/notifications?lang=en")
        assert badge(page.text) == 2
        # Someone else's notification does not exist for this person.
        assert (await c.get(f"/notifications/{ids[0]}/open")).status_code == 404
        r = await post_form(c, "/notifications", f"/notifications/{ids[0]}/read")
        assert r.status_code == 404
        r = await post_form(c, "/notifications", "/notifications/read-all")
        assert r.status_code == 303
        page = await c.get(r.headers["location"])
        assert badge(page.text) == 0 and "All notifications are marked as read." in page.text

    r = await client.get("/notifications")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_notification_pages_are_paginated(client: httpx.AsyncClient, app: Any) -> None:
    vol, _seeker, _match_id, cid = await connected_match(client, app)
    for _ in range(35):  # a busy inbox (each a separate entry: the seeker reads in between)
        await write(client, _seeker, cid, "Hallo")
        await client.get(f"/api/v1/conversations/{cid}/messages?limit=100", headers=vol.headers)
    async with browser(app, vol) as c:
        first = await c.get("/notifications?lang=en")
        assert len(re.findall(r'id="n-[0-9a-f]{32}"', first.text)) == 30
        older = re.search(r'href="(/notifications\?cursor=[^"]+)">Older', first.text)
        assert older
        second = await c.get(older.group(1).replace("&amp;", "&"))
        assert len(re.findall(r'id="n-[0-9a-f]{32}"', second.text)) == 37 - 30
        assert (await c.get("/notifications?cursor=garbage")).status_code == 303


async def test_conversation_page_of_an_application_read_write_and_report(
    client: httpx.AsyncClient, app: Any
) -> None:
    owner = await make_user(app, client, "organisation", name="Olga Owner")
    helper = await volunteer(app, client, name="Hana Helper", locale="en")
    post = await posting(client, owner)
    created = (await apply(client, helper, post["id"])).json()
    r = await client.post(
        f"/api/v1/applications/{created['id']}", headers=owner.headers, json={"decision": "accept"}
    )
    cid = r.json()["conversation_id"]
    await write(client, owner, cid, "Willkommen! <script>x</script>")

    async with browser(app, helper) as c:
        listing = await c.get("/conversations?lang=en")
        assert f'href="/conversations/{cid}"' in listing.text and "Olga Owner" in listing.text
        assert "1 new message" in listing.text
        page = await c.get(f"/conversations/{cid}")
        assert (
            page.status_code == 200 and "Willkommen!" in page.text and "<script>x" not in page.text
        )
        assert badge(page.text) == 1  # the acceptance; the message notification is read now
        (mid,) = re.findall(r'id="m-([0-9a-f]{32})"', page.text)
        assert f'href="/messages/{mid}/report"' in page.text

        r = await post_form(c, f"/conversations/{cid}", f"/conversations/{cid}/messages", body="")
        assert r.status_code == 422 and "Please write a message." in r.text
        r = await post_form(
            c, f"/conversations/{cid}", f"/conversations/{cid}/messages", body="Danke, gern!"
        )
        assert r.status_code == 303
        page = await c.get(r.headers["location"])
        assert "Danke, gern!" in page.text

        form = await c.get(f"/messages/{mid}/report")
        assert form.status_code == 200 and "Willkommen!" in form.text
        r = await post_form(c, f"/messages/{mid}/report", f"/messages/{mid}/report", reason="x")
        assert r.status_code == 422
        r = await post_form(
            c, f"/messages/{mid}/report", f"/messages/{mid}/report", reason="Das ist Spam."
        )
        assert r.status_code == 303 and r.headers["location"].startswith(f"/conversations/{cid}")
    async with make_sessionmaker(app.state.engine)() as session:
        (report,) = list(await session.scalars(select(Report)))
        assert (report.target_type, report.target_id, report.reporter_id) == (
            "message",
            mid,
            helper.id,
        )

    stranger = await make_user(app, client, "seeker")
    async with browser(app, stranger) as c:
        assert (await c.get(f"/conversations/{cid}")).status_code == 404
        assert (await c.get(f"/messages/{mid}/report")).status_code == 404
        r = await c.post(f"/conversations/{cid}/messages", data={"csrf_token": "x", "body": "hi"})
        assert r.status_code in (403, 404)
    coordinator = await make_user(app, client, "coordinator")
    async with browser(app, coordinator) as c:
        page = await c.get(f"/conversations/{cid}?lang=en")
        assert page.status_code == 200 and "Only the people in it can write." in page.text
        assert f'action="/conversations/{cid}/messages"' not in page.text


async def test_a_match_conversation_opens_on_the_match_page(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, _seeker, match_id, cid = await connected_match(client, app)
    async with browser(app, vol) as c:
        r = await c.get(f"/conversations/{cid}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/matches/{match_id}#messages"
    # Reading on the match page marks the "new message" notification read too.
    await write(client, _seeker, cid, "Hallo!")
    async with browser(app, vol) as c:
        before = await c.get("/notifications")
        unread = badge(before.text)
        await c.get(f"/matches/{match_id}")
        after = await c.get("/notifications")
        assert badge(after.text) == unread - 1


async def test_a_message_of_a_match_can_be_reported_from_its_own_page(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, seeker, match_id, cid = await connected_match(client, app)
    mid = (await write(client, seeker, cid, "Schick mir Geld")).json()["id"]
    async with browser(app, vol) as c:
        page = await c.get(f"/messages/{mid}/report?lang=en")
        assert page.status_code == 200 and "Schick mir Geld" in page.text
        assert f'href="/matches/{match_id}#m-{mid}"' in page.text
        r = await post_form(
            c, f"/messages/{mid}/report", f"/messages/{mid}/report", reason="Bittet um Geld."
        )
        assert r.status_code == 303 and r.headers["location"].startswith(f"/matches/{match_id}")
    async with browser(app, seeker) as c:  # the author may report too (nothing hides it)
        assert (await c.get(f"/messages/{mid}/report")).status_code == 200
    async with make_sessionmaker(app.state.engine)() as session:
        (report,) = list(await session.scalars(select(Report)))
        assert (report.target_type, report.target_id, report.reason) == (
            "message",
            mid,
            "Bittet um Geld.",
        )
