"""HTML pages for organisations and mentor programmes.

The public organisation page, the members' dashboard (postings, applicants, matches,
conversations, clients), members and invitations, clients of caseworkers, the CSV export,
the embeddable widget, and for volunteers: applying and "My applications".
Every page works without JavaScript.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from market import forms
from market.accounts import services as accounts
from market.accounts.models import User
from market.accounts.views import sign_in
from market.actor import Actor, actor_of
from market.errors import Conflict, Forbidden, Invalid, NotFound
from market.forms import page, text
from market.i18n import LOCALES, get_locale, gettext, locale_label
from market.matches.models import Match
from market.organisations import applications, guardian, queries, services
from market.organisations.models import Application, Invitation, Organisation
from market.organisations.schemas import (
    ApplicationIn,
    ClientIn,
    DecisionIn,
    InvitationIn,
    InvitationSignupIn,
    OrganisationPatch,
    PostingIn,
)
from market.posts import taxonomy
from market.posts.models import Post
from market.posts.schemas import PostIn
from market.posts.taxonomy import N_
from market.web import (
    client_ip,
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
    safe_next,
    settings_of,
    with_flash,
)

MSG_APPLIED = N_("Your application is sent. The organisation will answer you here and by email.")
MSG_ACCEPTED = N_("The application is accepted. You can now write to the volunteer.")
MSG_DECLINED = N_("The application is declined. We tell the volunteer.")
MSG_WITHDRAWN = N_("Your application is withdrawn.")
MSG_SAVED = N_("Your changes are saved.")
MSG_INVITED = N_("The invitation is sent by email.")
MSG_REVOKED = N_("The invitation is cancelled.")
MSG_REMOVED = N_("The member is removed.")
MSG_LEFT = N_("You have left the organisation.")
MSG_JOINED = N_("Welcome! You are now a member of the organisation.")
MSG_CLIENT_ADDED = N_("The person is added. You can now post a request for them.")
MSG_CLIENT_ERASED = N_("Everything about this person is erased; their requests are closed.")
MSG_POSTED = N_("The request is saved.")
MSG_NOT_SAME = N_("The two passwords are not the same.")

APPLICATION_STATUS_LABELS = {
    "pending": N_("Waiting for an answer"),
    "accepted": N_("Accepted"),
    "declined": N_("Not accepted"),
    "withdrawn": N_("Withdrawn"),
}
MEMBER_ROLE_LABELS = {"owner": N_("Owner"), "member": N_("Member")}
MATCH_STATUS_LABELS = {
    "proposed": N_("Proposed"),
    "connected": N_("Connected"),
    "declined": N_("Declined"),
    "closed": N_("Ended"),
}
# The colours the stylesheet has for statuses: waiting, good, bad, over.
APPLICATION_STATUS_CLASSES = {
    "pending": "pending",
    "accepted": "approved",
    "declined": "rejected",
    "withdrawn": "closed",
}
LABELS = {
    "APPLICATION_STATUS_LABELS": APPLICATION_STATUS_LABELS,
    "APPLICATION_STATUS_CLASSES": APPLICATION_STATUS_CLASSES,
    "MEMBER_ROLE_LABELS": MEMBER_ROLE_LABELS,
    "MATCH_STATUS_LABELS": MATCH_STATUS_LABELS,
}
WIDGET_LIMIT = 50


async def _page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    return await page(request, template, {**LABELS, **context}, status_code=status_code)


Clearance = Callable[[AsyncSession, Actor, str], Awaitable[Organisation]]


async def _cleared(
    request: Request, clearance: Clearance
) -> tuple[User, Actor, Organisation, guardian.Seat | None] | Response:
    """The signed-in caller and the organisation the guardian cleared them for (`clearance` is
    guardian.for_members, for_owners or for_overview); anonymous visitors go to the login."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    actor = await actor_of(request)
    org = await clearance(db(request), actor, request.path_params["org_id"])
    return user, actor, org, guardian.seat(actor, org)


async def _applications_json(
    session: AsyncSession, rows: list[Application]
) -> list[dict[str, Any]]:
    """The API's view of applications, plus the dates as datetimes for the date filter."""
    items = await applications.to_json_many(session, rows)
    for item, row in zip(items, rows, strict=True):
        item["created"] = row.created_at
    return items


def _base(request: Request) -> str:
    return settings_of(request).base_url.rstrip("/")


async def _postings_with_details(session: AsyncSession, rows: list[Post]) -> list[dict[str, Any]]:
    counts = await queries.application_counts(session, [p.id for p in rows])
    found = []
    for post in rows:
        details = await applications.posting_of(session, post.id)
        found.append(
            {
                "post": post,
                "details": applications.posting_json(post, details, counts[post.id]["accepted"]),
                "pending": counts[post.id]["pending"],
            }
        )
    return found


# --- The public page


async def organisation_page(request: Request) -> Response:
    session = db(request)
    actor = await actor_of(request)
    org = await guardian.readable(session, actor, request.path_params["org_id"])
    open_rows = list((await session.execute(queries.open_postings(org.id).limit(50))).scalars())
    needs = list(
        (
            await session.execute(
                queries.needs_of(org.id).where(Post.status == "published").limit(20)
            )
        ).scalars()
    )
    member = guardian.seat(actor, org)
    context = {
        "org": org,
        "postings": await _postings_with_details(session, open_rows),
        "needs": needs,
        "member": member,
    }
    return await _page(request, "organisations/public.html", context)


async def edit_organisation(request: Request) -> Response:
    found = await _cleared(request, guardian.for_owners)
    if isinstance(found, Response):
        return found
    _user, _actor, org, _seat = found
    if request.method == "GET":
        values = {
            "name": org.name,
            "website": org.website or "",
            "description": org.description or "",
            "address": org.address or "",
        }
        return await _page(
            request, "organisations/edit.html", {"org": org, "values": values, "errors": {}}
        )
    form = await form_with_csrf(request)
    values = {k: text(form, k) for k in ("name", "website", "description", "address")}
    values["description"] = str(form.get("description") or "").strip()
    data: dict[str, Any] = {k: values[k] for k in ("website", "description", "address")}
    if org.status != "approved":
        data["name"] = values["name"]
    patch, errors = forms.parse(OrganisationPatch, data)
    if patch is not None:
        try:
            await services.update_profile(db(request), org, patch)
        except (Invalid, Conflict) as exc:
            errors = forms.errors_of(exc) if isinstance(exc, Invalid) else {"": exc.detail}
    if errors:
        context = {"org": org, "values": values, "errors": errors}
        return await _page(request, "organisations/edit.html", context, status_code=422)
    return redirect(with_flash(f"/organisations/{org.id}/dashboard", MSG_SAVED))


# --- The dashboard


async def dashboard(request: Request) -> Response:
    found = await _cleared(request, guardian.for_overview)
    if isinstance(found, Response):
        return found
    user, actor, org, member = found
    session = db(request)
    mine = guardian.shows_private_parts(actor, org)
    posting_rows = list(
        (
            await session.execute(
                guardian.overview_posts(actor, org, queries.postings_of(org.id)).limit(100)
            )
        ).scalars()
    )
    postings = await _postings_with_details(session, posting_rows)
    open_ids = [p.id for p in posting_rows if p.status in ("published", "pending_review")]
    waiting = list((await session.execute(queries.of_posts(open_ids, "pending"))).scalars())
    applicants: dict[str, list[dict[str, Any]]] = {}
    for item in await _applications_json(session, waiting):
        applicants.setdefault(item["post_id"], []).append(item)
    needs = list(
        (
            await session.execute(
                guardian.overview_posts(actor, org, queries.needs_of(org.id)).limit(50)
            )
        ).scalars()
    )
    clients = await services.clients(session, org.id) if mine else []
    context = {
        "org": org,
        "member": member,
        "postings": postings,
        "applicants": applicants,
        "needs": needs,
        "matches": await _matches(session, guardian.overview_posts(actor, org, _org_posts(org))),
        "conversations": await services.conversations_of(session, org.id, user.id) if mine else [],
        "clients": clients,
        "client_posts": await services.client_posts(session, [c.id for c in clients]),
        "widget_snippet": _widget_snippet(request, org),
        "next": f"/organisations/{org.id}/dashboard",
    }
    return await _page(request, "organisations/dashboard.html", context)


def _widget_snippet(request: Request, org: Organisation) -> str:
    src = f"{_base(request)}/organisations/{org.id}/widget"
    title = gettext("Volunteer with %(name)s", name=org.name).replace('"', "&quot;")
    return (
        f'<iframe src="{src}" title="{title}" width="100%" height="420" '
        'style="border:0" loading="lazy"></iframe>'
    )


def _org_posts(org: Organisation) -> Select[Any]:
    return select(Post.id).where(Post.organisation_id == org.id)


async def _matches(session: AsyncSession, need_ids: Select[Any]) -> list[dict[str, Any]]:
    """The matches of the organisation's needs (`need_ids` as scoped by the guardian)."""
    stmt = (
        select(Match, Post)
        .join(Post, Post.id == Match.need_id)
        .where(Post.id.in_(need_ids))
        .order_by(Match.created_at.desc(), Match.id.desc())
        .limit(50)
    )
    return [{"match": m, "need": p} for m, p in (await session.execute(stmt)).all()]


# --- CSV export


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A spreadsheet cell that cannot start a formula (CSV injection)."""
    cell = "" if value is None else str(value)
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


async def postings_csv(request: Request) -> Response:
    found = await _cleared(request, guardian.for_overview)
    if isinstance(found, Response):
        return found
    _user, actor, org, _seat = found
    session = db(request)
    stmt = guardian.overview_posts(actor, org, queries.postings_of(org.id))
    rows = list((await session.execute(stmt)).scalars())
    counts = await queries.application_counts(session, [p.id for p in rows])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "id",
            "title",
            "category",
            "status",
            "seats",
            "accepted",
            "pending_applications",
            "created_at",
        ]
    )
    for post in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    post.id,
                    post.title,
                    post.category,
                    post.status,
                    post.seats,
                    counts[post.id]["accepted"],
                    counts[post.id]["pending"],
                    post.created_at.isoformat(),
                )
            ]
        )
    # A byte order mark, so that spreadsheet programs read umlauts as UTF-8.
    body = "\ufeff" + buffer.getvalue()
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="postings-{org.id}.csv"',
            "Cache-Control": "no-store",
        },
    )


# --- The widget: a public feed and a small page for an iframe on the association's website


async def _widget_items(request: Request, org: Organisation) -> list[dict[str, Any]]:
    session = db(request)
    rows = list(
        (await session.execute(queries.open_postings(org.id).limit(WIDGET_LIMIT))).scalars()
    )
    counts = await queries.application_counts(session, [p.id for p in rows])
    base = _base(request)
    return [
        {
            "id": post.id,
            "title": post.title,
            "category": post.category,
            "category_name": taxonomy.category_name(post.category),
            "city": post.city,
            "seats": post.seats,
            "seats_left": max((post.seats or 0) - counts[post.id]["accepted"], 0),
            "link": f"{base}/posts/{post.id}",
            "apply_link": f"{base}/posts/{post.id}/apply",
        }
        for post in rows
    ]


async def _public_org(request: Request) -> Organisation:
    return await guardian.public(db(request), request.path_params["org_id"])


async def widget_json(request: Request) -> Response:
    org = await _public_org(request)
    body = {
        "organisation": {
            "id": org.id,
            "name": org.name,
            "link": f"{_base(request)}/organisations/{org.id}",
        },
        "items": await _widget_items(request, org),
    }
    return JSONResponse(
        body,
        headers={
            "Access-Control-Allow-Origin": "*",
            "Cache-Control": "public, max-age=300",
            "Content-Language": get_locale(),
        },
    )


async def widget(request: Request) -> Response:
    """A standalone page for an iframe: no cookies, no scripts, framable from any site."""
    org = await _public_org(request)
    locale = get_locale()
    env = request.app.state.jinja
    html = env.get_template("organisations/widget.html").render(
        org=org,
        items=await _widget_items(request, org),
        base=_base(request),
        locale=locale,
        dir="rtl" if locale in ("ar", "fa") else "ltr",
    )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                "form-action 'none'; frame-ancestors *"
            ),
            "Cache-Control": "public, max-age=300",
            "Content-Language": locale,
            "Referrer-Policy": "no-referrer",
        },
    )


# --- Members and invitations


async def members_page(request: Request) -> Response:
    found = await _cleared(
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
    return await _page(request, "organisations/members.html", context, status_code=status_code)


async def remove_member(request: Request) -> Response:
    found = await _cleared(request, guardian.for_members)
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
    found = await _cleared(request, guardian.for_owners)
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
        return await _page(request, "organisations/join.html", {"invalid": True}, status_code=400)
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
        return await _page(request, "organisations/join.html", context)
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
        return await _page(request, "organisations/join.html", context, status_code=422)
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


# --- Clients of caseworkers


async def clients_page(request: Request) -> Response:
    found = await _cleared(request, guardian.for_members)
    if isinstance(found, Response):
        return found
    user, _actor, org, member = found
    values: dict[str, Any] = {"label": "", "languages": [], "consent": False}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = await form_with_csrf(request)
        values = {
            "label": text(form, "label"),
            "languages": forms.getlist(form, "languages"),
            "consent": forms.checked(form, "consent"),
        }
        data = {
            "first_name_or_initials": values["label"],
            "languages": values["languages"],
            "consent": values["consent"],
        }
        rename = forms.renamer({"first_name_or_initials": "label"})
        parsed, errors = forms.parse(ClientIn, data, rename)
        if parsed is not None:
            await services.create_client(db(request), user, org, parsed)
            return redirect(with_flash(f"/organisations/{org.id}/clients", MSG_CLIENT_ADDED))
    session = db(request)
    clients = await services.clients(session, org.id)
    context = {
        "org": org,
        "member": member,
        "clients": clients,
        "client_posts": await services.client_posts(session, [c.id for c in clients]),
        "values": values,
        "errors": errors,
        "language_options": forms.language_options(),
    }
    return await _page(
        request, "organisations/clients.html", context, status_code=422 if errors else 200
    )


async def erase_client(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    org, client = await guardian.client(
        db(request),
        await actor_of(request),
        request.path_params["org_id"],
        request.path_params["client_id"],
    )
    await form_with_csrf(request)
    await services.delete_client(db(request), client)
    return redirect(with_flash(f"/organisations/{org.id}/clients", MSG_CLIENT_ERASED))


CLIENT_POST_FIELDS = {
    "location.postcode": "postcode",
    "location.city": "city",
    "location.country": "country",
    "location": "postcode",
}


async def client_post(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    session = db(request)
    org, client = await guardian.client(
        session,
        await actor_of(request),
        request.path_params["org_id"],
        request.path_params["client_id"],
    )
    if request.method == "GET":
        values: dict[str, Any] = {
            "mode": "in_person",
            "country": "DE",
            "languages": list(client.languages or []),
        }
        return await _client_post_page(request, org, client, values, {})
    form = await form_with_csrf(request)
    names = ("category", "title", "mode", "postcode", "city", "country", "radius_km")
    values = {name: text(form, name) for name in names}
    values["body"] = str(form.get("body") or "")
    values["languages"] = forms.getlist(form, "languages")
    location = None
    if values["postcode"] or values["city"]:
        location = forms.present(
            postcode=values["postcode"], city=values["city"], country=values["country"] or "DE"
        )
    data = forms.present(
        kind="need",
        title=values["title"],
        body=values["body"],
        mode=values["mode"],
        radius_km=values["radius_km"],
        location=location,
    )
    data |= {"category": values["category"], "languages": values["languages"]}
    rename = forms.renamer(CLIENT_POST_FIELDS)
    parsed, errors = forms.parse(PostIn, data, rename)
    post = None
    if parsed is not None:
        try:
            post = await services.post_for_client(
                session, settings_of(request), user, org, client, parsed
            )
        except Invalid as exc:
            errors = forms.errors_of(exc, rename)
    if post is None:
        return await _client_post_page(request, org, client, values, errors, status_code=422)
    return redirect(with_flash(f"/posts/{post.id}", MSG_POSTED))


async def _client_post_page(
    request: Request,
    org: Organisation,
    client: Any,
    values: dict[str, Any],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    context = {
        "org": org,
        "client": client,
        "values": values,
        "errors": errors,
        "category_options": forms.category_options(gettext("Please choose")),
        "language_options": forms.language_options(),
        "mode_options": [(m, gettext(label)) for m, label in forms.MODE_LABELS.items()],
    }
    return await _page(request, "organisations/client_post.html", context, status_code=status_code)


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
    return await _page(
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
    items = await _applications_json(session, rows)
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
    return await _page(request, "organisations/applications.html", context)


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
    return await _page(request, "organisations/apply.html", context, status_code=status_code)


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
    items = await _applications_json(session, rows)
    return await _page(request, "organisations/my_applications.html", {"items": items})


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


routes = [
    Route("/organisations/join", join, methods=["GET", "POST"]),
    Route("/organisations/{org_id}", organisation_page, methods=["GET"]),
    Route("/organisations/{org_id}/edit", edit_organisation, methods=["GET", "POST"]),
    Route("/organisations/{org_id}/dashboard", dashboard, methods=["GET"]),
    Route("/organisations/{org_id}/members", members_page, methods=["GET", "POST"]),
    Route("/organisations/{org_id}/members/{user_id}/remove", remove_member, methods=["POST"]),
    Route(
        "/organisations/{org_id}/invitations/{invitation_id}/revoke",
        revoke_invitation,
        methods=["POST"],
    ),
    Route("/organisations/{org_id}/clients", clients_page, methods=["GET", "POST"]),
    Route("/organisations/{org_id}/clients/{client_id}/erase", erase_client, methods=["POST"]),
    Route(
        "/organisations/{org_id}/clients/{client_id}/posts/new",
        client_post,
        methods=["GET", "POST"],
    ),
    Route("/organisations/{org_id}/postings.csv", postings_csv, methods=["GET"]),
    Route("/organisations/{org_id}/widget.json", widget_json, methods=["GET"]),
    Route("/organisations/{org_id}/widget", widget, methods=["GET"]),
    Route("/my/organisation", my_organisation, methods=["GET"]),
    Route("/my/applications", my_applications, methods=["GET"]),
    Route("/my/applications/{application_id}/withdraw", withdraw, methods=["POST"]),
    Route("/posts/{post_id}/apply", apply_page, methods=["GET", "POST"]),
    Route("/posts/{post_id}/posting", posting_page, methods=["GET", "POST"]),
    Route("/posts/{post_id}/applications", post_applications, methods=["GET"]),
    Route("/applications/{application_id}/decide", decide, methods=["POST"]),
]
