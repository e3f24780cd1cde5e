"""Fixtures for notifications: a database made with create_all, an SMTP catcher, Redis db 5.

ANLAUF_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/<db> runs on PostgreSQL
(a fresh database `anlauf_notif_<pid>_<hex>` is created next to <db> and dropped afterwards);
unset, a SQLite file in a temp folder is used.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, String, Table, delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from market.db import Base, make_engine, make_sessionmaker
from market.settings import Settings
from notifications.models import FailingAddress, Notification, OutboxItem
from notifications.outbox import JobContext, RetryPolicy
from tests.smtp import SmtpServer

try:  # the whole schema, users included
    import market.models  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - before market.models existed
    if exc.name != "market.models":
        raise
if "users" not in Base.metadata.tables:  # pragma: no cover
    Table("users", Base.metadata, Column("id", String(32), primary_key=True))

TEST_DB_ENV = os.environ.get("ANLAUF_TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DB_ENV.startswith("postgresql")
requires_postgres = pytest.mark.skipif(
    not ON_POSTGRES,
    reason="needs PostgreSQL (row locks across processes, arq worker processes); "
    "set ANLAUF_TEST_DATABASE_URL=postgresql+asyncpg://...",
)
REDIS_URL = os.environ.get("ANLAUF_TEST_REDIS_URL") or "redis://127.0.0.1:6379/5"

FAST_RETRY = RetryPolicy(
    max_attempts=4,
    base_seconds=0.2,
    cap_seconds=1.0,
    jitter=0.0,
    mark_done_delays=(0.05, 0.1, 0.2),
)


async def _admin(sql: str, admin_url: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@pytest.fixture(scope="session")
def notif_db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not ON_POSTGRES:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('notif-db') / 'test.db'}"
        return
    name = f"anlauf_notif_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = make_url(TEST_DB_ENV)
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    asyncio.run(_admin(f'CREATE DATABASE "{name}"', admin))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin))


@pytest.fixture(scope="session")
async def notif_engine(notif_db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(notif_db_url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sm(notif_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A sessionmaker on clean notification tables."""
    maker = make_sessionmaker(notif_engine)
    async with maker() as session, session.begin():
        for model in (Notification, OutboxItem, FailingAddress):
            await session.execute(delete(model))
    return maker


@pytest.fixture
def mail_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def notif_settings(notif_db_url: str, mail_server: SmtpServer, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=notif_db_url,
        redis_url=None,
        smtp_url=mail_server.url,
        mail_from="Anlauf <noreply@anlauf.test>",
        base_url="http://anlauf.test",
        secret_key="test-" + secrets.token_hex(8),
        instance_dir=tmp_path / "instance",
        outbox_dir=tmp_path / "outbox",
        relay_interval_seconds=0.2,
    )


@pytest.fixture
def ctx(sm: async_sessionmaker[AsyncSession], notif_settings: Settings) -> JobContext:
    return JobContext.create(sm, notif_settings, retry=FAST_RETRY)


@pytest.fixture
async def redis_db5() -> AsyncIterator[str]:
    """Redis database 5, emptied before and after the test; skips when Redis is not running."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    await client.flushdb()
    yield REDIS_URL
    await client.flushdb()
    await client.aclose()
