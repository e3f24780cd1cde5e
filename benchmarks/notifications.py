"""Notification delivery benchmark: N notifications end to end, from the event to the SMTP server.

    python benchmarks/notifications.py                # 10,000 notifications
    python benchmarks/notifications.py --quick        # 1,000
    python benchmarks/notifications.py --count 25000
    python benchmarks/notifications.py --quick --rate 20   # paced: 20 events/s, one per transaction

What runs: PostgreSQL (a database of its own, dropped and recreated: --database-url), Redis
(--redis-url; that database is emptied), one `anlauf worker` child process exactly as deployed
(`python -m market.cli worker`: WorkerSettings, max_jobs 10), and an aiosmtpd server on loopback
in this process. This process plays the web process: it writes the notifications in
transactions of --batch people (each gets an in-app notification and a mail, through
notifications.inapp.notify and notifications.mail.queue_mail, as a coordinator's decisions
would), and its outbox relay kicks each committed batch over to arq.

Without --rate the notifications come as a burst (as fast as this process can write them), so
the delays mostly measure the queue the burst builds up; with --rate N they come at N per second,
each in a transaction of its own (like N requests per second), which shows the delay of a mail
when the worker keeps up.

Reported: the time to write the batch, mails per second at the SMTP server (first event to
last arrival), the delay from each event (its outbox row's created_at) to the arrival of its
mail (p50, p95, max), and duplicates (Message-IDs seen twice). Wall-clock figures are printed,
never asserted.
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
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime

from sqlalchemy import select, text

from benchmarks import datagen
from market import migrate
from market.db import make_engine, make_sessionmaker
from market.settings import Settings
from notifications.models import OutboxItem
from notifications.outbox import Relay
from notifications.smtp import message_id_for
from tests.notifications.procs import REPO, queue_notifications, statuses
from tests.smtp import SmtpServer

DEFAULT_DB = "postgresql+asyncpg://postgres@127.0.0.1:5432/anlauf_bench_notifications"
DEFAULT_REDIS = "redis://127.0.0.1:6379/6"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def _flush_redis(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def _start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """`anlauf worker`, as deployed."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "market.cli", "worker"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def run(args: argparse.Namespace) -> None:
    count = 1000 if args.quick and not args.count else (args.count or 10_000)
    load_before = os.getloadavg()[0]
    await datagen.recreate_database(args.database_url)
    await asyncio.to_thread(migrate.upgrade, args.database_url)
    await _flush_redis(args.redis_url)

    smtp = SmtpServer()
    smtp.start()
    folder = Path(tempfile.mkdtemp(prefix="anlauf-bench-"))
    settings = Settings(
        env="test",
        database_url=args.database_url,
        redis_url=args.redis_url,
        smtp_url=smtp.url,
        mail_from="Anlauf <noreply@anlauf.test>",
        base_url="http://anlauf.test",
        secret_key="bench",
        instance_dir=folder / "instance",
        outbox_dir=folder / "outbox",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANLAUF_")}
    env.update(
        ANLAUF_ENV="test",
        ANLAUF_DATABASE_URL=args.database_url,
        ANLAUF_REDIS_URL=args.redis_url,
        ANLAUF_SMTP_URL=smtp.url,
        ANLAUF_MAIL_FROM=settings.mail_from,
        ANLAUF_BASE_URL=settings.base_url,
        ANLAUF_SECRET_KEY="bench",
        ANLAUF_INSTANCE_DIR=str(folder / "instance"),
        ANLAUF_OUTBOX_DIR=str(folder / "outbox"),
        PYTHONPATH=str(REPO),
    )
    log_path = folder / "worker.log"
    worker = _start_worker(env, log_path)
    engine = make_engine(args.database_url)
    sm = make_sessionmaker(engine, settings)
    # Wall-clock time of an arrival: the catcher stamps time.monotonic().
    offset = time.time() - time.monotonic()
    try:
        deadline = time.monotonic() + 30
        while "anlauf worker ready" not in log_path.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the worker did not start:\n{log_path.read_text()[-3000:]}")
            await asyncio.sleep(0.1)

        relay = Relay(sm, settings)
        await relay.start()
        write_started = time.monotonic()
        if args.rate:
            ids = []
            for i in range(count):
                due = write_started + i / args.rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                ids += await queue_notifications(sm, settings, 1, prefix="bench", relay=relay)
        else:
            ids = await queue_notifications(
                sm, settings, count, prefix="bench", relay=relay, batch=args.batch
            )
        write_seconds = time.monotonic() - write_started

        deadline = time.monotonic() + args.timeout
        while True:
            state = await statuses(sm)
            if state.get("done", 0) + state.get("failed", 0) >= count:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"not finished after {args.timeout} s: {state}")
            await asyncio.sleep(0.2)
        await relay.stop()

        async with sm() as session:
            created = {
                row.id: row.created_at
                for row in (
                    await session.execute(select(OutboxItem.id, OutboxItem.created_at))
                ).all()
            }
        arrivals: dict[str, float] = {}
        seen: dict[str, int] = {}
        for message in smtp.messages:
            seen[message.message_id] = seen.get(message.message_id, 0) + 1
            arrivals.setdefault(message.message_id, message.received_at + offset)
        delays = []
        for outbox_id in ids:
            arrived = arrivals.get(message_id_for(outbox_id))
            if arrived is not None:
                delays.append(arrived - created[outbox_id].timestamp())
        first_event = min(created[i] for i in ids).timestamp()
        last_arrival = max(arrivals.values())
        span = last_arrival - first_event
        duplicates = sum(n - 1 for n in seen.values())
        state = await statuses(sm)
        async with engine.connect() as conn:
            pg_version = (await conn.execute(text("SHOW server_version"))).scalar()

        rows = [
            ("notifications (in-app + mail)", f"{count:,}"),
            (
                "written by this process in",
                f"{write_seconds:.1f} s ({count / write_seconds:,.0f}/s, "
                + (
                    f"paced at {args.rate:g}/s, one per transaction)"
                    if args.rate
                    else f"a burst, transactions of {args.batch})"
                ),
            ),
            ("mails delivered (unique Message-IDs)", f"{len(arrivals):,}"),
            ("duplicates", f"{duplicates}"),
            ("outbox rows", ", ".join(f"{k} {v}" for k, v in sorted(state.items()))),
            ("first event to last delivery", f"{span:.1f} s"),
            ("mails per second", f"{len(arrivals) / span:,.1f}"),
            ("delay event -> delivery p50", f"{percentile(delays, 0.50) * 1000:,.0f} ms"),
            ("delay event -> delivery p95", f"{percentile(delays, 0.95) * 1000:,.0f} ms"),
            ("delay event -> delivery max", f"{max(delays) * 1000:,.0f} ms"),
            ("delay mean", f"{statistics.fmean(delays) * 1000:,.0f} ms"),
        ]
        width = max(len(k) for k, _ in rows)
        print()
        print(
            f"Anlauf notification benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: one worker "
            f"(max_jobs 10), PostgreSQL {pg_version}, {platform.python_implementation()} "
            f"{platform.python_version()}, {os.cpu_count()} CPUs, "
            f"load average before the run {load_before:.1f}"
        )
        print(f"{'measure'.ljust(width)} | value")
        print(f"{'-' * width}-+-{'-' * 30}")
        for key, value in rows:
            print(f"{key.ljust(width)} | {value}")
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
        smtp.stop()
        await engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)  # the worker's log and outbox folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=0, help="notifications (default 10,000)")
    parser.add_argument("--quick", action="store_true", help="1,000 notifications")
    parser.add_argument("--batch", type=int, default=250, help="people per transaction")
    parser.add_argument("--rate", type=float, default=0, help="events per second (default: burst)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for delivery")
    parser.add_argument("--database-url", default=DEFAULT_DB, help="dropped and recreated")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help="this database is emptied")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
