"""Mail delivery under faults: lost, duplicated and slowest mail, 1,000 mails per fault.

    python benchmarks/faults.py                 # all four faults, 1,000 mails each
    python benchmarks/faults.py --count 300     # smaller batches
    python benchmarks/faults.py --only kill     # one fault: kill, redis, postgres, smtp

Everything is real and runs as deployed: `anlauf worker` child processes (WorkerSettings as
shipped: job timeout 60 s, max_jobs 10), this process as the web process (its outbox relay with
the default sweep interval), an aiosmtpd server on loopback, a private redis-server and, for the
restart, a private PostgreSQL cluster (the shared services are never stopped). Each fault
strikes once 30 % of the batch has arrived:

- kill: `kill -9` of the worker, three times during the batch; a new worker is started at once
  after each (as a process supervisor would). "Held" are the jobs arq marked as running in the
  dead worker; their mails must arrive again within 15 s of the kill.
- redis: the private Redis stopped for 6 s (its queue is lost: no persistence), 200 more mails
  written meanwhile.
- postgres: the private PostgreSQL cluster restarted (`pg_ctl -m fast`).
- smtp: the SMTP server gone for 10 s (connection refused), then back on the same port.

A duplicate is a second copy of one Message-ID. It can only come from the window RFC 1047
describes: the SMTP server accepted the mail and the worker died (or lost its database) before
it recorded so. Duplicates are counted as "in the window" when their first copy arrived while
the fault struck (for kills: while the row was still pending right after the kill).

The run ends with one line per target and `faults: N met, M missed`; it exits 0 only when M is 0.
Wall-clock figures are reported, never asserted in tests.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks import datagen
from market import migrate
from market.db import make_engine, make_sessionmaker
from market.settings import Settings
from notifications.models import OutboxItem
from notifications.outbox import Relay
from notifications.smtp import message_id_for
from tests.notifications.procs import (
    PostgresCluster,
    RedisServer,
    WorkerProcess,
    queue_notifications,
    statuses,
    worker_env,
)
from tests.smtp import SmtpServer

DEFAULT_DB = "postgresql+asyncpg://postgres@127.0.0.1:5432/anlauf_bench_faults"
WORKER = [sys.executable, "-m", "market.cli", "worker"]  # `anlauf worker`, as deployed
KILL_TARGET_SECONDS = 15.0


@dataclass
class Result:
    name: str
    fault: str
    expected: int = 0
    delivered: int = 0
    duplicated: int = 0
    in_window: int = 0
    slowest: float = 0.0  # seconds from an event to its mail's arrival, the slowest mail
    recovery: float = 0.0  # seconds from the fault's end to the last mail it held up
    held: int = 0  # kill: jobs the dead workers held
    held_slowest: float = 0.0  # kill: slowest of those, from the kill to its arrival
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.expected - self.delivered


class Run:
    """What one fault needs: database, Redis, SMTP server, workers, this process's relay."""

    def __init__(self, folder: Path, database_url: str, redis: RedisServer) -> None:
        self.folder = folder
        self.database_url = database_url
        self.redis = redis
        self.smtp = SmtpServer()
        self.smtp.start()
        self.smtp.rcpt_delay = 0.005  # spread the batch over a few seconds
        self.offset = time.time() - time.monotonic()  # arrival stamps are monotonic
        self.settings = Settings(
            env="test",
            database_url=database_url,
            redis_url=redis.url,
            smtp_url=self.smtp.url,
            mail_from="Anlauf <noreply@anlauf.test>",
            base_url="http://anlauf.test",
            secret_key="bench",
            instance_dir=folder / "instance",
            outbox_dir=folder / "outbox",
        )
        self.env = worker_env(
            database_url=database_url,
            redis_url=redis.url,
            smtp_url=self.smtp.url,
            folder=folder,
            relay_interval=Settings().relay_interval_seconds,  # the shipped default
        )
        self.workers: list[WorkerProcess] = []
        self.startups: list[float] = []  # seconds each worker took to be ready
        self.engine = make_engine(database_url)
        self.sm: async_sessionmaker[AsyncSession] = make_sessionmaker(self.engine, self.settings)

    async def spawn(self) -> WorkerProcess:
        """Start `anlauf worker` and wait until it is ready (its start-up time is kept)."""
        started = time.monotonic()
        worker = WorkerProcess(WORKER, self.env, self.folder / f"worker{len(self.workers)}.log")
        self.workers.append(worker)
        worker.start()
        deadline = time.monotonic() + 30
        while "anlauf worker ready" not in _read(worker.log_path):
            if not worker.alive or time.monotonic() > deadline:
                raise SystemExit(f"the worker did not start:\n{worker.tail()}")
            await asyncio.sleep(0.05)
        self.startups.append(time.monotonic() - started)
        return worker

    @contextlib.asynccontextmanager
    async def relay(self) -> AsyncIterator[Relay]:
        relay = Relay(self.sm, self.settings)  # the web process's relay, default interval
        await relay.start()
        try:
            yield relay
        finally:
            await relay.stop(wait=5)

    async def arrived(self, count: int, within: float = 120) -> None:
        await self.smtp.wait_for_count(count, timeout=within)

    async def wait_done(self, total: int, within: float = 300) -> None:
        deadline = time.monotonic() + within
        state: dict[str, int] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # the database may be restarting
                state = await statuses(self.sm)
                if state.get("done", 0) >= total and set(state) == {"done"}:
                    return
            await asyncio.sleep(0.2)
        tails = "\n---\n".join(w.tail(20) for w in self.workers)
        raise SystemExit(f"not all done after {within} s: {state}\n{tails}")

    async def tally(self, result: Result, ids: list[str], window: tuple[float, float]) -> None:
        """Count what arrived; `window`: monotonic start and end of the fault."""
        async with self.sm() as session:
            created = {
                r.id: r.created_at.timestamp()
                for r in await session.execute(select(OutboxItem.id, OutboxItem.created_at))
            }
        wanted = {message_id_for(i): i for i in ids}
        first: dict[str, float] = {}
        counts: Counter[str] = Counter()
        for m in self.smtp.messages:
            if m.message_id in wanted:
                counts[m.message_id] += 1
                first.setdefault(m.message_id, m.received_at)
        result.expected = len(wanted)
        result.delivered = len(counts)
        result.duplicated = sum(n - 1 for n in counts.values())
        if not result.in_window:
            start, end = window
            result.in_window = sum(
                n - 1 for mid, n in counts.items() if n > 1 and start - 1 <= first[mid] <= end
            )
        result.slowest = max(
            first[mid] + self.offset - created[oid] for mid, oid in wanted.items() if mid in first
        )
        late = [at for at in first.values() if at > window[1]]
        result.recovery = max(late) - window[1] if late else 0.0

    async def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.smtp.stop()
        await self.engine.dispose()


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


async def _running_jobs(redis_url: str) -> set[str]:
    """Outbox ids arq marks as in progress (with one worker: the ones it holds)."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        keys = await client.keys("arq:in-progress:*")
    finally:
        await client.aclose()
    return {k.decode().removeprefix("arq:in-progress:") for k in keys}


async def fault_kill(run: Run, count: int, kills: int = 3) -> Result:
    result = Result("kill", f"kill -9 of the worker x{kills}, a new one started at once")
    await run.spawn()
    started = time.monotonic()
    in_doubt: set[str] = set()
    held: dict[str, float] = {}  # outbox id -> monotonic time of the kill that orphaned it
    async with run.relay() as relay:
        ids = await queue_notifications(run.sm, run.settings, count, prefix="kill", relay=relay)
        for k in range(kills):
            await run.arrived(int(count * (0.3 + 0.2 * k)))
            victim = run.workers[-1]
            victim.kill()
            killed_at = time.monotonic()
            for oid in await _running_jobs(run.redis.url):
                held.setdefault(oid, killed_at)
            received = {m.message_id for m in run.smtp.messages}
            await run.spawn()
            async with run.sm() as session:
                pending = set(
                    await session.scalars(
                        select(OutboxItem.id).where(OutboxItem.status == "pending")
                    )
                )
            in_doubt |= {message_id_for(i) for i in pending} & received
        await run.wait_done(count)
    await run.tally(result, ids, (started, started))
    counts = Counter(m.message_id for m in run.smtp.messages)
    result.in_window = sum(n - 1 for mid, n in counts.items() if n > 1 and mid in in_doubt)
    arrivals: dict[str, float] = {}
    for m in run.smtp.messages:
        arrivals[m.message_id] = m.received_at  # the last copy: the one the recovery sent
    result.held = len(held)
    waits = [
        arrivals[message_id_for(oid)] - at
        for oid, at in held.items()
        if message_id_for(oid) in arrivals and arrivals[message_id_for(oid)] > at
    ]
    result.held_slowest = max(waits, default=0.0)
    result.recovery = result.held_slowest
    replacements = run.startups[1:]
    result.notes.append(
        f"the replacement workers took {min(replacements):.1f}-{max(replacements):.1f} s to start"
    )
    return result


async def fault_redis(run: Run, count: int) -> Result:
    result = Result("redis", "Redis stopped 6 s (queue lost), 200 mails written meanwhile")
    await run.spawn()
    async with run.relay() as relay:
        ids = await queue_notifications(run.sm, run.settings, count, prefix="redis", relay=relay)
        await run.arrived(int(count * 0.3))
        start = time.monotonic()
        run.redis.stop()
        ids += await queue_notifications(run.sm, run.settings, 200, prefix="during", relay=relay)
        await asyncio.sleep(max(0.0, 6 - (time.monotonic() - start)))
        run.redis.start()
        end = time.monotonic()
        await run.wait_done(len(ids))
    await run.tally(result, ids, (start, end))
    return result


async def fault_postgres(run: Run, count: int, cluster: PostgresCluster) -> Result:
    result = Result("postgres", "PostgreSQL restarted (pg_ctl -m fast)")
    await run.spawn()
    async with run.relay() as relay:
        ids = await queue_notifications(run.sm, run.settings, count, prefix="pg", relay=relay)
        await run.arrived(int(count * 0.3))
        start = time.monotonic()
        await asyncio.to_thread(cluster.restart)
        end = time.monotonic()
        await run.wait_done(count)
    await run.tally(result, ids, (start, end))
    return result


async def fault_smtp(run: Run, count: int) -> Result:
    result = Result("smtp", "SMTP server gone 10 s (connection refused)")
    await run.spawn()
    async with run.relay() as relay:
        ids = await queue_notifications(run.sm, run.settings, count, prefix="smtp", relay=relay)
        await run.arrived(int(count * 0.3))
        start = time.monotonic()
        run.smtp.controller.stop()
        await asyncio.sleep(10)
        # The same server (and its record of what arrived) back on the same port.
        run.smtp.controller = Controller(run.smtp.handler, hostname="127.0.0.1", port=run.smtp.port)
        run.smtp.controller.start()
        end = time.monotonic()
        await run.wait_done(count)
    await run.tally(result, ids, (start, end))
    return result


async def main_async(args: argparse.Namespace) -> int:
    load_before = os.getloadavg()[0]
    results: list[Result] = []
    chosen = args.only or ["kill", "redis", "postgres", "smtp"]
    for name in chosen:
        folder = Path(tempfile.mkdtemp(prefix=f"anlauf-faults-{name}-"))
        redis = RedisServer(folder)
        redis.start()
        cluster: PostgresCluster | None = None
        try:
            if name == "postgres":
                cluster = PostgresCluster()
                cluster.init()
                cluster.start()
                url = cluster.url()
            else:
                url = args.database_url
                await datagen.recreate_database(url)
            await asyncio.to_thread(migrate.upgrade, url)
            run = Run(folder, url, redis)
            try:
                print(f"... {name}", flush=True)
                if name == "kill":
                    results.append(await fault_kill(run, args.count))
                elif name == "redis":
                    results.append(await fault_redis(run, args.count))
                elif name == "postgres":
                    assert cluster is not None
                    results.append(await fault_postgres(run, args.count, cluster))
                else:
                    results.append(await fault_smtp(run, args.count))
            finally:
                await run.close()
        finally:
            redis.stop()
            if cluster is not None:
                cluster.stop()
                cluster.remove()
            shutil.rmtree(folder, ignore_errors=True)

    print()
    print(
        f"Anlauf mail delivery under faults, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average before the run {load_before:.1f}"
    )
    print()
    print(
        "| fault | mails | delivered | lost | duplicated | of them in the window | "
        "slowest mail (event to arrival) | last held-up mail after the fault |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r.fault} | {r.expected:,} | {r.delivered:,} | {r.lost} | {r.duplicated} | "
            f"{r.in_window} | {r.slowest:.1f} s | {r.recovery:.1f} s |"
        )
    kill = next((r for r in results if r.name == "kill"), None)
    if kill is not None:
        print(
            f"\nkill: {kill.held} jobs were held by killed workers; the slowest of them arrived "
            f"{kill.held_slowest:.1f} s after its kill; {'; '.join(kill.notes)}"
        )
    print()
    targets: list[tuple[str, bool, str]] = [
        ("no mail lost", all(r.lost == 0 for r in results), f"{sum(r.lost for r in results)} lost"),
        (
            "duplicates only inside the acknowledged window",
            all(r.duplicated == r.in_window for r in results),
            f"{sum(r.duplicated - r.in_window for r in results)} outside, "
            f"{sum(r.in_window for r in results)} inside",
        ),
    ]
    if kill is not None:
        targets.append(
            (
                f"mail held by a killed worker sent within {KILL_TARGET_SECONDS:.0f} s",
                kill.held_slowest <= KILL_TARGET_SECONDS,
                f"{kill.held_slowest:.1f} s",
            )
        )
    for label, ok, figure in targets:
        print(f"{label}: {'met' if ok else 'missed'} ({figure})")
    missed = sum(1 for _, ok, _ in targets if not ok)
    print(f"faults: {len(targets) - missed} met, {missed} missed")
    return 0 if missed == 0 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="mails per fault")
    parser.add_argument("--only", action="append", choices=["kill", "redis", "postgres", "smtp"])
    parser.add_argument("--database-url", default=DEFAULT_DB, help="dropped and recreated")
    raise SystemExit(asyncio.run(main_async(parser.parse_args())))


if __name__ == "__main__":
    main()
