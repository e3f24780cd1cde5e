"""What a request costs the database: promises kept so that public pages stay cheap.

- An anonymous GET of a public page sends only its SELECTs: on PostgreSQL outside a
  transaction (no BEGIN, no ROLLBACK) and without a ping per pooled connection; the start page
  asks one statement (its cards with their languages), a post page two at most (the post with
  its languages, its author's shown name).
- Such a request cannot write: a write raises instead of being stored piecemeal.
- Signed-in requests keep their one transaction; /my/posts asks three statements.
- A pooled connection the server closed is replaced before use (what pool_pre_ping did with
  three round trips per request).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from market.db import ReadOnlyViolation, for_reading, for_writing, make_engine, request_session
from market.posts.models import Post
from tests.factories import make_user, post_body
from tests.pages import login


@contextmanager
def statements() -> Iterator[list[tuple[str, str | None]]]:
    """(SQL, isolation level the connection ran it with) of every statement sent meanwhile."""
    seen: list[tuple[str, str | None]] = []

    def note(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append((statement, conn.get_execution_options().get("isolation_level")))

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", note)


async def _published(app: Any, client: httpx.AsyncClient) -> tuple[Any, str]:
    seeker = await make_user(app, client, "seeker")
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    assert r.status_code == 201 and r.json()["status"] == "published", r.text
    return seeker, str(r.json()["id"])


async def _quietest(client: httpx.AsyncClient, path: str) -> list[tuple[str, str | None]]:
    """The statements of the quietest of a few tries: jobs of the publication (the outbox
    relay, the matcher) run beside the request and are counted by the same listener."""
    tries = []
    for _ in range(5):
        with statements() as seen:
            r = await client.get(path)
        assert r.status_code == 200, (path, r.text)
        tries.append(seen)
        await asyncio.sleep(0.1)
    return min(tries, key=len)


def visitor(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_public_pages_ask_few_statements_outside_a_transaction(
    app: Any, client: httpx.AsyncClient, is_postgres: bool
) -> None:
    _seeker, post_id = await _published(app, client)
    async with visitor(app) as anonymous:
        for path, most in (("/", 1), (f"/posts/{post_id}", 2), ("/api/v1/posts", 3)):
            seen = await _quietest(anonymous, path)
            sql = [s for s, _ in seen]
            assert 1 <= len(sql) <= most, (path, sql)
            assert all(s.lstrip().upper().startswith("SELECT") for s in sql), (path, sql)
            if is_postgres:
                # No transaction: each SELECT on its own, no BEGIN/ROLLBACK round trips.
                assert {level for _, level in seen} == {"AUTOCOMMIT"}, (path, seen)


async def test_signed_in_pages_keep_their_transaction(app: Any, client: httpx.AsyncClient) -> None:
    seeker, _post_id = await _published(app, client)
    r = await login(client, seeker.email)
    assert r.status_code == 303, r.text
    with statements() as seen:
        r = await client.get("/my/posts")
    assert r.status_code == 200, r.text
    assert seen and all(level != "AUTOCOMMIT" for _, level in seen), seen
    # Three SELECTs: the caller (session, user, the user's languages and the header's unread
    # count), the caller's memberships, the cards with their languages.
    selects = [s for s, _ in await _quietest(client, "/my/posts") if "SELECT" in s.upper()]
    assert len(selects) == 3, selects


async def test_a_public_read_cannot_write(app: Any, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("on SQLite a public read keeps the ordinary transaction (nothing to save)")
    session = request_session(app.state.sessionmaker, "GET", public_read=True)
    try:
        assert (await session.execute(text("SELECT 1"))).scalar() == 1
        session.add(Post(title="x"))
        with pytest.raises(ReadOnlyViolation):
            await session.flush()
        await session.rollback()
        with pytest.raises(ReadOnlyViolation):
            await session.execute(Post.__table__.delete())
    finally:
        await session.close()


async def test_a_connection_the_server_closed_is_replaced_before_use(
    database_url: str, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("SQLite has no server that closes connections")
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        # The one pooled connection is ended by the server (as a restart does).
        admin = make_engine(database_url)
        try:
            async with admin.connect() as conn:
                await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        finally:
            await admin.dispose()
        for _ in range(50):  # asyncpg notices the closed socket on the event loop
            await asyncio.sleep(0.02)
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await engine.dispose()


async def test_writes_started_from_a_public_read_get_a_transaction(
    app: Any, is_postgres: bool
) -> None:
    """A page that stores something in a session of its own (machine translations) starts from
    its request's engine: for_writing gives back the ordinary one, never the autocommit one."""
    engine = app.state.engine
    reader = for_reading(engine)
    if is_postgres:
        assert reader is not engine
        assert reader.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    writer = for_writing(reader)
    assert writer.get_execution_options().get("isolation_level") != "AUTOCOMMIT"
    assert writer.sync_engine.pool is engine.sync_engine.pool
