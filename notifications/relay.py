"""The relay: gets committed outbox rows running, in this process or through arq.

Split from notifications.outbox (which re-exports `Relay`, `LEASE_KEY_PREFIX` and
`LEASE_SECONDS`): that module is the rows and the jobs, this one hands rows to whoever runs
them and sweeps up what a crash left behind. See notifications.outbox for the whole flow and
why arq job ids are outbox ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix, job_key_prefix
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.db import utcnow
from market.settings import Settings
from notifications.models import OutboxItem
from notifications.outbox import JobContext, run_job
from notifications.smtp import describe

log = logging.getLogger("notifications.outbox")  # the name operators filter the relay's lines by


# While an arq worker runs an outbox job it keeps the key LEASE_KEY_PREFIX + id alive, renewing
# it every LEASE_SECONDS / 4 (market.worker). A worker killed mid-job leaves arq's in-progress
# marker behind for the job timeout + 10 s (70 s here), and until it expires no worker takes the
# job again. The sweep instead frees a job whose marker is there but whose lease has been gone
# for LEASE_SECONDS, so what a dead worker held is sent again within about 10 s. On PostgreSQL the
# row lock still keeps two runs of one row apart, whatever Redis says.
LEASE_KEY_PREFIX = "anlauf:lease:"
LEASE_SECONDS = 4.0


@dataclass(frozen=True)
class _Row:
    id: str
    job: str
    available_at: datetime


class Relay:
    """Gets committed outbox rows running: in this process, or through arq when Redis is set.

    `Relay(sessionmaker, settings)`; `await start()` in the app's lifespan, `kick(ids)` right
    after a request's commit, `await stop()` on shutdown. The worker runs one too (with its arq
    pool) just for the sweep, so a worker alone also recovers rows.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        context: JobContext | None = None,
        redis: ArqRedis | None = None,
        concurrency: int = 8,
        interval: float | None = None,
        grace: timedelta = timedelta(seconds=5),
        batch_size: int = 500,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.mode: Literal["arq", "inprocess"] = (
            "arq" if redis is not None or settings.redis_url else "inprocess"
        )
        self.interval = settings.relay_interval_seconds if interval is None else interval
        # The sweep leaves young rows to kick(), so that it does not race the request that
        # just committed them.
        self.grace = grace
        self.batch_size = batch_size
        self._context = context
        self._redis = redis
        self._owns_redis = redis is None
        self._redis_ok = True
        self._sem = asyncio.Semaphore(concurrency)
        self._scheduled: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._running = False
        # Jobs arq marks as running without a live lease: id -> when first seen so (monotonic).
        self._orphans: dict[str, float] = {}

    @property
    def context(self) -> JobContext:
        if self._context is None:
            self._context = JobContext.create(self.sessionmaker, self.settings)
        self._context.extras.setdefault("kick", self.kick)
        return self._context

    async def start(self) -> None:
        """Begin sweeping (the first sweep runs at once, recovering rows left by a crash)."""
        if self._running:
            return
        self._running = True
        if self.mode == "inprocess":
            log.info(
                "outbox relay: running jobs in-process, mail via %s", describe(self.context.mailer)
            )
        else:
            log.info("outbox relay: handing jobs to arq")
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="outbox-sweep")

    async def stop(self, wait: float = 10.0) -> None:
        """Stop sweeping; let running jobs finish for up to `wait` seconds, then cancel."""
        self._running = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        if self._tasks:
            _done, pending = await asyncio.wait(set(self._tasks), timeout=wait)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if self._redis is not None and self._owns_redis:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            self._redis = None

    def kick(self, ids: Iterable[str]) -> None:
        """Start the given rows now, without waiting; call it right after the commit."""
        ids = list(ids)
        if not ids or not self._running:
            return
        self._track(asyncio.create_task(self._kick(ids), name="outbox-kick"))

    async def drain(self, wait: float = 30.0) -> None:
        """Wait until kicked and swept work has finished (for tests and orderly shutdown)."""
        async with asyncio.timeout(wait):
            while self._tasks:
                await asyncio.wait(set(self._tasks))

    async def sweep(self) -> int:
        """Hand over every pending row that is due and not brand-new; returns how many."""
        now = utcnow()
        async with self.sessionmaker() as session:
            result = await session.execute(
                select(OutboxItem.id, OutboxItem.job, OutboxItem.available_at)
                .where(
                    OutboxItem.status == "pending",
                    OutboxItem.available_at <= now,
                    OutboxItem.created_at <= now - self.grace,
                )
                .order_by(OutboxItem.available_at)
                .limit(self.batch_size)
            )
            rows = [_Row(r.id, r.job, r.available_at) for r in result]
        return await self._dispatch(rows, recover=True)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.warning(
                    "outbox sweep failed; trying again in %ss", self.interval, exc_info=True
                )
            await asyncio.sleep(self.interval)

    async def _kick(self, ids: list[str]) -> None:
        try:
            async with self.sessionmaker() as session:
                result = await session.execute(
                    select(OutboxItem.id, OutboxItem.job, OutboxItem.available_at).where(
                        OutboxItem.id.in_(ids), OutboxItem.status == "pending"
                    )
                )
                rows = [_Row(r.id, r.job, r.available_at) for r in result]
            await self._dispatch(rows)
        except Exception as exc:
            # Typically the database restarting: one line, not a page of SQL per kick.
            log.warning(
                "outbox kick failed (%s); the sweep will pick the rows up", type(exc).__name__
            )
            log.debug("outbox kick failure", exc_info=True)

    async def _dispatch(self, rows: Sequence[_Row], *, recover: bool = False) -> int:
        if not rows:
            return 0
        if self.mode == "arq":
            return await self._hand_to_arq(rows, recover=recover)
        now = utcnow()
        started = 0
        for row in rows:
            # A delayed row is left to the sweep that finds it due.
            if row.available_at <= now and self._spawn(row):
                started += 1
        return started

    def _spawn(self, row: _Row) -> bool:
        if row.id in self._scheduled or not self._running:
            return False
        self._scheduled.add(row.id)
        self._track(asyncio.create_task(self._run(row), name=f"outbox:{row.job}:{row.id}"))
        return True

    async def _run(self, row: _Row) -> None:
        try:
            async with self._sem:
                await run_job(self.context, row.job, row.id)
        finally:
            self._scheduled.discard(row.id)

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _get_redis(self) -> ArqRedis:
        if self._redis is None:
            assert self.settings.redis_url is not None
            # No connection retries here: a request must never wait for Redis. The next sweep
            # is the retry.
            redis_settings = dataclasses.replace(
                RedisSettings.from_dsn(self.settings.redis_url), conn_retries=0, conn_timeout=2
            )
            self._redis = await create_pool(redis_settings)
        return self._redis

    async def _hand_to_arq(self, rows: Sequence[_Row], *, recover: bool = False) -> int:
        handed = 0
        try:
            async with asyncio.timeout(30):
                redis = await self._get_redis()
                # One round trip to skip rows arq already holds (queued or running); the
                # WATCH in enqueue_job settles any race with this check.
                async with redis.pipeline(transaction=False) as pipe:
                    for row in rows:
                        pipe.exists(job_key_prefix + row.id)
                    known = await pipe.execute()
                if recover:
                    await self._free_orphans(
                        redis, [row for row, exists in zip(rows, known, strict=True) if exists]
                    )
                now = utcnow()
                for row, exists in zip(rows, known, strict=True):
                    if exists:
                        continue
                    job = await redis.enqueue_job(
                        row.job,
                        row.id,
                        _job_id=row.id,
                        _defer_until=row.available_at if row.available_at > now else None,
                    )
                    if job is not None:
                        handed += 1
        except Exception as exc:
            # Redis down or slow: the rows stay pending in the database and the next sweep
            # tries again. Log loudly once, then quietly until it recovers.
            if self._redis_ok:
                log.warning("cannot hand outbox rows to arq (%s); will retry", exc)
            else:
                log.debug("still cannot reach Redis: %s", exc)
            self._redis_ok = False
            return handed
        if not self._redis_ok:
            log.info("Redis reachable again; outbox rows are being handed to arq")
            self._redis_ok = True
        return handed

    async def _free_orphans(self, redis: ArqRedis, held: Sequence[_Row]) -> None:
        """Let arq run again the jobs of pending rows whose worker died (see LEASE_SECONDS).

        A job counts as orphaned when arq's in-progress marker is there and no lease has been
        seen for LEASE_SECONDS on this relay's sweeps (a job just started sets its lease within
        one Redis round trip, so waiting a whole lease avoids freeing it by mistake). Deleting
        the marker is enough: the job is still in arq's queue, and the next poll starts it.
        """
        if not held:
            self._orphans.clear()
            return
        async with redis.pipeline(transaction=False) as pipe:
            for row in held:
                pipe.exists(in_progress_key_prefix + row.id)
                pipe.exists(LEASE_KEY_PREFIX + row.id)
            flags = await pipe.execute()
        now = asyncio.get_running_loop().time()
        orphans: dict[str, float] = {}
        freed: list[str] = []
        for i, row in enumerate(held):
            running, leased = flags[2 * i], flags[2 * i + 1]
            if not running or leased:
                continue
            since = self._orphans.get(row.id, now)
            if now - since >= LEASE_SECONDS:
                freed.append(row.id)
            else:
                orphans[row.id] = since
        if freed:
            await redis.delete(*(in_progress_key_prefix + i for i in freed))
            log.warning(
                "outbox: %d job(s) held by a worker that stopped renewing its lease are "
                "run again: %s",
                len(freed),
                ", ".join(freed[:5]),
            )
        self._orphans = orphans
