"""JSON API of the directory: services, events, their review, referral and the CSV export."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.actor import actor_of, staff_actor
from market.api import (
    ok,
    page,
    page_params,
    paginate,
    read_json,
    validation_errors,
)
from market.db import utcnow
from market.directory import geo as service_map
from market.directory import guardian, services, transfer
from market.directory.models import Entry
from market.directory.schemas import (
    DecisionIn,
    EventIn,
    EventSearch,
    ReferralIn,
    ServiceIn,
    ServicePatch,
    ServiceSearch,
)
from market.errors import Invalid
from market.posts import geo
from market.web import db, require_user

SERVICE = "service"
EVENT = "event"


def _params(request: Request) -> dict[str, str]:
    # need_id, match_id: the page searched to suggest a service to someone (views.py).
    skip = ("limit", "cursor", "lang", "page", "msg", "need_id", "match_id")
    return {k: v for k, v in request.query_params.items() if k not in skip and v != ""}


async def parse_service_search(
    request: Request,
) -> tuple[ServiceSearch, tuple[float, float, float] | None]:
    try:
        search = ServiceSearch.model_validate(_params(request))
    except ValidationError as exc:
        raise Invalid(validation_errors(exc)) from exc
    return search, await geo.search_circle(db(request), search, default_km=10.0)


def parse_event_search(request: Request) -> EventSearch:
    try:
        return EventSearch.model_validate(_params(request))
    except ValidationError as exc:
        errors = validation_errors(exc)
        for e in errors:
            e.field = "from" if e.field == "from_" else e.field
        raise Invalid(errors) from exc


def _offset(request: Request) -> tuple[int, int]:
    limit, _ = (20, None)
    raw_limit = request.query_params.get("limit", "20")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        raise Invalid.one("limit", "limit must be a whole number from 1 to 100.")
    limit = int(raw_limit)
    cursor = request.query_params.get("cursor")
    if not cursor:
        return limit, 0
    try:
        start = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Invalid.one("cursor", "The cursor is not valid.") from None
    return limit, max(start, 0)


def offset_cursor(start: int) -> str:
    return base64.urlsafe_b64encode(str(start).encode()).decode().rstrip("=")


async def search_services(request: Request) -> tuple[list[tuple[Entry, float | None]], int, int]:
    """The filtered services (all of them), the page size and the offset asked for."""
    search, near = await parse_service_search(request)
    limit, start = _offset(request)
    found = await services.find_services(
        db(request),
        topic=search.topic,
        language=search.language,
        q=search.q,
        near=near,
        open_at=utcnow() if search.open_now else None,
    )
    return found, limit, start


async def service_list(request: Request) -> Response:
    session = db(request)
    if request.method == "POST":
        await require_user(request)
        data = await read_json(request, ServiceIn)
        entry = await services.create(session, await actor_of(request), SERVICE, data)
        return ok(services.to_json(entry), 201)
    found, limit, start = await search_services(request)
    chunk = found[start : start + limit]
    more = len(found) > start + limit
    translated = await services.translations(session, [e for e, _ in chunk])
    return ok(
        {
            "items": [services.to_json(e, d, translated[e.id]) for e, d in chunk],
            "next_cursor": offset_cursor(start + limit) if more else None,
        }
    )


async def event_list(request: Request) -> Response:
    session = db(request)
    if request.method == "POST":
        await require_user(request)
        data = await read_json(request, EventIn)
        entry = await services.create(session, await actor_of(request), EVENT, data)
        return ok(services.to_json(entry), 201)
    search = parse_event_search(request)
    limit, cursor = page_params(request)
    stmt = services.events_query(
        topic=search.topic, language=search.language, q=search.q, start=search.from_, end=search.to
    )
    rows = list(
        (
            await session.scalars(
                paginate(stmt, Entry.starts_at, Entry.id, limit, cursor, ascending=True)
            )
        ).all()
    )
    translated = await services.translations(session, rows[:limit])
    return ok(page(rows, limit, lambda e: services.to_json(e, None, translated[e.id]), _event_key))


def _event_key(entry: Entry) -> tuple[datetime, str]:
    assert entry.starts_at is not None
    return entry.starts_at, entry.id


def _detail(kind: str) -> Any:
    async def handler(request: Request) -> Response:
        session = db(request)
        entry_id = request.path_params["entry_id"]
        actor = await actor_of(request)
        if request.method == "PATCH":
            await require_user(request)
            entry = await guardian.changeable(session, actor, kind, entry_id)
            patch = await read_json(request, ServicePatch)
            entry = await services.update(session, entry, patch)
            return ok(services.to_json(entry))
        entry = await guardian.readable(session, actor, kind, entry_id)
        translated = await services.translations(session, [entry])
        return ok(services.to_json(entry, translation=translated[entry.id]))

    return handler


async def confirm_service(request: Request) -> Response:
    """Freshness through the API: the organisation confirms the service is still right."""
    await require_user(request)
    session = db(request)
    entry = await guardian.changeable(
        session, await actor_of(request), SERVICE, request.path_params["entry_id"]
    )
    return ok(services.to_json(await services.confirm(session, entry)))


def _review_list(kind: str) -> Any:
    async def handler(request: Request) -> Response:
        actor = await staff_actor(request)
        status = request.query_params.get("status") or "pending_review"
        if status not in ("pending_review", "published", "rejected", "archived"):
            raise Invalid.one("status", "Please choose one of the options.")
        limit, cursor = page_params(request)
        stmt = guardian.under_review(
            actor, select(Entry).where(Entry.kind == kind, Entry.status == status)
        )
        rows = list(
            (
                await db(request).scalars(
                    paginate(stmt, Entry.created_at, Entry.id, limit, cursor, ascending=True)
                )
            ).all()
        )
        return ok(page(rows, limit, services.to_json, lambda e: (e.created_at, e.id)))

    return handler


def _review_decide(kind: str) -> Any:
    async def handler(request: Request) -> Response:
        actor = await staff_actor(request)
        session = db(request)
        entry = await guardian.reviewable(session, actor, kind, request.path_params["entry_id"])
        decision = await read_json(request, DecisionIn)
        entry = await services.decide(session, entry, decision.decision)
        return ok(services.to_json(entry))

    return handler


async def referrals(request: Request) -> Response:
    await require_user(request)
    session = db(request)
    actor = await actor_of(request)
    data = await read_json(request, ReferralIn)
    entry = await guardian.readable(session, actor, SERVICE, data.service_id)
    if entry.status != "published":
        raise Invalid.one("service_id", "This service is not published.")
    need = await guardian.need_to_refer(session, actor, data.need_id, data.match_id)
    referral = await services.suggest(session, actor, entry, need, data.note)
    return ok(
        {
            "id": referral.id,
            "service_id": entry.id,
            "need_id": need.id,
            "note": referral.note,
            "created_at": referral.created_at.isoformat(),
        },
        201,
    )


async def services_csv(request: Request) -> Response:
    rows = await transfer.published_services(db(request))
    return Response(
        transfer.export_rows(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="services.csv"'},
    )


async def services_geojson(request: Request) -> Response:
    """Published services as map points (the search page's map layer), bbox optional."""
    box = service_map.parse_bbox(request.query_params.get("bbox"))
    return ok(await service_map.service_points(db(request), box))


routes = [
    Route("/services", service_list, methods=["GET", "POST"]),
    Route("/services.csv", services_csv, methods=["GET"]),
    Route("/services.geojson", services_geojson, methods=["GET"]),
    Route("/services/{entry_id}", _detail(SERVICE), methods=["GET", "PATCH"]),
    Route("/services/{entry_id}/confirm", confirm_service, methods=["POST"]),
    Route("/events", event_list, methods=["GET", "POST"]),
    Route("/events/{entry_id}", _detail(EVENT), methods=["GET", "PATCH"]),
    Route("/review/services", _review_list(SERVICE), methods=["GET"]),
    Route("/review/services/{entry_id}", _review_decide(SERVICE), methods=["POST"]),
    Route("/review/events", _review_list(EVENT), methods=["GET"]),
    Route("/review/events/{entry_id}", _review_decide(EVENT), methods=["POST"]),
    Route("/referrals", referrals, methods=["POST"]),
]
