"""For volunteers: applying to a posting, and "My applications" with withdrawing."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from market import forms
from market.accounts.models import User
from market.actor import Actor, actor_of
from market.errors import Conflict, Forbidden
from market.organisations import applications, guardian, queries
from market.organisations.models import Application, Organisation
from market.organisations.pages.common import (
    MSG_APPLIED,
    MSG_WITHDRAWN,
    applications_json,
    labelled_page,
)
from market.organisations.schemas import (
    ApplicationIn,
)
from market.posts.models import Post
from market.posts.taxonomy import N_
from market.web import (
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
    settings_of,
    with_flash,
)

# --- Volunteers: apply and "My applications"


async def apply_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    session = db(request)
    post = await guardian.posting(session, await actor_of(request), request.path_params["post_id"])
    details = await applications.posting_of(session, post.id)
    accepted = await queries.accepted_count(session, post.id)
    org = await session.get(Organisation, post.organisation_id) if post.organisation_id else None
    existing = (
        await session.execute(queries.of_volunteer(user.id).where(Application.post_id == post.id))
    ).scalar_one_or_none()
    values = {"message": ""}
    errors: dict[str, str] = {}
    problem = _apply_problem(await actor_of(request), user, post, details, existing)
    status_code = 200
    if request.method == "POST":
        form = await form_with_csrf(request)
        values = {"message": str(form.get("message") or "")}
        parsed, errors = forms.parse(ApplicationIn, values)
        if parsed is not None:
            try:
                guardian.require_applicant(user)
                await applications.apply(session, settings_of(request), user, post.id, parsed)
            except (Forbidden, Conflict) as exc:
                problem = exc.detail
                status_code = exc.status
            else:
                return redirect(with_flash("/my/applications", MSG_APPLIED))
        else:
            status_code = 422
    context = {
        "post": post,
        "org": org,
        "details": applications.posting_json(post, details, accepted)
        if applications.is_posting(post)
        else None,
        "existing": existing if existing is not None and existing.status != "withdrawn" else None,
        "problem": problem,
        "values": values,
        "errors": errors,
    }
    return await labelled_page(
        request, "organisations/apply.html", context, status_code=status_code
    )


def _apply_problem(
    actor: Actor, user: User, post: Post, details: Any, existing: Application | None
) -> str | None:
    """Why this person cannot apply here, in the words the API uses; None when they can."""
    if not guardian.may_apply(actor):
        return N_("Only volunteers apply to postings.")
    if not applications.is_posting(post):
        return N_("This post does not take applications; it has no seats.")
    if post.status != "published":
        return N_("This posting does not take applications any more.")
    if existing is not None and existing.status != "withdrawn":
        return None  # the page shows the application instead
    if user.vetting_status != "approved":
        return N_(
            "A coordinator meets every volunteer before they can apply. "
            "You can apply once you are approved."
        )
    if applications.requires_certificate(post, details) and not applications.certificate_valid(
        user
    ):
        return N_(
            "This posting needs a police certificate (erweitertes Führungszeugnis) valid "
            "today. Please show a current one to a coordinator first."
        )
    return None


async def my_applications(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    session = db(request)
    rows = list(
        (
            await session.execute(
                queries.of_volunteer(user.id)
                .order_by(Application.created_at.desc(), Application.id.desc())
                .limit(100)
            )
        ).scalars()
    )
    items = await applications_json(session, rows)
    return await labelled_page(request, "organisations/my_applications.html", {"items": items})


async def withdraw(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    await form_with_csrf(request)
    session = db(request)
    found, relation = await guardian.withdrawable(
        session, await actor_of(request), request.path_params["application_id"]
    )
    await applications.withdraw(session, found, relation)
    return redirect(with_flash("/my/applications", MSG_WITHDRAWN))
