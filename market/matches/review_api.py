"""Coordinators' matching run per region (preview, then apply) and the unmatched needs."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.actor import Actor, staff_actor
from market.api import ok, read_json
from market.matches import guardian, queries, reasons, regional
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
        "reasons": reasons.texts([{"code": r.code, "params": dict(r.params)} for r in pair.reasons]),
    }


async def preview_json(session: AsyncSession, region: Region | None) -> dict[str, Any]:
    plan = await regional.plan(session, region.id if region else None)
    by_id: dict[str, Post] = {}
    for ids in queries.chunks([p.need_id for p in plan.pairs] + [p.offer_id for p in plan.pairs]):
        by_id |= {p.id: p for p in (await session.execute(select(Post).where(Post.id.in_(ids)))).scalars()}
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
    created = await regional.apply(session, settings_of(request), region.id if region else None, data.plan_id)
    return ok({"created": len(created), "match_ids": [m.id for m in created]})


CAUSES = {
    "category": N_("No offer in this category"),
    "language": N_("No offer in this language"),
    "reach": N_("No offer within reach"),
    "volunteer": N_("No approved volunteer for this yet"),
    "certificate": N_("No volunteer with a valid police certificate"),
    "declined": N_("All fitting offers were declined"),
    "capacity": N_("All fitting volunteers are busy"),
}


async def unmatched(request: Request) -> Response:
    actor = await _coordinator(request)
    session = db(request)
    region = await guardian.region_to_run(session, actor, request.query_params.get("region"))
    found = await regional.unmatched(session, region.id if region else None)
    items = await posts.to_json_many(session, [u.need for u in found], actor)
    from market.i18n import gettext

    return ok(
        {
            "items": [
                {"need": item, "cause": u.cause, "cause_text": gettext(CAUSES[u.cause]), "counts": u.counts}
                for item, u in zip(items, found, strict=True)
            ],
            "next_cursor": None,
        }
    )


routes = [
    Route("/review/matching-run", matching_run, methods=["GET", "POST"]),
    Route("/review/unmatched", unmatched, methods=["GET"]),
]
