"""Registration and password reset do the same work whether or not the address is known (API.md
Release 2: "take the same time"), so neither the answer nor its timing tells who has an account.

The work is counted, not timed: argon2 hashes (nearly all of a registration's time) and mails
put into the outbox. Medians of 20 tries are printed for the record (run with -s), never
asserted: wall-clock limits make flaky tests on a shared machine.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import event

from notifications.models import OutboxItem
from tests.factories import make_user
from tests.pages import count


class Argon2Calls:
    """Counts argon2 hashes and verifications, wherever in the app they happen."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hashes = 0
        self.verifies = 0
        self._lock = threading.Lock()  # argon2 runs in worker threads
        real_hash, real_verify = PasswordHasher.hash, PasswordHasher.verify

        def counted_hash(hasher: PasswordHasher, *args: Any, **kwargs: Any) -> str:
            with self._lock:
                self.hashes += 1
            return real_hash(hasher, *args, **kwargs)

        def counted_verify(hasher: PasswordHasher, *args: Any, **kwargs: Any) -> bool:
            with self._lock:
                self.verifies += 1
            return real_verify(hasher, *args, **kwargs)

        monkeypatch.setattr(PasswordHasher, "hash", counted_hash)
        monkeypatch.setattr(PasswordHasher, "verify", counted_verify)

    def reset(self) -> None:
        self.hashes = self.verifies = 0


async def work_of(
    app: Any, calls: Argon2Calls, send: Any
) -> tuple[tuple[int, int, int], httpx.Response]:
    """(argon2 hashes, argon2 verifications, outbox rows) one request caused, and its answer."""
    before = await count(app, OutboxItem)
    calls.reset()
    response = await send()
    return (calls.hashes, calls.verifies, await count(app, OutboxItem) - before), response


def body(email: str) -> dict[str, Any]:
    return {
        "email": email,
        "password": "a long enough password",
        "display_name": "Samira",
        "role": "seeker",
        "locale": "de",
    }


async def test_registration_does_the_same_work_for_a_known_address(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = await make_user(app, client, "seeker")
    calls = Argon2Calls(monkeypatch)

    def register(email: str) -> Any:
        return lambda: client.post("/api/v1/auth/register", json=body(email))

    new_work, new_answer = await work_of(app, calls, register("samira.new@example.org"))
    known_work, known_answer = await work_of(app, calls, register(known.email))
    # One hash and one mail either way: a verification link, or "you have an account already".
    assert new_work == known_work == (1, 0, 1)
    assert (new_answer.status_code, new_answer.json()) == (
        known_answer.status_code,
        known_answer.json(),
    )


async def test_password_reset_does_the_same_work_for_an_unknown_address(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = await make_user(app, client, "seeker")
    calls = Argon2Calls(monkeypatch)

    # The relay would send the mails meanwhile on the same engine: stop it, so that only the
    # requests' own statements are counted (the outbox rows stay and are counted all the same).
    await app.state.relay.stop()
    # (connection, statement): background tasks of the app (maintenance, live updates) use the
    # same engine, so only the connection of the request itself is counted below.
    statements: list[tuple[int, str]] = []
    recording = False

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if recording:
            statements.append((id(conn), statement))

    async def answer(email: str) -> httpx.Response:
        nonlocal recording
        recording = True
        try:
            return await client.post("/api/v1/auth/password-reset", json={"email": email})
        finally:
            recording = False

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        known_work, known_answer = await work_of(app, calls, lambda: answer(known.email))
        known_statements, statements[:] = _of_request(statements), []
        unknown_work, unknown_answer = await work_of(
            app, calls, lambda: answer("nobody.here@example.org")
        )
        unknown_statements = _of_request(statements)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    # One mail either way: a reset link, or "there is no account with this address"; and as
    # many round trips to the database.
    assert known_work == unknown_work == (0, 0, 1)
    assert known_statements == unknown_statements
    assert (known_answer.status_code, known_answer.json()) == (
        unknown_answer.status_code,
        unknown_answer.json(),
    )


async def test_median_times_for_the_record(client: httpx.AsyncClient, app: Any) -> None:
    """20 registrations and resets each for known and unknown addresses, alternating; a pause
    after each lets the outbox relay hand the mail over, which would otherwise slow the next."""
    known = await make_user(app, client, "seeker")
    times: dict[str, list[float]] = {k: [] for k in ("reg new", "reg known", "reset", "no acct")}
    for i in range(20):
        for label, url, payload in (
            ("reg new", "/api/v1/auth/register", body(f"new{i}@example.org")),
            ("reg known", "/api/v1/auth/register", body(known.email)),
            ("reset", "/api/v1/auth/password-reset", {"email": known.email}),
            ("no acct", "/api/v1/auth/password-reset", {"email": f"none{i}@example.org"}),
        ):
            start = time.perf_counter()
            r = await client.post(url, json=payload)
            times[label].append(time.perf_counter() - start)
            assert r.status_code == 202, r.text
            await asyncio.sleep(0.1)
    medians = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(
        "\nmedian ms: "
        + ", ".join(f"{k} {v:.1f}" for k, v in medians.items())
        + f"; register ratio {max(medians['reg new'], medians['reg known']) / min(medians['reg new'], medians['reg known']):.2f}"
        + f"; reset ratio {max(medians['reset'], medians['no acct']) / min(medians['reset'], medians['no acct']):.2f}"
    )


def _of_request(statements: list[tuple[int, str]]) -> int:
    """How many statements the request's own connection sent: the one that wrote the mail."""
    (conn,) = {c for c, sql in statements if sql.lstrip().upper().startswith("INSERT INTO OUTBOX")}
    return sum(1 for c, _ in statements if c == conn)
