"""JSON API for coordinators (review queues) and for reports from anyone."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.accounts.models import User
from market.actor import Actor, staff_actor
from market.api import iso, ok, page, page_params, paginate, read_json
from market.errors import Invalid
from market.organisations.models import Organisation
from market.posts import services as posts
from market.posts.models import Post
from market.vetting import guardian, services
from market.vetting.models import Report
from market.vetting.schemas import (
    OrganisationDecisionIn,
    PostDecisionIn,
    ReportIn,
    ResolveIn,
    VolunteerDecisionIn,
)
from market.web import db, require_user, settings_of


async def _reviewer(request: Request) -> Actor:
    """The caller of a review endpoint: 401 without login, 403 unless staff."""
    return await staff_actor(request)


def _status(request: Request, allowed: tuple[str, ...], default: str | None) -> str | None:
    status = request.query_params.get("status", default)
    if status is not None and status not in allowed:
        raise Invalid.one("status", f"status must be one of: {', '.join(allowed)}.")
    return status


async def _oldest_first(
    request: Request, session: Any, stmt: Any, created: Any, ident: Any
) -> tuple[list[Any], int]:
    """One page of a review list, oldest first (who waits longest comes first), one row more
    than the page when there is a next one; and the page size."""
    limit, cursor = page_params(request)
    found = await session.execute(paginate(stmt, created, ident, limit, cursor, ascending=True))
    return list(found.scalars()), limit


async def _volunteer_json(session: Any, user: User) -> dict[str, Any]:
    decision = await services.latest_decision(session, user.id)
    return {
        "user_id": user.id,
        "display_name": user.display_name,
        "email": user.email,
        "languages": [{"code": lang.code, "level": lang.level} for lang in user.languages],
        "created_at": iso(user.created_at),
        "status": user.vetting_status or "pending",
        "checks": services.checks_json(decision),
    }


async def volunteers(request: Request) -> Response:
    actor = await _reviewer(request)
    session = db(request)
    status = _status(request, ("pending", "approved", "rejected"), "pending")
    stmt = guardian.volunteers(actor, services.volunteers_query(status))
    rows, limit = await _oldest_first(request, session, stmt, User.created_at, User.id)
    items = [await _volunteer_json(session, u) for u in rows[:limit]]
    by_id = {i["user_id"]: i for i in items}
    return ok(page(rows, limit, lambda u: by_id[u.id], lambda u: (u.created_at, u.id)))


async def decide_volunteer(request: Request) -> Response:
    actor = await _reviewer(request)
    session = db(request)
    volunteer = await guardian.volunteer(session, actor, request.path_params["user_id"])
    data = await read_json(request, VolunteerDecisionIn)
    assert actor.user is not None
    decision = await services.decide_volunteer(
        session, settings_of(request), actor.user, volunteer, data
    )
    body = await _volunteer_json(session, volunteer)
    body["decision"] = {
        "id": decision.id,
        "decision": decision.decision,
        "note": decision.note,
        "created_at": iso(decision.created_at),
    }
    body["history"] = [
        {
            "id": d.id,
            "decision": d.decision,
            "coordinator_id": d.coordinator_id,
            "note": d.note,
            "created_at": iso(d.created_at),
            **services.checks_json(d),
        }
        for d in await services.history(session, volunteer.id)
    ]
    return ok(body)


async def review_posts(request: Request) -> Response:
    actor = await _reviewer(request)
    session = db(request)
    status = _status(
        request, ("pending_review", "published", "rejected", "closed", "expired"), "pending_review"
    )
    stmt = guardian.posts(actor, select(Post).where(Post.status == status))
    rows, limit = await _oldest_first(request, session, stmt, Post.created_at, Post.id)
    items = await posts.to_json_many(session, rows[:limit], actor)
    by_id = {i["id"]: i for i in items}
    return ok(page(rows, limit, lambda p: by_id[p.id], lambda p: (p.created_at, p.id)))


async def decide_post(request: Request) -> Response:
    actor = await _reviewer(request)
    session = db(request)
    post = await guardian.post(session, actor, request.path_params["post_id"])
    data = await read_json(request, PostDecisionIn)
    assert actor.user is not None
    post = await services.decide_post(session, settings_of(request), actor.user, post, data)
    return ok((await posts.to_json_many(session, [post], actor))[0])


def _org_json(org: Organisation) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "website": org.website,
        "status": org.status,
        "created_at": iso(org.created_at),
    }


async def review_organisations(request: Request) -> Response:
    actor = await _reviewer(request)
    session = db(request)
    status = _status(request, ("pending", "approved", "rejected"), "pending")
    stmt = guardian.organisations(actor, select(Organisation).where(Organisation.status == status))
    rows, limit = await _oldest_first(
        request, session, stmt, Organisation.created_at, Organisation.id
    )
    return ok(page(rows, limit, _org_json, lambda o: (o.created_at, o.id)))


async def decide_organisation(request: Request) -> Response:
    actor = await _reviewer(request)
    session = db(request)
    org = await guardian.organisation(session, actor, request.path_params["org_id"])
    data = await read_json(request, OrganisationDecisionIn)
    org = await services.decide_organisation(session, settings_of(request), org, data, actor.id)
    return ok(_org_json(org))


def _report_json(report: Report) -> dict[str, Any]:
    return {
        "resolution": report.resolution,
        "resolved_at": iso(report.resolved_at),
        "id": report.id,
        "target_type": report.target_type,
        "target_id": report.target_id,
        "reason": report.reason,
        "status": report.status,
        "reporter_id": report.reporter_id,
        "created_at": iso(report.created_at),
    }


async def reports(request: Request) -> Response:
    user = await require_user(request)
    session = db(request)
    data = await read_json(request, ReportIn)
    report = await services.create_report(session, user, data)
    return ok(_report_json(report), 201)


async def review_reports(request: Request) -> Response:
    actor = await _reviewer(request)
    session = db(request)
    status = _status(request, ("open", "resolved"), "open")
    stmt = guardian.reports(actor, select(Report).where(Report.status == status))
    rows, limit = await _oldest_first(request, session, stmt, Report.created_at, Report.id)
    return ok(page(rows, limit, _report_json, lambda r: (r.created_at, r.id)))


async def resolve_report(request: Request) -> Response:
    actor = await _reviewer(request)
    session = db(request)
    report = await guardian.report(session, actor, request.path_params["report_id"])
    data = await read_json(request, ResolveIn)
    assert actor.user is not None
    report = await services.resolve_report(session, actor.user, report, data.resolution)
    return ok(_report_json(report))


routes = [
    Route("/review/volunteers", volunteers, methods=["GET"]),
    Route("/review/volunteers/{user_id}", decide_volunteer, methods=["POST"]),
    Route("/review/posts", review_posts, methods=["GET"]),
    Route("/review/posts/{post_id}", decide_post, methods=["POST"]),
    Route("/review/organisations", review_organisations, methods=["GET"]),
    Route("/review/organisations/{org_id}", decide_organisation, methods=["POST"]),
    Route("/reports", reports, methods=["POST"]),
    Route("/review/reports", review_reports, methods=["GET"]),
    Route("/review/reports/{report_id}", resolve_report, methods=["POST"]),
]
