"""Regional runs as outbox jobs: the preview of a matching run, its confirmation, and working out
the unmatched needs.

All take seconds for a city (at 5,000 x 5,000 a preview 3.5-4 s, a confirmation 9-17 s, the
unmatched view 14-33 s), so a request only writes a `regional_runs` row and an outbox job in its
own transaction and answers at once; the job (in the arq worker, or in-process without Redis)
does the work and stores the outcome on the row, which a progress page polls. A small region's
preview and unmatched view are worked out in the request itself.

Progress is written in short transactions of its own, so the page sees the steps while the
job's main transaction is still open. On SQLite that is not possible (one writer; a reader's
snapshot could not be upgraded to write after someone else wrote), so there the page shows
"queued" until the run is done.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    and_,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base, IdMixin, checked, insert_unless_taken, utcnow
from market.errors import Conflict
from market.matches import queries, regional
from market.matches.models import RunKind, RunStatus
from market.posts.models import Post, Region
from notifications.outbox import Claim, JobContext, claim, enqueue, register_job

log = logging.getLogger(__name__)

CONFIRM = "confirm"
UNMATCHED = "unmatched"
PREVIEW = "preview"
KINDS = (CONFIRM, UNMATCHED, PREVIEW)
STATUSES = ("queued", "running", "done", "failed")
CONFIRM_JOB = "matches.regional_confirm"
UNMATCHED_JOB = "matches.regional_unmatched"
PREVIEW_JOB = "matches.regional_preview"
# A worked-out preview is shown this long. Should posts change meanwhile, confirming it fails
# with "posts changed" (the confirmation computes the plan again), and every stored preview of
# the region is dropped, so that the next look works out a new one.
PREVIEW_FRESH = timedelta(minutes=5)
# A region with at most this many waiting needs and this many published offers is previewed in
# the request (well under a second).
SYNC_PREVIEW_POSTS = 500
# How long a worked-out unmatched view is shown before it is worked out again: posts change,
# but a coordinator looking at the same region twice in a few minutes gets the stored answer.
UNMATCHED_FRESH = timedelta(minutes=5)
# A queued or running unmatched run younger than this is joined instead of starting another.
UNMATCHED_PENDING = timedelta(minutes=10)

# A region this small is worked out in the request itself (well under a second): counting is
# cheap, and small installations then never wait for a job. The unmatched view judges every
# offer of the needs' topics anywhere, hence the limit on all published offers.
SYNC_UNMATCHED_NEEDS = 200
SYNC_UNMATCHED_OFFERS = 2000

Progress = Callable[[str, int, int], Awaitable[None]]


class RegionalRun(IdMixin, Base):
    __tablename__ = "regional_runs"
    __table_args__ = (
        Index("ix_regional_runs_kind_region_created", "kind", "region_id", "created_at"),
    )

    kind: Mapped[RunKind] = mapped_column(String(12))
    status: Mapped[RunStatus] = mapped_column(String(10), default=RunStatus.QUEUED)
    # None: every region (admins and coordinators without a region).
    region_id: Mapped[str | None] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"))
    requested_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    plan_id: Mapped[str | None] = mapped_column(String(64))
    # A confirmation of one plan in one region exists once: asking twice joins the first run.
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    step: Mapped[str | None] = mapped_column(String(20))
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")


# --- Asking (in the request's transaction)


async def ask_confirm(
    session: AsyncSession, region_id: str | None, plan_id: str, requested_by: str | None
) -> RegionalRun:
    """The run confirming this plan: a new one, or the one already asked for (idempotent)."""
    key = f"{CONFIRM}:{region_id or '*'}:{plan_id}"
    found = await _by_key(session, key)
    if found is not None:
        return found
    run = RegionalRun(
        kind=CONFIRM,
        region_id=region_id,
        plan_id=plan_id,
        dedupe_key=key,
        requested_by=requested_by,
    )
    if not await insert_unless_taken(session, run):
        # A concurrent request asked for the same confirmation first: theirs is the run.
        found = await _by_key(session, key)
        assert found is not None
        return found
    await enqueue(session, CONFIRM_JOB, {"run_id": run.id})
    return run


async def _by_key(session: AsyncSession, key: str) -> RegionalRun | None:
    run: RegionalRun | None = await session.scalar(
        select(RegionalRun).where(RegionalRun.dedupe_key == key)
    )
    return run


def _same_region(region_id: str | None) -> Any:
    return RegionalRun.region_id == region_id if region_id else RegionalRun.region_id.is_(None)


async def fresh_unmatched(session: AsyncSession, region_id: str | None) -> RegionalRun | None:
    """A finished unmatched view of this region young enough to show, or one being worked out."""
    return await _fresh(session, UNMATCHED, region_id, UNMATCHED_FRESH)


async def _fresh(
    session: AsyncSession, kind: str, region_id: str | None, fresh_for: timedelta
) -> RegionalRun | None:
    """The region's newest run of `kind` finished within `fresh_for` or pending (queued or
    running) for less than UNMATCHED_PENDING.

    One statement: asked as two (done, then pending), a run that finished between them was
    seen by neither, and the caller started a second run."""
    now = utcnow()
    found: RegionalRun | None = await session.scalar(
        select(RegionalRun)
        .where(
            RegionalRun.kind == kind,
            _same_region(region_id),
            or_(
                and_(RegionalRun.status == "done", RegionalRun.finished_at >= now - fresh_for),
                and_(
                    RegionalRun.status.in_(("queued", "running")),
                    RegionalRun.created_at >= now - UNMATCHED_PENDING,
                ),
            ),
        )
        .order_by(RegionalRun.created_at.desc())
        .limit(1)
    )
    return found


async def small_enough(session: AsyncSession, region_id: str | None) -> bool:
    """Whether the unmatched view of the region is quick enough to work out in a request."""
    needs = regional.waiting_needs(region_id).order_by(None).limit(SYNC_UNMATCHED_NEEDS + 1)
    waiting = await session.scalar(select(func.count()).select_from(needs.subquery()))
    if (waiting or 0) > SYNC_UNMATCHED_NEEDS:
        return False
    offers = (
        select(Post.id)
        .where(Post.status == "published", Post.kind == "offer")
        .limit(SYNC_UNMATCHED_OFFERS + 1)
    )
    available = await session.scalar(select(func.count()).select_from(offers.subquery()))
    return (available or 0) <= SYNC_UNMATCHED_OFFERS


async def ask_unmatched(
    session: AsyncSession, region_id: str | None, requested_by: str | None
) -> RegionalRun:
    """The stored or pending unmatched view of the region, or a new run working it out."""
    found = await fresh_unmatched(session, region_id)
    return found or await _start(session, UNMATCHED, UNMATCHED_JOB, region_id, requested_by)


def _pending_key(kind: str, region_id: str | None) -> str:
    """The dedupe_key a queued or running preview or unmatched run holds until it finishes: the
    unique index lets one such run per region exist, however many coordinators ask at once."""
    return f"{kind}:{region_id or '*'}:pending"


async def _start(
    session: AsyncSession, kind: str, job: str, region_id: str | None, requested_by: str | None
) -> RegionalRun:
    """A new run of `kind` for the region, its job queued in the caller's transaction; or the
    run a concurrent request started a moment before (the caller found none pending)."""
    key = _pending_key(kind, region_id)
    for _ in range(3):
        run = RegionalRun(kind=kind, region_id=region_id, requested_by=requested_by, dedupe_key=key)
        # The insert comes first: on SQLite a transaction that read before its first write
        # could not take the write lock after another request wrote.
        if not await insert_unless_taken(session, run):
            holder = await _by_key(session, key)
            if holder is not None and holder.created_at >= utcnow() - UNMATCHED_PENDING:
                return holder
            # Pending for longer than UNMATCHED_PENDING, its job lost or stuck: not joined.
            # It gives up the key and the insert is tried again (also when the holder finished
            # and let go of the key between the insert and the look-up).
            await session.execute(
                update(RegionalRun)
                .where(
                    RegionalRun.dedupe_key == key,
                    RegionalRun.created_at < utcnow() - UNMATCHED_PENDING,
                )
                .values(dedupe_key=None)
            )
            continue
        await enqueue(session, job, {"run_id": run.id})
        return run
    raise RuntimeError(f"no {kind} run could be started for region {region_id!r}")


async def small_plan(session: AsyncSession, region_id: str | None) -> bool:
    """Whether the region's preview is quick enough to work out in a request."""
    needs = regional.waiting_needs(region_id).order_by(None).limit(SYNC_PREVIEW_POSTS + 1)
    waiting = await session.scalar(select(func.count()).select_from(needs.subquery()))
    if (waiting or 0) > SYNC_PREVIEW_POSTS:
        return False
    offers = select(Post.id).where(Post.status == "published", Post.kind == "offer")
    if region_id:
        offers = offers.where(Post.region_id == region_id)
    available = await session.scalar(
        select(func.count()).select_from(offers.limit(SYNC_PREVIEW_POSTS + 1).subquery())
    )
    return (available or 0) <= SYNC_PREVIEW_POSTS


async def fresh_preview(session: AsyncSession, region_id: str | None) -> RegionalRun | None:
    """A finished preview of this region young enough to show, or one being worked out."""
    return await _fresh(session, PREVIEW, region_id, PREVIEW_FRESH)


async def ask_preview(
    session: AsyncSession, region_id: str | None, requested_by: str | None
) -> RegionalRun:
    """The stored or pending preview of the region, or a new run working it out."""
    found = await fresh_preview(session, region_id)
    return found or await _start(session, PREVIEW, PREVIEW_JOB, region_id, requested_by)


async def forget_previews(session: AsyncSession, region_id: str | None) -> None:
    """Drop the region's stored previews: their plan is no longer what a confirmation makes."""
    await session.execute(
        delete(RegionalRun).where(RegionalRun.kind == PREVIEW, _same_region(region_id))
    )


def plan_json(plan: regional.Plan) -> dict[str, Any]:
    """A preview as a run stores it (`stored_plan` reads it back)."""
    return {
        "plan_id": plan.plan_id,
        "needs_waiting": plan.needs_waiting,
        "offers_available": plan.offers_available,
        "pairs": [
            {
                "need_id": p.need_id,
                "offer_id": p.offer_id,
                "score": p.score,
                "distance_km": p.distance_km,
                "reasons": [{"code": r.code, "params": dict(r.params)} for r in p.reasons],
            }
            for p in plan.pairs
        ],
    }


@dataclass(frozen=True)
class StoredPair:
    need_id: str
    offer_id: str
    score: float
    distance_km: float | None
    reasons: list[dict[str, Any]]


@dataclass(frozen=True)
class StoredPlan:
    """A preview, worked out now or read from its run: what the preview page shows."""

    plan_id: str
    needs_waiting: int
    offers_available: int
    pairs: list[StoredPair]


def stored_plan(data: dict[str, Any]) -> StoredPlan:
    return StoredPlan(
        data["plan_id"],
        data["needs_waiting"],
        data["offers_available"],
        [StoredPair(**p) for p in data["pairs"]],
    )


# --- The jobs


def _progress(ctx: JobContext, run_id: str, dialect: str) -> Progress:
    async def report(step: str, done: int, total: int) -> None:
        if dialect == "sqlite":
            return  # see the module's docstring
        async with ctx.sessionmaker() as s:
            await s.execute(
                update(RegionalRun)
                .where(RegionalRun.id == run_id, RegionalRun.status.in_(("queued", "running")))
                .values(status="running", step=step, done=done, total=total)
            )
            await s.commit()

    return report


async def _finish(session: AsyncSession, run_id: str, status: str, result: dict[str, Any]) -> None:
    await session.execute(
        update(RegionalRun)
        .where(RegionalRun.id == run_id)
        .values(
            status=status,
            result=result,
            step=None,
            finished_at=utcnow(),
            # A finished preview or unmatched run lets go of its pending key (_pending_key); a
            # confirmation keeps its key for good: a plan is confirmed once.
            dedupe_key=case((RegionalRun.kind == CONFIRM, RegionalRun.dedupe_key), else_=None),
        )
    )


@asynccontextmanager
async def _claimed_run(
    ctx: JobContext, outbox_id: str
) -> AsyncIterator[tuple[Claim, RegionalRun, Progress] | None]:
    """The claimed job, its run (detached) and the run's progress reporter; None when the job
    is not to run, the region is gone or the run finished (a repeated delivery). Nothing of
    the job's transaction may touch the run's row before the end: the progress updates write
    it from their own transactions (PostgreSQL would make them wait)."""
    async with claim(ctx, outbox_id) as c:
        run = None if c is None else await c.session.get(RegionalRun, c.item.payload["run_id"])
        if c is None or run is None or run.finished:
            yield None
            return
        c.session.expunge(run)
        yield c, run, _progress(ctx, run.id, c.session.get_bind().dialect.name)


@register_job(CONFIRM_JOB)
async def confirm_job(ctx: JobContext, outbox_id: str) -> None:
    async with _claimed_run(ctx, outbox_id) as claimed:
        if claimed is None:
            return
        c, run, report = claimed
        run_id, region_id, plan_id = run.id, run.region_id, run.plan_id or ""
        try:
            async with c.session.begin_nested():
                created = await regional.apply(
                    c.session, ctx.settings, region_id, plan_id, progress=report
                )
        except Conflict as exc:
            await forget_previews(c.session, region_id)
            await _finish(c.session, run_id, "failed", {"status": 409, "detail": exc.detail})
            return
        # The matches are made: what a stored preview showed is done or no longer the plan.
        await forget_previews(c.session, region_id)
        await _finish(
            c.session,
            run_id,
            "done",
            {"created": len(created), "match_ids": [m.id for m in created]},
        )


@register_job(UNMATCHED_JOB)
async def unmatched_job(ctx: JobContext, outbox_id: str) -> None:
    async with _claimed_run(ctx, outbox_id) as claimed:
        if claimed is None:
            return
        c, run, report = claimed
        found = await regional.unmatched(c.session, run.region_id, progress=report)
        items = [
            {
                "need_id": u.need.id,
                "category": u.need.category,
                "languages": list(u.need.language_codes),
                "cause": u.cause,
                "counts": u.counts,
            }
            for u in found
        ]
        await _finish(c.session, run.id, "done", {"items": items})


@register_job(PREVIEW_JOB)
async def preview_job(ctx: JobContext, outbox_id: str) -> None:
    async with _claimed_run(ctx, outbox_id) as claimed:
        if claimed is None:
            return
        c, run, report = claimed
        worked_out = await regional.plan(c.session, run.region_id, progress=report)
        await _finish(c.session, run.id, "done", plan_json(worked_out))


def progress_json(run: RegionalRun) -> dict[str, Any]:
    return {"done": run.done, "total": run.total, "step": run.step}


async def stored_unmatched(session: AsyncSession, run: RegionalRun) -> list[regional.Unmatched]:
    """A done unmatched run's needs, read again (needs deleted since are left out)."""
    stored = (run.result or {}).get("items", [])
    by_id: dict[str, Post] = {}
    for ids in queries.chunks([x["need_id"] for x in stored]):
        found = await session.execute(select(Post).where(Post.id.in_(ids)))
        by_id |= {p.id: p for p in found.scalars()}
    return [
        regional.Unmatched(by_id[x["need_id"]], x["cause"], x["counts"])
        for x in stored
        if x["need_id"] in by_id
    ]


async def region_of(session: AsyncSession, run: RegionalRun) -> Any:
    """The run's Region, or None for a run over every region."""
    return await session.get(Region, run.region_id) if run.region_id else None


# Closed sets of values, also CHECK constraints (migrations name them ck_<table>_<column>).
checked(RegionalRun.__table__, kind=RunKind, status=RunStatus)
