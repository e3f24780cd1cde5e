"""What GET /review/matching and /review/unmatched do inside the request before answering, at
city size: the size test and asking for (or finding) the job that works the plan out. Each is
rolled back, so the database is left as it was.

    python benchmarks/regional_request.py [--url postgresql+asyncpg://postgres@127.0.0.1:5432/anlauf_bench]

The database is the one `benchmarks/matching.py` builds (200,000 published posts). The issue's
target: no request of the regional views takes more than a second; the job may take longer.
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
import statistics
import time

import market.features  # noqa: F401  (the composition: jobs known before one is asked for)
from market.db import make_engine, make_sessionmaker
from market.matches import runs

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/anlauf_bench"


async def measure(url: str, repeat: int) -> None:
    engine = make_engine(url, pool_size=2)
    maker = make_sessionmaker(engine)
    views = (
        ("preview page (/review/matching)", runs.small_plan, runs.ask_preview),
        ("unmatched page (/review/unmatched)", runs.small_enough, runs.ask_unmatched),
    )
    try:
        for label, small, ask in views:
            times: list[float] = []
            for i in range(repeat + 1):
                async with maker() as session:
                    started = time.perf_counter()
                    is_small = await small(session, None)
                    run = await ask(session, None, None)
                    elapsed = time.perf_counter() - started
                    await session.rollback()
                if i:  # the first is a warm-up
                    times.append(elapsed * 1000)
            print(
                f"{label}: small={is_small}, run {run.status}; median "
                f"{statistics.median(times):.1f} ms, max {max(times):.1f} ms over {len(times)}"
            )
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(measure(args.url, args.repeat))


if __name__ == "__main__":
    main()
