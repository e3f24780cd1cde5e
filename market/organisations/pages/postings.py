"""Postings: what a programme asks for (seats, hours, certificate), its applicants, and
the members' accept or decline."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from market import forms
from market.actor import actor_of
from market.errors import Conflict, Invalid
from market.forms import text
from market.organisations import applications, guardian, queries
from market.organisations.models import Application, Organisation
from market.organisations.pages.common import (
    MSG_ACCEPTED,
    MSG_DECLINED,
    MSG_SAVED,
    applications_json,
    labelled_page,
)
from market.organisations.schemas import (
    DecisionIn,
    PostingIn,
)
from market.posts import taxonomy
from market.posts.models import Post
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

# --- Postings: details and applicants


async def posting_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    session = db(request)
    post = await guardian.managed_posting(
        session, await actor_of(request), request.path_params["post_id"]
    )
    details = await applications.posting_of(session, post.id)
    values: dict[str, Any] = {
        "training": (details.training if details else "") or "",
        "police_certificate": bool(details and details.police_certificate),
        "hours_per_week": _number(details.hours_per_week if details else None),
        "duration": (details.duration if details else "") or "",
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = await form_with_csrf(request)
        values = {
            "training": text(form, "training"),
            "police_certificate": forms.checked(form, "police_certificate"),
            "hours_per_week": text(form, "hours_per_week"),
            "duration": text(form, "duration"),
        }
        data = forms.present(
            training=values["training"],
            hours_per_week=values["hours_per_week"],
            duration=values["duration"],
        ) | {"police_certificate": values["police_certificate"]}
        parsed, errors = forms.parse(PostingIn, data)
        if parsed is not None:
            try:
                await applications.set_posting(session, post, parsed)
            except Conflict as exc:
                errors = {"": exc.detail}
        if not errors:
            return redirect(with_flash(_back(post), MSG_SAVED))
    context = {
        "post": post,
        "values": values,
        "errors": errors,
        "category_requires": taxonomy.requires_police_certificate(post.category),
    }
    return await labelled_page(
        request, "organisations/posting.html", context, status_code=422 if errors else 200
    )


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _back(post: Post) -> str:
    return (
        f"/organisations/{post.organisation_id}/dashboard"
        if post.organisation_id
        else f"/posts/{post.id}"
    )


async def post_applications(request: Request) -> Response:
    """A posting's applicants, with accept and decline (its managers; coordinators look)."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    session = db(request)
    actor = await actor_of(request)
    post, manages = await guardian.post_applications(session, actor, request.path_params["post_id"])
    rows = list(
        (
            await session.execute(
                queries.of_post(post.id).order_by(Application.created_at, Application.id)
            )
        ).scalars()
    )
    items = await applications_json(session, rows)
    joined = await guardian.conversations_joined(
        session, actor, [i["conversation_id"] for i in items if i["conversation_id"]]
    )
    details = await applications.posting_of(session, post.id)
    accepted = sum(1 for a in items if a["status"] == "accepted")
    context = {
        "post": post,
        "items": items,
        "joined": joined,
        "manages": manages,
        "details": applications.posting_json(post, details, accepted),
        "org": await session.get(Organisation, post.organisation_id)
        if post.organisation_id
        else None,
        "next": f"/posts/{post.id}/applications",
    }
    return await labelled_page(request, "organisations/applications.html", context)


async def decide(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_with_csrf(request)
    session = db(request)
    found, relation = await guardian.decidable(
        session, await actor_of(request), request.path_params["application_id"]
    )
    back = safe_next(text(form, "next") or f"/posts/{found.post_id}/applications")
    parsed, errors = forms.parse(
        DecisionIn, forms.present(decision=text(form, "decision"), message=text(form, "message"))
    )
    if parsed is None:
        raise Invalid.one("decision", next(iter(errors.values())))
    await applications.decide(session, settings_of(request), user, found, relation, parsed)
    return redirect(with_flash(back, MSG_ACCEPTED if parsed.decision == "accept" else MSG_DECLINED))
