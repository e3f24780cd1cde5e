"""The public side of an organisation: its page, its profile (owners edit it) and the
widget, a public feed and a small page an association embeds on its own website."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from market import forms
from market.actor import actor_of
from market.errors import Conflict, Invalid
from market.forms import text
from market.i18n import get_locale
from market.organisations import guardian, queries, services
from market.organisations.models import Organisation
from market.organisations.pages.common import (
    MSG_SAVED,
    WIDGET_LIMIT,
    base_url,
    cleared,
    labelled_page,
    postings_with_details,
)
from market.organisations.schemas import (
    OrganisationPatch,
)
from market.posts import taxonomy
from market.posts.models import Post
from market.web import (
    db,
    form_with_csrf,
    redirect,
    with_flash,
)

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
        "postings": await postings_with_details(session, open_rows),
        "needs": needs,
        "member": member,
    }
    return await labelled_page(request, "organisations/public.html", context)


async def edit_organisation(request: Request) -> Response:
    found = await cleared(request, guardian.for_owners)
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
        return await labelled_page(
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
        return await labelled_page(request, "organisations/edit.html", context, status_code=422)
    return redirect(with_flash(f"/organisations/{org.id}/dashboard", MSG_SAVED))


# --- The widget: a public feed and a small page for an iframe on the association's website


async def _widget_items(request: Request, org: Organisation) -> list[dict[str, Any]]:
    session = db(request)
    rows = list(
        (await session.execute(queries.open_postings(org.id).limit(WIDGET_LIMIT))).scalars()
    )
    counts = await queries.application_counts(session, [p.id for p in rows])
    base = base_url(request)
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
            "link": f"{base_url(request)}/organisations/{org.id}",
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
        base=base_url(request),
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
