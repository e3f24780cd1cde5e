"""Statistics and map on PostgreSQL at city-network scale: how long /api/v1/stats and
/api/v1/map take to compute.

    python benchmarks/stats_map.py                 # 200,000 published posts (+20 % history)
    python benchmarks/stats_map.py --posts 20000   # a smoke run

The posts and people come from benchmarks/datagen.py (the matching benchmark's generator). Added
here in SQL: a region around each of the ten biggest cities (posts inside get its region_id) and
one match for every third need, with statuses, connection times and first-contact seconds spread
over the five statuses. The database named by --database-url is dropped and recreated.
Reported: median and max of --repeat runs of each query set, in a fresh session each time.

Measured 2026-12-04 (2 shared cores, PostgreSQL on loopback, other test runs going on), 200,000
published posts: statistics of every region for 30 days 3.1 s, for 365 days 9.0 s, one region
for 365 days 2.9 s (16 GROUP BY queries, each a few hundred ms at this size); the map of
everything 0.6 s (188,641 posts in 695 clusters), one category 0.19 s, one city's box 0.07 s,
the waiting-needs map 0.9 s. With 20,000 posts (--posts 20000) the statistics take 0.4-0.7 s
and the maps 8-80 ms.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from benchmarks import datagen  # noqa: E402
from market import migrate  # noqa: E402
from market.actor import Actor  # noqa: E402
from market.db import make_engine, make_sessionmaker  # noqa: E402
from market.maps import guardian as map_guardian  # noqa: E402
from market.maps import queries as map_queries  # noqa: E402
from market.stats.figures import Period  # noqa: E402
from market.stats.queries import Statistics  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/anlauf_bench_stats"

MATCHES_SQL = """
WITH n AS (
    SELECT id, author_id, created_at, row_number() OVER (ORDER BY id) AS rn
    FROM posts WHERE kind = 'need'
), o AS (
    SELECT id, author_id, row_number() OVER (ORDER BY id) AS rn FROM posts WHERE kind = 'offer'
), k AS (SELECT count(*) AS k FROM o)
INSERT INTO matches (id, offer_id, need_id, volunteer_id, need_author_id, score, reasons, status,
                     offer_response, need_response, created_at, updated_at, connected_at,
                     first_contact_seconds, offer_met)
SELECT md5(n.id || 'm'), o.id, n.id, o.author_id, n.author_id, 1.0, '[]',
       (ARRAY['proposed', 'connected', 'declined', 'expired', 'closed'])[1 + n.rn % 5],
       'pending', 'pending', n.created_at + interval '1 hour', now(),
       CASE WHEN n.rn % 5 IN (1, 4) THEN n.created_at + (1 + n.rn % 20) * interval '1 day' END,
       CASE WHEN n.rn % 5 IN (1, 4) THEN (1 + n.rn % 20) * 86400 - 3600 END,
       CASE WHEN n.rn % 10 = 1 THEN true END
FROM n JOIN k ON true JOIN o ON o.rn = 1 + (n.rn * 7919) % k.k
WHERE n.rn % 3 = 0
"""


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def prepare(url: str, posts: int, seed: int) -> None:
    import asyncpg

    now = datetime.now(UTC)
    t = time.perf_counter()
    data, _ = datagen.generate(seed, posts, now=now)
    await datagen.recreate_database(url)
    await migrate.upgrade_async(url)
    await datagen.load(asyncpg_dsn(url), data)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for city in datagen.german_cities()[:10]:
            slug = city.name.lower().replace(" ", "-")
            region_id = (slug + "-region")[:32]
            await conn.execute(
                "INSERT INTO regions (id, slug, name, lat, lon, radius_km, created_at)"
                " VALUES ($1, $2, $3, $4, $5, 25, now())",
                region_id,
                slug,
                city.name,
                city.lat,
                city.lon,
            )
            await conn.execute(
                "UPDATE posts SET region_id = $1 WHERE region_id IS NULL"
                " AND lat BETWEEN $2 - 0.22 AND $2 + 0.22 AND lon BETWEEN $3 - 0.35 AND $3 + 0.35",
                region_id,
                city.lat,
                city.lon,
            )
        await conn.execute(MATCHES_SQL)
        for table in ("users", "posts", "post_languages", "matches", "web_sessions"):
            await conn.execute(f"VACUUM ANALYZE {table}")
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM posts) AS posts,"
            " (SELECT count(*) FROM posts WHERE status = 'published') AS published,"
            " (SELECT count(*) FROM matches) AS matches,"
            " (SELECT count(*) FROM users) AS users"
        )
    finally:
        await conn.close()
    print(
        f"data: {counts['posts']:,} posts ({counts['published']:,} published), "
        f"{counts['matches']:,} matches, {counts['users']:,} users; "
        f"prepared in {time.perf_counter() - t:.0f} s",
        flush=True,
    )


async def timed(
    maker: Any, repeat: int, work: Callable[[AsyncSession], Awaitable[Any]]
) -> tuple[float, float, Any]:
    times, result = [], None
    for _ in range(repeat + 1):  # the first run prepares statements and warms caches
        async with maker() as session:
            t = time.perf_counter()
            result = await work(session)
            times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times[1:]), max(times[1:]), result


async def run(url: str, repeat: int) -> None:
    engine = make_engine(url, pool_size=2)
    maker = make_sessionmaker(engine)
    now = datetime.now(UTC)
    async with maker() as session:
        leipzig = (
            await session.execute(text("SELECT id FROM regions ORDER BY name LIMIT 1"))
        ).scalar_one()
    admin = Actor(user=None)
    rows = [
        ("stats, all regions, 30 days", None, 30),
        ("stats, all regions, 365 days", None, 365),
        ("stats, one region, 365 days", frozenset({leipzig}), 365),
    ]
    print(f"{'query':44} {'median ms':>10} {'max ms':>8}  result")
    for label, regions, days in rows:
        period = Period(now - timedelta(days=days), now)

        async def stats(s: AsyncSession, r: Any = regions, p: Period = period) -> Any:
            return await Statistics(s, r, p, now).report()

        median, worst, report = await timed(maker, repeat, stats)
        summary = f"needs {report.total.needs['created']:,}, matches {sum(report.total.matches.values()):,}"
        print(f"{label:44} {median:10.0f} {worst:8.0f}  {summary}")

    maps = [
        ("map, everything (clustered)", {}, None),
        ("map, needs of one category", {"kind": "need", "category": "housing"}, None),
        ("map, one city's box", {}, map_queries.Box(12.2, 51.25, 12.55, 51.45)),
    ]
    for label, filters, box in maps:

        async def draw(s: AsyncSession, f: dict[str, Any] = filters, b: Any = box) -> Any:
            stmt = map_queries.posts_in_view(
                kind=f.get("kind"), category=f.get("category"), language=None, box=b
            )
            return await map_queries.features(s, stmt)

        median, worst, body = await timed(maker, repeat, draw)
        summary = f"{body['total']:,} posts -> {len(body['features']):,} features"
        print(f"{label:44} {median:10.0f} {worst:8.0f}  {summary}")

    from market.accounts.models import User

    staff = Actor(user=User(role="admin"))

    async def waiting(s: AsyncSession) -> Any:
        base = map_guardian.waiting_needs(staff, None, None)
        stmt = map_queries.posts_in_view(
            kind=None, category=None, language=None, box=None, base=base
        )
        return await map_queries.features(s, stmt)

    median, worst, body = await timed(maker, repeat, waiting)
    summary = f"{body['total']:,} needs -> {len(body['features']):,} features"
    print(f"{'waiting-needs map, every region':44} {median:10.0f} {worst:8.0f}  {summary}")
    del admin
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=20251121)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--database-url", default=os.environ.get("ANLAUF_BENCH_STATS_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--reuse", action="store_true", help="keep the data of the last run")
    args = parser.parse_args()
    if not args.reuse:
        asyncio.run(prepare(args.database_url, args.posts, args.seed))
    asyncio.run(run(args.database_url, args.repeat))


if __name__ == "__main__":
    main()
