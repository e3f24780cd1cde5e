"""The transactional outbox: write work in the caller's transaction, run it after commit.

Flow. A service calls `enqueue()` (or `queue_mail()`), which adds an `outbox` row in the
request's transaction and notes its id in `session.info["outbox_ids"]`. After the commit the
web layer calls `Relay.kick(pop_outbox_ids(session))`. The relay either runs the registered job
function in this process (no Redis) or hands the row to arq (`enqueue_job(job, id, _job_id=id)`).
A periodic sweep re-hands every row that is still pending and due, so nothing is lost when the
web process, the worker or Redis dies between commit and delivery.

Jobs take the outbox id, reload the row, and mark it done themselves under a row lock
(`claim()` does this for jobs whose work is all in the database). They must be idempotent: arq
and the sweep are at-least-once.

Why `_job_id=<outbox id>` with `keep_result=0` (see market.worker) rather than per-attempt ids:
arq refuses `enqueue_job` while a job key *or a result key* with that id exists
(https://github.com/samuelcolvin/arq/issues/432). Keeping no result means that once a job has
run, whatever its outcome, the id is free again, so the sweep can re-hand a row that is still
pending (it failed, was rescheduled, or crashed) without inventing new ids. While a job is
queued or running, its key exists, so the sweep's repeated hand-overs are refused and a row is
never queued twice. If a worker is killed mid-job, the job stays queued with arq's in-progress
marker, which expires after the job timeout + 10 s; arq then runs it again. Per-attempt ids
would not help with that case (the attempt counter rolls back with the killed transaction)
and would let a stale copy and a fresh copy sit in the queue together.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import in_progress_key_prefix, job_key_prefix
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.db import new_id, utcnow
from market.settings import Settings
from notifications.models import OutboxItem, OutboxStatus
from notifications.smtp import MailSender, describe, make_sender

log = logging.getLogger(__name__)

# While an arq worker runs an outbox job it keeps the key LEASE_KEY_PREFIX + id alive, renewing
# it every LEASE_SECONDS / 4 (market.worker). A worker killed mid-job leaves arq's in-progress
# marker behind for the job timeout + 10 s (70 s here), and until it expires no worker takes the
# job again. The sweep instead frees a job whose marker is there but whose lease has been gone
# for LEASE_SECONDS, so what a dead worker held is sent again within about 10 s. On PostgreSQL the
# row lock still keeps two runs of one row apart, whatever Redis says.
LEASE_KEY_PREFIX = "anlauf:lease:"
LEASE_SECONDS = 4.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how fast failed jobs are retried."""

    # The first retry comes after 1-2 s (a blip of the SMTP server, a restart), then twice as
    # long each time up to an hour: 18 tries span about 7 hours, which outlasts a night's
    # outage of the mail server before a mail is given up as failed.
    max_attempts: int = 18
    base_seconds: float = 2.0
    cap_seconds: float = 3600.0
    # Each delay is drawn from [(1 - jitter) * d, d], so mails that failed together (an outage)
    # do not all come back in the same second.
    jitter: float = 0.5
    # After an external effect happened (the SMTP server accepted a mail) but the commit that
    # records it failed: keep trying to record it, instead of doing the effect again. The sum
    # (about 24 s) plus SMTP_TIMEOUT must stay below the arq job timeout (market.worker).
    mark_done_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 8.0)

    def backoff(self, attempts: int) -> timedelta:
        """Delay before the next try, after `attempts` tries: exponential, capped, jittered."""
        delay = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return timedelta(seconds=delay * random.uniform(1 - self.jitter, 1))


@dataclass
class JobContext:
    """What every job gets besides the outbox id; the same in-process and in the arq worker."""

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    mailer: MailSender
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Outbox ids being worked on in this process. On SQLite (no row locks) this is what keeps
    # two runs of one job apart; on PostgreSQL it only saves a round trip.
    inflight: set[str] = field(default_factory=set)
    # Room for feature jobs' own clients (a geocoder, ...), set up by whoever builds the context.
    # "kick": a Relay's kick, so that rows a job enqueues start at once (see claim()).
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        mailer: MailSender | None = None,
    ) -> JobContext:
        return cls(
            sessionmaker=sessionmaker,
            settings=settings,
            mailer=mailer if mailer is not None else make_sender(settings),
            retry=retry if retry is not None else RetryPolicy(),
        )


JobFunc = Callable[[JobContext, str], Awaitable[None]]
JOBS: dict[str, JobFunc] = {}


def register_job(name: str) -> Callable[[JobFunc], JobFunc]:
    """Register `async def job(ctx: JobContext, outbox_id: str) -> None` under a name."""

    def decorator(func: JobFunc) -> JobFunc:
        existing = JOBS.get(name)
        if existing is not None and _qualname(existing) != _qualname(func):
            raise ValueError(f"job {name!r} is already registered by {_qualname(existing)}")
        JOBS[name] = func
        return func

    return decorator


def _qualname(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{getattr(func, '__qualname__', repr(func))}"


async def enqueue(
    session: AsyncSession,
    job: str,
    payload: dict[str, Any],
    *,
    delay: timedelta | None = None,
) -> str:
    """Add an outbox row in the caller's transaction (flush, never commit); return its id."""
    now = utcnow()
    item = OutboxItem(
        id=new_id(),
        job=job,
        payload=payload,
        status="pending",
        attempts=0,
        created_at=now,
        available_at=now + delay if delay else now,
    )
    session.add(item)
    await session.flush()
    session.info.setdefault("outbox_ids", []).append(item.id)
    return item.id


def pop_outbox_ids(session: AsyncSession) -> list[str]:
    """The ids enqueued through this session since the last call; pass them to Relay.kick."""
    ids: list[str] = session.info.pop("outbox_ids", [])
    return ids


async def lock_due(session: AsyncSession, outbox_id: str) -> OutboxItem | None:
    """The row if it is pending and due, locked for this transaction; None if not ours to run.

    Due means by this process's clock: a worker whose clock is behind leaves the row to a
    later hand-over by the sweep.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so a second runner of the same id gets None at once
    instead of waiting. SQLite renders no locking clause; callers rely on JobContext.inflight.
    """
    stmt = (
        select(OutboxItem)
        .where(
            OutboxItem.id == outbox_id,
            OutboxItem.status == "pending",
            OutboxItem.available_at <= utcnow(),
        )
        .with_for_update(skip_locked=True)
    )
    item: OutboxItem | None = await session.scalar(stmt)
    return item


def reschedule(item: OutboxItem, policy: RetryPolicy, error: str) -> None:
    """After a failed try (attempts already counted): back off, or give up as failed."""
    item.last_error = error[:4000]
    if item.attempts >= policy.max_attempts:
        item.status = OutboxStatus.FAILED
    else:
        item.available_at = utcnow() + policy.backoff(item.attempts)


@dataclass
class Claim:
    session: AsyncSession
    item: OutboxItem
    policy: RetryPolicy = field(default_factory=RetryPolicy, repr=False)
    retry_requested: bool = False

    def retry_later(self, error: str) -> None:
        """Keep the row pending and try again after backoff (or fail it after max attempts)."""
        self.retry_requested = True
        reschedule(self.item, self.policy, error)


@contextlib.asynccontextmanager
async def claim(ctx: JobContext, outbox_id: str) -> AsyncIterator[Claim | None]:
    """Run a database-only job under the row lock; the row is marked done in the same commit.

        async with claim(ctx, outbox_id) as c:
            if c is None:
                return  # done already, not due, or running elsewhere
            await do_the_work(c.session, c.item.payload)

    The work and the "done" mark commit together, so if the commit fails both are undone and
    the job simply runs again. A job with an effect outside the database (a mail, an HTTP call)
    needs more care: see notifications.jobs.send_mail.
    """
    if outbox_id in ctx.inflight:
        yield None
        return
    ctx.inflight.add(outbox_id)
    try:
        async with ctx.sessionmaker() as session:
            item = await lock_due(session, outbox_id)
            if item is None:
                await session.rollback()
                yield None
                return
            item.attempts += 1
            c = Claim(session=session, item=item, policy=ctx.retry)
            yield c
            if not c.retry_requested and item.status == "pending":
                item.status = OutboxStatus.DONE
                item.done_at = utcnow()
                item.last_error = None
            await session.commit()
            # Work the job enqueued (a mail, say) starts now rather than at the next sweep.
            queued = pop_outbox_ids(session)
            kick = ctx.extras.get("kick")
            if queued and callable(kick):
                kick(queued)
    finally:
        ctx.inflight.discard(outbox_id)


_unknown_jobs_logged: set[str] = set()


async def run_job(ctx: JobContext, job: str, outbox_id: str) -> None:
    """Run a registered job; if it raises, count the try and back off (never raise)."""
    func = JOBS.get(job)
    if func is None:
        if job not in _unknown_jobs_logged:
            _unknown_jobs_logged.add(job)
            log.error(
                "no job registered as %r (outbox %s); is its module imported?", job, outbox_id
            )
        return
    try:
        await func(ctx, outbox_id)
    except Exception as exc:
        log.exception("job %s failed for outbox %s", job, outbox_id)
        await _record_job_error(ctx, outbox_id, f"{type(exc).__name__}: {exc}")


async def _record_job_error(ctx: JobContext, outbox_id: str, error: str) -> None:
    try:
        async with ctx.sessionmaker() as session:
            item = await lock_due(session, outbox_id)
            if item is None:
                return
            item.attempts += 1
            reschedule(item, ctx.retry, error)
            await session.commit()
    except Exception:
        # The database is probably away; the row stays pending and the sweep tries again.
        log.warning("could not record the failure of outbox %s", outbox_id, exc_info=True)


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


# --- Copies of mail are personal data too (API.md, Release 2, Accounts and personal data)

# What a row of the "send_mail" job holds about the person: blanked by redact().
MAIL_COPY_FIELDS = ("to", "subject", "text", "html")
# A finished mail's copy is kept this long (to answer "did you get my mail?"), then redacted.
MAIL_COPY_DAYS = 30


def redact(item: OutboxItem, now: datetime) -> None:
    """Blank the address, subject and bodies; template, locale and status stay for counting."""
    payload = {k: v for k, v in item.payload.items() if k not in MAIL_COPY_FIELDS}
    payload.update({k: "" for k in MAIL_COPY_FIELDS if k in item.payload})
    item.payload = payload
    item.redacted_at = now


async def redact_mail_copies(
    session: AsyncSession,
    now: datetime,
    *,
    older_than: timedelta = timedelta(days=MAIL_COPY_DAYS),
    limit: int = 500,
) -> int:
    """Redact up to `limit` rows finished longer than `older_than` ago; returns how many.

    Finished means delivered (`done`, by `done_at`) or given up (`failed`, by the time of its
    last try); a pending mail keeps its copy, since it still has to be sent. Rows of other
    jobs are only marked, so that they leave the partial index ix_outbox_unredacted.
    """
    cutoff = now - older_than
    stmt = (
        select(OutboxItem)
        .where(
            OutboxItem.redacted_at.is_(None),
            or_(
                and_(OutboxItem.status == "done", OutboxItem.done_at <= cutoff),
                and_(OutboxItem.status == "failed", OutboxItem.available_at <= cutoff),
            ),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(await session.scalars(stmt))
    for item in rows:
        redact(item, now)
    await session.flush()
    return len(rows)
