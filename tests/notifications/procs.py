"""Processes for the worker, relay and fault tests and benchmarks: arq workers, a private Redis, a
throwaway PostgreSQL; the relay the web process runs; notifications in bulk and what arrived.

Nothing here touches the shared services: the Redis and PostgreSQL that a fault test stops or
restarts are started by the test itself, on free ports, in temporary folders.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.accounts.models import User
from market.db import new_id, utcnow
from market.settings import Settings
from notifications.inapp import notify
from notifications.mail import queue_mail
from notifications.models import OutboxItem
from notifications.outbox import Relay, pop_outbox_ids
from notifications.smtp import message_id_for
from tests.smtp import SmtpServer, free_port

REPO = Path(__file__).resolve().parents[2]
ENTRY = Path(__file__).with_name("worker_entry.py")


# --- arq worker processes


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

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def worker_env(
    *,
    database_url: str,
    redis_url: str,
    smtp_url: str,
    folder: Path,
    job_timeout: float = 5,
    relay_interval: float = 0.5,
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANLAUF_")}
    env.update(
        ANLAUF_ENV="test",
        ANLAUF_DATABASE_URL=database_url,
        ANLAUF_REDIS_URL=redis_url,
        ANLAUF_SMTP_URL=smtp_url,
        ANLAUF_MAIL_FROM="Anlauf <noreply@anlauf.test>",
        ANLAUF_BASE_URL="http://anlauf.test",
        ANLAUF_SECRET_KEY="worker-test",
        ANLAUF_INSTANCE_DIR=str(folder / "instance"),
        ANLAUF_OUTBOX_DIR=str(folder / "outbox"),
        ANLAUF_RELAY_INTERVAL_SECONDS=str(relay_interval),
        TEST_JOB_TIMEOUT=str(job_timeout),
        PYTHONPATH=str(REPO),
    )
    return env


class Workers(list[WorkerProcess]):
    """The arq worker processes of one test, their logs in `folder`; stopped on leaving `with`."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.env = env

    def spawn(
        self, env: dict[str, str] | None = None, command: list[str] | None = None
    ) -> WorkerProcess:
        """`market.worker.run` (what `anlauf worker` runs) with test timeouts, in a child
        process; or `command` instead. `env` defaults to the one given at creation."""
        env = env if env is not None else self.env
        assert env is not None, "no environment for the worker"
        worker = WorkerProcess(
            command or [sys.executable, str(ENTRY)], env, self.folder / f"worker{len(self)}.log"
        )
        self.append(worker)
        worker.start()
        return worker

    def stop(self) -> None:
        for worker in self:
            worker.stop()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Kill:
    received: int  # mails the SMTP server had at the kill
    in_doubt: set[str]  # their Message-IDs whose rows were still pending after it
    doubt_ms: list[float]  # how long before the kill the server accepted each of those


async def kill_mid_batch(
    sm: async_sessionmaker[AsyncSession],
    worker: WorkerProcess,
    mail: SmtpServer,
    *,
    jitter: float,
) -> Kill:
    """kill -9 `worker` within `jitter` seconds, then tell which mails are in doubt: accepted by
    the SMTP server while their outbox rows are still pending (the RFC 1047 window)."""
    # Not right after an arrival (that would aim the kill at a mail's commit window).
    await asyncio.sleep(random.uniform(0.0, jitter))
    killed_at = time.monotonic()
    worker.kill()
    received_at_kill = len(mail.messages)

    await asyncio.sleep(1.0)  # PostgreSQL ends the dead worker's transactions
    async with sm() as session:
        pending = set(
            await session.scalars(select(OutboxItem.id).where(OutboxItem.status == "pending"))
        )
    received = {m.message_id: m.received_at for m in mail.messages}
    in_doubt = {message_id_for(i) for i in pending} & set(received)
    doubt_ms = sorted(round((killed_at - received[mid]) * 1000, 1) for mid in in_doubt)
    return Kill(received_at_kill, in_doubt, doubt_ms)


# --- The web process's relay


@contextlib.asynccontextmanager
async def relay_for(
    sm: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    stop_wait: float = 10.0,
    **kwargs: object,
) -> AsyncIterator[Relay]:
    """The web process's relay: kicks after each commit, sweeps what is still pending."""
    relay = Relay(sm, settings, **kwargs)  # type: ignore[arg-type]
    await relay.start()
    try:
        yield relay
    finally:
        await relay.stop(wait=stop_wait)


# --- A private Redis server


class RedisServer:
    """redis-server on a free loopback port, without persistence (a restart loses all data)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        log = (self.folder / f"redis-{self.port}.log").open("ab")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._ping():
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def _ping(self) -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


# --- A throwaway PostgreSQL cluster


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return found[-1].parent


class PostgresCluster:
    """initdb into a temp folder, trust auth, a free port; run as `postgres` when we are root."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="anlauf-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.log = self.root / "postgres.log"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _options(self) -> str:
        return f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start(self) -> None:
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            self._options(),
            "-w",
            "start",
        )

    def restart(self) -> None:
        """A fast restart: connections are cut, in-flight transactions roll back."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            self._options(),
            "-m",
            "fast",
            "-w",
            "restart",
        )

    def stop(self) -> None:
        with contextlib.suppress(Exception):  # best effort in teardown
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# --- Notifications in bulk, and what arrived

VERIFY = {"name": "Amira", "link": "http://anlauf.test/verify?token=abc"}


async def queue_mails(
    sm: async_sessionmaker[AsyncSession], settings: Settings, n: int, *, prefix: str = "u"
) -> list[str]:
    """`n` verification mails to {prefix}0@example.org and on, committed at once. Returns outbox
    ids (nobody kicked yet)."""
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


async def queue_notifications(
    sm: async_sessionmaker[AsyncSession],
    settings: Settings,
    count: int,
    *,
    prefix: str = "n",
    relay: Relay | None = None,
    batch: int = 250,
) -> list[str]:
    """`count` people, each told in the app and by mail (vetting.approved), as a coordinator's
    decisions would; committed in batches (the relay is kicked after each). Returns outbox ids."""
    ids: list[str] = []
    run = new_id()[:6]
    for start in range(0, count, batch):
        async with sm() as session:
            people = []
            for i in range(start, min(count, start + batch)):
                user = User(
                    id=new_id(),
                    email=f"{prefix}{run}-{i}@example.org",
                    display_name=f"Person {i}",
                    role="volunteer",
                    locale="de",
                    email_verified_at=utcnow(),
                    vetting_status="approved",
                )
                people.append(user)
            session.add_all(people)
            await session.flush()
            for user in people:
                await notify(session, user_id=user.id, kind="vetting.approved", data={})
                await queue_mail(
                    session,
                    to=user.email,
                    template="vetting_approved",
                    locale=user.locale,
                    context={
                        "name": user.display_name,
                        "revoked": False,
                        "link": "http://anlauf.test/my/posts",
                    },
                    settings=settings,
                    user_id=user.id,
                    kind="vetting.approved",
                )
            await session.commit()
            new = pop_outbox_ids(session)
        ids += new
        if relay is not None:
            relay.kick(new)
    return ids


async def statuses(sm: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sm() as session:
        rows = await session.execute(
            select(OutboxItem.status, func.count()).group_by(OutboxItem.status)
        )
        return dict(rows.all())


async def wait_all_done(
    sm: async_sessionmaker[AsyncSession],
    total: int,
    timeout: float,
    workers: list[WorkerProcess],
    mail: SmtpServer | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    last: dict[str, int] = {}
    while time.monotonic() < deadline:
        try:
            last = await statuses(sm)
        except Exception as exc:  # the database may be restarting
            last = {"error": 1, str(exc)[:60]: 1}
        if last.get("done", 0) >= total and len([k for k in last if k != "done"]) == 0:
            return
        await asyncio.sleep(0.2)
    logs = "\n---\n".join(w.tail() for w in workers)
    got = len(mail.messages) if mail is not None else "?"
    raise AssertionError(f"not all done after {timeout}s: {last}; mails {got}\n{logs}")


@dataclass
class Tally:
    expected: int
    delivered: int  # unique Message-IDs of the batch that arrived
    duplicated: int  # extra copies of those
    missing: list[str] = field(default_factory=list)
    copies: dict[str, int] = field(default_factory=dict)

    def line(self, label: str, extra: str = "") -> str:
        return (
            f"[{label}] mails expected {self.expected}, delivered {self.delivered} "
            f"(unique Message-IDs), duplicated {self.duplicated}{extra}"
        )


def tally(server: SmtpServer, outbox_ids: list[str]) -> Tally:
    wanted = {message_id_for(i) for i in outbox_ids}
    counts = Counter(mid for mid in server.message_ids() if mid in wanted)
    copies = {mid: n for mid, n in counts.items() if n > 1}
    return Tally(
        expected=len(wanted),
        delivered=len(counts),
        duplicated=sum(n - 1 for n in counts.values()),
        missing=sorted(wanted - set(counts))[:10],
        copies=copies,
    )


def describe_env(env: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(env.items()) if k.startswith("ANLAUF_"))
