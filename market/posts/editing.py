"""HTML pages for writing a post: a new one, editing, closing and renewing (the 90-day link).

The reading pages (start page, browsing, a post, my posts) are market.posts.views, which also
lists the routes of both.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from market import forms
from market.accounts.models import User
from market.actor import Actor, actor_of
from market.errors import Invalid
from market.forms import page, text
from market.i18n import gettext
from market.posts import (
    choices,
    guardian,
    renewal,
    services,
    slots,
)
from market.posts.models import Post
from market.posts.schemas import PostIn, PostPatch
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

MSG_PUBLISHED = N_("Your post is published. We tell you when we find a match.")
MSG_WAITING = N_("Your post is saved. It is shown to others after a coordinator has checked it.")
MSG_UPDATED = N_("Your changes are saved.")
MSG_CLOSED = N_("Your post is closed. Nobody can find it any more.")
MSG_KIND = N_("Please choose one of the options.")
MSG_WHERE = N_("Please say where: a postcode or a city.")
MSG_RENEWED = N_("Thank you. Your post stays online for another 90 days.")
MSG_RESUBMITTED = N_("Your changes are saved. A coordinator checks the post again.")
LOCATION_FIELDS = {
    "location.postcode": "postcode",
    "location.city": "city",
    "location.country": "country",
    "location": "postcode",
    "organisation_id": "",
}


def _form_context(
    user: User,
    actor: Actor,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    post: Post | None = None,
) -> dict[str, Any]:
    kinds = (post.kind,) if post else guardian.kinds_for(actor)
    chosen = values.get("languages", [])
    own = [lang.code for lang in user.languages]
    options = forms.language_options()
    # The writer's own languages first: usually they are the ones to tick.
    options.sort(
        key=lambda o: (0, own.index(o[0])) if o[0] in own else (1 if o[0] in chosen else 2, 0)
    )
    return {
        "values": values,
        "errors": errors,
        "post": post,
        "kinds": kinds,
        "kind_options": [(k, gettext(forms.KIND_LABELS[k])) for k in kinds],
        "mode_options": [(m, gettext(label)) for m, label in forms.MODE_LABELS.items()],
        "category_options": choices.category_options(gettext("Please choose")),
        "language_options": options,
        "may_have_seats": guardian.may_have_seats(actor),
        "WEEKDAY_LABELS": slots.WEEKDAYS,
    }


def _values_of(form: FormData) -> dict[str, Any]:
    names = (
        "kind",
        "category",
        "title",
        "body",
        "mode",
        "postcode",
        "city",
        "country",
        "radius_km",
        "seats",
    )
    values: dict[str, Any] = {name: text(form, name) for name in names}
    values["body"] = str(form.get("body") or "")
    values["languages"] = forms.getlist(form, "languages")
    return values


def _location(values: dict[str, Any]) -> dict[str, Any] | None:
    if not values["postcode"] and not values["city"]:
        return None
    return forms.present(
        postcode=values["postcode"], city=values["city"], country=values["country"] or "DE"
    )


def _number(value: str) -> str:
    """A stored radius for an input: 10.0 shows as 10."""
    return value[:-2] if value.endswith(".0") else value


async def new_post(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    actor = await actor_of(request)
    kinds = guardian.kinds_for(actor)
    if request.method == "GET":
        wanted = request.query_params.get("kind", "")
        values = {
            "kind": wanted if wanted in kinds else (kinds[0] if len(kinds) == 1 else ""),
            "mode": "in_person",
            "country": "DE",
            "languages": [lang.code for lang in user.languages],
            "slots": slots.rows_for([]),
        }
        return await page(request, "posts/form.html", _form_context(user, actor, values, {}))
    form = await form_with_csrf(request)
    values = _values_of(form)
    values["slots"], availability, slot_errors = slots.read(form)
    data = forms.present(
        kind=values["kind"],
        title=values["title"],
        body=values["body"],
        mode=values["mode"],
        radius_km=values["radius_km"],
        seats=values["seats"],
        location=_location(values),
    )
    # Always sent: a blank pick says "Please choose a category from the list.", a blank
    # language list "Please choose at least one."
    data |= {"category": values["category"], "languages": values["languages"]}
    rename = forms.renamer(LOCATION_FIELDS)
    data["availability"] = availability
    parsed, errors = forms.parse(PostIn, data, rename)
    errors |= slot_errors  # said together with the other mistakes, each on its row
    if values["kind"] not in kinds:
        errors["kind"] = MSG_KIND
    # Say at once that the place is missing, together with the other mistakes.
    if data.get("location") is None and values["mode"] != "remote":
        errors.setdefault("postcode", MSG_WHERE)
    if parsed is not None and not errors:
        try:
            post = await services.create(db(request), settings_of(request), user, parsed)
        except Invalid as exc:
            errors = forms.errors_of(exc, rename)
    if errors:
        return await page(
            request,
            "posts/form.html",
            _form_context(user, actor, values, errors),
            status_code=422,
        )
    message = MSG_PUBLISHED if post.status == "published" else MSG_WAITING
    return redirect(with_flash(f"/posts/{post.id}", message))


def _stored_values(post: Post) -> dict[str, Any]:
    return {
        "kind": post.kind,
        "category": post.category,
        "title": post.title,
        "body": post.body,
        "mode": post.mode,
        "postcode": post.postcode or "",
        "city": post.city or "",
        "country": post.country or "DE",
        "radius_km": _number(str(post.radius_km)) if post.radius_km is not None else "",
        "seats": str(post.seats) if post.seats is not None else "",
        "languages": post.language_codes,
        "slots": slots.rows_for(post.availability or []),
    }


async def edit_post(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    session = db(request)
    actor = await actor_of(request)
    post = await guardian.changeable(session, actor, request.path_params["post_id"])
    stored = _stored_values(post)
    if request.method == "GET":
        context = _form_context(user, actor, stored, {}, post=post)
        return await page(request, "posts/form.html", context)
    form = await form_with_csrf(request)
    values = _values_of(form) | {"kind": post.kind}
    values["slots"], availability, slot_errors = slots.read(form)
    data: dict[str, Any] = {
        "category": values["category"],
        "title": values["title"],
        "body": values["body"],
        "languages": values["languages"],
        **forms.present(mode=values["mode"]),
    }
    data["radius_km"] = values["radius_km"] or None  # blank on an offer: the service says why
    if post.kind == "need":
        data["seats"] = values["seats"] or None
    # Only a changed place is looked up again, so a precise point set through the API stays.
    if any(values[k] != stored[k] for k in ("postcode", "city", "country")):
        data["location"] = _location(values)
    rename = forms.renamer(LOCATION_FIELDS)
    data["availability"] = availability
    patch, errors = forms.parse(PostPatch, data, rename)
    errors |= slot_errors
    if errors:
        patch = None  # a wrong time slot: nothing is saved, everything typed stays
    if patch is not None:
        try:
            resubmitted = post.status == "rejected"  # saved changes go back to review
            await services.resubmit(session, user, post)
            await services.update(session, settings_of(request), user, post, patch)
        except Invalid as exc:
            errors = forms.errors_of(exc, rename)
    if errors:
        context = _form_context(user, actor, values, errors, post=post)
        return await page(request, "posts/form.html", context, status_code=422)
    return redirect(
        with_flash(f"/posts/{post.id}", MSG_RESUBMITTED if resubmitted else MSG_UPDATED)
    )


async def close_post(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    await form_with_csrf(request)
    session = db(request)
    post = await guardian.changeable(
        session, await actor_of(request), request.path_params["post_id"]
    )
    await services.close(session, user, post)
    return redirect(with_flash(f"/posts/{post.id}", MSG_CLOSED))


async def renew_post(request: Request) -> Response:
    """The link in the reminder mail. GET asks, POST renews: a mail scanner that opens links
    must not keep stale posts alive."""
    session, settings = db(request), settings_of(request)
    token = request.query_params.get("token", "")
    if request.method == "POST":
        form = await form_with_csrf(request)
        token = str(form.get("token", ""))
    post_id = renewal.post_from_token(settings, token)
    post = await session.get(Post, post_id) if post_id == request.path_params["post_id"] else None
    if post is None:
        # Without a valid link: the signed-in author renews from here (and from the post's
        # page); anyone else is told, in their language, to log in (404/403 as for editing).
        if await current_user(request) is None:
            return await page(
                request, "posts/renew_login.html", {"post_id": request.path_params["post_id"]}
            )
        post = await guardian.changeable(
            session, await actor_of(request), request.path_params["post_id"]
        )
        token = ""
    if request.method == "GET":
        return await page(request, "posts/renew.html", {"post": post, "token": token})
    await renewal.renew(session, settings, post)
    return redirect(with_flash(f"/posts/{post.id}", MSG_RENEWED))
