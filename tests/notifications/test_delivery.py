"""send_mail: exactly once, retries with backoff, permanent rejections, a lost commit."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.db import utcnow
from market.settings import Settings
from notifications.jobs import send_mail
from notifications.mail import queue_mail
from notifications.models import FailingAddress, OutboxItem
from notifications.outbox import (
    JOBS,
    JobContext,
    RetryPolicy,
    claim,
    enqueue,
    register_job,
    run_job,
)
from notifications.smtp import SMTPConfig, SMTPSender, TransientMailError
from tests.notifications.conftest import FAST_RETRY, requires_postgres
from tests.smtp import SmtpServer, free_port

VERIFY = {"name": "Amira", "link": "http://anlauf.test/verify?token=abc"}


async def _queue(
    sm: async_sessionmaker[AsyncSession],
    settings: Settings,
    to: str,
    *,
    essential: bool = False,
) -> str | None:
    async with sm() as session:
        outbox_id = await queue_mail(
            session,
            to=to,
            template="verify_email",
            locale="de",
            context=VERIFY,
            essential=essential,
            settings=settings,
        )
        await session.commit()
    return outbox_id


async def _row(sm: async_sessionmaker[AsyncSession], outbox_id: str) -> OutboxItem:
    async with sm() as session:
        item = await session.get(OutboxItem, outbox_id)
        assert item is not None
        return item


async def _make_due(sm: async_sessionmaker[AsyncSession], outbox_id: str) -> None:
    async with sm() as session, session.begin():
        item = await session.get(OutboxItem, outbox_id)
        assert item is not None
        item.available_at = utcnow()


async def test_sent_once_then_done(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    ctx: JobContext,
    mail_server: SmtpServer,
) -> None:
    outbox_id = await _queue(sm, notif_settings, "amira@example.org")
    assert outbox_id is not None
    await send_mail(ctx, outbox_id)
    await send_mail(ctx, outbox_id)
    assert len(mail_server.messages) == 1
    item = await _row(sm, outbox_id)
    assert (item.status, item.attempts, item.last_error) == ("done", 1, None)


async def test_same_job_run_concurrently_in_one_process_sends_once(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    ctx: JobContext,
    mail_server: SmtpServer,
) -> None:
    mail_server.delay = 0.2
    ids = [await _queue(sm, notif_settings, f"p{i}@example.org") for i in range(5)]
    await asyncio.gather(*(send_mail(ctx, i) for i in ids for _ in range(4) if i))
    assert sorted(m.to for m in mail_server.messages) == sorted(
        f"p{i}@example.org" for i in range(5)
    )
    assert mail_server.duplicates() == {}


@requires_postgres
async def test_row_lock_keeps_separate_runners_apart(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    mail_server: SmtpServer,
) -> None:
    """Four runners that share nothing but the database (like four worker processes)."""
    mail_server.delay = 0.3
    ids = [await _queue(sm, notif_settings, f"w{i}@example.org") for i in range(10)]
    runners = [JobContext.create(sm, notif_settings, retry=FAST_RETRY) for _ in range(4)]
    assert len({id(r.inflight) for r in runners}) == 4
    await asyncio.gather(*(send_mail(r, i) for i in ids if i for r in runners))
    assert len(mail_server.messages) == 10
    assert mail_server.duplicates() == {}
    for outbox_id in ids:
        assert outbox_id is not None
        item = await _row(sm, outbox_id)
        assert (item.status, item.attempts) == ("done", 1)


async def test_transient_refusal_backs_off_then_delivers(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    ctx: JobContext,
    mail_server: SmtpServer,
) -> None:
    mail_server.reject("busy@example.org", "451 4.3.0 Try again later", times=2)
    outbox_id = await _queue(sm, notif_settings, "busy@example.org")
    assert outbox_id is not None

    before = utcnow()
    await send_mail(ctx, outbox_id)
    first = await _row(sm, outbox_id)
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.last_error is not None and "451" in first.last_error
    assert first.available_at >= before + timedelta(seconds=0.2)

    await send_mail(ctx, outbox_id)  # not due yet: nothing happens
    assert (await _row(sm, outbox_id)).attempts == 1

    await asyncio.sleep(0.25)
    before = utcnow()
    await send_mail(ctx, outbox_id)
    second = await _row(sm, outbox_id)
    assert (second.status, second.attempts) == ("pending", 2)
    # Exponential: the second wait is twice the first (measured from before the try, so that
    # a slow machine does not make it look shorter).
    assert second.available_at - before >= timedelta(seconds=0.4)

    await _make_due(sm, outbox_id)
    await send_mail(ctx, outbox_id)
    done = await _row(sm, outbox_id)
    assert (done.status, done.attempts) == ("done", 3)
    assert len(mail_server.to("busy@example.org")) == 1
    assert len(mail_server.refused) == 2


async def test_unreachable_server_is_transient_and_gives_up_after_max_attempts(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
) -> None:
    dead = SMTPSender(SMTPConfig(hostname="127.0.0.1", port=free_port(), timeout=2))
    ctx = JobContext.create(sm, notif_settings, retry=FAST_RETRY, mailer=dead)
    outbox_id = await _queue(sm, notif_settings, "amira@example.org")
    assert outbox_id is not None
    for attempt in range(1, FAST_RETRY.max_attempts + 1):
        await _make_due(sm, outbox_id)
        await send_mail(ctx, outbox_id)
        item = await _row(sm, outbox_id)
        assert item.attempts == attempt
        assert item.last_error is not None and item.last_error.startswith("transient")
    assert item.status == "failed"
    async with sm() as session:  # a connection failure says nothing about the address
        assert await session.get(FailingAddress, "amira@example.org") is None


def test_backoff_is_exponential_and_capped() -> None:
    policy = RetryPolicy(base_seconds=60, cap_seconds=3600, jitter=0)
    waits = [policy.backoff(n).total_seconds() for n in range(1, 9)]
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    jittered = RetryPolicy(base_seconds=60, jitter=0.1).backoff(1).total_seconds()
    assert 54 <= jittered <= 60


async def test_permanent_refusal_records_the_address(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    ctx: JobContext,
    mail_server: SmtpServer,
) -> None:
    mail_server.reject("gone@example.org", "550 5.1.1 No such user here")
    first = await _queue(sm, notif_settings, "Gone@Example.org")
    queued_before = await _queue(sm, notif_settings, "gone@example.org")  # already in the outbox
    assert first and queued_before
    await send_mail(ctx, first)
    item = await _row(sm, first)
    assert (item.status, item.attempts) == ("failed", 1)
    assert item.last_error is not None and "550" in item.last_error
    async with sm() as session:
        failure = await session.get(FailingAddress, "gone@example.org")
        assert failure is not None and "No such user" in failure.reason

    # A non-essential mail queued before the bounce is skipped without talking to the server.
    refusals = len(mail_server.refused)
    await send_mail(ctx, queued_before)
    skipped = await _row(sm, queued_before)
    assert skipped.status == "failed" and "skipped" in (skipped.last_error or "")
    assert len(mail_server.refused) == refusals

    # A new non-essential mail is not even queued.
    assert await _queue(sm, notif_settings, "gone@example.org") is None

    # An essential one (verification, password reset) still goes out; the person may have
    # fixed their mailbox. Once it is accepted, the address counts as working again.
    mail_server.accept("gone@example.org")
    essential = await _queue(sm, notif_settings, "gone@example.org", essential=True)
    assert essential is not None
    await send_mail(ctx, essential)
    assert (await _row(sm, essential)).status == "done"
    assert len(mail_server.to("gone@example.org")) == 1
    async with sm() as session:
        assert await session.get(FailingAddress, "gone@example.org") is None
    assert await _queue(sm, notif_settings, "gone@example.org") is not None


async def test_essential_mail_to_a_still_failing_address_fails_again(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    ctx: JobContext,
    mail_server: SmtpServer,
) -> None:
    mail_server.reject("gone@example.org", "550 5.1.1 No such user here")
    first = await _queue(sm, notif_settings, "gone@example.org")
    assert first
    await send_mail(ctx, first)
    essential = await _queue(sm, notif_settings, "gone@example.org", essential=True)
    assert essential
    await send_mail(ctx, essential)
    assert (await _row(sm, essential)).status == "failed"
    assert len(mail_server.refused) == 2
    assert mail_server.messages == []


class _Outage:
    """The database away for sessions' commits and statements: every call while `down`, and
    the next `failures_left` calls. Patched into AsyncSession; undone with the monkeypatch."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.down = False
        self.failures_left = 0
        real_commit, real_execute = AsyncSession.commit, AsyncSession.execute
        outage = self

        async def commit(session: AsyncSession) -> None:
            if outage.fails():
                raise OperationalError("COMMIT", {}, Exception("the database is shutting down"))
            await real_commit(session)

        async def execute(session: AsyncSession, *args: Any, **kwargs: Any) -> Any:
            if outage.fails():
                raise OperationalError("UPDATE", {}, Exception("connection refused"))
            return await real_execute(session, *args, **kwargs)

        monkeypatch.setattr(AsyncSession, "commit", commit)
        monkeypatch.setattr(AsyncSession, "execute", execute)

    def fails(self) -> bool:
        if self.down:
            return True
        if self.failures_left > 0:
            self.failures_left -= 1
            return True
        return False


class _ThenAfterAccepting:
    """A mailer that does `then()` right after the server accepted the mail."""

    def __init__(self, inner: Any, then: Any) -> None:
        self.inner = inner
        self.then = then

    async def send(self, message: Any) -> None:
        await self.inner.send(message)
        self.then()


async def test_accepted_mail_whose_commit_fails_is_marked_done_not_resent(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    ctx: JobContext,
    mail_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outbox_id = await _queue(sm, notif_settings, "amira@example.org")
    assert outbox_id is not None

    outage = _Outage(monkeypatch)

    def database_goes() -> None:
        # The commit after the "250 OK" and the first "done" retry fail (still restarting).
        outage.failures_left = 2

    ctx = dataclasses.replace(
        ctx, mailer=_ThenAfterAccepting(ctx.mailer, database_goes), inflight=set()
    )
    await send_mail(ctx, outbox_id)
    monkeypatch.undo()

    item = await _row(sm, outbox_id)
    assert (item.status, item.attempts) == ("done", 1)
    await send_mail(ctx, outbox_id)
    assert len(mail_server.messages) == 1


async def test_claim_marks_database_jobs_done_and_retries_errors(
    sm: async_sessionmaker[AsyncSession],
    ctx: JobContext,
) -> None:
    calls: list[dict[str, Any]] = []

    @register_job("test.record")
    async def record(ctx: JobContext, outbox_id: str) -> None:
        async with claim(ctx, outbox_id) as c:
            if c is None:
                return
            calls.append(dict(c.item.payload))
            if c.item.payload.get("boom") and c.item.attempts < 2:
                raise RuntimeError("boom")

    try:
        async with sm() as session:
            ok = await enqueue(session, "test.record", {"n": 1})
            flaky = await enqueue(session, "test.record", {"boom": True})
            await session.commit()
        await run_job(ctx, "test.record", ok)
        await run_job(ctx, "test.record", ok)
        assert calls == [{"n": 1}]
        assert (await _row(sm, ok)).status == "done"

        await run_job(ctx, "test.record", flaky)  # raises inside: rolled back, rescheduled
        item = await _row(sm, flaky)
        assert (item.status, item.attempts) == ("pending", 1)
        assert item.last_error == "RuntimeError: boom"
        await _make_due(sm, flaky)
        await run_job(ctx, "test.record", flaky)
        item = await _row(sm, flaky)
        assert (item.status, item.attempts) == ("done", 2)
    finally:
        JOBS.pop("test.record", None)


async def test_unknown_job_is_left_pending(
    sm: async_sessionmaker[AsyncSession],
    ctx: JobContext,
) -> None:
    async with sm() as session:
        outbox_id = await enqueue(session, "nobody.knows", {})
        await session.commit()
    await run_job(ctx, "nobody.knows", outbox_id)
    assert (await _row(sm, outbox_id)).status == "pending"


def test_register_job_refuses_a_second_function_under_one_name() -> None:
    async def other(ctx: JobContext, outbox_id: str) -> None: ...

    with pytest.raises(ValueError, match="already registered"):
        register_job("send_mail")(other)
    assert JOBS["send_mail"] is send_mail


async def test_sender_errors_are_classified(mail_server: SmtpServer) -> None:
    from notifications.smtp import PermanentMailError, build_message

    sender = SMTPSender(SMTPConfig(hostname="127.0.0.1", port=mail_server.port))
    mail_server.reject("a@example.org", "452 4.2.2 Mailbox full")
    mail_server.reject("b@example.org", "553 5.1.3 Bad address")

    def message(to: str) -> Any:
        return build_message(
            outbox_id="x", mail_from="n@anlauf.test", to=to, subject="s", text="t", html=None
        )

    with pytest.raises(TransientMailError, match="452"):
        await sender.send(message("a@example.org"))
    with pytest.raises(PermanentMailError, match="553") as info:
        await sender.send(message("b@example.org"))
    assert info.value.recipient_rejected


async def test_failing_addresses_are_stored_lowercased(
    sm: async_sessionmaker[AsyncSession],
) -> None:
    from notifications.mail import is_failing, record_failing_address

    async with sm() as session:
        await record_failing_address(session, " Mixed@Case.ORG ", "550 x")
        await record_failing_address(session, "mixed@case.org", "550 y")  # upsert, no error
        await session.commit()
        rows = list(await session.scalars(select(FailingAddress)))
        assert [(r.address, r.reason) for r in rows] == [("mixed@case.org", "550 y")]
        assert await is_failing(session, "MIXED@case.org")


async def test_a_job_cut_off_after_the_server_accepted_records_it_and_never_resends(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    ctx: JobContext,
    mail_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """arq cancels a job at its timeout. If that happens after the "250 OK" while the database
    is away, the "done" update goes on by itself, and a hand-over of the row meanwhile (the
    sweep, arq running the job again) sends nothing."""
    outbox_id = await _queue(sm, notif_settings, "amira@example.org")
    assert outbox_id is not None
    outage = _Outage(monkeypatch)
    accepted = asyncio.Event()

    def database_goes() -> None:
        outage.down = True
        accepted.set()

    retry = dataclasses.replace(FAST_RETRY, mark_done_delays=(0.05,) * 100)
    ctx = dataclasses.replace(
        ctx, mailer=_ThenAfterAccepting(ctx.mailer, database_goes), inflight=set(), retry=retry
    )
    job = asyncio.create_task(send_mail(ctx, outbox_id))
    await accepted.wait()
    await asyncio.sleep(0.2)  # the commit failed; the "done" update is being retried
    job.cancel()  # arq's job timeout
    with pytest.raises(asyncio.CancelledError):
        await job
    # The row is still pending (nothing committed "done"): handed over again, it is not sent.
    await send_mail(ctx, outbox_id)
    assert len(mail_server.messages) == 1 and outbox_id in ctx.inflight
    outage.down = False  # the database is back
    for _ in range(200):
        if outbox_id not in ctx.inflight:
            break
        await asyncio.sleep(0.02)
    monkeypatch.undo()
    item = await _row(sm, outbox_id)
    assert item.status == "done" and outbox_id not in ctx.inflight
    await send_mail(ctx, outbox_id)
    assert len(mail_server.messages) == 1
