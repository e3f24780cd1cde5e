"""Coordinators' matching run per region (preview, then apply) and the unmatched needs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.actor import Actor, staff_actor
from market.api import ok, read_json
from market.db import utcnow
from market.matches import guardian, queries, reasons, regional, runs
from market.posts import services as posts
from market.posts.models import Post, Region
from market.posts.taxonomy import N_
from market.validation import Strict
from market.web import db, settings_of


async def _coordinator(request: Request) -> Actor:
    """401 without login, 403 unless staff."""
    return await staff_actor(request)


class RunIn(Strict):
    region: str | None = Field(default=None, max_length=64)
    plan_id: str = Field(min_length=1, max_length=64)


def pair_json(pair: Any, posts_by_id: dict[str, Post]) -> dict[str, Any]:
    need, offer = posts_by_id[pair.need_id], posts_by_id[pair.offer_id]
    return {
        "need": {"id": need.id, "title": need.title, "category": need.category},
        "offer": {"id": offer.id, "title": offer.title, "category": offer.category},
        "score": round(pair.score, 4),
        "distance_km": round(pair.distance_km, 1) if pair.distance_km is not None else None,
        "reasons": reasons.texts(
            [{"code": r.code, "params": dict(r.params)} for r in pair.reasons]
        ),
    }


async def preview_json(session: AsyncSession, region: Region | None) -> dict[str, Any]:
    plan = await regional.plan(session, region.id if region else None)
    by_id: dict[str, Post] = {}
    for ids in queries.chunks([p.need_id for p in plan.pairs] + [p.offer_id for p in plan.pairs]):
        by_id |= {
            p.id: p for p in (await session.execute(select(Post).where(Post.id.in_(ids)))).scalars()
        }
    return {
        "region": region.slug if region else None,
        "plan_id": plan.plan_id,
        "needs_waiting": plan.needs_waiting,
        "offers_available": plan.offers_available,
        "items": [pair_json(p, by_id) for p in plan.pairs],
        "next_cursor": None,
    }


async def matching_run(request: Request) -> Response:
    actor = await _coordinator(request)
    session = db(request)
    if request.method == "GET":
        region = await guardian.region_to_run(session, actor, request.query_params.get("region"))
        return ok(await preview_json(session, region))
    data = await read_json(request, RunIn)
    region = await guardian.region_to_run(session, actor, data.region)
    region_id = region.id if region else None
    if not wants_async(request):
        # The release-1 answer, which integrators rely on (docs/api-additions.md): 200 with the
        # created matches, 409 when the plan changed.
        created = await regional.apply(session, settings_of(request), region_id, data.plan_id)
        return ok({"created": len(created), "match_ids": [m.id for m in created]})
    # Confirming a city's plan takes seconds: as a job, polled at the run's url.
    run = await runs.ask_confirm(session, region_id, data.plan_id, actor.id)
    return ok(_queued(run, "matching-run"), status_code=202)


def wants_async(request: Request) -> bool:
    """`Prefer: respond-async` (RFC 7240) asks for 202 and a run to poll. Without it the API
    answers as in release 1, since release-1 additions stay as they are (API.md, Release 2);
    the pages always use the jobs."""
    prefer = request.headers.get("prefer", "")
    return any(p.split("=")[0].strip().lower() == "respond-async" for p in prefer.split(","))


def _queued(run: runs.RegionalRun, path: str) -> dict[str, Any]:
    return {"status": run.status, "run_id": run.id, "url": f"/api/v1/review/{path}/{run.id}"}


async def _run_json(session: AsyncSession, run: runs.RegionalRun, actor: Actor) -> dict[str, Any]:
    region = await runs.region_of(session, run)
    body: dict[str, Any] = {
        "run_id": run.id,
        "status": run.status,
        "region": region.slug if region else None,
        "progress": runs.progress_json(run),
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "result": None,
        "problem": None,
    }
    if run.status == "failed" and run.result:
        body["problem"] = {
            "status": run.result.get("status", 500),
            "detail": run.result.get("detail"),
        }
    elif run.status == "done" and run.result is not None:
        if run.kind == runs.UNMATCHED:
            body["result"] = await _unmatched_json(session, run, actor)
        else:
            body["result"] = {
                "created": run.result["created"],
                "match_ids": run.result["match_ids"],
            }
    return body


async def matching_run_status(request: Request) -> Response:
    actor = await _coordinator(request)
    session = db(request)
    run = await guardian.run_to_show(session, actor, request.path_params["run_id"], runs.CONFIRM)
    return ok(await _run_json(session, run, actor))


CAUSES = {
    "category": N_("No offer in this category"),
    "language": N_("No offer in this language"),
    "reach": N_("No offer within reach"),
    "volunteer": N_("No approved volunteer for this yet"),
    "certificate": N_("No volunteer with a valid police certificate"),
    "declined": N_("All fitting offers were declined"),
    "capacity": N_("All fitting volunteers are busy"),
}


async def _unmatched_json(
    session: AsyncSession, run: runs.RegionalRun, actor: Actor
) -> dict[str, Any]:
    """A worked-out unmatched view in the documented shape; needs deleted since are left out."""
    found = await runs.stored_unmatched(session, run)
    return await _unmatched_items(session, found, actor, run.finished_at)


async def _unmatched_items(
    session: AsyncSession,
    found: list[regional.Unmatched],
    actor: Actor,
    computed_at: datetime | None,
) -> dict[str, Any]:
    from market.i18n import gettext

    items = await posts.to_json_many(session, [u.need for u in found], actor)
    # Why people said no to each need's matches (follow-through; docs/api-additions.md).
    declines = await regional.decline_counts(session, [u.need.id for u in found])
    return {
        "items": [
            {
                "need": item,
                "cause": u.cause,
                "cause_text": gettext(CAUSES[u.cause]),
                "counts": u.counts,
                "declines": declines.get(u.need.id, {}),
            }
            for item, u in zip(items, found, strict=True)
        ],
        "next_cursor": None,
        "computed_at": computed_at.isoformat() if computed_at else None,
    }


async def unmatched(request: Request) -> Response:
    """The view as in release 1; with `Prefer: respond-async`, 200 with a view worked out in the
    last few minutes, else 202 and a run to poll."""
    actor = await _coordinator(request)
    session = db(request)
    region = await guardian.region_to_run(session, actor, request.query_params.get("region"))
    region_id = region.id if region else None
    if not wants_async(request) or await runs.small_enough(session, region_id):
        found = await regional.unmatched(session, region_id)
        return ok(await _unmatched_items(session, found, actor, utcnow()))
    run = await runs.ask_unmatched(session, region_id, actor.id)
    if run.status == "done":
        return ok(await _unmatched_json(session, run, actor))
    return ok(_queued(run, "unmatched"), status_code=202)


async def unmatched_status(request: Request) -> Response:
    actor = await _coordinator(request)
    session = db(request)
    run = await guardian.run_to_show(session, actor, request.path_params["run_id"], runs.UNMATCHED)
    return ok(await _run_json(session, run, actor))


routes = [
    Route("/review/matching-run", matching_run, methods=["GET", "POST"]),
    Route("/review/matching-run/{run_id}", matching_run_status, methods=["GET"]),
    Route("/review/unmatched", unmatched, methods=["GET"]),
    Route("/review/unmatched/{run_id}", unmatched_status, methods=["GET"]),
]
