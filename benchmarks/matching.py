"""Matching benchmark on PostgreSQL: one new post against N published posts, the naive baseline,
and a regional assignment.

    python benchmarks/matching.py                 # 200,000 published posts (a few minutes)
    python benchmarks/matching.py --quick         # 20,000 posts, a smoke run (under a minute)

It drops and recreates the database named in --database-url (default `anlauf_bench` on the local
PostgreSQL), builds the schema with the Alembic migrations, loads data from benchmarks/datagen.py
with COPY, runs VACUUM ANALYZE, and prints a table. Nothing is written into the repository.

(1) app path: for each sample new post (not stored; built as a published Post in memory and
    authored by an existing seeker or approved volunteer), exactly what
    market.matches.services.match_post does before it proposes: the candidate query of
    market.matches.queries, loading the authors and their open matches, building Candidates
    and matching.best_offers_for_need / best_needs_for_offer. A fresh session per sample.
(2) baseline: the same answer from every published post of the other kind, loaded with its
    languages and authors and judged by the matcher in Python. The baseline samples are also a
    correctness check: their ranked matches must be identical on both paths (the SQL may
    over-select, never under-select).
(3) region: the REGION_SIZE needs and offers nearest to a city centre made a region, and the
    coordinator's run over it: market.matches.regional.plan (load, matching.nearby_pairs,
    matching.judge_pairs, matching.max_weight_matching) and regional.apply, rolled back. Runs in a fresh child
    process so that its peak resident memory is its own.

Wall-clock figures are reported, never asserted.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and `import matching` would import
# this very file; the repository root goes there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
if str(_HERE.parent) not in sys.path:
    sys.path.insert(0, str(_HERE.parent))

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import matching
from benchmarks import datagen
from market import migrate
from market.accounts.models import User
from market.db import make_engine, make_sessionmaker
from market.matches import candidates, queries, regional, services
from market.posts.models import Post, PostLanguage, Region
from market.settings import Settings
from matching import Failure

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/anlauf_bench"
TARGET_P95_MS = 25.0
TARGET_RATIO = 20.0
KM_PER_DEGREE = 111.195


# --- Helpers -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def _proc_status_mb(key: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def rss_now_mb() -> float:
    now = _proc_status_mb("VmRSS")
    return now if now is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> None:
    """Linux: reset the high-water mark of the resident set (VmHWM), which a child process
    otherwise inherits from its parent at fork."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    """The resident set's high-water mark (VmHWM; ru_maxrss where /proc is missing)."""
    peak = _proc_status_mb("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def as_post(sample: datagen.NewPost) -> Post:
    """A published post that is not in the database: what match_post sees for a new post."""
    cell = datagen.cell_of(sample.lat, sample.lon) if sample.lat is not None else (None, None)
    post = Post(
        id=sample.id,
        kind=sample.kind,
        category=sample.category,
        title=sample.title,
        body="",
        mode=sample.mode,
        radius_km=sample.radius_km,
        lat=sample.lat,
        lon=sample.lon,
        cell_lat=cell[0],
        cell_lon=cell[1],
        city=sample.city,
        country="DE" if sample.lat is not None else None,
        status="published",
        author_id=sample.author_id,
        published_at=sample.published_at,
        created_at=sample.published_at,
    )
    post.languages = [PostLanguage(code=c, position=i) for i, c in enumerate(sample.languages)]
    return post


def pair_keys(scored: Sequence[matching.Scored]) -> list[tuple[str, str, float]]:
    return [(s.offer_id, s.need_id, round(s.score, 9)) for s in scored]


def exact_keys(scored: Sequence[matching.Scored]) -> list[tuple[Any, ...]]:
    """Everything a proposal records, compared exactly."""
    return [(s.offer_id, s.need_id, s.score, s.reasons, s.distance_km) for s in scored]


# --- Database ----------------------------------------------------------------------------------


async def vacuum_analyze(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        for table in ("users", "user_languages", "posts", "post_languages", "matches"):
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()


def _data_mark(seed: int, posts: int) -> str:
    return f"anlauf matching benchmark: seed {seed}, {posts} published posts"


async def holds_data(url: str, seed: int, posts: int) -> bool:
    """Whether the database exists and was loaded by a run of this seed and size (--reuse)."""
    import asyncpg

    try:
        conn = await asyncpg.connect(asyncpg_dsn(url))
    except (OSError, asyncpg.PostgresError):
        return False
    try:
        mark = await conn.fetchval(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
            " WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    return bool(mark == _data_mark(seed, posts))


async def mark_data(url: str, seed: int, posts: int) -> None:
    """Note on the database what it holds, for --reuse."""
    import asyncpg

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        name = make_url(url).database
        await conn.execute(f"COMMENT ON DATABASE \"{name}\" IS '{_data_mark(seed, posts)}'")
    finally:
        await conn.close()


# --- (1) the app path and (2) the baseline -----------------------------------------------------


@dataclass
class Outcome:
    seconds: float
    cpu: float  # this process's CPU time; the rest is the database and waiting
    candidates: int  # candidates loaded and judged (the fast path: rows judged)
    chosen: list[matching.Scored]
    cands: list[matching.Candidate] = field(repr=False, default_factory=list)
    # Wall-clock seconds of the app path's steps (see app_path).
    phases: dict[str, float] = field(default_factory=dict)
    rounds: int = 0
    rows: int = 0  # rows SQL returned to Python


async def app_path(session: AsyncSession, post: Post, now: datetime) -> Outcome:
    """market.matches.services.match_post up to the proposals (which write; left out here):
    services.choose, i.e. the author query and the rounds of market.matches.candidates."""
    start, cpu = time.perf_counter(), time.process_time()
    stats = candidates.Stats()
    chosen = await services.choose(session, post, now, stats=stats)
    end = time.perf_counter()
    phases = {
        "author": end - start - stats.sql_seconds - stats.python_seconds,
        "rounds": stats.sql_seconds,
        "judge": stats.python_seconds,
    }
    if stats.fallback:
        raise SystemExit(f"bound violated for sample {post.id}: {stats}")
    return Outcome(
        end - start,
        time.process_time() - cpu,
        stats.judged,
        chosen,
        [],
        phases,
        rounds=stats.rounds,
        rows=stats.rows,
    )


async def previous_path(session: AsyncSession, post: Post, now: datetime) -> Outcome:
    """What match_post did before market.matches.candidates: every candidate of the SQL
    prefilter (queries.offers_for_need / needs_for_offer) loaded as ORM objects with languages
    and authors, turned into Candidates and ranked by matching.best_offers_for_need /
    best_needs_for_offer. The reference the fast path must agree with, sample by sample."""
    start, cpu = time.perf_counter(), time.process_time()
    today = now.date()
    if post.kind == "need":
        room = services.PROPOSALS - await services._open_for_need(session, post.id)
        offers = list((await session.execute(queries.offers_for_need(post))).scalars())
        users = await queries.users_by_id(session, [o.author_id for o in offers] + [post.author_id])
        counts = await queries.open_counts(session, [o.author_id for o in offers])
        cands = [services._candidate(o, post, users, counts) for o in offers]
        chosen = matching.best_offers_for_need(cands, now, today, limit=room) if cands else []
    else:
        needs = list((await session.execute(queries.needs_for_offer(post))).scalars())
        users = await queries.users_by_id(session, [n.author_id for n in needs] + [post.author_id])
        counts = await queries.open_counts(session, [post.author_id])
        cands = [services._candidate(post, n, users, counts) for n in needs]
        chosen = (
            matching.best_needs_for_offer(cands, now, today, limit=services.PROPOSALS)
            if cands
            else []
        )
    end = time.perf_counter()
    return Outcome(end - start, time.process_time() - cpu, len(cands), chosen, cands)


async def naive_path(session: AsyncSession, post: Post, now: datetime) -> Outcome:
    """Every published post of the other kind, with languages and authors, judged in Python."""
    start, cpu = time.perf_counter(), time.process_time()
    today = now.date()
    other = "offer" if post.kind == "need" else "need"
    published = select(Post).where(Post.status == "published", Post.kind == other)
    rows = list((await session.execute(published)).scalars())  # languages: selectin
    authors = select(Post.author_id).where(Post.status == "published", Post.kind == other)
    users = {
        u.id: u
        for u in (
            await session.execute(
                select(User).where(User.id.in_(authors) | (User.id == post.author_id))
            )
        ).scalars()
    }
    if post.kind == "need":
        counts = await queries.open_counts(session, {o.author_id for o in rows})
        cands = [services._candidate(o, post, users, counts) for o in rows]
        chosen = matching.best_offers_for_need(cands, now, today, limit=services.PROPOSALS)
    else:
        counts = await queries.open_counts(session, [post.author_id])
        cands = [services._candidate(post, n, users, counts) for n in rows]
        chosen = matching.best_needs_for_offer(cands, now, today, limit=services.PROPOSALS)
    return Outcome(
        time.perf_counter() - start, time.process_time() - cpu, len(cands), chosen, cands, {}
    )


async def run_samples(
    maker: async_sessionmaker[AsyncSession],
    samples: Sequence[datagen.NewPost],
    now: datetime,
    path: Any,
) -> list[Outcome]:
    results = []
    for sample in samples:
        async with maker() as session:
            results.append(await path(session, as_post(sample), now))
    return results


async def explain_round(session: AsyncSession, stmt: Any, params: dict[str, Any]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of a statement with its parameters bound as in the app
    (typed, through asyncpg), not pasted in as literals (which would turn floats into numerics
    and change the plan)."""
    conn = await session.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    compiled = stmt.compile(dialect=session.get_bind().dialect)
    state = compiled.construct_expanded_state(params)
    processors = compiled._bind_processors
    args = []
    for key in state.positiontup:
        value = state.parameters[key]
        processor = processors.get(key) or processors.get(key.rsplit("_", 1)[0])
        args.append(processor(value) if processor is not None else value)
    rows = await raw.fetch("EXPLAIN (ANALYZE, BUFFERS) " + state.statement, *args)
    return [r[0] for r in rows]


async def explain(
    maker: async_sessionmaker[AsyncSession], samples: Sequence[datagen.NewPost], now: datetime
) -> None:
    """EXPLAIN ANALYZE of every round of market.matches.candidates for a few kinds of sample."""
    picks: dict[str, datagen.NewPost] = {}
    for s in samples:
        key = f"{s.kind}/{s.mode}/{'no radius' if s.radius_km is None else 'radius'}"
        picks.setdefault(key, s)
    for key, sample in sorted(picks.items()):
        rounds: list[tuple[Any, dict[str, Any]]] = []
        original = candidates.rounds.round_query

        def spy(*a: Any, _rounds: list[Any] = rounds, _original: Any = original, **kw: Any) -> Any:
            stmt, params = _original(*a, **kw)
            _rounds.append((stmt, params))
            return stmt, params

        candidates.rounds.round_query = spy  # type: ignore[assignment]
        try:
            async with maker() as session:
                await services.choose(session, as_post(sample), now)
        finally:
            candidates.rounds.round_query = original  # type: ignore[assignment]
        async with maker() as session:
            # The settings services.choose applies (candidates.plan_for).
            for name, value in candidates.SETTINGS.items():
                await session.execute(text(f"SET LOCAL {name} = '{value}'"))
            for i, (stmt, params) in enumerate(rounds, 1):
                plan = await explain_round(session, stmt, params)
                print(
                    f"\n-- EXPLAIN ANALYZE, {key} {sample.category} {sample.languages} "
                    f"r={sample.radius_km}: round {i} of {len(rounds)}"
                )
                print("\n".join(plan))


# --- (3) the regional run ----------------------------------------------------------------------


async def make_region(
    maker: async_sessionmaker[AsyncSession], centre: tuple[float, float], size: int, name: str
) -> tuple[str, float]:
    """A region holding the `size` published needs and offers nearest to `centre`, as a city
    installation would have it: a Region row, and its id on those posts. Returns the id and the
    radius of the smallest circle around the centre that holds them."""
    lat, lon = centre
    kx = KM_PER_DEGREE * math.cos(math.radians(lat))
    distance2 = ((Post.lat - lat) * KM_PER_DEGREE) * ((Post.lat - lat) * KM_PER_DEGREE) + (
        (Post.lon - lon) * kx
    ) * ((Post.lon - lon) * kx)
    async with maker() as session, session.begin():
        radius = 0.0
        ids: list[str] = []
        for kind in ("need", "offer"):
            stmt = (
                select(Post.id, func.sqrt(distance2))
                .where(Post.status == "published", Post.kind == kind, Post.lat.is_not(None))
                .order_by(distance2)
                .limit(size)
            )
            rows = (await session.execute(stmt)).all()
            ids += [r[0] for r in rows]
            radius = max(radius, max(float(r[1]) for r in rows))
        region = Region(
            slug=name.lower(), name=name, lat=lat, lon=lon, radius_km=float(math.ceil(radius))
        )
        session.add(region)
        await session.flush()
        await session.execute(update(Post).where(Post.id.in_(ids)).values(region_id=region.id))
        return region.id, radius


async def region_run(config: dict[str, Any]) -> dict[str, Any]:
    """The coordinator's run over the region: `regional.plan` (the preview), then
    `regional.apply` (the confirmation: the plan again, and a proposal with its notifications for
    every pair), rolled back."""
    region_id = config["region_id"]
    engine = make_engine(config["url"])
    maker = make_sessionmaker(engine)
    out: dict[str, Any] = {}
    try:
        gc.collect()
        rss_before = rss_now_mb()
        reset_peak_rss()
        traced = config.get("tracemalloc", False)
        if traced:
            tracemalloc.start()
        async with maker() as session:
            t0 = time.perf_counter()
            plan = await regional.plan(session, region_id)
            t1 = time.perf_counter()
            rss_peak = peak_rss_mb()
            if traced:
                out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
                tracemalloc.stop()
                return out
            out |= {
                "needs": plan.needs_waiting,
                "offers": plan.offers_available,
                "judged": plan.judged,
                "feasible": plan.feasible,
                "assigned": len(plan.pairs),
                "total_score": sum(p.score for p in plan.pairs),
                "steps": plan.seconds,
                "plan_s": t1 - t0,
                "rss_before_mb": rss_before,
                "rss_peak_mb": rss_peak,
                "rss_peak_growth_mb": rss_peak - rss_before,
            }
            if config.get("apply", True):
                t2 = time.perf_counter()
                created = await regional.apply(session, Settings(), region_id, plan.plan_id)
                await session.flush()
                out["apply_s"] = time.perf_counter() - t2
                out["created"] = len(created)
                await session.rollback()
            if config.get("unmatched", True):
                t3 = time.perf_counter()
                found = await regional.unmatched(session, region_id)
                out["unmatched_s"] = time.perf_counter() - t3
                out["unmatched"] = len(found)
            if config.get("verify", 0):
                facts = await regional.region_facts(session, region_id)
                out["verified_needs"] = verify_nearby(facts, config["verify"])
    finally:
        await engine.dispose()
    return out


def verify_nearby(facts: regional.RegionFacts, count: int) -> int:
    """Brute force for `count` needs: every offer checked by the rules; `nearby_pairs` must have
    found exactly the offers that pass the category, language and reach rules."""
    place_rules = {Failure.CATEGORY, Failure.LANGUAGE, Failure.DISTANCE, Failure.MODE}
    found: dict[int, set[int]] = {}
    for i, j in matching.nearby_pairs(facts.need_facts, facts.offer_facts).tolist():
        found.setdefault(i, set()).add(j)
    step = max(1, len(facts.needs) // count)
    today = datetime.now(UTC).date()
    checked = 0
    for i in range(0, len(facts.needs), step)[:count]:
        brute = {
            j
            for j in range(len(facts.offers))
            if not place_rules & set(matching.check(facts.candidate(i, j), today))
        }
        if brute != found.get(i, set()):
            raise SystemExit(f"nearby_pairs missed or invented pairs for need {facts.needs[i].id}")
        checked += 1
    return checked


def region_in_child(config: dict[str, Any]) -> dict[str, Any]:
    """Run (3) in a fresh interpreter so that ru_maxrss is the region run's alone."""
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--region-child", json.dumps(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"region run failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- The run -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seed", type=int, default=20251121, help="random seed (default %(default)s)")
    p.add_argument("--posts", type=int, help="published posts (default 200000; --quick 20000)")
    p.add_argument(
        "--samples",
        type=int,
        help="new needs and as many new offers for (1) (default 200; quick 30)",
    )
    p.add_argument(
        "--baseline-samples", type=int, help="posts for the baseline (2) (default 6; quick 2)"
    )
    p.add_argument("--warmup", type=int, help="untimed samples first (default 20; quick 5)")
    p.add_argument(
        "--region-size",
        type=int,
        help="needs and offers of the region (3) (default 5000; quick 1000)",
    )
    p.add_argument(
        "--region-city", default="Berlin", help="centre of the region (default %(default)s)"
    )
    p.add_argument(
        "--database-url",
        default=os.environ.get("ANLAUF_BENCH_DATABASE_URL", DEFAULT_URL),
        help="PostgreSQL database to DROP and recreate (default %(default)s)",
    )
    p.add_argument("--quick", action="store_true", help="a small smoke run")
    p.add_argument(
        "--explain", action="store_true", help="print EXPLAIN ANALYZE of candidate queries"
    )
    p.add_argument(
        "--no-tracemalloc", action="store_true", help="skip the traced-memory pass of (3)"
    )
    p.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database when it already holds --posts published posts of this seed "
        "(generated, loaded and analysed by an earlier run; migrations are still applied and "
        "the tables vacuumed again)",
    )
    p.add_argument(
        "--new-posts-only",
        action="store_true",
        help="run (1) and (1b) only: no baseline (2), no region (3)",
    )
    p.add_argument("--region-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    quick = args.quick
    defaults = {
        "posts": 20_000 if quick else 200_000,
        "samples": 30 if quick else 200,
        "baseline_samples": 2 if quick else 6,
        "warmup": 5 if quick else 20,
        "region_size": 1_000 if quick else 5_000,
    }
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if not make_url(args.database_url).drivername.startswith("postgresql"):
        p.error("--database-url must be a PostgreSQL URL (postgresql+asyncpg://...)")
    return args


def spread(
    samples: Sequence[datagen.NewPost], outcomes: dict[str, Outcome], kind: str, count: int
) -> list[datagen.NewPost]:
    """`count` samples of one kind at evenly spaced ranks of their candidate counts."""
    of_kind = sorted(
        (s for s in samples if s.kind == kind), key=lambda s: (outcomes[s.id].candidates, s.id)
    )
    if count <= 0 or not of_kind:
        return []
    if count == 1:
        return [of_kind[len(of_kind) // 2]]
    step = (len(of_kind) - 1) / (count - 1)
    return [of_kind[round(i * step)] for i in range(count)]


def summary(outcomes: Sequence[Outcome]) -> dict[str, float]:
    times = [o.seconds for o in outcomes]
    return {
        "n": len(times),
        "median": statistics.median(times),
        "p95": percentile(times, 95),
        "max": max(times),
        "cpu_median": statistics.median(o.cpu for o in outcomes),
        "cpu_p95": percentile([o.cpu for o in outcomes], 95),
        "candidates": statistics.mean(o.candidates for o in outcomes),
        "candidates_p95": percentile([o.candidates for o in outcomes], 95),
    }


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                str(c).ljust(w) if i == 0 else str(c).rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
            + " |"
        )

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


async def run(args: argparse.Namespace) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    url = args.database_url
    load_start = os.getloadavg()[0]  # other work on the machine shows up in every figure
    print(
        f"Anlauf matching benchmark: seed {args.seed}, {args.posts:,} published posts, "
        f"{args.samples} + {args.samples} samples; {url.split('@')[-1]}",
        flush=True,
    )

    t = time.perf_counter()
    data, gen = datagen.generate(args.seed, args.posts, now=now)
    samples = datagen.sample_posts(gen, data, args.samples, args.samples, seed=args.seed + 1)
    warmups = datagen.sample_posts(gen, data, args.warmup, args.warmup, seed=args.seed + 2)
    t_gen = time.perf_counter() - t
    status, kind = datagen.POST_COLUMNS.index("status"), datagen.POST_COLUMNS.index("kind")
    n_offers = sum(1 for p in data.posts if p[status] == "published" and p[kind] == "offer")
    info = {
        "users": len(data.users),
        "volunteers": len(data.volunteers),
        "approved": sum(1 for v in data.volunteers if v.vetting_status == "approved"),
        "certificates": sum(1 for v in data.volunteers if v.certificate_until is not None),
        "rows": len(data.posts),
        "languages": len(data.post_languages),
    }
    print(f"  generated in {t_gen:.1f} s", flush=True)

    t = time.perf_counter()
    reused = args.reuse and await holds_data(url, args.seed, args.posts)
    if reused:
        # The same seed gives the same people and posts; only their timestamps are those of
        # the run that loaded them.
        await migrate.upgrade_async(url)
        t_schema = time.perf_counter() - t
        t_load = 0.0
        # The last run's region section wrote 10,000 posts and rolled back: their pages lost
        # their all-visible marks, and the matcher's index-only scans read the table for them
        # (p95 30 instead of 22 ms). Autovacuum would have marked them again within a minute
        # (migration 0022), but PostgreSQL here may run without it (this machine's does).
        t = time.perf_counter()
        await vacuum_analyze(url)
        t_analyze = time.perf_counter() - t
        print("  reused the database of an earlier run (--reuse)", flush=True)
    else:
        await datagen.recreate_database(url)
        await migrate.upgrade_async(url)
        t_schema = time.perf_counter() - t
        t = time.perf_counter()
        await datagen.load(asyncpg_dsn(url), data)
        t_load = time.perf_counter() - t
        t = time.perf_counter()
        await vacuum_analyze(url)
        t_analyze = time.perf_counter() - t
        await mark_data(url, args.seed, args.posts)
    del data
    gc.collect()
    print(f"  loaded in {t_load:.1f} s (COPY), VACUUM ANALYZE {t_analyze:.1f} s", flush=True)

    engine = make_engine(url, pool_size=2)
    maker = make_sessionmaker(engine)
    try:
        async with maker() as session:
            server = (await session.execute(text("SHOW server_version"))).scalar_one()
            published = (
                await session.execute(select(func.count()).where(Post.status == "published"))
            ).scalar_one()

        # (1) The app path.
        await run_samples(maker, warmups, now, app_path)
        fast = await run_samples(maker, samples, now, app_path)
        by_id = {s.id: o for s, o in zip(samples, fast, strict=True)}
        print("  (1) done", flush=True)

        # (1b) The previous app path on the same samples: the reference for exactness, and the
        # before figures of the same run.
        await run_samples(maker, warmups[: max(1, len(warmups) // 4)], now, previous_path)
        full = await run_samples(maker, samples, now, previous_path)
        full_by_id = {s.id: o for s, o in zip(samples, full, strict=True)}
        identical = 0
        for s, f, r in zip(samples, fast, full, strict=True):
            if exact_keys(f.chosen) != exact_keys(r.chosen):
                raise SystemExit(
                    f"the fast path and the full ranking disagree for sample {s.id} ({s.kind})"
                )
            identical += 1
        matches = [len(matching.rank(o.cands, now, now.date())) for o in full]

        def groups(outcomes: list[Outcome]) -> dict[str, list[Outcome]]:
            # Remote-capable posts may match anyone in Germany who meets remotely too, so they
            # have far more candidates than posts that only meet in person.
            pairs = list(zip(samples, outcomes, strict=True))
            return {
                "need": [o for s, o in pairs if s.kind == "need"],
                "offer": [o for s, o in pairs if s.kind == "offer"],
                "in": [o for s, o in pairs if s.mode == "in_person"],
                "remote": [o for s, o in pairs if s.mode != "in_person"],
            }

        modes = groups(fast)
        full_modes = groups(full)
        print("  (1b) done", flush=True)

        # (2) The baseline on a few of the same samples, half needs, half offers, spread over
        # the range of candidate counts (so that the comparison also covers large answers).
        base_samples: list[datagen.NewPost] = []
        naive: list[Outcome] = []
        agree = 0
        if not args.new_posts_only:
            half = (args.baseline_samples + 1) // 2
            base_samples = spread(samples, full_by_id, "need", half) + spread(
                samples, full_by_id, "offer", args.baseline_samples - half
            )
            await run_samples(maker, base_samples[:1], now, naive_path)  # warm-up
            naive = await run_samples(maker, base_samples, now, naive_path)
            agree = 0
            for s, o in zip(base_samples, naive, strict=True):
                f, r = by_id[s.id], full_by_id[s.id]
                same_chosen = pair_keys(f.chosen) == pair_keys(o.chosen)
                same_ranked = pair_keys(matching.rank(r.cands, now, now.date())) == pair_keys(
                    matching.rank(o.cands, now, now.date())
                )
                if not (same_chosen and same_ranked):
                    raise SystemExit(f"app path and baseline disagree for sample {s.id} ({s.kind})")
                agree += 1
            print("  (2) done", flush=True)
        if args.explain:
            await explain(maker, samples, now)
    finally:
        await engine.dispose()

    region: dict[str, Any] | None = None
    if not args.new_posts_only:
        # (3) The region, in a fresh process.
        city = next((c for c in datagen.german_cities() if c.name == args.region_city), None)
        if city is None:
            raise SystemExit(f"unknown city {args.region_city!r}")
        engine = make_engine(url, pool_size=1)
        try:
            region_id, region_radius = await make_region(
                make_sessionmaker(engine), (city.lat, city.lon), args.region_size, args.region_city
            )
        finally:
            await engine.dispose()
        config = {"url": url, "region_id": region_id, "verify": 50}
        region = region_in_child(config)
        region["radius_km"] = region_radius
        if not args.no_tracemalloc:
            traced = region_in_child(
                config | {"tracemalloc": True, "verify": 0, "apply": False, "unmatched": False}
            )
            region["traced_peak_mb"] = traced["traced_peak_mb"]

    # The table.
    all_fast = summary(fast)
    all_full = summary(full)
    base = summary(naive) if naive else None
    base_fast = summary([by_id[s.id] for s in base_samples]) if naive else None
    print()
    print(
        f"PostgreSQL {server}, Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"seed {args.seed}; load average {load_start:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"Data: {published:,} published posts ({n_offers:,} offers, {published - n_offers:,} needs) "
        f"+ {info['rows'] - published:,} closed/expired/pending/rejected, "
        f"{info['languages']:,} post languages, {info['users']:,} users "
        f"({info['volunteers']:,} volunteers, {info['approved']:,} approved, "
        f"{info['certificates']:,} with a police certificate)"
    )
    print(
        f"Setup: generated {t_gen:.1f} s, schema {t_schema:.1f} s, COPY {t_load:.1f} s, "
        f"VACUUM ANALYZE {t_analyze:.1f} s"
    )
    print()
    rows = []
    for label, s in (
        ("(1) new post: best 3 by upper bound, all", all_fast),
        ("    new needs", summary(modes["need"])),
        ("    new offers", summary(modes["offer"])),
        ("    in person only", summary(modes["in"])),
        ("    remote-capable (remote or either)", summary(modes["remote"])),
        ("(1b) previous: all candidates as ORM rows", all_full),
        ("    in person only", summary(full_modes["in"])),
        ("    remote-capable (remote or either)", summary(full_modes["remote"])),
        ("(2) baseline: load all + score in Python", base),
        ("    app path on the same samples", base_fast),
    ):
        if s is None:
            continue
        rows.append(
            [
                label,
                str(s["n"]),
                ms(s["median"]),
                ms(s["p95"]),
                ms(s["max"]),
                ms(s["cpu_median"]),
                f"{s['candidates']:,.0f}",
                f"{s['candidates_p95']:,.0f}",
            ]
        )
    header = [
        "measure",
        "samples",
        "median",
        "p95",
        "max",
        "CPU median",
        "judged mean",
        "judged p95",
    ]
    print(table(rows, header))
    print()
    rows = []
    for label, group in (
        ("in person only", modes["in"]),
        ("remote-capable", modes["remote"]),
    ):
        cells = [label]
        for phase in ("author", "rounds", "judge"):
            values = [o.phases[phase] for o in group]
            cells.append(f"{ms(statistics.median(values))} / {ms(percentile(values, 95))}")
        rounds = [o.rounds for o in group]
        returned = [o.rows for o in group]
        cells.append(f"{statistics.mean(rounds):.1f} / {max(rounds)}")
        cells.append(f"{statistics.mean(returned):.0f} / {percentile(returned, 95):.0f}")
        rows.append(cells)
    print("Where the time of (1) goes, median / p95 per step:")
    print(
        table(
            rows,
            [
                "new posts",
                "author, settings, plan",
                "SQL rounds",
                "judge (check + score)",
                "rounds mean / max",
                "rows read mean / p95",
            ],
        )
    )
    print()
    ok_p95 = "met" if all_fast["p95"] * 1000 <= TARGET_P95_MS else "MISSED"
    print(
        f"(1) p95 {all_fast['p95'] * 1000:.1f} ms (target <= {TARGET_P95_MS:.0f} ms: {ok_p95}); "
        f"identical choice to the full ranking of (1b) on {identical}/{len(samples)} samples; "
        f"matches per new post: mean {statistics.mean(matches):.0f}, "
        f"median {statistics.median(matches):.0f}"
    )
    print(
        f"(1b) previous / fast: medians {all_full['median'] / all_fast['median']:.1f}x, "
        f"p95s {all_full['p95'] / all_fast['p95']:.1f}x"
    )
    if base is not None:
        ratio_median = base["median"] / all_fast["median"]
        ratio_p95 = base["p95"] / all_fast["p95"]
        ratio_same = statistics.median(
            o.seconds / by_id[s.id].seconds for s, o in zip(base_samples, naive, strict=True)
        )
        ok_ratio = "met" if ratio_median >= TARGET_RATIO else "MISSED"
        print(
            f"(2) baseline / app path: medians {ratio_median:.0f}x (target >= {TARGET_RATIO:.0f}x: "
            f"{ok_ratio}), p95s {ratio_p95:.0f}x, sample by sample (median) {ratio_same:.0f}x; "
            f"identical ranked matches on {agree}/{len(base_samples)} samples"
        )
    if region is None:
        return
    print()
    r = region
    print(
        f"(3) region: the {r['needs']:,} needs and {r['offers']:,} offers nearest to "
        f"{args.region_city} (within {r['radius_km']:.1f} km)"
    )
    steps = r["steps"]
    rows = [
        ["load (SQL: posts, authors, open matches, declines)", secs(steps["load"]), ""],
        ["facts (matching.PostFacts)", secs(steps["facts"]), ""],
        [
            "pairs (matching.nearby_pairs)",
            secs(steps["pairs"]),
            f"{r['judged']:,} pairs in category, language and reach",
        ],
        [
            "judge (matching.judge_pairs)",
            secs(steps["judge"]),
            f"{r['feasible']:,} pairs pass every rule",
        ],
        [
            "assign (matching.max_weight_matching) + reasons",
            secs(steps["assign"]),
            f"{r['assigned']:,} pairs, total score {r['total_score']:.1f}",
        ],
        ["preview: regional.plan, total", secs(r["plan_s"]), ""],
        [
            "peak resident memory growth of the preview",
            f"{r['rss_peak_growth_mb']:.0f} MB",
            f"VmHWM {r['rss_peak_mb']:.0f} MB, {r['rss_before_mb']:.0f} MB at start",
        ],
    ]
    if "apply_s" in r:
        rows.append(
            [
                "confirm: regional.apply (plan again + proposals)",
                secs(r["apply_s"]),
                f"{r['created']:,} matches and their notifications, rolled back",
            ]
        )
    if "unmatched_s" in r:
        rows.append(
            [
                "needs without a match: regional.unmatched",
                secs(r["unmatched_s"]),
                f"{r['unmatched']:,} needs, each with its cause (offers anywhere judged)",
            ]
        )
    if "traced_peak_mb" in r:
        rows.append(
            ["peak traced memory (tracemalloc)", f"{r['traced_peak_mb']:.0f} MB", "separate pass"]
        )
    print(table(rows, ["phase", "value", "notes"]))
    if r.get("verified_needs"):
        print(
            f"nearby_pairs checked against brute force for {r['verified_needs']} needs: "
            "no pair missed or invented"
        )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.region_child:
        result = asyncio.run(region_run(json.loads(args.region_child)))
        print(json.dumps(result))
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
