"""`anlauf serve | worker | tick | migrate | users create | geo import-postcodes | regions create |
directory import | demo`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from market.db import make_engine, make_sessionmaker
from market.errors import DomainError
from market.settings import Settings

T = TypeVar("T")


async def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine, settings)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def _migrate(settings: Settings) -> None:
    from market.migrate import upgrade

    upgrade(settings.database_url)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    _migrate(settings)
    print("Database is up to date.")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from market.app import create_app

    workers: int = getattr(args, "workers", 1)  # callers may build the namespace themselves
    if workers < 1:
        print("error: --workers must be 1 or more.", file=sys.stderr)
        return 2
    if workers > 1 and not settings.redis_url:
        # Without Redis each process would run the hourly jobs and the outbox itself, keep its
        # own rate limits and its own page cache (which the others could not invalidate).
        print(
            "error: --workers above 1 needs ANLAUF_REDIS_URL (shared jobs, rate limits and page "
            "cache); run `anlauf worker` beside the web processes.",
            file=sys.stderr,
        )
        return 2
    # Once, before any process starts: web processes never migrate.
    _migrate(settings)
    if args.demo:
        from market.demo import load_demo

        created = asyncio.run(_in_transaction(settings, lambda s: load_demo(s, settings)))
        print("Demo data loaded." if created else "The database is not empty; no demo data added.")
    if not settings.redis_url:
        print("Jobs run in this process (ANLAUF_REDIS_URL is not set).")
    if not settings.smtp_url:
        print(f"Mail is written to {settings.outbox_dir.resolve()} (ANLAUF_SMTP_URL is not set).")
    print(f"Anlauf runs at http://{args.host}:{args.port}/ ({workers} process(es))")
    # uvicorn believes X-Forwarded-For from 127.0.0.1 by default; only ANLAUF_TRUSTED_PROXIES
    # may set the client address (market.web.client_ip reads the header by the same rule).
    trusted = ",".join(str(n) for n in settings.trusted_proxy_networks)
    # Several processes need an import string: each one builds its own app from the same
    # environment (Settings() reads it), and uvicorn restarts a process that dies.
    target = create_app(settings) if workers == 1 else "market.app:create_app"
    uvicorn.run(
        target,
        factory=workers > 1,
        workers=workers,
        # A new process first imports all of Anlauf before it can answer the supervisor's health
        # check; on a busy machine that takes longer than uvicorn's 5 s, and it would be killed
        # and restarted over and over.
        timeout_worker_healthcheck=60,
        host=args.host,
        port=args.port,
        log_level="info",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.redis_url:
        print("anlauf worker needs ANLAUF_REDIS_URL.", file=sys.stderr)
        return 2
    from market.worker import run

    run()
    return 0


def _at_argument(raw: str) -> datetime:
    """--at: an ISO 8601 time; without a zone it is UTC. argparse refuses a bad one (exit 2)
    before anything else is loaded."""
    try:
        at = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not an ISO 8601 time (for example 2027-01-31T09:00:00+00:00)."
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC)


async def _tick(settings: Settings, now: datetime) -> list[str]:
    from market.inbox.digest import run as run_digest
    from market.maintenance import run as run_maintenance
    from notifications.outbox import Relay

    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine, settings)
    # Rows younger than the usual grace are ours: the tick is the only thing kicking them.
    relay = Relay(sessionmaker, settings, grace=timedelta(0))
    await relay.start()
    try:
        lines = [
            f"{name}: {count}"
            for name, count in (await run_maintenance(sessionmaker, settings, now)).items()
        ]
        digest = await run_digest(sessionmaker, settings, now, kick=relay.kick)
        lines.append(f"digests_queued: {digest['queued']}")
        if relay.mode == "inprocess":
            # Deliver before exiting: jobs may queue further rows (a digest queues its mail).
            while True:
                await relay.drain(wait=300)
                if not await relay.sweep():
                    await relay.drain(wait=300)
                    break
            lines.append(
                "mail: sent in this process (jobs that failed are retried by `anlauf serve`)"
            )
        else:
            await relay.sweep()
            lines.append("mail: handed to the arq worker (`anlauf worker` sends it)")
    finally:
        await relay.stop()
        await engine.dispose()
    return lines


def cmd_tick(args: argparse.Namespace, settings: Settings) -> int:
    at: datetime | None = args.at
    now = at or datetime.now(UTC)
    print(f"tick as of {now.isoformat()}")
    with _one_tick_at_a_time(settings):
        for line in asyncio.run(_tick(settings, now)):
            print(line)
    return 0


@contextlib.contextmanager
def _one_tick_at_a_time(settings: Settings) -> Iterator[None]:
    """On SQLite, ticks on this host run one after the other. Each rule does its steps once
    anyway (conditional UPDATEs), but SQLite has no row locks, so two ticks' mail relays could
    both send the same outbox row (notifications/jobs.py); PostgreSQL's row locks prevent it."""
    if not settings.database_url.startswith("sqlite"):
        yield
        return
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    with (settings.instance_dir / "tick.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from market.accounts.services import create_staff
    from market.posts.models import Region
    from market.validation import _email, _password

    try:
        email = _email(args.email)
        password = _password(_read_password())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    async def work(session: AsyncSession) -> str:
        region_ids = []
        for slug in args.region or []:
            region = (
                await session.execute(select(Region).where(Region.slug == slug))
            ).scalar_one_or_none()
            if region is None:
                raise DomainError(detail=f"There is no region {slug!r}.", status=422)
            region_ids.append(region.id)
        user = await create_staff(
            session,
            settings,
            email=email,
            name=args.name,
            role=args.role,
            password=password,
            region_ids=region_ids,
        )
        return user.id

    try:
        user_id = asyncio.run(_in_transaction(settings, work))
    except DomainError as exc:
        messages = "; ".join(e.message for e in exc.errors) or exc.detail
        print(f"error: {messages}", file=sys.stderr)
        return 1
    print(f"Created {args.role} {email} ({user_id}).")
    return 0


def cmd_geo_import(args: argparse.Namespace, settings: Settings) -> int:
    from market.posts.geo import import_postcodes

    path = Path(args.file)
    if not path.exists():
        print(f"error: {path} does not exist.", file=sys.stderr)
        return 2
    try:
        count = asyncio.run(_in_transaction(settings, lambda s: import_postcodes(s, path)))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Imported {count} postcodes.")
    return 0


def cmd_directory_import(args: argparse.Namespace, settings: Settings) -> int:
    """A city's catalogue (CSV, columns in the README): each readable row becomes a published
    service; each unreadable one is reported with its line and field, and nothing is made of it."""
    from market.directory.transfer import import_csv

    path = Path(args.file)
    if not path.exists():
        print(f"error: {path} does not exist.", file=sys.stderr)
        return 2
    try:
        content = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {path} as UTF-8 text: {exc}", file=sys.stderr)
        return 2
    created, errors = asyncio.run(_in_transaction(settings, lambda s: import_csv(s, content)))
    for error in errors:
        print(f"{path}:{error.line}: {error.field}: {error.message}", file=sys.stderr)
    print(f"Imported {created} services; {len(errors)} rows could not be read.")
    return 1 if errors else 0


def cmd_regions_create(args: argparse.Namespace, settings: Settings) -> int:
    from market.posts.models import Region

    async def work(session: AsyncSession) -> str:
        region = Region(
            slug=args.slug, name=args.name, lat=args.lat, lon=args.lon, radius_km=args.radius_km
        )
        session.add(region)
        await session.flush()
        return region.id

    region_id = asyncio.run(_in_transaction(settings, work))
    print(f"Created region {args.slug} ({region_id}).")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from market.demo import load_demo

    _migrate(settings)
    created = asyncio.run(_in_transaction(settings, lambda s: load_demo(s, settings)))
    print("Demo data loaded." if created else "The database is not empty; no demo data added.")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="anlauf", description="Anlauf volunteer-matching marketplace")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="apply migrations and serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--demo", action="store_true", help="load demo data into an empty database")
    serve.add_argument(
        "--workers", type=int, default=1, help="web processes (above 1 needs ANLAUF_REDIS_URL)"
    )
    serve.set_defaults(func=cmd_serve)

    tick = sub.add_parser("tick", help="run every periodic rule once and exit")
    tick.add_argument(
        "--at",
        type=_at_argument,
        help="as of this ISO 8601 time (default: now; no zone means UTC)",
    )
    tick.set_defaults(func=cmd_tick)
    sub.add_parser("worker", help="run the arq worker").set_defaults(func=cmd_worker)
    sub.add_parser("migrate", help="apply migrations and exit").set_defaults(func=cmd_migrate)
    sub.add_parser("demo", help="load demo data into an empty database").set_defaults(func=cmd_demo)

    users = sub.add_parser("users", help="manage staff accounts").add_subparsers(
        dest="action", required=True
    )
    create = users.add_parser("create", help="create a coordinator or admin (password on stdin)")
    create.add_argument("--email", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", required=True, choices=["coordinator", "admin"])
    create.add_argument(
        "--region", action="append", help="region slug (repeatable); none: all regions"
    )
    create.set_defaults(func=cmd_users_create)

    geo = sub.add_parser("geo", help="geodata").add_subparsers(dest="action", required=True)
    imp = geo.add_parser("import-postcodes", help="import a GeoNames postal-code file (txt or zip)")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_geo_import)

    directory = sub.add_parser("directory", help="the directory of services").add_subparsers(
        dest="action", required=True
    )
    dimp = directory.add_parser("import", help="import a catalogue of services (CSV)")
    dimp.add_argument("file")
    dimp.set_defaults(func=cmd_directory_import)

    regions = sub.add_parser("regions", help="regions served").add_subparsers(
        dest="action", required=True
    )
    rc = regions.add_parser("create", help="add a region (a circle around a centre)")
    rc.add_argument("--slug", required=True)
    rc.add_argument("--name", required=True)
    rc.add_argument("--lat", type=float, required=True)
    rc.add_argument("--lon", type=float, required=True)
    rc.add_argument("--radius-km", type=float, default=25.0)
    rc.set_defaults(func=cmd_regions_create)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    settings = Settings()
    func: Callable[[argparse.Namespace, Settings], int] = args.func
    if func is not cmd_migrate:
        # The same registry as the app and the worker (market/features.py): every feature's
        # handlers and rules are in place before a command changes data, or it fails here.
        from market.features import registry

        registry()
    return func(args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
