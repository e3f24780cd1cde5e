"""What one request costs, in-process: statements, CPU time and (under callgrind) instructions.

    python benchmarks/web_cost.py / /posts/ID "/api/v1/posts?limit=20" S/my/posts
    valgrind --tool=callgrind --instr-atstart=no python benchmarks/web_cost.py --callgrind /

The app (market.app:create_app, cache off, production mode) is called directly as an ASGI app (no
HTTP client: only the application's own work is counted) against ANLAUF_DATABASE_URL (default: the
20,000-post database of benchmarks/web.py, which must exist: run `benchmarks/web.py --quick` once)
and ANLAUF_REDIS_URL (default: web.py's db 2). A path starting with S is asked signed in, with the
session benchmarks/web.py creates; a path starting with M is asked of the minimal page of
benchmarks/web_apps.py instead (the yardstick, on the same database). Per path: SQL statements per request, and the median of 5 rounds
of --requests requests of CPU time per request (time.process_time, which other work on the machine
changes less than wall time). With --callgrind, instrumentation is switched on (callgrind_control)
only around the measured requests of the one path given; valgrind prints the instructions
("Collected"), to be divided by --requests. Instructions are what to compare before and after a
change on a shared machine: other processes do not change them.
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
import statistics
import subprocess
import time
from typing import Any

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/anlauf_bench_web_20000"
SESSION = "bench-session-secret-0123456789abcdef"  # benchmarks/web.py's PASSWORD_SESSION


def _environment() -> None:
    os.environ.setdefault("ANLAUF_ENV", "production")
    os.environ.setdefault("ANLAUF_SECRET_KEY", "bench-web-secret")
    os.environ.setdefault("ANLAUF_DATABASE_URL", DEFAULT_URL)
    # As benchmarks/web.py: with Redis the periodic jobs are the worker's, not run (and counted)
    # inside this process.
    os.environ.setdefault("ANLAUF_REDIS_URL", "redis://127.0.0.1:6379/2")
    os.environ.setdefault("ANLAUF_RATE_LIMIT_ENABLED", "false")
    os.environ.setdefault("ANLAUF_PUBLIC_CACHE_SECONDS", "0")
    os.environ.setdefault("ANLAUF_INSTANCE_DIR", "/tmp/anlauf-web-cost/instance")
    os.environ.setdefault("ANLAUF_OUTBOX_DIR", "/tmp/anlauf-web-cost/outbox")


def _scope(raw: str) -> dict[str, Any]:
    """An HTTP GET as uvicorn hands it to the app (S in front: with the benchmark's session)."""
    headers = [(b"host", b"127.0.0.1"), (b"accept-language", b"de")]
    if raw.startswith("S"):
        raw = raw[1:]
        headers.append((b"cookie", f"anlauf_session={SESSION}".encode()))
    path, _, query = raw.partition("?")
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }


async def _get(app: Any, raw: str) -> tuple[int, int]:
    """(status, body bytes) of one request, called on the app directly: no HTTP client's work
    is counted, only the application's (its middleware, handler, database driver)."""
    answer = {"status": 0, "size": 0}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["size"] += len(message.get("body", b""))

    await app(_scope(raw), receive, send)
    return answer["status"], answer["size"]


async def run(args: argparse.Namespace) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from market.app import create_app

    statements: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    os.environ.setdefault("BENCH_DATABASE_URL", os.environ["ANLAUF_DATABASE_URL"])
    from benchmarks import web_apps

    anlauf, minimal = create_app(), web_apps.minimal()
    async with anlauf.router.lifespan_context(anlauf), minimal.router.lifespan_context(minimal):
        for asked in args.paths:
            app, raw = (minimal, asked[1:]) if asked.startswith("M") else (anlauf, asked)
            status, size = 0, 0
            for _ in range(args.warmup):
                status, size = await _get(app, raw)
            if status != 200:
                print(f"{asked}: answers {status}; not measured")
                continue
            statements.clear()
            await _get(app, raw)
            count = len(statements)
            if args.callgrind:
                pid = str(os.getpid())
                # Blocking on purpose: nothing else may run while the switch is made.
                subprocess.run(["callgrind_control", "-i", "on", pid], check=False)  # noqa: ASYNC221
                for _ in range(args.requests):
                    await _get(app, raw)
                subprocess.run(["callgrind_control", "-i", "off", pid], check=False)  # noqa: ASYNC221
                print(
                    f"{asked}: {count} statements; instructions: valgrind's 'Collected' / "
                    f"{args.requests}"
                )
                return
            rounds = []
            for _ in range(5):
                started = time.process_time()
                for _ in range(args.requests):
                    await _get(app, raw)
                rounds.append((time.process_time() - started) / args.requests * 1000)
            print(
                f"{asked}: {count} statements, {statistics.median(rounds):.2f} ms CPU per "
                f"request ({size:,} bytes)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args()
    if args.callgrind:
        args.paths = args.paths[:1]
        args.requests = min(args.requests, 20)
    _environment()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
