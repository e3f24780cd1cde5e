"""`anlauf tick [--at]` as an operator runs it: a separate process against the test database
(a SQLite file, or PostgreSQL), mail delivered through the real SMTP test server before it exits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from market.db import utcnow
from notifications.models import OutboxItem
from tests.anlauf_cli import run_anlauf
from tests.factories import make_user, post_body
from tests.smtp import SmtpServer


async def _tick(settings: Any, *args: str) -> tuple[int, str, str]:
    return await run_anlauf(settings, "tick", *args)


async def test_tick_at_runs_every_rule_and_sends_its_mail(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    seeker = await make_user(app, client, "seeker", locale="en")
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    assert r.status_code == 201
    # Only the tick's own process may deliver: the app's relay stops here.
    await app.state.relay.stop()
    mailbox.clear()

    code, out, err = await _tick(
        app.state.settings, "--at", (utcnow() + timedelta(days=31)).isoformat()
    )
    assert code == 0, err
    lines = dict(line.split(": ", 1) for line in out.splitlines()[1:])
    assert lines["needs_asked_to_confirm"] == "1"
    for rule in (
        "reminders",
        "expired",
        "certificates",
        "needs_closed_unconfirmed",
        "digests_queued",
    ):
        assert rule in lines, out
    # Delivered before the command exited.
    assert [m.to for m in mailbox.messages] == [seeker.email]
    async with app.state.sessionmaker() as s:
        pending = await s.scalars(select(OutboxItem.id).where(OutboxItem.status == "pending"))
        assert list(pending) == []

    # The same moment again: nothing more to do.
    code, out, _ = await _tick(
        app.state.settings, "--at", (utcnow() + timedelta(days=31)).isoformat()
    )
    assert code == 0 and "needs_asked_to_confirm: 0" in out


async def test_tick_with_a_bad_time_explains_and_changes_nothing(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    seeker = await make_user(app, client, "seeker", locale="en")
    await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    for bad in ("tomorrow", "2027-13-01", "'; DROP TABLE posts; --"):
        code, out, err = await _tick(app.state.settings, "--at", bad)
        assert code == 2 and "ISO 8601" in err and out == ""
    async with app.state.sessionmaker() as s:
        assert (
            list(await s.scalars(select(OutboxItem.id).where(OutboxItem.job == "send_mail"))) == []
        )
