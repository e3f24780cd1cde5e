"""The coordinators' pages: the matching run of a region (preview, confirmation, the run's
progress) and the needs without a match."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from market import forms
from market.actor import Actor, staff_actor
from market.forms import text
from market.i18n import N_, gettext
from market.matches import (
    guardian,
    regional,
    review_api,
    runs,
)
from market.matches.views.common import (
    _page,
    _reason_texts,
    decline_label,
)
from market.posts.models import Post, Region
from market.web import (
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
)

# --- Coordinators: the matching run and the needs without a match


async def _staff(request: Request) -> Actor | Response:
    """The coordinator; anonymous people are sent to log in, everyone else gets 403 (and staff
    without a second factor, while ANLAUF_STAFF_2FA=required, are sent to set it up)."""
    if await current_user(request) is None:
        return login_redirect(request)
    return await staff_actor(request)


async def _region_choice(
    request: Request, coordinator: Actor, wanted: str | None, *, default_first: bool = True
) -> tuple[Region | None, list[tuple[str, str]]]:
    """The chosen region and the region options (all regions, when none is assigned)."""
    session = db(request)
    rows = list((await session.execute(guardian.regions(coordinator))).scalars())
    options = [(r.slug, r.name) for r in rows]
    everywhere = guardian.may_run_everywhere(coordinator)
    if everywhere:
        options.insert(0, ("", gettext("All regions")))
    if not wanted and not everywhere and rows and default_first:
        wanted = rows[0].slug
    region = await guardian.region_to_run(session, coordinator, wanted or None)
    return region, options


async def _run_page(
    request: Request,
    coordinator: Actor,
    region: Region | None,
    options: list[tuple[str, str]],
    *,
    changed: bool = False,
    status_code: int = 200,
) -> Response:
    session = db(request)
    region_id = region.id if region else None
    # A city's preview takes seconds: a job works it out (kept a few minutes) while the page
    # says so and reloads itself. A small region's is worked out at once.
    if await runs.small_plan(session, region_id):
        plan = runs.stored_plan(runs.plan_json(await regional.plan(session, region_id)))
    else:
        run = await runs.ask_preview(session, region_id, coordinator.id)
        if run.status != "done" or run.result is None:
            waiting: dict[str, Any] = {
                "run": run,
                "region": region,
                "region_value": region.slug if region else "",
                "region_options": options,
                "changed": changed,
                "step": RUN_STEPS.get(run.step or ""),
                "percent": int(100 * run.done / run.total) if run.total else None,
            }
            return await _page(
                request, "matches/run_waiting.html", waiting, status_code=status_code
            )
        plan = runs.stored_plan(run.result)
    # A city's run may pair thousands; the page shows them best first, RUN_PAGE at a time, and
    # the confirmation applies the whole plan.
    pages = max(1, -(-len(plan.pairs) // RUN_PAGE))
    number = _page_number(request.query_params.get("page"), pages)
    shown = plan.pairs[(number - 1) * RUN_PAGE : number * RUN_PAGE]
    ids = [p.need_id for p in shown] + [p.offer_id for p in shown]
    by_id = (
        {p.id: p for p in (await session.execute(select(Post).where(Post.id.in_(ids)))).scalars()}
        if ids
        else {}
    )
    pairs = [
        {
            "need": by_id[p.need_id],
            "offer": by_id[p.offer_id],
            "score": p.score,
            "distance_km": p.distance_km,
            "reasons": _reason_texts(p.reasons),
        }
        for p in shown
    ]
    here = {"region": region.slug} if region else {}
    base = "/review/matching"
    context = {
        "region": region,
        "region_value": region.slug if region else "",
        "region_options": options,
        "plan": plan,
        "pairs": pairs,
        "total": len(plan.pairs),
        "first_number": (number - 1) * RUN_PAGE + 1,
        "first_url": f"{base}?{urlencode(here)}" if number > 1 else None,
        "next_url": f"{base}?{urlencode({**here, 'page': number + 1})}" if number < pages else None,
        "changed": changed,
    }
    return await _page(request, "matches/run.html", context, status_code=status_code)


RUN_PAGE = 50


def _page_number(raw: str | None, pages: int) -> int:
    """The page asked for, within 1..pages; anything else is the first page (a pager link
    edited by hand should not end in an error page)."""
    try:
        number = int(raw or "1")
    except ValueError:
        return 1
    return min(max(number, 1), pages)


async def matching_run(request: Request) -> Response:
    """GET: the preview for a region. POST: make the very matches the coordinator saw."""
    coordinator = await _staff(request)
    if isinstance(coordinator, Response):
        return coordinator
    if request.method == "GET":
        region, options = await _region_choice(
            request, coordinator, request.query_params.get("region")
        )
        return await _run_page(request, coordinator, region, options)
    form = await form_with_csrf(request)
    region, options = await _region_choice(
        request, coordinator, text(form, "region"), default_first=False
    )
    plan_id = text(form, "plan_id")
    if not plan_id or len(plan_id) > 64:
        return await _run_page(request, coordinator, region, options, changed=True, status_code=409)
    # Confirming a city's plan takes seconds: a job does it; the coordinator watches its page.
    # Asking twice for the same plan lands on the same run (nothing is proposed twice).
    run = await runs.ask_confirm(
        db(request), region.id if region else None, plan_id, coordinator.id
    )
    return redirect(f"/review/runs/{run.id}")


RUN_STEPS = {
    "load": N_("Reading the posts"),
    "pairs": N_("Finding pairs nearby"),
    "judge": N_("Checking each pair"),
    "assign": N_("Choosing the best pairs"),
    "write": N_("Making the matches"),
}


async def run_progress(request: Request) -> Response:
    """A regional run while it works (the page reloads itself every 2 s), then its outcome."""
    coordinator = await _staff(request)
    if isinstance(coordinator, Response):
        return coordinator
    session = db(request)
    run_id = request.path_params["run_id"]
    run = await guardian.run_to_show(session, coordinator, run_id, runs.CONFIRM)
    region = await runs.region_of(session, run)
    here = {"region": region.slug} if region else {}
    context = {
        "run": run,
        "region": region,
        "step": RUN_STEPS.get(run.step or ""),
        "percent": int(100 * run.done / run.total) if run.total else None,
        "back_url": f"/review/matching?{urlencode(here)}" if here else "/review/matching",
        "created": (run.result or {}).get("created", 0) if run.status == "done" else None,
        "changed": run.status == "failed" and (run.result or {}).get("status") == 409,
    }
    return await _page(request, "matches/run_progress.html", context)


def _counted(counter: Counter[str], label: Any) -> list[tuple[str, str, int]]:
    """(key, label, count) rows, the largest count first."""
    return [
        (key, label(key), n) for key, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


async def unmatched(request: Request) -> Response:
    coordinator = await _staff(request)
    if isinstance(coordinator, Response):
        return coordinator
    region, options = await _region_choice(request, coordinator, request.query_params.get("region"))
    session = db(request)
    region_id = region.id if region else None
    # Working this out takes seconds for a city: a job does it, and its answer is kept a few
    # minutes. Until it is there the page says so and reloads itself. A small region is
    # worked out at once.
    run = None
    if await runs.small_enough(session, region_id):
        found = await regional.unmatched(session, region_id)
    else:
        run = await runs.ask_unmatched(session, region_id, coordinator.id)
    if run is not None and run.status != "done":
        waiting: dict[str, Any] = {
            "run": run,
            "region": region,
            "region_value": region.slug if region else "",
            "region_options": options,
            "step": RUN_STEPS.get(run.step or ""),
            "percent": int(100 * run.done / run.total) if run.total else None,
        }
        return await _page(request, "matches/unmatched_waiting.html", waiting)
    if run is not None:
        found = await runs.stored_unmatched(session, run)
    by_cause: dict[str, list[regional.Unmatched]] = defaultdict(list)
    languages: Counter[str] = Counter()
    language_missing: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    category_missing: Counter[str] = Counter()
    for item in found:
        by_cause[item.cause].append(item)
        categories[item.need.category] += 1
        if item.cause == "category":
            category_missing[item.need.category] += 1
        for code in dict.fromkeys(c.split("-")[0] for c in item.need.language_codes):
            languages[code] += 1
            if item.cause == "language":
                language_missing[code] += 1
    causes = sorted(by_cause, key=lambda c: (-len(by_cause[c]), regional.FUNNEL.index(c)))
    # Why people said no to these needs' matches (follow-through), per need and in all.
    declines = await regional.decline_counts(session, [item.need.id for item in found])
    decline_totals: Counter[str] = Counter()
    for per_need in declines.values():
        decline_totals.update(per_need)
    context = {
        "region": region,
        "region_value": region.slug if region else "",
        "region_options": options,
        "total": len(found),
        "causes": [(c, review_api.CAUSES[c], by_cause[c]) for c in causes],
        "languages": _counted(languages, forms.language_label),
        "language_missing": language_missing,
        "categories": _counted(categories, forms.HELPERS["category_name"]),
        "category_missing": category_missing,
        "computed_at": run.finished_at if run else None,
        "declines": declines,
        "decline_totals": _counted(decline_totals, decline_label),
    }
    return await _page(request, "matches/unmatched.html", context)
