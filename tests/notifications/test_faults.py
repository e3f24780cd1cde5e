"""Fault tests: a batch of 1,000 notifications (in-app + mail) while something breaks.

Real parts throughout: PostgreSQL, Redis, the arq worker in a child process (`market.worker.run`,
what `anlauf worker` runs, with a 5 s job timeout), the outbox relay the web process runs, and
an aiosmtpd server. Each test prints and checks: mails expected, delivered (unique Message-IDs)
and duplicated.

(a) kill -9 of the worker mid-batch, then a new worker. A duplicate is possible only for a mail
    the SMTP server accepted in the instant before the kill, before the "done" commit (RFC 1047;
    see notifications.jobs); there are at most as many as jobs in flight (arq max_jobs). The
    worker runs with the shipped job timeout (60 s), so arq's own marker would hold the killed
    jobs for 70 s: everything arriving well before that shows the lease recovery at work.
(b) Redis stopped mid-batch (a private redis-server without persistence, so its queue is lost),
    more notifications written while it is down, then Redis back. The worker survives the
    outage (market.worker.run_until_stopped) and the relays re-hand what is still pending.
(c) PostgreSQL restarted (pg_ctl -m fast restart) mid-batch: a private, throwaway cluster.

The shared services are never stopped. On SQLite these tests are skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.db import Base, make_engine, make_sessionmaker
from market.settings import Settings
from market.worker import JOB_TIMEOUT_SECONDS, WorkerSettings
from notifications.outbox import Relay
from tests.notifications.conftest import ON_POSTGRES
from tests.notifications.procs import (
    PostgresCluster,
    RedisServer,
    Workers,
    kill_mid_batch,
    queue_notifications,
    relay_for,
    tally,
    wait_all_done,
    worker_env,
)
from tests.smtp import SmtpServer

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not ON_POSTGRES,
        reason="fault tests need PostgreSQL (row locks across worker processes); "
        "set ANLAUF_TEST_DATABASE_URL=postgresql+asyncpg://... (SQLite runs jobs in-process)",
    ),
]

BATCH = 1000
JOB_TIMEOUT = 5  # a killed worker's in-flight jobs are run again after this + 10 s


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    with Workers(tmp_path) as started:
        yield started


def _relay(
    sm: async_sessionmaker[AsyncSession], settings: Settings, **kwargs: object
) -> AbstractAsyncContextManager[Relay]:
    """The web process's relay (`procs.relay_for`); when it stops, its last kicks get 5 s."""
    return relay_for(sm, settings, stop_wait=5, **kwargs)


async def _arrived(server: SmtpServer, count: int, timeout: float) -> None:
    await server.wait_for_count(count, timeout=timeout)


def _report(line: str) -> None:
    print("\n" + line, flush=True)


async def test_a_kill_9_of_the_worker_mid_batch(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    redis_db5: str,
    mail_server: SmtpServer,
    workers: Workers,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    settings = notif_settings.model_copy(update={"redis_url": redis_db5})
    env = worker_env(
        database_url=settings.database_url,
        redis_url=redis_db5,
        smtp_url=mail_server.url,
        folder=tmp_path,
        job_timeout=JOB_TIMEOUT_SECONDS,
    )
    # 5 ms between the final "." and "250": mails are in the RFC 1047 window now and then.
    mail_server.delay = 0.005
    first = workers.spawn(env)
    async with _relay(sm, settings, interval=0.5) as relay:
        ids = await queue_notifications(sm, settings, BATCH, prefix="kill", relay=relay)
        await _arrived(mail_server, 300, timeout=60)
        kill = await kill_mid_batch(sm, first, mail_server, jitter=0.02)
        assert kill.received < BATCH, "the batch finished before the kill; nothing tested"

        workers.spawn(env)
        # Less than arq's marker of the killed jobs (JOB_TIMEOUT_SECONDS + 10 s) would allow.
        await wait_all_done(sm, BATCH, JOB_TIMEOUT_SECONDS - 5, workers, mail_server)

    result = tally(mail_server, ids)
    _report(
        result.line(
            "kill -9",
            f"; killed after {kill.received}/{BATCH} mails; in doubt at the kill "
            f"{len(kill.in_doubt)} (accepted {kill.doubt_ms} ms before it); jobs in flight at "
            f"most {WorkerSettings.max_jobs}; {time.monotonic() - started:.1f} s",
        )
    )
    assert result.delivered == BATCH, f"lost: {result.missing}"
    # Every duplicate is a mail that was in doubt at the kill, sent once more, and there can be
    # no more of those than the killed worker had jobs in flight.
    assert set(result.copies) <= kill.in_doubt, "a duplicate that was not in the crash window"
    assert all(n == 2 for n in result.copies.values())
    assert result.duplicated <= len(kill.in_doubt) <= WorkerSettings.max_jobs


async def test_b_redis_stopped_mid_batch_and_back(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    mail_server: SmtpServer,
    workers: Workers,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    redis = RedisServer(tmp_path)
    try:
        redis.start()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    try:
        settings = notif_settings.model_copy(update={"redis_url": redis.url})
        env = worker_env(
            database_url=settings.database_url,
            redis_url=redis.url,
            smtp_url=mail_server.url,
            folder=tmp_path,
            job_timeout=JOB_TIMEOUT,
        )
        mail_server.rcpt_delay = 0.005
        workers.spawn(env)
        # The web process's relay: a short grace so that it re-hands promptly after the outage.
        async with _relay(sm, settings, interval=0.5, grace=timedelta(seconds=1)) as relay:
            ids = await queue_notifications(sm, settings, BATCH, prefix="redis", relay=relay)
            await _arrived(mail_server, 300, timeout=60)
            redis.stop()  # its queue goes with it: nothing is persisted
            at_stop = len(mail_server.messages)
            # The web process keeps committing while Redis is down: its kicks fail, the rows wait.
            during = await queue_notifications(sm, settings, 200, prefix="during", relay=relay)
            await asyncio.sleep(5)
            during_outage = len(mail_server.messages)
            redis.start()
            total = ids + during
            await wait_all_done(sm, len(total), 100, workers, mail_server)
        result = tally(mail_server, total)
        _report(
            result.line(
                "Redis down ~6 s",
                f"; stopped after {at_stop}/{BATCH} mails, {during_outage - at_stop} more "
                f"arrived during the outage (jobs already running), 200 written during it; "
                f"worker survived: {workers[0].alive}; {time.monotonic() - started:.1f} s",
            )
        )
        assert result.delivered == result.expected == BATCH + 200, f"lost: {result.missing}"
        assert result.duplicated == 0, result.copies
        assert workers[0].alive, "the worker died with Redis:\n" + workers[0].tail()
        assert "lost Redis" in workers[0].log_path.read_text(errors="replace")
    finally:
        redis.stop()


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster()
        cluster.init()
        cluster.start()
    except Exception as exc:
        pytest.skip(f"cannot start a throwaway PostgreSQL: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
        cluster.remove()


async def test_c_postgresql_restarted_mid_batch(
    own_postgres: PostgresCluster,
    notif_settings: Settings,
    redis_db5: str,
    mail_server: SmtpServer,
    workers: Workers,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    url = own_postgres.url()
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sm = make_sessionmaker(engine)
    settings = notif_settings.model_copy(update={"database_url": url, "redis_url": redis_db5})
    env = worker_env(
        database_url=url,
        redis_url=redis_db5,
        smtp_url=mail_server.url,
        folder=tmp_path,
        job_timeout=JOB_TIMEOUT,
    )
    mail_server.rcpt_delay = 0.005
    try:
        workers.spawn(env)
        async with _relay(sm, settings, interval=0.5, grace=timedelta(seconds=1)) as relay:
            ids = await queue_notifications(sm, settings, BATCH, prefix="pg", relay=relay)
            await _arrived(mail_server, 300, timeout=60)
            restart_started = time.monotonic()
            await asyncio.to_thread(own_postgres.restart)
            restart_took = time.monotonic() - restart_started
            at_restart = len(mail_server.messages)
            await wait_all_done(sm, BATCH, 100, workers, mail_server)
        result = tally(mail_server, ids)
        log = "\n".join(w.log_path.read_text(errors="replace") for w in workers)
        failed_jobs = log.count("failed for outbox")  # notifications.outbox.run_job
        marked_late = log.count("marked done after a failed commit")
        _report(
            result.line(
                "PostgreSQL restart",
                f"; restarted (pg_ctl -m fast, {restart_took:.1f} s) when {at_restart}/{BATCH} "
                f"had arrived; jobs cut off by it {failed_jobs}, mails whose 'done' was "
                f"recorded after the restart {marked_late}; {time.monotonic() - started:.1f} s",
            )
        )
        assert result.delivered == BATCH, f"lost: {result.missing}"
        assert result.duplicated == 0, result.copies
    finally:
        await engine.dispose()
