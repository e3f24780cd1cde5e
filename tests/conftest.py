"""Test fixtures: a real database (PostgreSQL or SQLite file), the app, an SMTP server on loopback.

ANLAUF_TEST_DATABASE_URL chooses the database: a postgresql+asyncpg:// URL (a fresh database is
created for the run and dropped afterwards) or, when unset, a SQLite file in a temp folder.
The schema comes from the Alembic migrations, so every run also proves that they work.
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

import market.models  # noqa: F401
from market.app import create_app
from market.db import Base, make_engine, make_sessionmaker
from market.migrate import upgrade
from market.settings import Settings
from tests.smtp import SmtpServer

# With pytest-xdist, each worker takes its own Redis database from ANLAUF_TEST_REDIS_DBS
# (comma-separated numbers, one per worker): tests flush and watch their Redis database as if
# it were theirs alone. Set before any test module reads ANLAUF_TEST_REDIS_URL.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _WORKER and os.environ.get("ANLAUF_TEST_REDIS_URL") and os.environ.get("ANLAUF_TEST_REDIS_DBS"):
    _dbs = os.environ["ANLAUF_TEST_REDIS_DBS"].split(",")
    _index = int(_WORKER.removeprefix("gw"))
    if _index >= len(_dbs):
        raise RuntimeError(
            f"ANLAUF_TEST_REDIS_DBS names {len(_dbs)} databases; {_WORKER} needs one"
        )
    _base = os.environ["ANLAUF_TEST_REDIS_URL"].rsplit("/", 1)[0]
    os.environ["ANLAUF_TEST_REDIS_URL"] = f"{_base}/{_dbs[_index].strip()}"

PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"

# scripts/test.sh runs the suite twice, on PostgreSQL and on SQLite, side by side on two cores.
# Some tests check nothing that depends on the database: those that touch none, and the browser
# tests of tests/e2e (what Chromium shows, its layout, keyboard use, accessibility and console;
# the same pages' answers on both databases are checked by the tests of their features). With
# ANLAUF_TEST_DATABASE_TESTS_ONLY=1, which scripts/test.sh sets for the PostgreSQL run, these
# are left out there, so they run once, in the SQLite run, not twice. A test touches a database
# when it uses one of the database fixtures or when its module reads the database URL itself.
_DATABASE_FIXTURES = frozenset({"database_url", "notif_db_url"})
_DATABASE_MARKS = ("ANLAUF_TEST_DATABASE_URL", "ON_POSTGRES", "is_postgres", "TEST_DB_ENV")
_BROWSER_TESTS = Path(__file__).parent / "e2e"


def depends_on_the_database(item: pytest.Item, sources: dict[Path, str]) -> bool:
    if _BROWSER_TESTS in item.path.parents:
        return False
    if _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    if item.path not in sources:
        sources[item.path] = item.path.read_text(encoding="utf-8")
    return any(mark in sources[item.path] for mark in _DATABASE_MARKS)


# The files that take longest (half a minute to four minutes each on the CI machine), longest
# first. pytest-xdist (--dist loadfile) hands files to its workers in the order of the
# collection: these go first, so that no worker is left running one of them alone at the end.
_LONGEST_FIRST = (
    "notifications/test_faults.py",
    "e2e/test_axe_pages.py",
    "market/test_follow_done_when.py",
    "e2e/test_followthrough_pages.py",
    "e2e/test_lighthouse.py",
    "market/matches/test_topk.py",
    "e2e/test_console.py",
    "market/test_tick.py",
    "notifications/test_arq_worker.py",
    "market/matches/test_followthrough.py",
    "market/test_access_matrix_orgs.py",
    "market/test_retention.py",
    "e2e/test_long_word_pages.py",
    "market/test_serve_workers.py",
)


def _longest_first(item: pytest.Item) -> int:
    relative = item.path.relative_to(Path(__file__).parent).as_posix()
    return _LONGEST_FIRST.index(relative) if relative in _LONGEST_FIRST else len(_LONGEST_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_longest_first)  # stable: the rest keep their order
    if os.environ.get("ANLAUF_TEST_DATABASE_TESTS_ONLY") != "1":
        return
    sources: dict[Path, str] = {}
    keep = [item for item in items if depends_on_the_database(item, sources)]
    if len(keep) < len(items):
        kept = set(keep)
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = keep


def _database_url(tmp_root: Path) -> tuple[str, str | None]:
    wanted = os.environ.get("ANLAUF_TEST_DATABASE_URL", "")
    if wanted.startswith("postgresql"):
        name = f"anlauf_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        return str(make_url(wanted).set(database=name)), name
    return f"sqlite+aiosqlite:///{tmp_root / 'test.db'}", None


async def _pg(sql: str, admin_url: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url, pg_name = _database_url(tmp_path_factory.mktemp("db"))
    admin = str(make_url(url).set(database="postgres")) if pg_name else None
    if pg_name and admin:
        asyncio.run(_pg(f'CREATE DATABASE "{pg_name}"', admin))
    upgrade(url)
    yield url
    if pg_name and admin:
        asyncio.run(_pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)', admin))


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server: SmtpServer) -> SmtpServer:
    smtp_server.clear()
    return smtp_server


@pytest.fixture
def settings(database_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        redis_url=None,
        smtp_url=f"smtp://127.0.0.1:{smtp_server.port}",
        base_url="http://testserver",
        secret_key="test-secret-" + secrets.token_hex(8),
        rate_limit_enabled=False,
        instance_dir=tmp_path / "instance",
        outbox_dir=tmp_path / "outbox",
        argon2_memory_kib=19 * 1024,
        argon2_time_cost=2,
        relay_interval_seconds=0.5,
        # Off for the suite (tests change rows directly, without the events that invalidate it);
        # tests/market/test_pagecache.py switches it on.
        public_cache_seconds=0,
    )


async def _truncate(database_url: str) -> None:
    for attempt in range(4):
        try:
            await _truncate_once(database_url)
            return
        except OperationalError as exc:
            # SQLite: a connection of the previous test's app whose task was cancelled mid-
            # transaction (its periodic rules at shutdown) can keep the write lock until it is
            # collected; collect it and try again rather than fail an unrelated test.
            if "database is locked" not in str(exc) or attempt == 3:
                raise
            gc.collect()
            await asyncio.sleep(1)


# Emptying PostgreSQL's tables one DELETE each, children first, and restarting their sequences,
# as TRUNCATE ... RESTART IDENTITY did: TRUNCATE gives each of the 41 tables new files, about
# 90 ms a test even when nothing was written, a fifth of the PostgreSQL run; the DELETEs of a
# test's few rows take about 7 ms. One statement, so one round trip.
_EMPTY_POSTGRESQL = (
    "DO $$DECLARE s record; BEGIN "
    + "".join(f"DELETE FROM {t.name}; " for t in reversed(Base.metadata.sorted_tables))
    + "FOR s IN SELECT c.oid::regclass AS seq FROM pg_class c WHERE c.relkind = 'S' "
    "AND c.relnamespace = 'public'::regnamespace LOOP PERFORM setval(s.seq, 1, false); "
    "END LOOP; END$$"
)


async def _truncate_once(database_url: str) -> None:
    engine = make_engine(database_url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text(_EMPTY_POSTGRESQL))
            else:
                for name in tables:
                    await conn.execute(text(f"DELETE FROM {name}"))
    finally:
        await engine.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    await _truncate(settings.database_url)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def session(app: Any) -> AsyncIterator[AsyncSession]:
    """A session of its own, for arranging data and checking what the app stored."""
    async with make_sessionmaker(app.state.engine, app.state.settings)() as s:
        yield s


def token_from(mail_text: str) -> str:
    found = re.search(r"token=([A-Za-z0-9_\-]+)", mail_text)
    assert found, mail_text
    return found.group(1)
