"""JSON API of the statistics: GET /api/v1/stats and /api/v1/stats.csv (coordinators, admins)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.actor import actor_of
from market.api import ok
from market.db import utcnow
from market.stats import guardian, report
from market.web import db, require_user


async def figures(request: Request) -> dict[str, Any]:
    """The statistics the caller asked for and may read (401, 403, 404 and 422 as elsewhere)."""
    await require_user(request)
    session, now = db(request), utcnow()
    scope = await guardian.scope(
        session, await actor_of(request), request.query_params.get("region") or None
    )
    period = report.parse_period(request.query_params, now)
    return await report.as_json(session, scope, await report.build(session, scope, period, now))


async def stats(request: Request) -> Response:
    return ok(await figures(request))


async def stats_csv(request: Request) -> Response:
    data = await figures(request)
    name = f"anlauf-stats-{data['from'][:10]}-{data['to'][:10]}.csv"
    return Response(
        report.as_csv(data),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


routes = [
    Route("/stats", stats, methods=["GET"]),
    Route("/stats.csv", stats_csv, methods=["GET"]),
]
