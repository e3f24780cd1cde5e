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
- The server accepted the mail but the commit failed (the database restarting): we retry only
  the "done" update, with backoff, still holding the in-process guard, and never send again
  in this run.
- What no client can close (RFC 1047): a crash after the server has the mail but before we
  have recorded its "250". Such a mail is sent again with the same Message-ID, so it is
  recognisable (and many providers drop it). tests/notifications/test_arq_worker.py measures
  this window under kill -9.
"""

from __future__ import annotations

import asyncio
import logging

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


@register_job(SEND_MAIL_JOB)
async def send_mail(ctx: JobContext, outbox_id: str) -> None:
    """Send the mail in outbox row `outbox_id` unless it is done, failed, not due or running."""
    if outbox_id in ctx.inflight:
        return
    ctx.inflight.add(outbox_id)
    try:
        if await _send(ctx, outbox_id):
            await _mark_done_after_send(ctx, outbox_id)
    finally:
        ctx.inflight.discard(outbox_id)


async def _send(ctx: JobContext, outbox_id: str) -> bool:
    """One try. True means: accepted by the server, but the "done" commit failed."""
    accepted = False
    try:
        async with ctx.sessionmaker() as session:
            item = await lock_due(session, outbox_id)
            if item is None:
                return False
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
                return False

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
                return False
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
                return False

            accepted = True
            if not early:
                _set_done(item)
                if failing:  # it got through, so the address works again
                    await forget_failing_address(session, to)
            await session.commit()
            return False
    except Exception:
        if not accepted:
            raise
        log.warning(
            "mail %s was accepted by the server but not marked done; retrying that",
            outbox_id,
            exc_info=True,
        )
        return True


def _set_done(item: OutboxItem) -> None:
    item.status = OutboxStatus.DONE
    item.done_at = utcnow()
    item.last_error = None


async def _mark_done_after_send(ctx: JobContext, outbox_id: str) -> None:
    for delay in ctx.retry.mark_done_delays:
        await asyncio.sleep(delay)
        try:
            async with ctx.sessionmaker() as session, session.begin():
                await session.execute(
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
        log.info("mail %s marked done after a failed commit", outbox_id)
        return
    log.error(
        "mail %s was sent but could not be marked done; it will be sent again "
        "(same Message-ID) when the database is back",
        outbox_id,
    )
