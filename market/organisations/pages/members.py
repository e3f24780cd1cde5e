"""Members and invitations: the members page, removing a member, revoking an invitation,
and the invitation link (join with an account, or sign up right there)."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import quote, urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from market import forms
from market.accounts import services as accounts
from market.accounts.views import sign_in
from market.errors import Conflict, Forbidden, Invalid, NotFound
from market.forms import text
from market.i18n import LOCALES, get_locale, gettext, locale_label
from market.organisations import guardian, services
from market.organisations.models import Invitation, Organisation
from market.organisations.pages.common import (
    MEMBER_ROLE_LABELS,
    MSG_INVITED,
    MSG_JOINED,
    MSG_LEFT,
    MSG_NOT_SAME,
    MSG_REMOVED,
    MSG_REVOKED,
    cleared,
    labelled_page,
)
from market.organisations.schemas import (
    InvitationIn,
    InvitationSignupIn,
)
from market.web import (
    client_ip,
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
    settings_of,
    with_flash,
)

# --- Members and invitations


async def members_page(request: Request) -> Response:
    found = await cleared(
        request, guardian.for_owners if request.method == "POST" else guardian.for_members
    )
    if isinstance(found, Response):
        return found
    user, _actor, org, member = found
    if request.method == "POST":
        form = await form_with_csrf(request)
        values = {"email": text(form, "email"), "role": text(form, "role") or "member"}
        data, errors = forms.parse(InvitationIn, forms.present(**values))
        if data is not None:
            await request.app.state.limiter.hit("invite", account=None, ip=client_ip(request))
            try:
                await services.invite(db(request), settings_of(request), user, org, data)
            except Conflict as exc:
                errors = {"email": exc.detail}
        if not errors:
            return redirect(with_flash(f"/organisations/{org.id}/members", MSG_INVITED))
        return await _members(request, org, member, values, errors, status_code=422)
    return await _members(request, org, member, {"email": "", "role": "member"}, {})


async def _members(
    request: Request,
    org: Organisation,
    member: guardian.Seat | None,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    session = db(request)
    invitations = (
        list(
            (
                await session.execute(
                    services.pending_invitations_query(org.id).order_by(
                        Invitation.created_at.desc()
                    )
                )
            ).scalars()
        )
        if member is not None and member.is_owner
        else []
    )
    people = await services.members(session, org.id)
    context = {
        "org": org,
        "member": member,
        "members": people,
        "owners": await services.owner_count(session, org.id),
        "invitations": invitations,
        "values": values,
        "errors": errors,
        "role_options": [(r, gettext(label)) for r, label in MEMBER_ROLE_LABELS.items()],
    }
    return await labelled_page(
        request, "organisations/members.html", context, status_code=status_code
    )


async def remove_member(request: Request) -> Response:
    found = await cleared(request, guardian.for_members)
    if isinstance(found, Response):
        return found
    user, actor, org, _seat = found
    await form_with_csrf(request)
    user_id = request.path_params["user_id"]
    guardian.may_remove(actor, org, user_id)
    await services.remove_member(db(request), org, user_id)
    if user_id == user.id:
        return redirect(with_flash("/", MSG_LEFT))
    return redirect(with_flash(f"/organisations/{org.id}/members", MSG_REMOVED))


async def revoke_invitation(request: Request) -> Response:
    found = await cleared(request, guardian.for_owners)
    if isinstance(found, Response):
        return found
    _user, _actor, org, _seat = found
    await form_with_csrf(request)
    await services.revoke_invitation(db(request), org, request.path_params["invitation_id"])
    return redirect(with_flash(f"/organisations/{org.id}/members", MSG_REVOKED))


def _signup_context(form: FormData | None, errors: dict[str, str]) -> dict[str, Any]:
    return {
        "form": form or {"locale": get_locale()},
        "errors": errors,
        "locales": [(code, locale_label(code)) for code in LOCALES],
        "language_rows": forms.slot_values(form, ()),
        "language_options": forms.language_options(),
        "level_options": list(forms.LEVEL_LABELS.items()),
    }


async def join(request: Request) -> Response:
    """The invitation link: join with the account you have, or sign up here."""
    session = db(request)
    if request.method == "POST":
        form = await form_with_csrf(request)
        token = text(form, "token")
    else:
        form = None
        token = request.query_params.get("token", "")
    try:
        invitation = await services.invitation_by_token(session, token)
    except Invalid:
        return await labelled_page(
            request, "organisations/join.html", {"invalid": True}, status_code=400
        )
    org = await services.get(session, invitation.organisation_id)
    user = await current_user(request)
    problem = None
    if user is not None:
        try:
            guardian.check_invitee(user, invitation)
        except Forbidden as exc:
            problem = exc.detail
    here = f"/organisations/join?{urlencode({'token': token})}"
    context: dict[str, Any] = {
        "invalid": False,
        "org": org,
        "invitation": invitation,
        "token": token,
        "problem": problem,
        "login_url": f"/login?next={quote(here, safe='')}",
        "has_account": await accounts.by_email(session, invitation.email) is not None,
        **_signup_context(None, {}),
    }
    if form is None:
        return await labelled_page(request, "organisations/join.html", context)
    if text(form, "action") == "accept":
        if user is None:
            return redirect(context["login_url"])
        # A member already: the dashboard is where they want to be anyway.
        with contextlib.suppress(Conflict):
            await services.accept_invitation(session, user, token)
        return redirect(with_flash(f"/organisations/{org.id}/dashboard", MSG_JOINED))
    return await _signup(request, form, token, org, context)


async def _signup(
    request: Request, form: FormData, token: str, org: Organisation, context: dict[str, Any]
) -> Response:
    session, settings = db(request), settings_of(request)
    skills, rows = forms.language_slots(form)
    password = str(form.get("password") or "")
    data = forms.present(
        token=token,
        password=password,
        display_name=text(form, "display_name"),
        locale=text(form, "locale"),
        languages=skills,
    )
    rename = forms.slot_renamer(rows)
    parsed, errors = forms.parse(InvitationSignupIn, data, rename)
    if password and password != form.get("password_confirm"):
        errors.setdefault("password_confirm", MSG_NOT_SAME)
    user = None
    if parsed is not None and not errors:
        await request.app.state.limiter.hit("register", account=None, ip=client_ip(request))
        try:
            user, org, _ = await services.signup_with_invitation(session, settings, parsed)
        except Conflict as exc:
            errors = {"": exc.detail}
        except Invalid as exc:  # a password too common or too personal
            errors = forms.errors_of(exc, rename)
    if user is None:
        context |= _signup_context(form, errors)
        return await labelled_page(request, "organisations/join.html", context, status_code=422)
    # Signed in exactly as on the login page (session, fresh CSRF token, language).
    return await sign_in(
        request, user, with_flash(f"/organisations/{org.id}/dashboard", MSG_JOINED)
    )


async def my_organisation(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    orgs = await services.organisations_of(db(request), user.id)
    if not orgs:
        raise NotFound("You are not a member of an organisation.")
    return redirect(f"/organisations/{orgs[0].id}/dashboard")
