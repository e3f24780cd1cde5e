"""The arq path end to end: real worker processes, Redis db 5, PostgreSQL, aiosmtpd.

Killing a worker with SIGKILL in the middle of a batch must lose nothing. Duplicates are
possible only for a mail the server accepted in the instant before the kill, before the
"done" commit reached the database ("in doubt"); those keep their Message-ID. The test
measures that window instead of assuming it away.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.settings import Settings
from market.worker import WorkerSettings
from notifications.mail import queue_mail
from notifications.models import OutboxItem
from notifications.outbox import Relay, pop_outbox_ids
from notifications.smtp import message_id_for
from tests.notifications.conftest import requires_postgres
from tests.notifications.smtp_server import MailCatcher

pytestmark = [requires_postgres, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
ENTRY = Path(__file__).with_name("worker_entry.py")
JOB_TIMEOUT = 5  # arq re-runs a killed worker's in-flight jobs after this + 10 s
VERIFY = {"name": "Amira", "link": "http://anlauf.test/verify?token=abc"}


class WorkerProcess:
    """An arq worker in a child process, its output in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.command = command
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def arq_settings(notif_settings: Settings, redis_db5: str) -> Settings:
    return notif_settings.model_copy(update={"redis_url": redis_db5})


@pytest.fixture
def worker_env(arq_settings: Settings, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANLAUF_")}
    env.update(
        ANLAUF_ENV="test",
        ANLAUF_DATABASE_URL=arq_settings.database_url,
        ANLAUF_REDIS_URL=str(arq_settings.redis_url),
        ANLAUF_SMTP_URL=str(arq_settings.smtp_url),
        ANLAUF_MAIL_FROM=arq_settings.mail_from,
        ANLAUF_BASE_URL=arq_settings.base_url,
        ANLAUF_SECRET_KEY="worker-test",
        ANLAUF_INSTANCE_DIR=str(tmp_path / "instance"),
        ANLAUF_OUTBOX_DIR=str(tmp_path / "outbox"),
        ANLAUF_RELAY_INTERVAL_SECONDS="0.5",
        TEST_JOB_TIMEOUT=str(JOB_TIMEOUT),
        PYTHONPATH=str(REPO),
    )
    return env


@pytest.fixture
def workers(worker_env: dict[str, str], tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


def _spawn(
    workers: list[WorkerProcess],
    env: dict[str, str],
    tmp_path: Path,
    command: list[str] | None = None,
) -> WorkerProcess:
    worker = WorkerProcess(
        command or [sys.executable, str(ENTRY)], env, tmp_path / f"worker{len(workers)}.log"
    )
    workers.append(worker)
    worker.start()
    return worker


@contextlib.asynccontextmanager
async def relay_for(
    sm: async_sessionmaker[AsyncSession], settings: Settings, **kwargs: object
) -> AsyncIterator[Relay]:
    relay = Relay(sm, settings, **kwargs)  # type: ignore[arg-type]
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop()


async def _queue(
    sm: async_sessionmaker[AsyncSession], settings: Settings, n: int, prefix: str = "u"
) -> list[str]:
    async with sm() as session:
        for i in range(n):
            await queue_mail(
                session,
                to=f"{prefix}{i}@example.org",
                template="verify_email",
                locale="de",
                context=VERIFY,
                settings=settings,
            )
        await session.commit()
        return pop_outbox_ids(session)


async def _statuses(sm: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sm() as session:
        rows = await session.execute(
            select(OutboxItem.status, func.count()).group_by(OutboxItem.status)
        )
        return {status: count for status, count in rows}


async def _wait_all_done(
    sm: async_sessionmaker[AsyncSession], n: int, timeout: float, workers: list[WorkerProcess]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await _statuses(sm) == {"done": n}:
            return
        await asyncio.sleep(0.1)
    logs = "\n---\n".join(w.tail() for w in workers)
    raise AssertionError(f"not all done after {timeout}s: {await _statuses(sm)}\n{logs}")


async def test_arq_cli_worker_delivers_what_the_relay_hands_over(
    sm: async_sessionmaker[AsyncSession],
    arq_settings: Settings,
    worker_env: dict[str, str],
    workers: list[WorkerProcess],
    mail_server: MailCatcher,
    tmp_path: Path,
) -> None:
    """`python -m arq market.worker.WorkerSettings`, exactly as documented."""
    _spawn(
        workers, worker_env, tmp_path, [sys.executable, "-m", "arq", "market.worker.WorkerSettings"]
    )
    async with relay_for(sm, arq_settings, interval=3600, grace=timedelta(hours=1)) as relay:
        ids = await _queue(sm, arq_settings, 3)
        relay.kick(ids)
        await _wait_all_done(sm, 3, 30, workers)
    assert sorted(mail_server.message_ids()) == sorted(message_id_for(i) for i in ids)
    assert re.search(r"Starting worker for \d+ functions: .*send_mail", workers[0].tail(200))


async def test_worker_alone_recovers_rows_that_never_reached_redis(
    sm: async_sessionmaker[AsyncSession],
    arq_settings: Settings,
    worker_env: dict[str, str],
    workers: list[WorkerProcess],
    mail_server: MailCatcher,
    tmp_path: Path,
) -> None:
    """The web process committed and died before kicking (or Redis lost its data)."""
    ids = await _queue(sm, arq_settings, 5)
    _spawn(workers, worker_env, tmp_path)
    # The worker's sweep leaves rows younger than its 5 s grace alone, then hands them over.
    await _wait_all_done(sm, 5, 30, workers)
    assert sorted(mail_server.message_ids()) == sorted(message_id_for(i) for i in ids)


async def test_transient_failure_is_retried_through_arq(
    sm: async_sessionmaker[AsyncSession],
    arq_settings: Settings,
    worker_env: dict[str, str],
    workers: list[WorkerProcess],
    mail_server: MailCatcher,
    tmp_path: Path,
) -> None:
    """The job ran and left its row pending; the same arq job id is accepted again."""
    mail_server.reject("u0@example.org", "451 4.3.0 Try again later", times=2)
    _spawn(workers, worker_env, tmp_path)
    async with relay_for(sm, arq_settings, interval=0.3, grace=timedelta(0)) as relay:
        ids = await _queue(sm, arq_settings, 1)
        relay.kick(ids)
        await _wait_all_done(sm, 1, 30, workers)
    async with sm() as session:
        item = await session.get(OutboxItem, ids[0])
        assert item is not None and item.attempts == 3
    assert len(mail_server.refused) == 2
    assert mail_server.message_ids() == [message_id_for(ids[0])]


@pytest.mark.parametrize(
    "slow_phase",
    [
        # A server that takes its time before the data (DNS checks, greylisting) and answers
        # the final "." at once: the usual case.
        "rcpt",
        # Worst case: 50 ms between the final "." and "250 OK" (RFC 1047's window). Mails
        # the server took while their sender died are sent again, recognisably.
        "data",
    ],
)
async def test_kill_9_mid_batch_loses_nothing_and_sends_nothing_twice(
    sm: async_sessionmaker[AsyncSession],
    arq_settings: Settings,
    worker_env: dict[str, str],
    workers: list[WorkerProcess],
    mail_server: MailCatcher,
    tmp_path: Path,
    slow_phase: str,
) -> None:
    total = 200
    if slow_phase == "rcpt":
        mail_server.rcpt_delay = 0.05
    else:
        mail_server.delay = 0.05
    first = _spawn(workers, worker_env, tmp_path)
    async with relay_for(sm, arq_settings, interval=0.5) as relay:
        ids = await _queue(sm, arq_settings, total)
        relay.kick(ids)
        await mail_server.wait_for_count(40, timeout=60)
        # Not right after an arrival (that would aim the kill at a mail's commit window).
        await asyncio.sleep(random.uniform(0.0, 0.05))
        killed_at = time.monotonic()
        first.kill()
        received_at_kill = len(mail_server.messages)
        assert received_at_kill < total, "the batch finished before the kill; nothing tested"

        await asyncio.sleep(1.0)  # PostgreSQL ends the dead worker's transactions
        async with sm() as session:
            pending = set(
                await session.scalars(select(OutboxItem.id).where(OutboxItem.status == "pending"))
            )
        received = {m.message_id: m.received_at for m in mail_server.messages}
        in_doubt = {message_id_for(i) for i in pending} & set(received)
        doubt_ms = sorted(round((killed_at - received[mid]) * 1000, 1) for mid in in_doubt)

        _spawn(workers, worker_env, tmp_path)
        # In-flight jobs of the killed worker come back when arq's in-progress marker expires
        # (JOB_TIMEOUT + 10 s); everything else goes at once.
        await _wait_all_done(sm, total, 90, workers)

    counts = Counter(mail_server.message_ids())
    assert set(counts) == {message_id_for(i) for i in ids}, "every mail arrived"
    duplicates = {mid for mid, n in counts.items() if n > 1}
    print(
        f"\n[{slow_phase}] kill -9 after {received_at_kill}/{total} mails; in doubt: "
        f"{len(in_doubt)} (accepted {doubt_ms} ms before the kill); "
        f"duplicates: {len(duplicates)}"
    )
    # Only the killed worker's in-flight jobs (max_jobs = 10) can be in doubt, each at most
    # once; every duplicate is one of them and carries the original Message-ID.
    assert all(n <= 2 for n in counts.values())
    assert duplicates <= in_doubt, "a duplicate that was not in the crash window"
    assert len(in_doubt) <= WorkerSettings.max_jobs
