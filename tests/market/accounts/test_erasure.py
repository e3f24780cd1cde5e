"""Deleting an account leaves nothing behind that names the person (API.md, Release 2,
Accounts and personal data), and copies of mail are redacted for everyone after 30 days.

The scan reads every text, varchar and JSON column of every table in Base.metadata, so a table
added later is covered without touching this test.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import JSON, Float, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market import maintenance
from market.accounts.models import User
from market.db import Base, make_sessionmaker, new_id, utcnow
from market.posts.models import Post
from notifications.models import OutboxItem
from tests.conftest import token_from
from tests.factories import PASSWORD
from tests.market.accounts import busy as b
from tests.pages import browser, submit

NEEDLES = (
    b.EMAIL,
    b.NAME,
    b.PHONE,
    b.PHONE.replace(" ", ""),
    b.STREET,
    f"{b.LAT:.5f}",
    f"{b.LON:.5f}",
)


async def scan(session: AsyncSession) -> list[tuple[str, str, str]]:
    """(table, column, needle) for every value anywhere that holds the person's data."""
    found = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, (String, JSON, Float))]
        if not columns:
            continue
        for row in (await session.execute(select(*columns))).all():
            for column, value in zip(columns, row, strict=True):
                if value is None:
                    continue
                if isinstance(column.type, Float):
                    if any(abs(value - exact) < 5e-6 for exact in (b.LAT, b.LON)):
                        found.append((table.name, column.name, str(value)))
                    continue
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                found.extend(
                    (table.name, column.name, needle)
                    for needle in NEEDLES
                    if needle.lower() in text.lower()
                )
    return found


async def _delete_by_api(client: httpx.AsyncClient, app: Any, busy: b.Busy) -> None:
    r = await client.request(
        "DELETE", "/api/v1/me", headers=busy.person.headers, json={"password": PASSWORD}
    )
    assert r.status_code == 204, r.text


async def _delete_by_page(client: httpx.AsyncClient, app: Any, busy: b.Busy) -> None:
    async with browser(app, busy.person) as page:
        r = await submit(page, "/account/delete", {"password": PASSWORD})
        assert r.status_code == 303 and r.headers["location"].endswith("/goodbye"), r.text


async def _delete_by_link(client: httpx.AsyncClient, app: Any, busy: b.Busy) -> None:
    """A password-less (single sign-on) account: the mailed link's button deletes it."""
    sm = make_sessionmaker(app.state.engine)
    async with sm() as s, s.begin():
        await s.execute(update(User).where(User.id == busy.person.id).values(password_hash=None))
    r = await client.request("DELETE", "/api/v1/me", headers=busy.person.headers)
    assert r.status_code == 202 and r.json()["status"] == "confirmation_sent", r.text
    async with sm() as s:
        mails = [
            m
            for m in await s.scalars(select(OutboxItem))
            if m.payload.get("template") == "delete_account"
        ]
    (mail,) = mails
    url = f"/account/delete/confirm?token={token_from(mail.payload['text'])}"
    async with browser(app) as page:
        r = await submit(
            page, url, {"token": token_from(mail.payload["text"])}, action="/account/delete/confirm"
        )
        assert r.status_code == 303 and r.headers["location"].endswith("/goodbye"), r.text


@pytest.mark.parametrize(
    "way", [_delete_by_api, _delete_by_page, _delete_by_link], ids=["api", "page", "link"]
)
async def test_nothing_names_the_deleted_person(
    client: httpx.AsyncClient, app: Any, way: Any
) -> None:
    busy = await b.build(client, app)
    sm = make_sessionmaker(app.state.engine)
    async with sm() as s:
        before = {(table, column) for table, column, _ in await scan(s)}
    # The scan sees the person where a busy person leaves traces (so it can see at all).
    assert {
        ("users", "email"),
        ("users", "display_name"),
        ("posts", "body"),
        ("posts", "search_text"),
        ("posts", "lat"),
        ("outbox", "payload"),
        ("messages", "body"),
        ("reports", "reason"),
        ("applications", "message"),
        ("vetting_decisions", "note"),
        ("notifications", "data"),
        ("organisation_invitations", "email"),
        ("account_tokens", "email"),
        ("mail_failures", "address"),
        ("web_sessions", "user_agent"),
    } <= before, sorted(before)

    await way(client, app, busy)
    await app.state.relay.drain()

    async with sm() as s:
        assert await scan(s) == []
        # The posts are closed; the exact and the public point are gone.
        for post in await s.scalars(select(Post).where(Post.id.in_(busy.offer_ids))):
            assert post.status == "closed"
            assert (post.lat, post.lon, post.title, post.body) == (None, None, "", "")
            assert getattr(post, "public_lat", None) is None
        user = await s.get(User, busy.person.id)
        assert user is not None and user.deleted_at is not None and user.languages == []
        pending = await s.get(OutboxItem, busy.pending_mail_id)
        assert pending is not None and pending.status == "failed" and pending.redacted_at
    # Partners keep the conversation: the person's words stay, shown as from a deleted user.
    partner = busy.seekers[0]
    (conversation_id,) = busy.conversation_ids
    r = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages", headers=partner.headers
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    theirs = [m for m in items if m["id"] in busy.own_message_ids]
    assert [m["body"] for m in theirs] == ["Bis Montag am Eingang!"]
    assert "Danke, […]! Schreiben Sie an […]?" in [m["body"] for m in items]
    participants = (await client.get("/api/v1/conversations", headers=partner.headers)).json()
    assert any(p.get("deleted") for c in participants["items"] for p in c["participants"])
    # The account is gone for good.
    assert (await client.get("/api/v1/me", headers=busy.person.headers)).status_code == 401
    relogin = await client.post("/api/v1/auth/token", json={"email": b.EMAIL, "password": PASSWORD})
    assert relogin.status_code == 401


async def _mail(sm: Any, status: str, *, finished_days_ago: float, to: str) -> str:
    """An outbox row of a mail that was finished (or last tried) so many days ago."""
    at = utcnow() - timedelta(days=finished_days_ago)
    item = OutboxItem(
        id=new_id(),
        job="send_mail",
        payload={
            "to": to,
            "subject": "Hallo",
            "text": "Text",
            "html": "<p>Text</p>",
            "template": "message_new",
            "locale": "de",
            "essential": False,
        },
        status=status,
        attempts=1,
        created_at=at - timedelta(minutes=1),
        # A pending row's next try is tomorrow, so the relay leaves it alone here.
        available_at=at if status != "pending" else utcnow() + timedelta(days=1),
        done_at=at if status == "done" else None,
    )
    async with sm() as s, s.begin():
        s.add(item)
    return item.id


async def test_mail_copies_are_redacted_30_days_after_they_were_finished(
    client: httpx.AsyncClient, app: Any
) -> None:
    sm = make_sessionmaker(app.state.engine)
    old_sent = await _mail(sm, "done", finished_days_ago=31, to="a@example.org")
    young_sent = await _mail(sm, "done", finished_days_ago=29, to="b@example.org")
    old_failed = await _mail(sm, "failed", finished_days_ago=31, to="c@example.org")
    # Still to be sent (created 40 days ago, retried since, next try tomorrow): it is the mail.
    old_pending = await _mail(sm, "pending", finished_days_ago=40, to="d@example.org")

    # (The app's own hourly run may take part of it when it starts: count the outcome.)
    await maintenance.run(app.state.sessionmaker, app.state.settings)

    async with sm() as s:
        rows = {i.id: i for i in await s.scalars(select(OutboxItem))}
    for redacted in (old_sent, old_failed):
        item = rows[redacted]
        assert item.redacted_at is not None
        assert {k: item.payload[k] for k in ("to", "subject", "text", "html")} == dict.fromkeys(
            ("to", "subject", "text", "html"), ""
        )
        # What the mail was (for counting) stays.
        assert (item.payload["template"], item.payload["locale"]) == ("message_new", "de")
    for kept, address in ((young_sent, "b@example.org"), (old_pending, "d@example.org")):
        assert rows[kept].redacted_at is None and rows[kept].payload["to"] == address
    assert rows[old_pending].status == "pending"
    # Idempotent; and the young one's turn comes.
    assert (await maintenance.run(app.state.sessionmaker, app.state.settings))[
        "mail_copies_redacted"
    ] == 0
    later = utcnow() + timedelta(days=2)
    assert (await maintenance.run(app.state.sessionmaker, app.state.settings, now=later))[
        "mail_copies_redacted"
    ] == 1
