"""Mail delivery: SMTP through aiosmtplib, or .eml files in a folder when no SMTP server is set."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from market.db import utcnow
from market.settings import Settings

log = logging.getLogger(__name__)

# Seconds for each SMTP step (connect, each command). The arq job timeout in market.worker must
# stay above this plus the mark-done retry budget in notifications.outbox.RetryPolicy.
SMTP_TIMEOUT = 20.0
_TRUE = frozenset({"1", "true", "yes", "on"})


class MailDeliveryError(Exception):
    """Sending failed; see the subclasses for what to do about it."""


class TransientMailError(MailDeliveryError):
    """Try again later: the server is down, busy (4xx), slow, or our own configuration is wrong."""


class PermanentMailError(MailDeliveryError):
    """The server refused this mail for good (5xx)."""

    def __init__(self, message: str, *, recipient_rejected: bool) -> None:
        super().__init__(message)
        # True when the refusal concerns the recipient (RCPT TO or DATA answered 5xx): the
        # address is then recorded in mail_failures.
        self.recipient_rejected = recipient_rejected


class MailSender(Protocol):
    """Delivers one finished message; raises TransientMailError or PermanentMailError."""

    async def send(self, message: EmailMessage) -> None: ...


def build_message(
    *,
    outbox_id: str,
    mail_from: str,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    locale: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message whose Message-ID comes from the outbox row.

    The same row always yields the same Message-ID, so a mail sent twice (the process died
    between the server's "250 OK" and our commit) is recognisable as a duplicate, and many
    mail providers drop it.
    """
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = message_id_for(outbox_id)
    # RFC 3834: tells vacation responders not to answer.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    # After the body: set_content() and add_alternative() move Content-* headers into a part.
    if locale:
        message["Content-Language"] = locale
    return message


def message_id_for(outbox_id: str) -> str:
    return f"<{outbox_id}@anlauf>"


@dataclass(frozen=True)
class SMTPConfig:
    hostname: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False  # smtps://: TLS from the first byte
    start_tls: bool = False  # smtp://...?starttls=true: upgrade after EHLO
    timeout: float = SMTP_TIMEOUT


def parse_smtp_url(url: str) -> SMTPConfig:
    """`smtp://[user:pass@]host:port[?starttls=true]` or `smtps://[user:pass@]host:port`."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"SMTP URL must start with smtp:// or smtps://, got {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError("SMTP URL has no host")
    query = parse_qs(parts.query)
    use_tls = parts.scheme == "smtps"
    start_tls = not use_tls and query.get("starttls", ["false"])[-1].lower() in _TRUE
    default_port = 465 if use_tls else (587 if start_tls else 25)
    timeout = float(query["timeout"][-1]) if "timeout" in query else SMTP_TIMEOUT
    return SMTPConfig(
        hostname=parts.hostname,
        port=parts.port or default_port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
        start_tls=start_tls,
        timeout=timeout,
    )


class SMTPSender:
    """One SMTP connection per mail (simple and robust; mail volume here is modest)."""

    def __init__(self, config: SMTPConfig) -> None:
        self.config = config
        self._closing: set[asyncio.Task[None]] = set()

    async def send(self, message: EmailMessage) -> None:
        c = self.config
        client = aiosmtplib.SMTP(
            hostname=c.hostname,
            port=c.port,
            username=c.username,
            password=c.password,
            use_tls=c.use_tls,
            # False, not None: None would mean "STARTTLS if offered", which fails against mail
            # catchers with self-signed certificates. Ask for it in the URL instead.
            start_tls=c.start_tls,
            timeout=c.timeout,
        )
        try:
            await client.connect()  # logs in too, when the URL has credentials
            await client.send_message(message)
        except BaseException as exc:
            client.close()
            if isinstance(exc, Exception):
                raise _classify(exc) from exc
            raise
        # Accepted. Say goodbye in the background so that the caller can record the delivery
        # at once: the time between the server's "250 OK" and that commit is the only window
        # in which a crash makes us send the mail again.
        task = asyncio.create_task(_quit(client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except Exception:  # noqa: S110 - the mail is delivered; a rude goodbye does not matter
        pass
    finally:
        client.close()


def _classify(exc: Exception) -> MailDeliveryError:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        if codes and all(code >= 500 for code in codes):
            return PermanentMailError(text, recipient_rejected=True)
        return TransientMailError(text)
    if isinstance(exc, (aiosmtplib.SMTPRecipientRefused, aiosmtplib.SMTPDataError)):
        text = f"{exc.code} {exc.message}"
        if exc.code >= 500:
            return PermanentMailError(text, recipient_rejected=True)
        return TransientMailError(text)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # Sender refused, authentication failed, HELO rejected, service unavailable: these are
        # about us (configuration, reputation), not the recipient. Retrying with backoff gives
        # an operator time to fix them instead of failing every queued mail at once.
        return TransientMailError(f"{exc.code} {exc.message}")
    # Connection refused or reset, timeouts, TLS trouble, anything unexpected: try again later
    # (bounded by RetryPolicy.max_attempts).
    return TransientMailError(f"{type(exc).__name__}: {exc}")


class FileSender:
    """Development default: each mail becomes `<outbox id>.eml` under a folder, and a log line.

    The file name comes from the Message-ID, so a repeated send overwrites rather than
    duplicates.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage) -> None:
        name = str(message["Message-ID"]).strip("<>").split("@", 1)[0] or "mail"
        path = self.directory / f"{name}.eml"
        try:
            await asyncio.to_thread(_write_atomically, path, message.as_bytes())
        except OSError as exc:
            raise TransientMailError(f"cannot write {path}: {exc}") from exc
        log.info("mail to %s (%s) written to %s", message["To"], message["Subject"], path)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".eml.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def make_sender(settings: Settings) -> MailSender:
    """SMTP when ANLAUF_SMTP_URL is set, otherwise .eml files under ANLAUF_OUTBOX_DIR."""
    if settings.smtp_url:
        return SMTPSender(parse_smtp_url(settings.smtp_url))
    return FileSender(Path(settings.outbox_dir))


def describe(sender: Any) -> str:
    """For a start-up log line, without credentials."""
    if isinstance(sender, SMTPSender):
        c = sender.config
        scheme = "smtps" if c.use_tls else "smtp"
        tls = "+starttls" if c.start_tls else ""
        return f"{scheme}{tls}://{c.hostname}:{c.port}"
    if isinstance(sender, FileSender):
        return f"files in {sender.directory}"
    return type(sender).__name__
