"""Running `anlauf ...` as an operator does: a separate process against the test database (a
SQLite file, or PostgreSQL) with the test app's settings, no Redis (the process runs its jobs
itself) and mail through the test SMTP server."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


async def run_anlauf(settings: Any, *args: str) -> tuple[int, str, str]:
    """`python -m market.cli *args`; returns the exit code, stdout and stderr."""
    env = {
        **os.environ,
        "ANLAUF_ENV": "test",
        "ANLAUF_DATABASE_URL": settings.database_url,
        "ANLAUF_REDIS_URL": "",
        "ANLAUF_SMTP_URL": settings.smtp_url,
        "ANLAUF_BASE_URL": settings.base_url,
        "ANLAUF_SECRET_KEY": settings.secret_key,
        "ANLAUF_INSTANCE_DIR": str(settings.instance_dir),
        "ANLAUF_OUTBOX_DIR": str(settings.outbox_dir),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "market.cli",
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return int(proc.returncode or 0), out.decode(), err.decode()
