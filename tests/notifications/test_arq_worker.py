"""The arq path end to end: real worker processes, Redis db 5, PostgreSQL, aiosmtpd.

Killing a worker with SIGKILL in the middle of a batch must lose nothing. Duplicates are
possible only for a mail the server accepted in the instant before the kill, before the
"done" commit reached the database ("in doubt"); those keep their Message-ID. The test
measures that window instead of assuming it away.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.settings import Settings
from market.worker import WorkerSettings
from notifications.models import OutboxItem
from notifications.smtp import message_id_for
from tests.notifications.conftest import requires_postgres
from tests.notifications.procs import (
    Workers,
    kill_mid_batch,
    queue_mails,
    relay_for,
    wait_all_done,
    worker_env,
)
from tests.smtp import SmtpServer

pytestmark = [requires_postgres, pytest.mark.slow]

JOB_TIMEOUT = 5  # arq re-runs a killed worker's in-flight jobs after this + 10 s


@pytest.fixture
def arq_settings(notif_settings: Settings, redis_db5: str) -> Settings:
    return notif_settings.model_copy(update={"redis_url": redis_db5})


@pytest.fixture
def workers(arq_settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    """Worker processes on `arq_settings` (`workers.spawn()`), stopped after the test."""
    env = worker_env(
        database_url=arq_settings.database_url,
        redis_url=str(arq_settings.redis_url),
        smtp_url=str(arq_settings.smtp_url),
        folder=tmp_path,
        job_timeout=JOB_TIMEOUT,
    )
    with Workers(tmp_path, env) as started:
        yield started


async def test_arq_cli_worker_delivers_what_the_relay_hands_over(
    sm: async_sessionmaker[AsyncSession],
    arq_settings: Settings,
    workers: Workers,
    mail_server: SmtpServer,
) -> None:
    """`python -m arq market.worker.WorkerSettings`, exactly as documented."""
    workers.spawn(command=[sys.executable, "-m", "arq", "market.worker.WorkerSettings"])
    async with relay_for(sm, arq_settings, interval=3600, grace=timedelta(hours=1)) as relay:
        ids = await queue_mails(sm, arq_settings, 3)
        relay.kick(ids)
        await wait_all_done(sm, 3, 30, workers)
    assert sorted(mail_server.message_ids()) == sorted(message_id_for(i) for i in ids)
    assert re.search(r"Starting worker for \d+ functions: .*send_mail", workers[0].tail(200))


async def test_worker_alone_recovers_rows_that_never_reached_redis(
    sm: async_sessionmaker[AsyncSession],
    arq_settings: Settings,
    workers: Workers,
    mail_server: SmtpServer,
) -> None:
    """The web process committed and died before kicking (or Redis lost its data)."""
    ids = await queue_mails(sm, arq_settings, 5)
    workers.spawn()
    # The worker's sweep leaves rows younger than its 5 s grace alone, then hands them over.
    await wait_all_done(sm, 5, 30, workers)
    assert sorted(mail_server.message_ids()) == sorted(message_id_for(i) for i in ids)


async def test_transient_failure_is_retried_through_arq(
    sm: async_sessionmaker[AsyncSession],
    arq_settings: Settings,
    workers: Workers,
    mail_server: SmtpServer,
) -> None:
    """The job ran and left its row pending; the same arq job id is accepted again."""
    mail_server.reject("u0@example.org", "451 4.3.0 Try again later", times=2)
    workers.spawn()
    async with relay_for(sm, arq_settings, interval=0.3, grace=timedelta(0)) as relay:
        ids = await queue_mails(sm, arq_settings, 1)
        relay.kick(ids)
        await wait_all_done(sm, 1, 30, workers)
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
    workers: Workers,
    mail_server: SmtpServer,
    slow_phase: str,
) -> None:
    total = 200
    if slow_phase == "rcpt":
        mail_server.rcpt_delay = 0.05
    else:
        mail_server.delay = 0.05
    first = workers.spawn()
    async with relay_for(sm, arq_settings, interval=0.5) as relay:
        ids = await queue_mails(sm, arq_settings, total)
        relay.kick(ids)
        await mail_server.wait_for_count(40, timeout=60)
        kill = await kill_mid_batch(sm, first, mail_server, jitter=0.05)
        assert kill.received < total, "the batch finished before the kill; nothing tested"

        workers.spawn()
        # In-flight jobs of the killed worker come back when arq's in-progress marker expires
        # (JOB_TIMEOUT + 10 s); everything else goes at once.
        await wait_all_done(sm, total, 90, workers)

    counts = Counter(mail_server.message_ids())
    assert set(counts) == {message_id_for(i) for i in ids}, "every mail arrived"
    duplicates = {mid for mid, n in counts.items() if n > 1}
    print(
        f"\n[{slow_phase}] kill -9 after {kill.received}/{total} mails; in doubt: "
        f"{len(kill.in_doubt)} (accepted {kill.doubt_ms} ms before the kill); "
        f"duplicates: {len(duplicates)}"
    )
    # Only the killed worker's in-flight jobs (max_jobs = 10) can be in doubt, each at most
    # once; every duplicate is one of them and carries the original Message-ID.
    assert all(n <= 2 for n in counts.values())
    assert duplicates <= kill.in_doubt, "a duplicate that was not in the crash window"
    assert len(kill.in_doubt) <= WorkerSettings.max_jobs
