"""Closing a post proposes its partners to others in an outbox job, not inside the request."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from market.matches import rematch, services
from notifications.models import OutboxItem
from tests.factories import make_user, post_body


async def test_closing_a_post_rematches_its_partners_in_a_job(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker")
    r = await client.post("/api/v1/posts", headers=volunteer.headers, json=post_body(kind="offer"))
    assert r.status_code == 201, r.text
    offer_id = r.json()["id"]
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    assert r.status_code == 201, r.text
    need_id = r.json()["id"]
    (match,) = (await client.get("/api/v1/matches", headers=seeker.headers)).json()["items"]
    assert match["status"] == "proposed"

    # Who matches the partner again, and in which task: the request runs in this test's task.
    calls: list[tuple[str, asyncio.Task[Any] | None]] = []
    original = services.match_post

    async def recording(session: Any, settings: Any, post: Any, *args: Any) -> Any:
        calls.append((post.id, asyncio.current_task()))
        return await original(session, settings, post, *args)

    monkeypatch.setattr(rematch, "match_post", recording)
    monkeypatch.setattr(services, "match_post", recording)
    request_task = asyncio.current_task()
    r = await client.post(f"/api/v1/posts/{need_id}/close", headers=seeker.headers)
    assert r.status_code == 200, r.text
    assert not [c for c in calls if c[1] is request_task], "matched inside the request"

    async with app.state.sessionmaker() as session:
        (job,) = (
            await session.execute(select(OutboxItem).where(OutboxItem.job == "matches.rematch"))
        ).scalars()
        assert job.payload == {"post_ids": [offer_id]}
    await app.state.relay.drain()
    async with app.state.sessionmaker() as session:
        job = await session.get(OutboxItem, job.id)
        assert job is not None and job.status == "done"
    assert [post_id for post_id, _ in calls] == [offer_id]


async def test_closing_a_post_without_proposals_queues_nothing(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    need_id = r.json()["id"]
    r = await client.post(f"/api/v1/posts/{need_id}/close", headers=seeker.headers)
    assert r.status_code == 200, r.text
    async with app.state.sessionmaker() as session:
        found = (
            await session.execute(select(OutboxItem).where(OutboxItem.job == "matches.rematch"))
        ).all()
    assert found == []
