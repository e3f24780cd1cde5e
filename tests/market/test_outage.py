"""The database goes away: every answer is 503 with Retry-After; it comes back: service returns.

API.md, Release 2: "While the database cannot be reached, every request answers 503 with
`Retry-After`; `/healthz` answers 503 `{"status": "unavailable"}`. It answers 200 again, without a
restart, once the database is back."

Tried from outside: a private, throwaway PostgreSQL cluster (never the shared server), a real
uvicorn server on loopback running the app on it, clients over HTTP. The cluster is stopped at
the moment a request commits (so the commit itself fails), requests of every kind are sent while
it is down, then it is started again and the same server is expected to serve, its outbox relay
to send mail and its live-update listener to listen again. SQLite has no server to stop: there
the database file cannot be opened (its folder is missing), then it is there.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from market.app import create_app
from market.db import make_engine, make_sessionmaker
from market.migrate import upgrade_async
from market.posts.models import Post
from market.settings import Settings
from tests.factories import PASSWORD, make_user, post_body
from tests.market.server import ServerThread
from tests.notifications.procs import PostgresCluster
from tests.smtp import SmtpServer

needs_postgres = pytest.mark.skipif(
    not os.environ.get("ANLAUF_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="the outage test stops a PostgreSQL server of its own; SQLite has no server to stop",
)


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    pg = PostgresCluster()
    pg.init()
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
        pg.remove()


async def _database_on(pg: PostgresCluster) -> str:
    admin = create_async_engine(pg.url(), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text('CREATE DATABASE "anlauf"'))
    await admin.dispose()
    url = pg.url("anlauf")
    await upgrade_async(url)
    return url


class CommitBreaker:
    """Stops the cluster at the instant the request that inserts a post commits: the COMMIT
    itself meets a dead connection (the worst moment, for the client and for the data)."""

    def __init__(self, engine: Any, pg: PostgresCluster) -> None:
        self.pg = pg
        self.armed = False
        self.fired = False
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._note)
        event.listen(sync, "commit", self._commit)

    def _note(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO POSTS"):
            conn.info["wrote_post"] = True

    def _commit(self, conn: Any) -> None:
        if conn.info.pop("wrote_post", False) and self.armed and not self.fired:
            self.fired = True
            self.pg.stop()  # pg_ctl -m immediate: every connection is cut


def _unavailable(r: httpx.Response) -> str | None:
    """None when `r` is the promised 503, else what is wrong with it."""
    if r.status_code != 503:
        return f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text[:200]}"
    if not r.headers.get("retry-after", "").isdigit():
        return f"{r.request.method} {r.request.url.path}: no Retry-After"
    return None


@needs_postgres
async def test_database_outage_answers_503_and_service_returns_by_itself(
    cluster: PostgresCluster, settings: Settings, mailbox: SmtpServer
) -> None:
    url = await _database_on(cluster)
    settings = settings.model_copy(update={"database_url": url})
    own_engine = make_engine(url)
    # make_user only needs an engine and the settings from an "app".
    arranger = SimpleNamespace(state=SimpleNamespace(engine=own_engine, settings=settings))
    served = create_app(settings)

    with ServerThread(served) as server:
        breaker = CommitBreaker(served.state.engine, cluster)
        api = httpx.AsyncClient(base_url=server.url, timeout=30)
        page = httpx.AsyncClient(base_url=server.url, timeout=30, headers={"Accept-Language": "de"})
        try:
            seeker = await make_user(arranger, api, "seeker")
            # A browser session too, so that pages of a signed-in person are asked for.
            login = await page.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
            assert csrf, login.text[:300]
            r = await page.post(
                "/login",
                data={"csrf_token": csrf.group(1), "email": seeker.email, "password": PASSWORD},
            )
            assert r.status_code == 303, r.text
            assert (await page.get("/my/posts")).status_code == 200
            assert (await api.get("/healthz")).json() == {"status": "ok"}

            # 1. The database dies while a post is being committed: 503, and nothing is stored.
            breaker.armed = True
            r = await api.post(
                "/api/v1/posts", headers=seeker.headers, json=post_body(title="Beim Commit")
            )
            assert breaker.fired
            assert _unavailable(r) is None, _unavailable(r)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["status"] == 503

            # 2. While it is down: every answer, page or API, is 503 with Retry-After.
            outage = [
                ("GET", "/healthz", api, {}),
                ("GET", "/api/v1/me", api, seeker.headers),
                ("GET", "/api/v1/posts?lat=51.34&lon=12.37", api, seeker.headers),
                ("POST", "/api/v1/posts", api, seeker.headers),
                ("PATCH", "/api/v1/me", api, seeker.headers),
                ("GET", "/api/v1/notifications", api, seeker.headers),
                ("GET", "/posts", page, {}),
                ("GET", "/my/posts", page, {}),
                ("GET", "/", page, {}),
            ]
            wrong: list[str] = []
            answered = 0
            for _round in range(3):
                for method, path, c, headers in outage:
                    body = (
                        {"json": post_body()}
                        if path == "/api/v1/posts" and method == "POST"
                        else ({"json": {"display_name": "X"}} if method == "PATCH" else {})
                    )
                    r = await c.request(method, path, headers=headers, **body)
                    answered += 1
                    problem = _unavailable(r)
                    if problem:
                        wrong.append(problem)
                    elif path == "/healthz":
                        if r.json() != {"status": "unavailable"}:
                            wrong.append(f"healthz said {r.text}")
                    elif c is page and "Gleich wieder da" not in r.text:
                        wrong.append(f"{path}: not the friendly page: {r.text[:200]}")
                    elif c is api and r.headers["content-type"] != "application/problem+json":
                        wrong.append(f"{path}: not problem JSON")
                await asyncio.sleep(0.5)
            assert not wrong, wrong
            print(f"\noutage: {answered} requests, all 503 with Retry-After")

            # 3. The database is back: the same server serves again, no restart.
            started_at = time.monotonic()
            await asyncio.to_thread(cluster.start)
            ready_at = time.monotonic()
            while True:
                r = await api.get("/healthz")
                if r.status_code == 200:
                    break
                assert time.monotonic() - ready_at < 60, "healthz stayed 503 a minute after"
                await asyncio.sleep(0.1)
            back = time.monotonic()
            print(
                f"recovery: healthz 200 {back - ready_at:.2f} s after PostgreSQL accepted "
                f"connections again ({back - started_at:.2f} s after it was started)"
            )
            assert r.json() == {"status": "ok"}
            me = await api.get("/api/v1/me", headers=seeker.headers)
            assert me.status_code == 200, me.text
            r = await api.post(
                "/api/v1/posts", headers=seeker.headers, json=post_body(title="Danach")
            )
            assert r.status_code == 201, r.text
            assert (await page.get("/my/posts")).status_code == 200

            # What the failed commit and the outage's POSTs sent was not stored.
            async with make_sessionmaker(own_engine)() as session:
                titles = list(await session.scalars(select(Post.title)))
                assert titles == ["Danach"], titles

            # The outbox relay runs on: a registration's mail goes out.
            r = await api.post(
                "/api/v1/auth/register",
                json={
                    "email": "after@example.org",
                    "password": "ein langes Passwort 2027",
                    "display_name": "Nach dem Ausfall",
                    "role": "seeker",
                },
            )
            assert r.status_code == 202, r.text
            await mailbox.wait_for("after@example.org", timeout=30)

            # And the live-update listener listens again (it reconnects with a backoff).
            deadline = time.monotonic() + 60
            while not served.state.live._ready.is_set():
                assert time.monotonic() < deadline, "live updates never listened again"
                await asyncio.sleep(0.2)
            async with make_sessionmaker(own_engine)() as session:
                assert await session.scalar(select(func.count()).select_from(Post)) == 1
        finally:
            await api.aclose()
            await page.aclose()
            await own_engine.dispose()


async def test_sqlite_file_missing_answers_503_until_it_is_there(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "not-yet"
    url = f"sqlite+aiosqlite:///{folder / 'anlauf.db'}"
    served = create_app(settings.model_copy(update={"database_url": url}))
    with ServerThread(served) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
            answers = [
                await c.get("/healthz"),
                await c.get("/api/v1/posts?lat=51.34&lon=12.37"),
                await c.post(
                    "/api/v1/auth/register",
                    json={
                        "email": "a@example.org",
                        "password": "ein langes Passwort 2027",
                        "display_name": "Amal",
                        "role": "seeker",
                    },
                ),
                await c.get("/posts", headers={"Accept-Language": "ar"}),
                await c.get("/api/v1/me", headers={"Authorization": "Bearer nope"}),
            ]
            wrong = [p for p in map(_unavailable, answers) if p]
            assert not wrong, wrong
            assert answers[0].json() == {"status": "unavailable"}
            assert "سنعود بعد لحظات" in answers[3].text

            folder.mkdir()
            await upgrade_async(url)
            r = await c.get("/healthz")
            assert r.status_code == 200, r.text
            r = await c.get("/api/v1/posts?lat=51.34&lon=12.37")
            assert r.status_code == 200, r.text
