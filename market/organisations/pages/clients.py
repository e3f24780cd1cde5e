"""Clients of caseworkers: people without an account the organisation posts requests for,
and erasing everything about one of them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from market import forms
from market.actor import actor_of
from market.errors import Invalid
from market.forms import text
from market.i18n import gettext
from market.organisations import guardian, services
from market.organisations.models import Organisation
from market.organisations.pages.common import (
    MSG_CLIENT_ADDED,
    MSG_CLIENT_ERASED,
    MSG_POSTED,
    cleared,
    labelled_page,
)
from market.organisations.schemas import (
    ClientIn,
)
from market.posts import choices
from market.posts.schemas import PostIn
from market.web import (
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
    settings_of,
    with_flash,
)

# --- Clients of caseworkers


async def clients_page(request: Request) -> Response:
    found = await cleared(request, guardian.for_members)
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
    return await labelled_page(
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
        "category_options": choices.category_options(gettext("Please choose")),
        "language_options": forms.language_options(),
        "mode_options": [(m, gettext(label)) for m, label in forms.MODE_LABELS.items()],
    }
    return await labelled_page(
        request, "organisations/client_post.html", context, status_code=status_code
    )
