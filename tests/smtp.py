"""A real SMTP server on loopback (aiosmtpd) for tests: keeps every message, can refuse or stall.

    server = SmtpServer()
    server.start()
    server.reject("bounce@example.org", "550 5.1.1 No such user")          # always
    server.reject("busy@example.org", "451 4.3.0 Try again later", times=1)  # once, then accept
    server.delay = 0.1   # seconds between the client's final "." and the "250" (see below)
    server.rcpt_delay = 0.1   # seconds before answering RCPT TO (a slow but safe server)
    ...
    await server.wait_for("someone@example.org")
    await server.wait_for_count(3)
    server.duplicates()  # {message_id: copies} for every Message-ID received more than once
    server.stop()

A delay after the final "." is the window RFC 1047 describes: the server has the mail, the
client has not heard so yet. A client that dies in it cannot know the mail went out, so it sends
it again; use `delay` to provoke that, `rcpt_delay` to be slow without widening it.

The server runs in its own thread and event loop (aiosmtpd's Controller), so it also serves
other processes, such as an arq worker started by a test.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    received_at: float = 0.0  # time.monotonic() when the server accepted it

    @property
    def to(self) -> str:
        return self.rcpt_tos[0]

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == f"text/{subtype}":
                return str(part.get_content())
        return ""

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")


@dataclass
class _Rule:
    reply: str  # the SMTP reply for RCPT, e.g. "550 5.1.1 No such user" or "451 4.3.0 Try later"
    times: int | None  # None: every time


class _Handler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.rules: dict[str, _Rule] = {}
        self.refused: list[tuple[str, str]] = []
        self.delay = 0.0
        self.rcpt_delay = 0.0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        key = address.lower()
        with self.lock:
            rule = self.rules.get(key)
            if rule is not None:
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times <= 0:
                        del self.rules[key]
                self.refused.append((key, rule.reply))
                return rule.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message, time.monotonic())
            )
        return "250 2.0.0 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _Handler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def clear(self) -> None:
        """Forget all mail and refusals; accept every address again, without delays."""
        with self.handler.lock:
            self.handler.received.clear()
            self.handler.rules.clear()
            self.handler.refused.clear()
        self.handler.delay = 0.0
        self.handler.rcpt_delay = 0.0

    @property
    def delay(self) -> float:
        return self.handler.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self.handler.delay = seconds

    @property
    def rcpt_delay(self) -> float:
        return self.handler.rcpt_delay

    @rcpt_delay.setter
    def rcpt_delay(self, seconds: float) -> None:
        self.handler.rcpt_delay = seconds

    def reject(self, address: str, reply: str, *, times: int | None = None) -> None:
        """Answer RCPT TO for `address` with `reply` ("550 ..." or "451 ..."), `times` times
        (None: every time)."""
        with self.handler.lock:
            self.handler.rules[address.lower()] = _Rule(reply, times)

    def accept(self, address: str) -> None:
        with self.handler.lock:
            self.handler.rules.pop(address.lower(), None)

    @property
    def refused(self) -> list[tuple[str, str]]:
        """(address, reply) for every RCPT TO refused so far."""
        with self.handler.lock:
            return list(self.handler.refused)

    @property
    def messages(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def message_ids(self) -> list[str]:
        return [m.message_id for m in self.messages]

    def duplicates(self) -> dict[str, int]:
        return {mid: n for mid, n in Counter(self.message_ids()).items() if n > 1}

    async def wait_for_count(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until at least `count` messages arrived in total."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return self.messages
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} mail(s), got {len(self.messages)}")

    async def wait_for(
        self, address: str, count: int = 1, timeout: float = 10.0, containing: str | None = None
    ) -> list[Received]:
        """Wait until at least `count` messages to `address` (whose text holds `containing`,
        when given) arrived. Other mails may arrive in any order, so a test waiting for one
        kind names it rather than counting everything."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.to(address) if containing is None or containing in m.text]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} mail(s) to {address}, got {len(self.to(address))}")
