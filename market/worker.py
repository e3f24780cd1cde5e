"""The arq worker behind `anlauf worker`: runs every registered outbox job taken from Redis.

Each job of the features (market/features.py registry().jobs) becomes an arq function `(ctx, outbox_id)` that calls
the very same job function the in-process runner uses. The worker also runs the outbox sweep,
so rows that never reached Redis (the web process died after its commit, Redis lost its data)
are handed over again even when no web process is running.

Run it with `anlauf worker`, `python -m market.worker`, or `arq market.worker.WorkerSettings`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.config
import signal
from collections.abc import AsyncIterator
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from arq.connections import RedisSettings
from arq.cron import CronJob, cron
from arq.logs import default_log_config
from arq.worker import Function, Worker, create_worker, func
from redis.exceptions import RedisError

from market.db import make_engine, make_sessionmaker
from market.features import registry
from market.settings import Settings
from notifications.live import BROKER_KEY, make_broker
from notifications.outbox import LEASE_KEY_PREFIX, LEASE_SECONDS, JobContext, Relay, run_job
from notifications.smtp import describe

log = logging.getLogger(__name__)

# arq's timeout for one job. It should exceed notifications.smtp.SMTP_TIMEOUT plus the mark-done
# retry budget (RetryPolicy.mark_done_delays, about 24 s): a job cancelled while it records an
# accepted mail goes on recording it in a task of its own (notifications.jobs), but its slot
# is counted free too early. A worker killed mid-job leaves arq's in-progress marker behind for
# this long plus 10 s; then arq runs the job again.
JOB_TIMEOUT_SECONDS = 60


@contextlib.asynccontextmanager
async def _lease(redis: Any, outbox_id: str) -> AsyncIterator[None]:
    """Keep this job's lease alive while it runs, so the sweep knows its worker is alive."""
    key = LEASE_KEY_PREFIX + outbox_id
    ttl_ms = int(LEASE_SECONDS * 1000)

    async def renew() -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 4)
            try:
                await redis.psetex(key, ttl_ms, b"1")
            except Exception as exc:  # Redis away: the job goes on; the lease simply lapses
                log.debug("cannot renew the lease of %s: %s", outbox_id, exc)

    try:
        await redis.psetex(key, ttl_ms, b"1")
    except Exception as exc:
        log.debug("cannot take the lease of %s: %s", outbox_id, exc)
    renewer = asyncio.create_task(renew(), name=f"lease:{outbox_id}")
    try:
        yield
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewer
        with contextlib.suppress(Exception):
            await redis.delete(key)


def _arq_function(name: str) -> Function:
    async def run_outbox_job(ctx: dict[str, Any], outbox_id: str) -> None:
        async with _lease(ctx["redis"], outbox_id):
            await run_job(ctx["anlauf"], name, outbox_id)

    run_outbox_job.__qualname__ = f"outbox:{name}"
    # keep_result=0: arq refuses to enqueue an id while its result key exists; keeping none
    # lets the sweep re-hand a row that is still pending after its job ran (see outbox.py).
    return func(run_outbox_job, name=name, keep_result=0)


def worker_functions() -> list[Function]:
    """One arq function per job of the features (market/features.py, checked there)."""
    return [_arq_function(name) for name in sorted(registry().jobs)]


async def startup(ctx: dict[str, Any]) -> None:
    """Engine, sessionmaker, job context and the sweeping relay, kept in arq's ctx."""
    settings = ctx.get("settings") or Settings()
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine, settings)
    # Notifications written by jobs reach open pages too (through Redis pub/sub).
    live = make_broker(settings)
    await live.start()
    sessionmaker.configure(info={"settings": settings, BROKER_KEY: live})
    ctx["live"] = live
    job_context = JobContext.create(sessionmaker, settings, retry=ctx.get("retry_policy"))
    relay = Relay(sessionmaker, settings, redis=ctx["redis"])
    # Rows a job enqueues (a digest's mail) are handed over at once, not at the next sweep.
    job_context.extras["kick"] = relay.kick
    await relay.start()
    ctx.update(anlauf=job_context, engine=engine, relay=relay)
    log.info("anlauf worker ready: mail via %s", describe(job_context.mailer))


async def shutdown(ctx: dict[str, Any]) -> None:
    relay = ctx.get("relay")
    if relay is not None:
        await relay.stop()
    live = ctx.get("live")
    if live is not None:
        await live.stop()
    engine = ctx.get("engine")
    if engine is not None:
        await engine.dispose()


async def maintenance(ctx: dict[str, Any]) -> dict[str, int]:
    """The hourly freshness rules: reminders, expiry, certificates (market.maintenance)."""
    from market.maintenance import run as run_maintenance

    job_context: JobContext = ctx["anlauf"]
    return await run_maintenance(job_context.sessionmaker, job_context.settings)


async def digest(ctx: dict[str, Any]) -> dict[str, int]:
    """Queue the notification digests that are due (market.inbox.digest); safe to repeat."""
    from market.inbox.digest import run as run_digest

    job_context: JobContext = ctx["anlauf"]
    relay: Relay = ctx["relay"]
    return await run_digest(job_context.sessionmaker, job_context.settings, kick=relay.kick)


_settings = Settings()


class WorkerSettings:
    functions = worker_functions()
    # Several workers may run: arq's cron uses a job id per run, so each hour runs once.
    cron_jobs: ClassVar[list[CronJob]] = [
        # No timeouts of their own: arq keeps a running job's "in progress" marker for the
        # longest job timeout + 10 s, and that is how long the mails a killed worker was
        # sending wait before they are retried. A cron job longer than JOB_TIMEOUT_SECONDS
        # would hold them up (900 s here once meant a quarter of an hour); both jobs below
        # work in batches that commit as they go, so a cut-short run is finished by the next.
        cron(maintenance, minute={7}, run_at_startup=True, unique=True),
        # Hourly, and at start-up: it only queues the digests that are due (one outbox job
        # each), so the 07:00 run sends the day's digests and a missed one is made up.
        cron(digest, minute={0}, run_at_startup=True, unique=True),
    ]
    # Cron times are Berlin time (the digest's 07:00).
    timezone = ZoneInfo("Europe/Berlin")
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = (
        RedisSettings.from_dsn(_settings.redis_url) if _settings.redis_url else RedisSettings()
    )
    job_timeout = JOB_TIMEOUT_SECONDS
    # The worker-wide default also covers arq's own failure paths (expired, max tries).
    keep_result = 0
    max_jobs = 10
    # arq starts new jobs only when it polls, so with its default 0.5 s a worker whose jobs
    # take 0.1 s would deliver at most max_jobs mails per half second (benchmarks/notifications.py
    # measured 27 mails/s). Polling Redis every 50 ms costs little and keeps all slots busy.
    poll_delay = 0.05
    health_check_interval = 30


def run(**overrides: Any) -> None:
    """`anlauf worker`: run the arq worker until SIGINT/SIGTERM, through Redis outages.

    `overrides` are arq Worker arguments (tests shorten the job timeout and poll delay).
    """
    if not Settings().redis_url:
        raise SystemExit(
            "anlauf worker needs ANLAUF_REDIS_URL; without Redis, `anlauf serve` runs jobs itself"
        )
    if not logging.getLogger().handlers:
        logging.config.dictConfig(default_log_config(verbose=False))
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    asyncio.run(run_until_stopped(**overrides))


async def run_until_stopped(**overrides: Any) -> None:
    """Run arq workers one after another until a signal: a new one whenever Redis was lost.

    arq's worker ends with an error when Redis goes away (a restart, a failover). Nothing is
    lost then: what it had queued is still pending in the outbox. So we wait, with backoff,
    and start a fresh worker, whose sweep hands the pending rows over again once Redis is
    back, instead of relying on a process supervisor to restart us.
    """
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    delay = 1.0
    while True:
        # arq installs its own SIGINT/SIGTERM handlers (graceful stop) on this loop.
        kwargs = dict(overrides)
        kwargs["ctx"] = dict(overrides.get("ctx") or {})  # a fresh context for each worker
        worker = create_worker(WorkerSettings, **kwargs)  # type: ignore[arg-type]
        lost: Exception | None = None
        try:
            await worker.async_run()
            return  # burst mode finished
        except asyncio.CancelledError:
            return  # stopped by a signal
        except (RedisError, OSError) as exc:
            lost = exc
        finally:
            await _close_worker(worker, lost is not None)
        log.warning("lost Redis (%s); starting a new worker in %.0f s", lost, delay)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), delay)
        if stopping.is_set():
            return
        delay = min(delay * 2, 30.0)


async def _close_worker(worker: Worker, redis_lost: bool) -> None:
    try:
        async with asyncio.timeout(90):
            await worker.close()
        return
    except Exception:
        if not redis_lost:
            log.warning("the worker did not close cleanly", exc_info=True)
    # arq could not say goodbye to Redis, so it skipped on_shutdown: release our own things.
    with contextlib.suppress(Exception):
        await shutdown(worker.ctx)
    with contextlib.suppress(Exception):
        await worker.pool.close(close_connection_pool=True)


if __name__ == "__main__":
    run()
