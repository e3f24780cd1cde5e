"""HTML pages for coordinators: vet volunteers, review posts and organisations, read reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import forms
from market.accounts.models import User
from market.actor import Actor, staff_actor
from market.api import encode_cursor, page_params, paginate
from market.errors import Invalid
from market.forms import page, text
from market.i18n import gettext
from market.organisations.models import Organisation
from market.posts.models import Post
from market.posts.taxonomy import N_
from market.vetting import guardian, services
from market.vetting.models import Report, VettingDecision
from market.vetting.reasons import reason_choices, reason_from_form
from market.vetting.schemas import OrganisationDecisionIn, PostDecisionIn, VolunteerDecisionIn
from market.web import (
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
    settings_of,
    with_flash,
)

VETTING_STATUSES = ("pending", "approved", "rejected")
MSG_DECIDED = N_("The decision is saved.")
MSG_PUBLISHED = N_("The post is published.")
MSG_REJECTED = N_("The post is rejected. The author sees the reason.")
CHECK_FIELDS = {"checks": "checks"}


async def staff_or_login(request: Request) -> Actor | Response:
    """The reviewer of a staff page (here and in market.moderation); anonymous people are sent
    to log in, everyone but staff gets 403."""
    if await current_user(request) is None:
        return login_redirect(request)
    return await staff_actor(request)


def chosen_status(request: Request, statuses: Sequence[str], default: str) -> str:
    """The list's ?status=, or `default` when it is missing or not one of `statuses`."""
    status = request.query_params.get("status", default)
    return status if status in statuses else default


def _user(actor: Actor) -> User:
    assert actor.user is not None  # staff_or_login let only signed-in staff through
    return actor.user


async def _count(session: AsyncSession, stmt: Select[Any]) -> int:
    return int(
        (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    )


async def _rows(
    request: Request, session: AsyncSession, stmt: Select[Any], created: Any, ident: Any
) -> tuple[list[Any], str | None]:
    """One page, oldest first (who waits longest comes first), and the link to the next one."""
    limit, cursor = page_params(request)
    rows = list(
        (
            await session.execute(paginate(stmt, created, ident, limit, cursor, ascending=True))
        ).scalars()
    )
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    params = {k: v for k, v in request.query_params.items() if k not in ("cursor", "msg") and v}
    params["cursor"] = encode_cursor(rows[-1].created_at, rows[-1].id)
    return rows, f"{request.url.path}?{urlencode(params)}"


def _pending_posts(actor: Actor) -> Select[Any]:
    return guardian.posts(actor, select(Post).where(Post.status == "pending_review"))


async def _users(session: AsyncSession, ids: set[str | None]) -> dict[str, User]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {
        u.id: u for u in (await session.execute(select(User).where(User.id.in_(wanted)))).scalars()
    }


# --- Overview


async def index(request: Request) -> Response:
    coordinator = await staff_or_login(request)
    if isinstance(coordinator, Response):
        return coordinator
    session = db(request)
    counts = {
        "volunteers": await _count(
            session, guardian.volunteers(coordinator, services.volunteers_query("pending"))
        ),
        "posts": await _count(session, _pending_posts(coordinator)),
        "organisations": await _count(
            session,
            guardian.organisations(
                coordinator, select(Organisation).where(Organisation.status == "pending")
            ),
        ),
        "reports": await _count(
            session, guardian.reports(coordinator, select(Report).where(Report.status == "open"))
        ),
    }
    return await page(request, "vetting/index.html", {"counts": counts})


# --- Volunteers


async def volunteers(request: Request) -> Response:
    coordinator = await staff_or_login(request)
    if isinstance(coordinator, Response):
        return coordinator
    session = db(request)
    status = chosen_status(request, VETTING_STATUSES, "pending")
    stmt = guardian.volunteers(coordinator, services.volunteers_query(status))
    rows, next_url = await _rows(request, session, stmt, User.created_at, User.id)
    return await page(
        request,
        "vetting/volunteers.html",
        {"volunteers": rows, "status": status, "statuses": VETTING_STATUSES, "next_url": next_url},
    )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


async def _volunteer_page(
    request: Request,
    volunteer: User,
    *,
    form: FormData | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    session = db(request)
    history = await services.history(session, volunteer.id)
    offers = await services.offers_of(session, volunteer.id)
    coordinators = await _users(session, {d.coordinator_id for d in history})
    latest: VettingDecision | None = history[0] if history else None
    if form is not None:
        values: dict[str, Any] = {
            "identity": forms.checked(form, "identity"),
            "interview": forms.checked(form, "interview"),
            "code_of_conduct": forms.checked(form, "code_of_conduct"),
            "police_certificate_until": text(form, "police_certificate_until"),
            "police_certificate_issued_on": text(form, "police_certificate_issued_on"),
            "note": str(form.get("note") or ""),
            "decision": text(form, "decision"),
        }
    else:
        values = {
            "identity": bool(latest and latest.identity),
            "interview": bool(latest and latest.interview),
            "code_of_conduct": bool(latest and latest.code_of_conduct),
            "police_certificate_until": latest.police_certificate_until.isoformat()
            if latest and latest.police_certificate_until
            else "",
            "police_certificate_issued_on": latest.police_certificate_issued_on.isoformat()
            if latest and latest.police_certificate_issued_on
            else "",
            "note": "",
            "decision": "",
        }
    context = {
        "volunteer": volunteer,
        "offers": offers,
        "history": history,
        # The `date` filter formats a datetime's day; certificate dates are plain dates.
        "midnight": _midnight,
        # The latest decision that recorded a certificate, for "what we keep" (§ 72a SGB VIII).
        "latest_certificate": next(
            (
                d
                for d in history
                if d.police_certificate_until
                or d.police_certificate_issued_on
                or d.police_certificate_seen_on
            ),
            None,
        ),
        "coordinators": coordinators,
        "values": values,
        "errors": errors or {},
        "decision_options": [
            ("approve", gettext("Approve")),
            ("reject", gettext("Do not approve")),
        ],
    }
    return await page(request, "vetting/volunteer.html", context, status_code=status_code)


async def volunteer(request: Request) -> Response:
    coordinator = await staff_or_login(request)
    if isinstance(coordinator, Response):
        return coordinator
    session = db(request)
    person = await guardian.volunteer(session, coordinator, request.path_params["user_id"])
    if request.method == "GET":
        return await _volunteer_page(request, person)
    form = await form_with_csrf(request)
    data = {
        "decision": text(form, "decision"),  # blank: "Please choose one of the options."
        "checks": {
            name: forms.checked(form, name) for name in ("identity", "interview", "code_of_conduct")
        },
        "police_certificate_until": text(form, "police_certificate_until") or None,
        "police_certificate_issued_on": text(form, "police_certificate_issued_on") or None,
        "note": text(form, "note") or None,
    }
    rename = forms.renamer(CHECK_FIELDS)
    parsed, errors = forms.parse(VolunteerDecisionIn, data, rename)
    if parsed is not None:
        try:
            await services.decide_volunteer(
                session, settings_of(request), _user(coordinator), person, parsed
            )
        except Invalid as exc:
            errors = forms.errors_of(exc, rename)
    if errors:
        return await _volunteer_page(request, person, form=form, errors=errors, status_code=422)
    return redirect(with_flash(f"/review/volunteers/{person.id}", MSG_DECIDED))


# --- Posts


async def _posts_page(
    request: Request,
    coordinator: Actor,
    *,
    errors: dict[str, str] | None = None,
    failed: str | None = None,
    form: FormData | None = None,
    status_code: int = 200,
) -> Response:
    session = db(request)
    stmt = _pending_posts(coordinator)
    rows, next_url = await _rows(request, session, stmt, Post.created_at, Post.id)
    authors = await _users(session, {p.author_id for p in rows})
    context = {
        "posts": rows,
        "authors": authors,
        "next_url": next_url,
        "errors": errors or {},
        "failed": failed,
        "form": form or {},
        "reason_options": reason_choices(),
    }
    return await page(request, "vetting/posts.html", context, status_code=status_code)


async def review_posts(request: Request) -> Response:
    coordinator = await staff_or_login(request)
    if isinstance(coordinator, Response):
        return coordinator
    return await _posts_page(request, coordinator)


async def decide_post(request: Request) -> Response:
    coordinator = await staff_or_login(request)
    if isinstance(coordinator, Response):
        return coordinator
    form = await form_with_csrf(request)
    session = db(request)
    post = await guardian.post(session, coordinator, request.path_params["post_id"])
    decision = text(form, "decision")
    code = text(form, "reason")
    reason = reason_from_form(code, text(form, "reason_other"))
    data = forms.present(decision=decision, reason=reason if decision == "reject" else None)
    data.setdefault("decision", "")
    rename = forms.renamer({"reason": "reason_other" if code == "other" else "reason"})
    parsed, errors = forms.parse(PostDecisionIn, data, rename)
    if parsed is not None:
        try:
            await services.decide_post(
                session, settings_of(request), _user(coordinator), post, parsed
            )
        except Invalid as exc:
            errors = forms.errors_of(exc, rename)
    if errors:
        return await _posts_page(
            request, coordinator, errors=errors, failed=post.id, form=form, status_code=422
        )
    return redirect(
        with_flash("/review/posts", MSG_PUBLISHED if decision == "publish" else MSG_REJECTED)
    )


# --- Organisations


async def organisations(request: Request) -> Response:
    coordinator = await staff_or_login(request)
    if isinstance(coordinator, Response):
        return coordinator
    session = db(request)
    stmt = guardian.organisations(
        coordinator, select(Organisation).where(Organisation.status == "pending")
    )
    rows, next_url = await _rows(request, session, stmt, Organisation.created_at, Organisation.id)
    members = await services.people_of_organisations(session, [o.id for o in rows])
    return await page(
        request,
        "vetting/organisations.html",
        {"organisations": rows, "members": members, "next_url": next_url},
    )


async def decide_organisation(request: Request) -> Response:
    coordinator = await staff_or_login(request)
    if isinstance(coordinator, Response):
        return coordinator
    form = await form_with_csrf(request)
    session = db(request)
    org = await guardian.organisation(session, coordinator, request.path_params["org_id"])
    data = forms.present(decision=text(form, "decision"), reason=text(form, "reason"))
    data.setdefault("decision", "")
    parsed, errors = forms.parse(OrganisationDecisionIn, data)
    if parsed is None:
        # Only a tampered form gets here: the page offers two fixed buttons.
        raise Invalid.one("decision", next(iter(errors.values())))
    await services.decide_organisation(session, settings_of(request), org, parsed, coordinator.id)
    return redirect(with_flash("/review/organisations", MSG_DECIDED))


# Reports: market/moderation/views.py shows them with their content and handles them.


routes = [
    Route("/review", index, methods=["GET"]),
    Route("/review/volunteers", volunteers, methods=["GET"]),
    Route("/review/volunteers/{user_id}", volunteer, methods=["GET", "POST"]),
    Route("/review/posts", review_posts, methods=["GET"]),
    Route("/review/posts/{post_id}", decide_post, methods=["POST"]),
    Route("/review/organisations", organisations, methods=["GET"]),
    Route("/review/organisations/{org_id}", decide_organisation, methods=["POST"]),
]
