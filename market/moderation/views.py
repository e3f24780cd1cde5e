"""Moderation pages: the reports with what they point at, resolving them; reporting a post
or a person; taking a post down and publishing it again. No JavaScript: forms only."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import forms
from market.actor import actor_of
from market.api import encode_cursor, page_params, paginate
from market.errors import Invalid
from market.forms import page, text
from market.moderation import guardian, services
from market.moderation import handlers as _handlers  # noqa: F401  (registers the rejection notice)
from market.posts.taxonomy import N_
from market.vetting import services as vetting
from market.vetting.models import Report
from market.vetting.reasons import reason_from_form
from market.vetting.schemas import ReportIn
from market.vetting.views import chosen_status, staff_or_login
from market.web import (
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
    safe_next,
    settings_of,
    with_flash,
)

MSG_HANDLED = N_("The report is closed.")
MSG_REPORTED = N_("Thank you. The coordinators will look at it.")
MSG_TAKEN_DOWN = N_("The post is taken down. The author is told why.")
MSG_REPUBLISHED = N_("The post is published again.")
STATUSES = ("open", "resolved")


# --- Reports


async def reports(request: Request) -> Response:
    moderator = await staff_or_login(request)
    if isinstance(moderator, Response):
        return moderator
    session = db(request)
    status = chosen_status(request, STATUSES, "open")
    stmt = guardian.reports(moderator, select(Report).where(Report.status == status))
    limit, cursor = page_params(request)
    rows = list(
        (
            await session.execute(
                paginate(stmt, Report.created_at, Report.id, limit, cursor, ascending=True)
            )
        ).scalars()
    )
    next_url = None
    if len(rows) > limit:
        rows = rows[:limit]
        cursor_value = encode_cursor(rows[-1].created_at, rows[-1].id)
        next_url = f"/review/reports?{urlencode({'status': status, 'cursor': cursor_value})}"
    targets = await services.targets(session, rows)
    people = await services.names(session, {r.reporter_id for r in rows})
    return await page(
        request,
        "moderation/reports.html",
        {
            "reports": rows,
            "targets": targets,
            "reporters": people,
            "status": status,
            "next_url": next_url,
        },
    )


async def handle_report(request: Request) -> Response:
    moderator = await staff_or_login(request)
    if isinstance(moderator, Response):
        return moderator
    form = await form_with_csrf(request)
    session = db(request)
    found = await guardian.report(session, moderator, request.path_params["report_id"])
    assert moderator.user is not None  # staff_actor let only signed-in staff through
    await services.handle(
        session, moderator.user, found, text(form, "action"), text(form, "note")[:1900]
    )
    return redirect(with_flash("/review/reports", MSG_HANDLED))


# --- Reporting a post or a person (anyone signed in)


async def _report_page(
    request: Request, target_type: str, target_id: str, context: dict[str, Any], back: str
) -> Response:
    user = await current_user(request)
    assert user is not None  # the callers sent anonymous people to log in
    reason, status_code = "", 200
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = await form_with_csrf(request)
        reason = text(form, "reason")
        data, errors = forms.parse(
            ReportIn, {"target_type": target_type, "target_id": target_id, "reason": reason}
        )
        if data is not None:
            await vetting.create_report(db(request), user, data)
            return redirect(with_flash(back, MSG_REPORTED))
        status_code = 422
    return await page(
        request,
        "moderation/report.html",
        {
            **context,
            "target_type": target_type,
            "action": request.url.path,
            "reason": reason,
            "errors": errors,
            "back": back,
        },
        status_code=status_code,
    )


async def report_post(request: Request) -> Response:
    if await current_user(request) is None:
        return login_redirect(request)
    session = db(request)
    post = await guardian.post_to_report(
        session, await actor_of(request), request.path_params["post_id"]
    )
    return await _report_page(request, "post", post.id, {"post": post}, f"/posts/{post.id}")


async def report_user(request: Request) -> Response:
    if await current_user(request) is None:
        return login_redirect(request)
    session = db(request)
    person = await guardian.user_to_report(
        session, await actor_of(request), request.path_params["user_id"]
    )
    back = safe_next(request.query_params.get("back"))
    return await _report_page(request, "user", person.id, {"person": person}, back)


# --- Taking a post down and up (staff of its region)


async def unpublish(request: Request) -> Response:
    moderator = await staff_or_login(request)
    if isinstance(moderator, Response):
        return moderator
    form = await form_with_csrf(request)
    session = db(request)
    post = await guardian.post_to_moderate(session, moderator, request.path_params["post_id"])
    reason = reason_from_form(text(form, "reason"), text(form, "reason_other"))
    assert moderator.user is not None
    if not reason:
        raise Invalid.one("reason", "Please give a reason; the author will see it.")
    await services.unpublish(session, settings_of(request), moderator.user, post, reason[:2000])
    return redirect(with_flash(f"/posts/{post.id}", MSG_TAKEN_DOWN))


async def republish(request: Request) -> Response:
    moderator = await staff_or_login(request)
    if isinstance(moderator, Response):
        return moderator
    await form_with_csrf(request)
    session = db(request)
    post = await guardian.post_to_moderate(session, moderator, request.path_params["post_id"])
    assert moderator.user is not None
    await services.republish(session, settings_of(request), moderator.user, post)
    return redirect(with_flash(f"/posts/{post.id}", MSG_REPUBLISHED))


routes = [
    Route("/review/reports", reports, methods=["GET"]),
    Route("/review/reports/{report_id}", handle_report, methods=["POST"]),
    Route("/posts/{post_id}/report", report_post, methods=["GET", "POST"]),
    Route("/users/{user_id}/report", report_user, methods=["GET", "POST"]),
    Route("/posts/{post_id}/unpublish", unpublish, methods=["POST"]),
    Route("/posts/{post_id}/republish", republish, methods=["POST"]),
]
