"""EXPLAIN ANALYZE of every statement a search page and the API's q run (market.posts.search),
built by the app's own code, at the databases benchmarks/web.py builds.

    python benchmarks/search_plans.py [--posts 20000 200000] [--verbose]

For each search: every statement that `search.ranked` (a first page of 20, as the page and the
API run it) and `search.count` (as the page runs it) send, captured as they run, each with its
plan's main nodes and the time PostgreSQL reports (execution, one warm run after one cold run),
and their sum.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from market.posts import geo, queries, search

BASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/anlauf_bench_web_{posts}"
LIMIT = 20


def searches() -> list[tuple[str, dict[str, Any]]]:
    leipzig = geo.find_city("Leipzig")
    assert leipzig is not None
    place = (leipzig.lat, leipzig.lon, 25.0)
    return [
        ("place=Leipzig 25 km + q=Deutsch (/posts)", {"place": place, "q": "Deutsch"}),
        ("q=Deutsch (API)", {"q": "Deutsch"}),
        ("q=Arzt", {"q": "Arzt"}),
        ("q=лікар", {"q": "лікар"}),
        ("q=hilfe", {"q": "hilfe"}),
        ("q=xylophon", {"q": "xylophon"}),
        ("place=Leipzig + q=Arzt Termin", {"place": place, "q": "Arzt Termin"}),
    ]


async def captured(session: AsyncSession, filters: dict[str, Any]) -> list[tuple[str, Any]]:
    """The statements (SQL, parameters) a first page of the search runs: search.ranked as the
    page and the API run it, then search.count as the page runs it."""
    q = filters["q"]
    place = filters.get("place")
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, _many: Any) -> None:
        seen.append((sql, params))

    engine = session.bind
    assert isinstance(engine, AsyncEngine)
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await search.ranked(session, queries.search(place=place), search.understand(q), LIMIT, None)
        ranked_done = len(seen)
        await search.count(session, queries.search(place=place, q=q))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    return [
        (("page " if i < ranked_done else "count ") + str(i + 1), stmt)
        for i, stmt in enumerate(seen)
    ]


def nodes(lines: list[str]) -> list[str]:
    """The plan's nodes, top down: the first line and each line that starts with '->'."""
    found = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if i == 0 or stripped.startswith("->"):
            found.append(stripped.lstrip("-> ").split(" (")[0])
    return found


async def explain(url: str, verbose: bool) -> None:
    engine = create_async_engine(url)
    async with AsyncSession(engine) as session:
        n = await session.scalar(text("SELECT count(*) FROM posts WHERE status = 'published'"))
        print(f"\n{url.rsplit('/', 1)[-1]}: {n:,} published posts\n")
        print("| search | statement | plan (main nodes) | rows | database time |")
        print("|---|---|---|---|---|")
        for name, filters in searches():
            total = 0.0
            for label, (sql, params) in await captured(session, filters):
                if sql.startswith("EXPLAIN") or "reltuples" in sql:
                    # search._too_rare asking the planner's estimate: planning only.
                    print(f"| {name} | {label} | (estimate: {sql.split(chr(10))[-1][:70]}) | | |")
                    continue
                query = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql
                conn = await session.connection()
                await conn.exec_driver_sql(query, params)  # cold run, then the one reported
                lines = [r[0] for r in await conn.exec_driver_sql(query, params)]
                took = next(ln for ln in lines if ln.startswith("Execution Time"))
                ms = float(took.split(": ")[1].split()[0])
                total += ms
                rows = re.search(r"actual rows=(\d+)", lines[0])
                print(
                    f"| {name} | {label} | {' / '.join(nodes(lines)[:6])} | "
                    f"{rows.group(1) if rows else '?'} | {ms:.2f} ms |"
                )
                if verbose:
                    print("\n".join(["```", sql, str(params), *lines, "```"]))
            print(f"| {name} | **all** | | | **{total:.2f} ms** |")
    await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, nargs="+", default=[20000, 200000])
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    for posts in args.posts:
        asyncio.run(explain(BASE.format(posts=posts), args.verbose))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
