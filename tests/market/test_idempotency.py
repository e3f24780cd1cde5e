"""Idempotency keys (API.md, Release 2): a creating request repeated with the same key within
24 hours creates nothing and answers as the first did; the pages send a key with each form.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from market import maintenance
from market.conversations.models import Message
from market.db import make_sessionmaker, utcnow
from market.idempotency import IdempotencyKey
from market.organisations.models import Application
from market.posts.models import Post
from market.vetting.models import Report
from tests.factories import make_user, post_body
from tests.market.conversations.helpers import connected_match
from tests.market.organisations.helpers import posting, volunteer
from tests.pages import browser, csrf


async def _count(app: Any, model: Any, *where: Any) -> int:
    async with make_sessionmaker(app.state.engine)() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": name}


async def test_a_message_sent_twice_with_one_key_is_stored_once(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, _seeker, _match, conversation = await connected_match(client, app)
    url = f"/api/v1/conversations/{conversation}/messages"
    headers = vol.headers | _key("tap-1")
    # A double tap: both copies at the same instant.
    first, second = await asyncio.gather(
        client.post(url, headers=headers, json={"body": "Hallo, passt Dienstag?"}),
        client.post(url, headers=headers, json={"body": "Hallo, passt Dienstag?"}),
    )
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    assert first.json() == second.json()
    # A retry later (the answer was lost on the way): the same answer again.
    third = await client.post(url, headers=headers, json={"body": "Hallo, passt Dienstag?"})
    assert third.status_code == 201 and third.json() == first.json()
    assert third.headers["content-type"].startswith("application/json")
    assert await _count(app, Message, Message.conversation_id == conversation) == 1

    # Another key is another message; no key at all, too.
    r = await client.post(url, headers=vol.headers | _key("tap-2"), json={"body": "Noch was"})
    assert r.status_code == 201 and r.json()["id"] != first.json()["id"]
    r = await client.post(url, headers=vol.headers, json={"body": "Noch was"})
    assert r.status_code == 201
    assert await _count(app, Message, Message.conversation_id == conversation) == 3


async def test_posts_reports_and_applications_are_created_once_per_key(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    body = post_body(title="Begleitung zur Ausländerbehörde")
    answers = await asyncio.gather(
        *(
            client.post("/api/v1/posts", headers=seeker.headers | _key("post-1"), json=body)
            for _ in "abc"
        )
    )
    assert {r.status_code for r in answers} == {201}
    assert len({r.text for r in answers}) == 1
    assert await _count(app, Post, Post.author_id == seeker.id) == 1
    post_id = answers[0].json()["id"]

    report = {"target_type": "post", "target_id": post_id, "reason": "Werbung"}
    answers = await asyncio.gather(
        *(
            client.post("/api/v1/reports", headers=seeker.headers | _key("rep-1"), json=report)
            for _ in "ab"
        )
    )
    assert [r.status_code for r in answers] == [201, 201] and answers[0].text == answers[1].text
    assert await _count(app, Report, Report.reporter_id == seeker.id) == 1

    member = await make_user(app, client, "organisation")
    programme = await posting(client, member, seats=3)
    vol = await volunteer(app, client)
    url = f"/api/v1/posts/{programme['id']}/applications"
    answers = await asyncio.gather(
        *(
            client.post(url, headers=vol.headers | _key("app-1"), json={"message": "Gern"})
            for _ in "ab"
        )
    )
    assert [r.status_code for r in answers] == [201, 201] and answers[0].text == answers[1].text
    assert await _count(app, Application, Application.volunteer_id == vol.id) == 1


async def test_the_same_key_with_another_request_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    headers = seeker.headers | _key("k-1")
    r = await client.post("/api/v1/posts", headers=headers, json=post_body(title="Erster Titel"))
    assert r.status_code == 201
    r = await client.post("/api/v1/posts", headers=headers, json=post_body(title="Zweiter Titel"))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await _count(app, Post, Post.author_id == seeker.id) == 1

    # A key is the caller's own: another person's same key is another request.
    other = await make_user(app, client, "seeker")
    r = await client.post("/api/v1/posts", headers=other.headers | _key("k-1"), json=post_body())
    assert r.status_code == 201
    assert await _count(app, Post, Post.author_id == other.id) == 1

    for bad in ("", "x" * 256, "two words"):
        r = await client.post(
            "/api/v1/posts", headers=seeker.headers | {"Idempotency-Key": bad}, json=post_body()
        )
        assert r.status_code == 422, (bad, r.text)
    assert await _count(app, Post, Post.author_id == seeker.id) == 1


async def test_a_refused_request_keeps_nothing_so_its_correction_runs(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    headers = seeker.headers | _key("fix-1")
    r = await client.post("/api/v1/posts", headers=headers, json=post_body(title="x"))
    assert r.status_code == 422
    assert await _count(app, IdempotencyKey, IdempotencyKey.user_id == seeker.id) == 0
    r = await client.post("/api/v1/posts", headers=headers, json=post_body(title="x"))
    assert r.status_code == 422  # refused again, not answered from a store


async def test_keys_live_24_hours_and_maintenance_deletes_them(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    headers = seeker.headers | _key("day-1")
    body = post_body()
    assert (await client.post("/api/v1/posts", headers=headers, json=body)).status_code == 201
    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        await session.execute(
            update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=23))
        )
    r = await client.post("/api/v1/posts", headers=headers, json=body)
    assert r.status_code == 201 and r.headers.get("idempotent-replayed") == "true"
    assert await _count(app, Post, Post.author_id == seeker.id) == 1

    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        await session.execute(
            update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25))
        )
    counts = await maintenance.run(app.state.sessionmaker, app.state.settings)
    assert counts["idempotency_keys_deleted"] == 1
    assert await _count(app, IdempotencyKey) == 0
    # After a day the key is free again: the same request creates a second post.
    assert (await client.post("/api/v1/posts", headers=headers, json=body)).status_code == 201
    assert await _count(app, Post, Post.author_id == seeker.id) == 2


async def test_a_double_submitted_message_form_stores_one_message(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, _seeker, match, conversation = await connected_match(client, app)
    async with browser(app, vol) as page:
        form_page = await page.get(f"/matches/{match}")
        assert form_page.status_code == 200
        found = re.search(r'name="idempotency_key" value="([^"]+)"', form_page.text)
        assert found, "the message form carries a key"
        again = await page.get(f"/matches/{match}")
        assert found.group(1) not in again.text  # a fresh key each time the form is drawn
        data = {
            "csrf_token": csrf(form_page.text),
            "idempotency_key": found.group(1),
            "body": "Ich bin am Dienstag um 10 Uhr da.",
        }
        url = f"/matches/{match}/messages"
        first, second = await asyncio.gather(page.post(url, data=data), page.post(url, data=data))
        assert first.status_code == second.status_code == 303
        assert first.headers["location"] == second.headers["location"]
        assert await _count(app, Message, Message.conversation_id == conversation) == 1

        # The same key with other words is refused with a page, and stores nothing.
        r = await page.post(url, data=data | {"body": "Doch lieber Mittwoch."})
        assert r.status_code == 422 and "text/html" in r.headers["content-type"]
        assert await _count(app, Message, Message.conversation_id == conversation) == 1


async def test_every_creating_form_carries_a_key(client: httpx.AsyncClient, app: Any) -> None:
    member = await make_user(app, client, "organisation")
    programme = await posting(client, member, seats=2)
    vol = await volunteer(app, client)
    async with browser(app, vol) as page:
        for url in ("/posts/new", f"/posts/{programme['id']}/apply"):
            r = await page.get(url)
            assert r.status_code == 200, url
            assert 'name="idempotency_key"' in r.text, url
