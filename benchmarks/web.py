"""Public pages at city scale: Anlauf's pages beside a hello-world and a minimal one-query page.

    python benchmarks/web.py              # 200,000 published posts (and 20,000 for the growth check)
    python benchmarks/web.py --quick      # 20,000 posts only
    python benchmarks/web.py --duration 10 --rounds 3 --connections 16

What runs: PostgreSQL (databases `anlauf_bench_web_<posts>`, built once from
benchmarks/datagen.py and reused while their row count fits; --fresh builds them again), three
uvicorn processes with the same flags (one process each, uvloop, httptools, no access log):
Anlauf (`market.app:create_app`, rate limits off, ANLAUF_ENV=production), a Starlette
hello-world and the minimal page of benchmarks/web_apps.py; and wrk (Debian's package) as the
load, 16 connections, 3 rounds of --duration seconds per page. Anlauf runs twice: with its
anonymous-page cache as shipped, and with ANLAUF_PUBLIC_CACHE_SECONDS=0. It runs as in
production, with Redis (--redis-url, a database of its own that is emptied before each run; ''
for none): the page cache is then the shared one, and the periodic jobs are left to the arq
worker instead of running inside the measured process.

Before each page the run waits until the database runs no statement of the page before (the
map without the cache leaves seconds-long statements running after wrk stops).

Reported per page: requests per second (median of the rounds), p50 and p99 latency of that round,
and the ratio to hello-world and to the minimal page measured in the same run. The targets of the
"public pages at city scale" issue follow, one line each (`TARGET: met|missed (figure)`), and a
last line `web: N met, M missed`; the exit code is 0 only when M is 0. Figures are printed, never
asserted in tests.
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
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks import datagen

REPO = _HERE.parent
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/anlauf_bench_web"
DEFAULT_REDIS = "redis://127.0.0.1:6379/2"
SEED = 20251121
PASSWORD_SESSION = "bench-session-secret-0123456789abcdef"


@dataclass
class Measure:
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    rounds: list[float] = field(default_factory=list)
    # The 1-minute load average when the rounds ended: other work on the machine shows in
    # every figure, so each carries it.
    load: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- Data -------------------------------------------------------------------------------------


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _scalar(url: str, sql: str) -> object:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar()
    finally:
        await engine.dispose()


async def prepare_database(base_url: str, posts: int, fresh: bool) -> str:
    """A database with `posts` published posts; reused when it holds them already."""
    url = make_url(base_url)
    url = url.set(database=f"{url.database}_{posts}")
    rendered = url.render_as_string(hide_password=False)
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        exists = await conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
        )
        if exists and not fresh:
            try:
                have = await _scalar(
                    rendered, "SELECT count(*) FROM posts WHERE status = 'published'"
                )
            except Exception:
                have = None
            if have == posts:
                await engine.dispose()
                # Newer migrations (indexes, columns) apply to a reused database too.
                from market import migrate

                await asyncio.to_thread(migrate.upgrade, rendered)
                return rendered
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        await conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    await engine.dispose()
    from market import migrate

    print(f"... building {posts:,} posts in {url.database}", flush=True)
    await asyncio.to_thread(migrate.upgrade, rendered)
    data, _gen = datagen.generate(SEED, posts, now=datetime.now(UTC))
    await datagen.load(asyncpg_dsn(rendered), data)
    engine = create_async_engine(rendered, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text("VACUUM ANALYZE"))
    await engine.dispose()
    return rendered


async def signed_in_cookie(url: str) -> tuple[str, str]:
    """A session for the seeker with the most posts: (cookie header, their first post id)."""
    from market.security import digest

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            user_id = await conn.scalar(
                text(
                    "SELECT author_id FROM posts WHERE kind = 'need' GROUP BY author_id "
                    "ORDER BY count(*) DESC, author_id LIMIT 1"
                )
            )
            await conn.execute(
                text("DELETE FROM web_sessions WHERE id = :id"), {"id": digest(PASSWORD_SESSION)}
            )
            now = datetime.now(UTC)
            await conn.execute(
                text(
                    "INSERT INTO web_sessions (id, public_id, user_id, csrf_token, expires_at, "
                    "created_at) VALUES (:id, :public_id, :user, :csrf, :expires, :now)"
                ),
                # public_id: the session's name on /account (migration 0004).
                {
                    "id": digest(PASSWORD_SESSION),
                    "public_id": uuid.uuid4().hex,
                    "user": user_id,
                    "csrf": "bench",
                    "expires": now + timedelta(days=1),
                    "now": now,
                },
            )
            post_id = await conn.scalar(
                text("SELECT id FROM posts WHERE status = 'published' ORDER BY id LIMIT 1")
            )
    finally:
        await engine.dispose()
    return f"Cookie: anlauf_session={PASSWORD_SESSION}", str(post_id)


# --- Query plans -------------------------------------------------------------------------------


def listing_queries(post_id: str, author_id: str) -> list[tuple[str, object]]:
    """(label, statement): every public listing's query as the app builds it, and its next page."""
    from market.api import paginate
    from market.posts import queries
    from market.posts.models import Post

    def page(stmt: object, limit: int = 20, cursor: object = None) -> object:
        return paginate(stmt, Post.created_at, Post.id, limit, cursor)  # type: ignore[arg-type]

    later = (datetime.now(UTC) - timedelta(days=3), "8" * 32)
    leipzig = (51.3397, 12.3731, 25.0)
    return [
        (
            "/ home: 6 newest",
            queries.published().order_by(Post.created_at.desc(), Post.id.desc()).limit(6),
        ),
        ("/posts, API: first page", page(queries.search())),
        ("/posts, API: a later page (cursor)", page(queries.search(), cursor=later)),
        ("kind=need", page(queries.search(kind="need"))),
        ("category=language (a parent: 2 slugs)", page(queries.search(category="language"))),
        ("category=housing-search (a leaf)", page(queries.search(category="housing-search"))),
        ("language=uk", page(queries.search(language="uk"))),
        ("place=Leipzig, 25 km", page(queries.search(place=leipzig))),
        ("place=Leipzig + q=deutsch", page(queries.search(place=leipzig, q="deutsch"))),
        ("q=deutsch", page(queries.search(q="deutsch"))),
        (
            "kind + category + language + place",
            page(queries.search(kind="offer", category="language", language="ar", place=leipzig)),
        ),
        (
            "/my/posts, GET /me/posts: an author's own",
            page(Post.__table__.select().where(Post.author_id == author_id)),
        ),
        ("post page", queries.published().where(Post.id == post_id)),
    ]


PLANS: dict[int, list[tuple[str, str, bool]]] = {}


def execution_ms(plan: str) -> float:
    found = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return float(found.group(1)) if found else float("nan")


# A sort of what an index found (a top-N sort of the posts in one place with a rare filter) is
# fine; a sort of more rows than this is a sort of (nearly) everything.
SORT_LIMIT = 5_000


def full_sort(plan: str) -> bool:
    lines = plan.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"\s*(->\s*)?Sort\b", line):
            below = next((x for x in lines[i + 1 :] if "->" in x), "")
            rows = re.search(r"actual rows=(\d+)", below)
            if rows is None or int(rows.group(1)) > SORT_LIMIT:
                return True
    return False


async def explain_listings(url: str) -> list[tuple[str, str, bool]]:
    """EXPLAIN ANALYZE of every listing: (label, plan, fine), fine when the plan reads no table
    whole (no Seq Scan) and sorts at most SORT_LIMIT rows that an index found (no full sort)."""
    import asyncpg
    from sqlalchemy.dialects import postgresql

    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        author_id = await conn.fetchval(
            "SELECT author_id FROM posts GROUP BY author_id ORDER BY count(*) DESC LIMIT 1"
        )
        post_id = await conn.fetchval(
            "SELECT id FROM posts WHERE status = 'published' ORDER BY id LIMIT 1"
        )
        out = []
        for label, stmt in listing_queries(post_id, author_id):
            sql = str(
                stmt.compile(  # type: ignore[attr-defined]
                    dialect=postgresql.dialect(),
                    compile_kwargs={"literal_binds": True, "render_postcompile": True},
                )
            ).replace("%%", "%")
            rows = await conn.fetch("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql)
            plan = "\n".join(r[0] for r in rows)
            out.append((label, plan, "Seq Scan" not in plan and not full_sort(plan)))
        return out
    finally:
        await conn.close()


# --- Servers and load ---------------------------------------------------------------------------


class Server:
    def __init__(self, name: str, target: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.port = free_port()
        self.log = folder / f"{name}.log"
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            *target,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str = "/") -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} did not start:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.base + path, timeout=5):
                    return
            except Exception:
                time.sleep(0.2)
        raise SystemExit(f"{self.name} did not answer within 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def status_of(url: str, header: str | None = None) -> int:
    request = urllib.request.Request(url)
    if header:
        name, _, value = header.partition(": ")
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def wrk(
    url: str, args: argparse.Namespace, header: str | None = None
) -> tuple[float, float, float, int]:
    # A 10 s timeout: with wrk's 2 s default, slow answers would drop out of the latencies.
    command = [
        "wrk",
        "-t2",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--timeout",
        "10s",
        "--latency",
        url,
    ]
    if header:
        command[1:1] = ["-H", header]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\n\s+50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\n\s+99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = int(bad.group(1)) if bad else 0
    if errors:
        failed += sum(int(g) for g in errors.groups())
    return rps, p50, p99, failed


def settle(database_url: str, timeout: float = 60.0) -> None:
    """Wait until the database runs no statement of an earlier page: a page whose requests take
    seconds (the map without the cache) leaves them running after wrk stops, and they would be
    counted against the next page."""
    import asyncpg

    async def busy() -> int:
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                    "AND datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        finally:
            await conn.close()

    deadline = time.monotonic() + timeout
    while asyncio.run(busy()) and time.monotonic() < deadline:
        time.sleep(0.5)


def measure(label: str, url: str, args: argparse.Namespace, header: str | None = None) -> Measure:
    if getattr(args, "settle_url", None):
        settle(args.settle_url)
    if args.warmup:  # connections, caches and the JIT-less interpreter's first calls
        wrk(url, argparse.Namespace(**{**vars(args), "duration": 2}), header)
    rounds = [wrk(url, args, header) for _ in range(args.rounds)]
    rounds.sort(key=lambda r: r[0])
    rps, p50, p99, _ = rounds[len(rounds) // 2]
    result = Measure(
        label,
        rps,
        p50,
        p99,
        sum(r[3] for r in rounds),
        [r[0] for r in rounds],
        os.getloadavg()[0],
    )
    print(
        f"    {label}: {rps:,.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"load {result.load:.1f}" + (f", {result.errors} failed" if result.errors else ""),
        flush=True,
    )
    return result


# --- The run ------------------------------------------------------------------------------------


def base_env(
    database_url: str, folder: Path, cache_off: bool, redis_url: str = ""
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANLAUF_")}
    env.update(
        ANLAUF_ENV="production",
        ANLAUF_SECRET_KEY="bench-web-secret",
        ANLAUF_DATABASE_URL=database_url,
        # Served as in production: with Redis, the page cache is the one all processes share,
        # and the periodic jobs (retention, digests) are the arq worker's, not run inside the
        # measured web process (without Redis the app runs them itself, over 200,000 posts).
        ANLAUF_REDIS_URL=redis_url,
        ANLAUF_RATE_LIMIT_ENABLED="false",
        ANLAUF_INSTANCE_DIR=str(folder / "instance"),
        ANLAUF_OUTBOX_DIR=str(folder / "outbox"),
        ANLAUF_BASE_URL="http://127.0.0.1",
        BENCH_DATABASE_URL=database_url,
        PYTHONPATH=str(REPO),
    )
    if cache_off:
        env["ANLAUF_PUBLIC_CACHE_SECONDS"] = "0"
    return env


FLOOR = "/healthz (the app's floor)"


def pages(post_id: str) -> list[tuple[str, str, bool]]:
    """(label, path, signed in)"""
    return [
        # Not a page: the least any request of the app does (one SELECT 1 through the same
        # middleware), measured without the cache only, beside the minimal page.
        (FLOOR, "/healthz", False),
        ("/ home", "/", False),
        ("/posts place + word", "/posts?place=Leipzig&radius_km=25&q=Deutsch", False),
        ("post page", f"/posts/{post_id}", False),
        ("GET /api/v1/posts", "/api/v1/posts?limit=20", False),
        ("signed-in /my/posts", "/my/posts", True),
        # Last: without the cache its requests take seconds (settle() waits for them to end).
        ("GET /api/v1/map", "/api/v1/map", False),
    ]


def run_size(posts: int, args: argparse.Namespace, folder: Path) -> dict[str, dict[str, Measure]]:
    url = asyncio.run(prepare_database(args.database_url, posts, args.fresh))
    args.settle_url = url
    cookie, post_id = asyncio.run(signed_in_cookie(url))
    PLANS[posts] = asyncio.run(explain_listings(url))
    results: dict[str, dict[str, Measure]] = {}
    yardsticks = [
        ("hello-world", ["benchmarks.web_apps:hello"]),
        ("minimal page", ["--factory", "benchmarks.web_apps:minimal"]),
    ]
    for name, target in yardsticks:
        server = Server(name, target, base_env(url, folder, False), folder)
        try:
            server.wait_ready()
            results.setdefault("yardsticks", {})[name] = measure(
                f"{name} ({posts:,} posts)", server.base + "/", args
            )
        finally:
            server.stop()
    for mode, cache_off in (("cache on", False), ("cache off", True)):
        if args.redis_url:
            # No page of another run or database size may be served from the shared cache.
            import redis

            with redis.Redis.from_url(args.redis_url) as r:
                r.flushdb()
        server = Server(
            "anlauf",
            ["--factory", "market.app:create_app"],
            base_env(url, folder, cache_off, args.redis_url),
            folder,
        )
        try:
            server.wait_ready("/healthz")
            for label, path, signed_in in pages(post_id):
                if label == FLOOR and not cache_off:
                    continue
                header = cookie if signed_in else None
                status = status_of(server.base + path, header)
                if status != 200:
                    print(f"    {label}: answers {status}; not measured", flush=True)
                    continue
                results.setdefault(mode, {})[label] = measure(
                    f"{label} [{mode}, {posts:,} posts]", server.base + path, args, header
                )
        finally:
            server.stop()
    return results


def ratio(a: Measure | None, b: Measure | None) -> str:
    return f"{a.rps / b.rps * 100:.1f} %" if a and b and b.rps else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 posts only")
    parser.add_argument("--posts", type=int, help="published posts (default 200,000)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--no-warmup", dest="warmup", action="store_false")
    parser.add_argument("--fresh", action="store_true", help="build the databases again")
    parser.add_argument(
        "--explain", action="store_true", help="print the query plan of every listing"
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("ANLAUF_BENCH_WEB_URL", DEFAULT_URL)
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("ANLAUF_BENCH_REDIS_URL", DEFAULT_REDIS),
        help="a Redis database of its own (it is emptied); '' serves without Redis",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    big = args.posts or (20_000 if args.quick else 200_000)
    sizes = [big] if big <= 20_000 else [20_000, big]
    load_before = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="anlauf-bench-web-"))
    by_size: dict[int, dict[str, dict[str, Measure]]] = {}
    try:
        for posts in sizes:
            print(f"... {posts:,} published posts", flush=True)
            by_size[posts] = run_size(posts, args, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    main_results = by_size[big]
    hello = main_results["yardsticks"]["hello-world"]
    minimal = main_results["yardsticks"]["minimal page"]
    print()
    print(
        f"Anlauf web benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {big:,} published posts "
        f"on PostgreSQL, wrk {args.connections} connections, {args.rounds} x {args.duration} s per "
        f"page; {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average before the run {load_before:.1f}"
    )
    print()
    print("| page | req/s | p50 | p99 | of hello-world | of minimal page | load |")
    print("|---|---|---|---|---|---|---|")
    for name, m in main_results["yardsticks"].items():
        print(
            f"| {name} | {m.rps:,.0f} | {m.p50_ms:.1f} ms | {m.p99_ms:.1f} ms | "
            f"{ratio(m, hello)} | {ratio(m, minimal)} | {m.load:.1f} |"
        )
    for mode in ("cache on", "cache off"):
        for label, m in main_results.get(mode, {}).items():
            print(
                f"| {label} ({mode}) | {m.rps:,.0f} | {m.p50_ms:.1f} ms | {m.p99_ms:.1f} ms | "
                f"{ratio(m, hello)} | {ratio(m, minimal)} | {m.load:.1f} |"
            )
    print()

    plans = PLANS.get(big, [])
    print(f"Query plans at {big:,} posts (EXPLAIN ANALYZE; time in the database, one run):")
    print()
    print("| listing | plan | database time |" + (" at 20,000 |" if len(sizes) == 2 else ""))
    print("|---|---|---|" + ("---|" if len(sizes) == 2 else ""))
    small_plans = {label: plan for label, plan, _ in PLANS.get(sizes[0], [])}
    for label, plan, fine in plans:
        first = plan.splitlines()[1].strip(" ->") if len(plan.splitlines()) > 1 else plan
        row = (
            f"| {label} | {'ok' if fine else 'SCAN/SORT'}: {first} | {execution_ms(plan):.2f} ms |"
        )
        if len(sizes) == 2:
            row += f" {execution_ms(small_plans.get(label, '')):.2f} ms |"
        print(row)
    print()
    if args.explain:
        for label, plan, _ in plans:
            print(f"-- {label}")
            print(plan)
            print()

    targets: list[tuple[str, bool, str]] = []
    targets.append(
        (
            f"every listing's plan at {big:,} posts reads an index: no Seq Scan, no full Sort",
            bool(plans) and all(fine for _, _, fine in plans),
            f"{sum(fine for _, _, fine in plans)} of {len(plans)}",
        )
    )
    public = ("/ home", "/posts place + word", "post page")
    on, off = main_results.get("cache on", {}), main_results.get("cache off", {})
    for label in public:
        m = on.get(label)
        targets.append(
            (
                f"{label} with the cache >= 25 % of hello-world",
                bool(m and m.rps >= 0.25 * hello.rps),
                ratio(m, hello),
            )
        )
        m = off.get(label)
        targets.append(
            (
                f"{label} without the cache >= 100 % of the minimal page",
                bool(m and m.rps >= minimal.rps),
                ratio(m, minimal),
            )
        )
    # The issue lists the API apart from the cached pages: its target is read without the
    # cache (with the cache it is a cache hit like any page; printed for comparison). Signed-in
    # pages are never cached, so either run says the same; the cache-on run is used.
    for label, mode, runs in (
        ("GET /api/v1/posts", "cache off", off),
        ("signed-in /my/posts", "cache on", on),
    ):
        m = runs.get(label)
        targets.append(
            (
                f"{label} ({mode}) >= 100 % of the minimal page",
                bool(m and m.rps >= minimal.rps),
                ratio(m, minimal),
            )
        )
    api_cached = on.get("GET /api/v1/posts")
    print(f"(for comparison: GET /api/v1/posts with the cache: {ratio(api_cached, minimal)})")
    print(
        f"(for comparison: {FLOOR}, one SELECT 1 through the middleware every page passes: "
        f"{ratio(off.get(FLOOR), minimal)} of the minimal page)"
    )
    worst = max((m.p99_ms for m in on.values()), default=float("inf"))
    targets.append(
        (
            "p99 <= 150 ms at 16 connections (every page, cache on)",
            worst <= 150,
            f"worst {worst:.0f} ms",
        )
    )
    if "GET /api/v1/map" not in on:
        targets.append(("GET /api/v1/map measured", False, "not built yet"))
    if len(sizes) == 2:
        small = by_size[sizes[0]].get("cache off", {})
        for label in public:
            a, b = small.get(label), off.get(label)
            slower = a.rps / b.rps if a and b and b.rps else float("inf")
            targets.append(
                (
                    f"{label} from 20,000 to {big:,} posts at most 1.5x slower (cache off)",
                    slower <= 1.5,
                    f"{slower:.2f}x",
                )
            )
    for label, ok, figure in targets:
        print(f"{label}: {'met' if ok else 'missed'} ({figure})")
    missed = sum(1 for _, ok, _ in targets if not ok)
    print(f"web: {len(targets) - missed} met, {missed} missed")
    return 0 if missed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
