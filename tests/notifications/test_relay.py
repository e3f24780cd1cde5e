"""The relay: in-process runner, sweep recovery, and handing rows to arq (without a worker)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from arq.connections import RedisSettings, create_pool
from arq.constants import default_queue_name, in_progress_key_prefix, job_key_prefix
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.settings import Settings
from notifications.mail import queue_mail
from notifications.models import OutboxItem
from notifications.outbox import JobContext, Relay, RetryPolicy, enqueue, pop_outbox_ids
from tests.notifications.procs import VERIFY, queue_mails, statuses
from tests.smtp import SmtpServer, free_port


@contextlib.asynccontextmanager
async def running(relay: Relay) -> AsyncIterator[Relay]:
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()


async def test_in_process_relay_delivers_after_kick(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    ctx: JobContext,
    mail_server: SmtpServer,
) -> None:
    # A long sweep interval: only the kick can explain a fast delivery.
    relay = Relay(sm, notif_settings, context=ctx, interval=3600, grace=timedelta(hours=1))
    assert relay.mode == "inprocess"
    async with running(relay):
        ids = await queue_mails(sm, notif_settings, 20)
        relay.kick(ids)
        await mail_server.wait_for_count(20, timeout=15)
        await relay.drain()
    assert await statuses(sm) == {"done": 20}
    assert mail_server.duplicates() == {}


async def test_kicking_the_same_ids_twice_sends_once(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    ctx: JobContext,
    mail_server: SmtpServer,
) -> None:
    mail_server.delay = 0.2
    relay = Relay(sm, notif_settings, context=ctx, interval=0.05, grace=timedelta(0))
    async with running(relay):
        ids = await queue_mails(sm, notif_settings, 5)
        relay.kick(ids)
        relay.kick(ids)
        await mail_server.wait_for_count(5)
        await asyncio.sleep(0.5)  # several sweeps while and after the mails go out
        await relay.drain()
    assert len(mail_server.messages) == 5
    assert mail_server.duplicates() == {}


async def test_sweep_recovers_rows_nobody_kicked(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    ctx: JobContext,
    mail_server: SmtpServer,
) -> None:
    """The web process died after its commit: the next start's first sweep sends the mail."""
    await queue_mails(sm, notif_settings, 3)
    relay = Relay(sm, notif_settings, context=ctx, grace=timedelta(0))
    async with running(relay):
        await mail_server.wait_for_count(3)
        await relay.drain()
    assert await statuses(sm) == {"done": 3}


async def test_sweep_leaves_young_rows_to_the_kick(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    ctx: JobContext,
) -> None:
    await queue_mails(sm, notif_settings, 2)
    relay = Relay(sm, notif_settings, context=ctx, grace=timedelta(minutes=1))
    relay._running = True  # sweep by hand, no background loop
    assert await relay.sweep() == 0
    relay.grace = timedelta(0)
    assert await relay.sweep() == 2
    await relay.drain()
    await relay.stop()


async def test_delayed_rows_wait_for_their_time(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    ctx: JobContext,
    mail_server: SmtpServer,
) -> None:
    relay = Relay(sm, notif_settings, context=ctx, interval=0.1, grace=timedelta(0))
    async with running(relay):
        async with sm() as session:
            later = await queue_mail(
                session,
                to="later@example.org",
                template="verify_email",
                locale="de",
                context=VERIFY,
                settings=notif_settings,
            )
            assert later is not None
            item = await session.get(OutboxItem, later)
            assert item is not None
            item.available_at = item.available_at + timedelta(seconds=1)
            await session.commit()
            relay.kick(pop_outbox_ids(session))
        await asyncio.sleep(0.5)
        assert mail_server.messages == []
        await mail_server.wait_for_count(1, timeout=5)


async def test_relay_without_redis_keeps_rows_and_does_not_raise(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = notif_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/5"})
    relay = Relay(sm, down, interval=0.05, grace=timedelta(0))
    assert relay.mode == "arq"
    with caplog.at_level(logging.WARNING, logger="notifications.outbox"):
        async with running(relay):
            ids = await queue_mails(sm, down, 3)
            relay.kick(ids)
            await asyncio.sleep(0.5)  # a kick and several sweeps, all failing
            assert await relay.sweep() == 0
    assert await statuses(sm) == {"pending": 3}
    warnings = [r for r in caplog.records if "cannot hand outbox rows to arq" in r.message]
    assert len(warnings) == 1  # loud once, then quiet until Redis is back


async def test_relay_hands_rows_to_arq_once(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    redis_db5: str,
) -> None:
    settings = notif_settings.model_copy(update={"redis_url": redis_db5})
    relay = Relay(sm, settings, interval=3600, grace=timedelta(0))
    pool = await create_pool(RedisSettings.from_dsn(redis_db5))
    try:
        async with running(relay):
            ids = await queue_mails(sm, settings, 3)
            relay.kick(ids)
            await relay.drain()
            queued = await pool.queued_jobs()
            assert sorted(j.job_id or "" for j in queued) == sorted(ids)
            assert {j.function for j in queued} == {"send_mail"}
            assert all(j.args == (j.job_id,) for j in queued)

            # Sweeps and kicks while the jobs wait in the queue add nothing.
            relay.kick(ids)
            await relay.drain()
            assert await relay.sweep() == 0
            assert await pool.zcard(default_queue_name) == 3

            # A job that ran (keep_result=0: no result key) but left its row pending, e.g. a
            # transient failure: the id is free again and the sweep re-hands it.
            await pool.delete(job_key_prefix + ids[0])
            await pool.zrem(default_queue_name, ids[0])
            assert await relay.sweep() == 1
            assert await pool.zcard(default_queue_name) == 3

            # A delayed row is handed with _defer_until, not run early.
            async with sm() as session:
                later = await enqueue(session, "send_mail", {}, delay=timedelta(minutes=5))
                await session.commit()
            relay.kick([later])
            await relay.drain()
            score = await pool.zscore(default_queue_name, later)
            queued_first = await pool.zscore(default_queue_name, ids[1])
            assert score is not None and queued_first is not None
            assert score - queued_first > 4 * 60 * 1000
    finally:
        await pool.aclose()


async def test_sweep_frees_a_job_whose_worker_stopped_renewing_its_lease(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    redis_db5: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A killed worker leaves arq's in-progress marker for the job timeout + 10 s; the sweep
    frees it once the job's lease has been missing for a whole lease, never while it is held."""
    import notifications.outbox as outbox
    import notifications.relay

    monkeypatch.setattr(notifications.relay, "LEASE_SECONDS", 0.3)
    settings = notif_settings.model_copy(update={"redis_url": redis_db5})
    relay = Relay(sm, settings, interval=3600, grace=timedelta(0))
    pool = await create_pool(RedisSettings.from_dsn(redis_db5))
    try:
        async with running(relay):
            dead, alive = await queue_mails(sm, settings, 2)
            relay.kick([dead, alive])
            await relay.drain()
            # What a worker does when it starts a job: arq's marker; ours adds the lease.
            for outbox_id in (dead, alive):
                await pool.psetex(in_progress_key_prefix + outbox_id, 70_000, b"1")
            await pool.psetex(outbox.LEASE_KEY_PREFIX + alive, 70_000, b"1")

            await relay.sweep()  # first sight of the missing lease: not yet
            assert await pool.exists(in_progress_key_prefix + dead)
            await asyncio.sleep(0.4)
            await relay.sweep()
            assert not await pool.exists(in_progress_key_prefix + dead), "orphan not freed"
            assert await pool.exists(in_progress_key_prefix + alive), "a leased job was freed"
            # The freed job is still queued, so a worker's next poll runs it again.
            assert await pool.zscore(default_queue_name, dead) is not None
    finally:
        await pool.aclose()


async def test_worker_lease_is_renewed_while_the_job_runs_and_dropped_after(
    redis_db5: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import market.worker as worker
    import notifications.outbox as outbox

    monkeypatch.setattr(worker, "LEASE_SECONDS", 0.2)
    pool = await create_pool(RedisSettings.from_dsn(redis_db5))
    key = outbox.LEASE_KEY_PREFIX + "job-1"
    try:
        async with worker._lease(pool, "job-1"):
            for _ in range(4):  # well past one lease: renewed, not lapsed
                await asyncio.sleep(0.15)
                assert await pool.exists(key)
        assert not await pool.exists(key)
    finally:
        await pool.aclose()


def test_first_retry_comes_within_seconds_and_retries_outlast_a_night() -> None:
    policy = RetryPolicy()
    first = [policy.backoff(1).total_seconds() for _ in range(200)]
    assert min(first) >= 1.0 and max(first) <= 2.0
    assert len({round(w, 3) for w in first}) > 50, "no jitter: failed mails come back together"
    no_jitter = RetryPolicy(jitter=0)
    total = sum(no_jitter.backoff(n).total_seconds() for n in range(1, no_jitter.max_attempts))
    assert total >= 6 * 3600
