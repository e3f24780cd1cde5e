"""The statistics page for coordinators and admins: region and period form (no JavaScript),
SVG charts with their numbers in tables, a print layout and the CSV for the council report."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import i18n, languages
from market.actor import staff_actor
from market.db import utcnow
from market.errors import Invalid
from market.forms import errors_of, page
from market.i18n import N_
from market.posts import taxonomy
from market.stats import guardian, report
from market.stats.charts import bar_chart
from market.web import current_user, db, login_redirect

NEED_LABELS = {
    "created": N_("Needs created"),
    "matched_within_7_days": N_("Matched within 7 days"),
    "matched_within_30_days": N_("Matched within 30 days"),
    "waiting": N_("Still waiting"),
}
MATCH_LABELS = {
    "proposed": N_("Proposed"),
    "connected": N_("Connected"),
    "declined": N_("Declined"),
    "expired": N_("Expired"),
    "met": N_("Met"),
}


async def _read(request: Request) -> tuple[guardian.Scope, dict[str, Any] | None, dict[str, str]]:
    session, now = db(request), utcnow()
    scope = await guardian.scope(
        session, await staff_actor(request), request.query_params.get("region") or None
    )
    try:
        period = report.parse_period(request.query_params, now)
    except Invalid as exc:
        return scope, None, errors_of(exc)
    data = await report.as_json(session, scope, await report.build(session, scope, period, now))
    return scope, data, {}


def _charts(data: dict[str, Any], rtl: bool) -> dict[str, Any]:
    gettext = i18n.gettext
    by_category = sorted(data["by_category"], key=lambda r: -r["needs"]["created"])
    by_language = sorted(data["by_language"], key=lambda r: -r["needs"]["created"])
    return {
        "needs": bar_chart([(gettext(NEED_LABELS[k]), data["needs"][k]) for k in NEED_LABELS], rtl),
        "matches": bar_chart(
            [(gettext(MATCH_LABELS[k]), data["matches"][k]) for k in MATCH_LABELS], rtl
        ),
        "categories": bar_chart(
            [(taxonomy.category_name(r["category"]), r["needs"]["created"]) for r in by_category],
            rtl,
        ),
        "languages": bar_chart(
            [(languages.name(r["language"]), r["needs"]["created"]) for r in by_language], rtl
        ),
        "regions": bar_chart(
            [(r["name"] or gettext("No region"), r["needs"]["created"]) for r in data["by_region"]],
            rtl,
        ),
        "by_category": by_category,
        "by_language": by_language,
    }


async def stats_page(request: Request) -> Response:
    if await current_user(request) is None:
        return login_redirect(request)
    scope, data, errors = await _read(request)
    query = {k: request.query_params.get(k, "") for k in ("region", "from", "to")}
    context: dict[str, Any] = {
        "scope": scope,
        "data": data,
        "errors": errors,
        "query": query,
        "csv_url": "/review/stats.csv?" + urlencode(query),
        "NEED_LABELS": NEED_LABELS,
        "MATCH_LABELS": MATCH_LABELS,
    }
    if data is not None:
        context["charts"] = _charts(data, i18n.is_rtl())
        context["period_end"] = data["to"]
    return await page(request, "stats/index.html", context, status_code=422 if errors else 200)


async def stats_csv(request: Request) -> Response:
    if await current_user(request) is None:
        return login_redirect(request)
    _, data, errors = await _read(request)
    if data is None:
        raise Invalid.one(next(iter(errors), "from"), next(iter(errors.values()), ""))
    name = f"anlauf-stats-{data['from'][:10]}-{data['to'][:10]}.csv"
    return Response(
        report.as_csv(data),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


routes = [
    Route("/review/stats", stats_page, methods=["GET"]),
    Route("/review/stats.csv", stats_csv, methods=["GET"]),
]
