"""Live updates: the server-sent events stream, after-commit publishing, several web processes.

The stream is read from a real HTTP server (uvicorn on loopback), because an in-memory ASGI
transport waits for a response to finish, and an event stream does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from market.app import create_app
from market.settings import Settings
from notifications.inapp import notify
from notifications.live import BROKER_KEY, Broker
from notifications.models import Notification
from tests.factories import PASSWORD, Actor, make_user
from tests.market.conversations.helpers import connected_match, write
from tests.smtp import free_port

REDIS_URL = os.environ.get("ANLAUF_TEST_REDIS_URL") or "redis://127.0.0.1:6379/6"


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """The app on a real loopback port (its lifespan is run by whoever made it)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True  # open streams do not hold the test up
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)


async def logged_in(base_url: str, actor: Actor) -> httpx.AsyncClient:
    c = httpx.AsyncClient(base_url=base_url, timeout=10)
    page = await c.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    r = await c.post(
        "/login", data={"csrf_token": token.group(1), "email": actor.email, "password": PASSWORD}
    )
    assert r.status_code == 303, r.text
    return c


class EventReader:
    """Parses a text/event-stream response into (event, data) pairs."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()
        self.retry: int | None = None

    async def next(self, timeout: float = 10.0) -> tuple[str, dict[str, Any]]:
        event, data = "message", ""
        async with asyncio.timeout(timeout):
            async for line in self.lines:
                if line.startswith("retry:"):
                    self.retry = int(line[6:].strip())
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    return event, json.loads(data)
        raise AssertionError("the stream ended")

    async def until(self, wanted: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event, data = await self.next(max(0.1, deadline - time.monotonic()))
            if event == wanted:
                return data


async def test_stream_pushes_new_notifications_and_the_count(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, seeker, match_id, cid = await connected_match(client, app, seeker_locale="en")
    async with serve(app) as base:
        browser = await logged_in(base, seeker)
        try:
            async with browser.stream("GET", "/notifications/stream") as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                assert response.headers["cache-control"] == "no-cache"
                events = EventReader(response)
                first = await events.until("count")
                assert first == {"unread": 2, "label": "2 unread"}
                assert events.retry == 5000

                # The stream holds no database connection while it waits (the request's session
                # was closed after the login check).
                samples = []
                for _ in range(10):
                    samples.append(app.state.engine.pool.checkedout())
                    await asyncio.sleep(0.05)
                assert min(samples) == 0, samples

                assert (await write(client, vol, cid, "Hallo!")).status_code == 201
                note = await events.until("notification")
                assert note["kind"] == "message.new"
                assert note["text"] == "New message from Vera Volunteer"
                assert note["url"].startswith("/notifications/") and note["url"].endswith("/open")
                assert (await events.until("count"))["unread"] == 3

                # Reading elsewhere (another tab, the app) lowers the count here.
                r = await client.post("/api/v1/notifications/read-all", headers=seeker.headers)
                assert r.status_code == 200
                assert (await events.until("count")) == {"unread": 0, "label": "0 unread"}

                # Somebody else's news never reaches this stream.
                assert (await write(client, seeker, cid, "Hi!")).status_code == 201
                with pytest.raises(TimeoutError):
                    await events.until("notification", timeout=1.0)
        finally:
            await browser.aclose()
        async with httpx.AsyncClient(base_url=base) as anonymous:
            r = await anonymous.get("/notifications/stream")
            assert r.status_code == 401
    _ = match_id


async def test_nothing_is_published_for_a_rolled_back_transaction(
    app: Any, client: httpx.AsyncClient
) -> None:
    user = await make_user(app, client, "seeker")
    broker: Broker = app.state.live
    await asyncio.wait_for(broker.wait_ready(), 10)
    queue = broker.subscribe(user.id)
    try:
        maker = app.state.sessionmaker
        async with maker() as session:
            assert session.info[BROKER_KEY] is broker
            await notify(session, user_id=user.id, kind="match.proposed", data={})
            await session.rollback()
        async with maker() as session:
            note = await notify(session, user_id=user.id, kind="match.proposed", data={})
            await asyncio.sleep(0.3)
            assert queue.empty()  # flushed, not committed: not yet
            await session.commit()
        item = await asyncio.wait_for(queue.get(), 5)
        assert item == {"user_id": user.id, "type": "notification", "notification_id": note.id}
        await asyncio.sleep(0.3)
        assert queue.empty()  # the rolled-back one never came
        async with maker() as session:
            rows = list(
                await session.scalars(
                    select(Notification.id).where(Notification.user_id == user.id)
                )
            )
        assert rows == [note.id]
    finally:
        broker.unsubscribe(user.id, queue)


async def _redis_or_skip(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        await client.ping()
    except Exception as exc:
        pytest.skip(f"Redis not reachable at {url}: {exc}")
    finally:
        await client.aclose()


@pytest.mark.parametrize("transport", ["redis", "postgresql"])
async def test_events_travel_between_web_processes(
    transport: str, settings: Settings, is_postgres: bool, client: httpx.AsyncClient, app: Any
) -> None:
    """Two app instances (as two `anlauf serve` processes would be) on one database: a message
    written through one reaches the stream served by the other."""
    if transport == "redis":
        await _redis_or_skip(REDIS_URL)
        shared = settings.model_copy(update={"redis_url": REDIS_URL})
    else:
        if not is_postgres:
            pytest.skip("LISTEN/NOTIFY needs PostgreSQL (ANLAUF_TEST_DATABASE_URL)")
        shared = settings
    vol, seeker, _match_id, cid = await connected_match(client, app, seeker_locale="en")
    web1, web2 = create_app(shared), create_app(shared)
    async with web1.router.lifespan_context(web1), web2.router.lifespan_context(web2):
        assert web1.state.live.kind == web2.state.live.kind == transport
        for web in (web1, web2):
            await asyncio.wait_for(web.state.live.wait_ready(), 10)
        async with serve(web1) as base:
            browser = await logged_in(base, seeker)
            try:
                async with browser.stream("GET", "/notifications/stream") as response:
                    events = EventReader(response)
                    await events.until("count")
                    other = httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=web2), base_url="http://testserver"
                    )
                    async with other:
                        r = await write(other, vol, cid, "Über den anderen Server")
                        assert r.status_code == 201
                    note = await events.until("notification")
                    assert note["text"] == "New message from Vera Volunteer"
                    assert (await events.until("count"))["unread"] >= 1
            finally:
                await browser.aclose()
