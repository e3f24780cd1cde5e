"""The send_mail job: deliver one queued mail, at most once per outbox row as far as SMTP allows.

How a double send is avoided:
- PostgreSQL: the row is read with FOR UPDATE SKIP LOCKED and the lock is held, in one
  transaction, across the SMTP conversation. "done" is written (flushed, invisible to others)
  before the send, so that after the server's "250 OK" only the COMMIT round trip is left; the
  SMTP QUIT happens in the background. A second runner of the same id (a re-hand by the sweep,
  a second worker) skips the locked row, or finds it done afterwards. If the worker dies
  mid-send the transaction rolls back with its connection and the row is sent later.
- SQLite: no row locks; jobs run in one process (the in-process runner, or a single worker),
  and JobContext.inflight keeps two runs of one id apart, with the status check after it.
  "done" is written after the send (SQLite's one write lock must not wait on SMTP).
- The server accepted the mail but the commit failed (the database restarting), or the job
  was cancelled after the "250 OK" (arq's job timeout): we retry only the "done" update, with
  backoff, in a task of its own that a cancelled job does not cut short, and hold the
  in-process guard until it ends. A hand-over of the row meanwhile (the sweep, arq running
  the timed-out job again) finds the guard and sends nothing.
- What no client can close (RFC 1047): a crash after the server has the mail but before we
  have recorded its "250". Such a mail is sent again with the same Message-ID, so it is
  recognisable (and many providers drop it). tests/notifications/test_arq_worker.py measures
  this window under kill -9.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from sqlalchemy import update

from market.db import utcnow
from notifications.mail import (
    SEND_MAIL_JOB,
    forget_failing_address,
    is_failing,
    record_failing_address,
)
from notifications.models import OutboxItem, OutboxStatus
from notifications.outbox import JobContext, lock_due, register_job, reschedule
from notifications.smtp import PermanentMailError, TransientMailError, build_message

log = logging.getLogger(__name__)


@dataclass
class _Delivery:
    """What one try got to: the server took the mail; the outbox row says so (committed)."""

    accepted: bool = False
    recorded: bool = False


# The "done" updates running on their own (a task must be referenced until it ends).
_recording: set[asyncio.Task[None]] = set()


@register_job(SEND_MAIL_JOB)
async def send_mail(ctx: JobContext, outbox_id: str) -> None:
    """Send the mail in outbox row `outbox_id` unless it is done, failed, not due or running."""
    if outbox_id in ctx.inflight:
        return
    ctx.inflight.add(outbox_id)
    delivery = _Delivery()
    recording: asyncio.Task[None] | None = None
    try:
        await _send(ctx, outbox_id, delivery)
    finally:
        # Also when this job is being cancelled: the mail is out, so it must be recorded.
        if delivery.accepted and not delivery.recorded:
            recording = _record(ctx, outbox_id)
        else:
            ctx.inflight.discard(outbox_id)
    if recording is not None:
        await asyncio.shield(recording)


def _record(ctx: JobContext, outbox_id: str) -> asyncio.Task[None]:
    """Mark an accepted mail done in a task of its own; the guard is released when it ends."""
    task = asyncio.get_running_loop().create_task(
        _mark_done_after_send(ctx, outbox_id), name=f"record-mail:{outbox_id}"
    )
    _recording.add(task)

    def finished(done: asyncio.Task[None]) -> None:
        _recording.discard(done)
        ctx.inflight.discard(outbox_id)

    task.add_done_callback(finished)
    return task


async def _send(ctx: JobContext, outbox_id: str, delivery: _Delivery) -> None:
    """One try; `delivery` tells how far it got, also when it ends in an exception."""
    try:
        async with ctx.sessionmaker() as session:
            item = await lock_due(session, outbox_id)
            if item is None:
                return
            payload = item.payload
            to = str(payload["to"])
            essential = bool(payload.get("essential", False))
            item.attempts += 1

            failing = await is_failing(session, to)
            if failing and not essential:
                item.status = OutboxStatus.FAILED
                item.last_error = "skipped: the address was rejected permanently before"
                await session.commit()
                log.info("mail %s to %s skipped: address rejected before", outbox_id, to)
                return

            message = build_message(
                outbox_id=item.id,
                mail_from=ctx.settings.mail_from,
                to=to,
                subject=str(payload["subject"]),
                text=str(payload["text"]),
                html=payload.get("html"),
                locale=payload.get("locale"),
            )
            # With row locks, write "done" before sending: nobody sees it before our commit,
            # and after the server's "250 OK" only the COMMIT round trip is left. (SQLite would
            # hold its single write lock for the whole SMTP conversation, so it writes after.)
            early = session.get_bind().dialect.name == "postgresql"
            if early:
                _set_done(item)
                if failing:
                    await forget_failing_address(session, to)
                await session.flush()
            try:
                await ctx.mailer.send(message)
            except PermanentMailError as exc:
                item.status = OutboxStatus.FAILED
                item.done_at = None
                item.last_error = f"permanent: {exc}"[:4000]
                if exc.recipient_rejected:
                    await record_failing_address(session, to, str(exc))
                await session.commit()
                log.warning("mail %s to %s rejected permanently: %s", outbox_id, to, exc)
                return
            except TransientMailError as exc:
                item.status = OutboxStatus.PENDING
                item.done_at = None
                reschedule(item, ctx.retry, f"transient: {exc}")
                await session.commit()
                if item.status == "failed":
                    log.error(
                        "mail %s to %s given up after %d tries: %s",
                        outbox_id,
                        to,
                        item.attempts,
                        exc,
                    )
                else:
                    log.info(
                        "mail %s to %s will be retried at %s: %s",
                        outbox_id,
                        to,
                        item.available_at.isoformat(),
                        exc,
                    )
                return

            delivery.accepted = True
            if not early:
                _set_done(item)
                if failing:  # it got through, so the address works again
                    await forget_failing_address(session, to)
            await session.commit()
            delivery.recorded = True
    except Exception:
        if not delivery.accepted:
            raise
        log.warning(
            "mail %s was accepted by the server but not marked done; retrying that",
            outbox_id,
            exc_info=True,
        )


def _set_done(item: OutboxItem) -> None:
    item.status = OutboxStatus.DONE
    item.done_at = utcnow()
    item.last_error = None


async def _mark_done_after_send(ctx: JobContext, outbox_id: str) -> None:
    for delay in ctx.retry.mark_done_delays:
        await asyncio.sleep(delay)
        try:
            async with ctx.sessionmaker() as session, session.begin():
                changed = await session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id == outbox_id, OutboxItem.status == "pending")
                    .values(
                        status="done",
                        done_at=utcnow(),
                        attempts=OutboxItem.attempts + 1,
                        last_error=None,
                    )
                )
        except Exception as exc:
            log.warning("marking mail %s done failed again: %s", outbox_id, exc)
            continue
        if getattr(changed, "rowcount", 1):
            log.info("mail %s marked done after a failed commit", outbox_id)
        # else: the commit had gone through after all (the job was cut off waiting for it).
        return
    log.error(
        "mail %s was sent but could not be marked done; it will be sent again "
        "(same Message-ID) when the database is back",
        outbox_id,
    )
