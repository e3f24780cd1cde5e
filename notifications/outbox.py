"""The transactional outbox: write work in the caller's transaction, run it after commit.

Flow. A service calls `enqueue()` (or `queue_mail()`), which adds an `outbox` row in the
request's transaction and notes its id in `session.info["outbox_ids"]`. After the commit the
web layer calls `Relay.kick(pop_outbox_ids(session))`. The relay (notifications.relay) either
runs the registered job function in this process (no Redis) or hands the row to arq
(`enqueue_job(job, id, _job_id=id)`). A periodic sweep re-hands every row that is still pending and due, so nothing is lost when the
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

import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.db import new_id, utcnow
from market.settings import Settings
from notifications.models import OutboxItem, OutboxStatus
from notifications.smtp import MailSender, make_sender

log = logging.getLogger(__name__)


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


# The relay and the redaction of mail copies live in their own modules; their names stay
# importable from here. Imported last: notifications.relay needs JobContext and run_job above
# (the package's __init__ always imports this module first).
from notifications.mail_copies import MAIL_COPY_DAYS as MAIL_COPY_DAYS  # noqa: E402
from notifications.mail_copies import MAIL_COPY_FIELDS as MAIL_COPY_FIELDS  # noqa: E402
from notifications.mail_copies import redact as redact  # noqa: E402
from notifications.mail_copies import redact_mail_copies as redact_mail_copies  # noqa: E402
from notifications.relay import LEASE_KEY_PREFIX as LEASE_KEY_PREFIX  # noqa: E402
from notifications.relay import LEASE_SECONDS as LEASE_SECONDS  # noqa: E402
from notifications.relay import Relay as Relay  # noqa: E402
