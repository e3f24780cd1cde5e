"""The in-process schedule of the periodic rules: its clock and sleep are injected, and a
failing pass is logged (never swallowed) before the next one."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from market import maintenance


async def test_a_failing_pass_is_logged_and_the_next_one_runs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    at = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    seen: list[datetime | None] = []

    async def fake_run(sessionmaker: Any, settings: Any, now: datetime | None = None) -> Any:
        seen.append(now)
        if len(seen) == 1:
            raise RuntimeError("database away")
        return {"expired": 2}

    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 2:
            raise asyncio.CancelledError

    monkeypatch.setattr(maintenance, "run", fake_run)
    with (
        caplog.at_level(logging.INFO, logger="market.maintenance"),
        pytest.raises(asyncio.CancelledError),
    ):
        await maintenance.run_periodically(
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            interval=60,
            clock=lambda: at,
            sleep=fake_sleep,
        )
    assert seen == [at, at]
    assert slept == [60, 60]
    failed = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failed) == 1 and failed[0].exc_info is not None
    assert "database away" in str(failed[0].exc_info[1])
    assert any("'expired': 2" in r.getMessage() for r in caplog.records)
