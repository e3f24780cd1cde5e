"""queue_mail, the outbox rows it writes, and the messages send_mail builds from them."""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.db import utcnow
from market.settings import Settings
from notifications.jobs import send_mail
from notifications.mail import queue_mail, record_failing_address
from notifications.models import OutboxItem
from notifications.outbox import JobContext, enqueue, pop_outbox_ids
from notifications.smtp import FileSender, build_message, parse_smtp_url
from tests.notifications.conftest import FAST_RETRY
from tests.smtp import SmtpServer

VERIFY = {"name": "Amira", "link": "http://anlauf.test/verify?token=abc"}


async def test_queue_mail_writes_a_row_in_the_callers_transaction(
    sm: async_sessionmaker[AsyncSession], notif_settings: Settings
) -> None:
    async with sm() as session:
        outbox_id = await queue_mail(
            session,
            to="Amira@Example.org",
            template="verify_email",
            locale="ar",
            context=VERIFY,
            essential=True,
            settings=notif_settings,
        )
        assert outbox_id is not None
        assert session.info["outbox_ids"] == [outbox_id]
        item = await session.get(OutboxItem, outbox_id)
        assert item is not None and item.job == "send_mail" and item.status == "pending"
        assert set(item.payload) == {
            "to",
            "subject",
            "text",
            "html",
            "template",
            "essential",
            "locale",
        }
        assert item.payload["to"] == "Amira@Example.org"
        assert item.payload["locale"] == "ar" and item.payload["essential"] is True
        assert 'dir="rtl"' in item.payload["html"]
        assert "http://anlauf.test/" in item.payload["text"]  # base_url from the settings
        assert pop_outbox_ids(session) == [outbox_id]
        assert pop_outbox_ids(session) == []
        await session.rollback()  # the caller's transaction decides: nothing stays
    async with sm() as session:
        assert await session.get(OutboxItem, outbox_id) is None


async def test_settings_come_from_session_info(
    sm: async_sessionmaker[AsyncSession], notif_settings: Settings
) -> None:
    custom = notif_settings.model_copy(update={"base_url": "https://hilfe.example"})
    async with sm() as session:
        session.info["settings"] = custom
        outbox_id = await queue_mail(
            session, to="a@example.org", template="verify_email", locale="de", context=VERIFY
        )
        item = await session.get(OutboxItem, outbox_id)
        assert item is not None and "https://hilfe.example/" in item.payload["text"]
        await session.rollback()


@pytest.mark.parametrize("bad", ["no-at-sign", "a@b.org\r\nBcc: x@y.org", "a@b.org, c@d.org"])
async def test_queue_mail_refuses_anything_but_one_address(
    sm: async_sessionmaker[AsyncSession], notif_settings: Settings, bad: str
) -> None:
    async with sm() as session:
        with pytest.raises(ValueError, match="single email address"):
            await queue_mail(
                session,
                to=bad,
                template="verify_email",
                locale="de",
                context=VERIFY,
                settings=notif_settings,
            )


async def test_failing_address_skips_non_essential_mail_only(
    sm: async_sessionmaker[AsyncSession], notif_settings: Settings
) -> None:
    async with sm() as session:
        await record_failing_address(session, "Gone@Example.org", "550 no such user")
        await session.commit()
        kwargs = {
            "template": "verify_email",
            "locale": "de",
            "context": VERIFY,
            "settings": notif_settings,
        }
        assert await queue_mail(session, to="gone@example.org", **kwargs) is None
        assert await queue_mail(session, to=" GONE@example.org", **kwargs) is None
        assert await queue_mail(session, to="gone@example.org", essential=True, **kwargs)
        assert len(session.info["outbox_ids"]) == 1


async def test_enqueue_with_delay_is_not_due_yet(sm: async_sessionmaker[AsyncSession]) -> None:
    async with sm() as session:
        outbox_id = await enqueue(session, "x", {"a": 1}, delay=timedelta(minutes=5))
        item = await session.get(OutboxItem, outbox_id)
        assert item is not None
        assert item.available_at - item.created_at == timedelta(minutes=5)
        await session.rollback()


def test_message_is_multipart_alternative_with_stable_message_id() -> None:
    message = build_message(
        outbox_id="abc123",
        mail_from="Anlauf <noreply@anlauf.test>",
        to="amira@example.org",
        subject="Hallo",
        text="Text body ü",
        html="<p>HTML body ü</p>",
        locale="de",
    )
    assert message.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert message["Message-ID"] == "<abc123@anlauf>"
    assert parseaddr(str(message["From"]))[1] == "noreply@anlauf.test"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Content-Language"] == "de"


async def test_delivered_mail_has_text_html_and_message_id(
    sm: async_sessionmaker[AsyncSession],
    notif_settings: Settings,
    ctx: JobContext,
    mail_server: SmtpServer,
) -> None:
    async with sm() as session:
        outbox_id = await queue_mail(
            session,
            to="amira@example.org",
            template="verify_email",
            locale="ar",
            context=VERIFY,
            essential=True,
            settings=notif_settings,
        )
        await session.commit()
    assert outbox_id is not None
    await send_mail(ctx, outbox_id)
    [received] = mail_server.messages
    assert received.to == "amira@example.org"
    assert received.message_id == f"<{outbox_id}@anlauf>"
    assert received.message.get_content_type() == "multipart/alternative"
    assert "http://anlauf.test/verify?token=abc" in received.text
    assert '<html lang="ar" dir="rtl">' in received.html
    assert parseaddr(received.mail_from)[1] == "noreply@anlauf.test"


def test_smtp_url_parsing() -> None:
    plain = parse_smtp_url("smtp://mail.example.org:2525")
    assert (plain.hostname, plain.port, plain.use_tls, plain.start_tls) == (
        "mail.example.org",
        2525,
        False,
        False,
    )
    assert plain.username is None and plain.password is None
    starttls = parse_smtp_url("smtp://us%40er:p%3Ass@mail.example.org?starttls=true")
    assert (starttls.port, starttls.start_tls, starttls.use_tls) == (587, True, False)
    assert (starttls.username, starttls.password) == ("us@er", "p:ss")
    implicit = parse_smtp_url("smtps://u:p@mail.example.org")
    assert (implicit.port, implicit.use_tls, implicit.start_tls) == (465, True, False)
    assert parse_smtp_url("smtp://h:25").port == 25
    with pytest.raises(ValueError):
        parse_smtp_url("http://mail.example.org")


async def test_file_sender_writes_one_eml_per_row(
    sm: async_sessionmaker[AsyncSession], notif_settings: Settings, tmp_path: Path
) -> None:
    settings = notif_settings.model_copy(update={"smtp_url": None})
    ctx = JobContext.create(sm, settings, retry=FAST_RETRY)
    assert isinstance(ctx.mailer, FileSender)
    async with sm() as session:
        outbox_id = await queue_mail(
            session,
            to="amira@example.org",
            template="reset_password",
            locale="de",
            context={"name": "Amira", "link": "http://anlauf.test/r"},
            settings=settings,
        )
        await session.commit()
    assert outbox_id is not None
    await send_mail(ctx, outbox_id)
    await send_mail(ctx, outbox_id)  # done already: nothing happens
    files = await asyncio.to_thread(lambda: list(Path(settings.outbox_dir).glob("*.eml")))
    assert [f.name for f in files] == [f"{outbox_id}.eml"]
    raw = await asyncio.to_thread(files[0].read_bytes)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Message-ID"] == f"<{outbox_id}@anlauf>"
    assert parsed.get_content_type() == "multipart/alternative"
    async with sm() as session:
        item = await session.get(OutboxItem, outbox_id)
        assert item is not None and item.status == "done" and item.attempts == 1
        assert item.done_at is not None and item.done_at <= utcnow()


async def test_pending_rows_are_found_by_status_and_due_time(
    sm: async_sessionmaker[AsyncSession],
) -> None:
    async with sm() as session:
        await enqueue(session, "a", {})
        await enqueue(session, "b", {}, delay=timedelta(hours=1))
        await session.commit()
        due = await session.scalars(
            select(OutboxItem.job).where(
                OutboxItem.status == "pending", OutboxItem.available_at <= utcnow()
            )
        )
        assert list(due) == ["a"]
