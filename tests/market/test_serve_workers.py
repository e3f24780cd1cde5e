"""`anlauf serve --workers N`: N web processes on one port, migrations once before they start;
more than one only with Redis (jobs, rate limits and the page cache must be shared)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.smtp import free_port

REDIS_URL = os.environ.get("ANLAUF_TEST_REDIS_URL") or "redis://127.0.0.1:6379/4"
ANLAUF = str(Path(sys.executable).with_name("anlauf"))


def _env(database_url: str, tmp_path: Path, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANLAUF_")}
    env.update(
        ANLAUF_DATABASE_URL=database_url,
        ANLAUF_SECRET_KEY="serve-workers-test",
        ANLAUF_INSTANCE_DIR=str(tmp_path / "instance"),
        ANLAUF_OUTBOX_DIR=str(tmp_path / "outbox"),
        ANLAUF_RATE_LIMIT_ENABLED="false",
    )
    if redis_url:
        env["ANLAUF_REDIS_URL"] = redis_url
    return env


def test_two_workers_start_and_answer(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [ANLAUF, "serve", "--workers", "2", "--port", str(port)],
            env=_env(database_url, tmp_path, REDIS_URL),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            text = log.read_text(errors="replace")
            workers = set(re.findall(r"Started server process \[(\d+)\]", text))
            ready = text.count("Application startup complete")
            if len(workers) == 2 and ready == 2:
                break
            assert proc.poll() is None, text
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
        assert str(proc.pid) not in workers  # the parent only supervises
        # Each worker is a live child process of `anlauf serve`.
        for pid in workers:
            status = Path(f"/proc/{pid}/status").read_text()
            assert f"PPid:\t{proc.pid}" in status, status
        for _ in range(10):  # new connections, spread over the two by the kernel
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
                assert r.status == 200
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/v1/categories", timeout=10
            ) as r:
                assert r.status == 200
        assert "Anlauf runs at" in text and "(2 process(es))" in text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in workers:
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


def test_several_workers_need_redis(database_url: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [ANLAUF, "serve", "--workers", "2", "--port", str(free_port())],
        env=_env(database_url, tmp_path, None),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "ANLAUF_REDIS_URL" in done.stderr
    assert "Anlauf runs at" not in done.stdout
