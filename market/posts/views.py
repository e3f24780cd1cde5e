"""HTML pages for offers and needs: the start page, browsing, a post, writing and editing one."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import forms
from market.accounts.models import User
from market.actor import Actor, actor_of
from market.api import encode_cursor, page_params, paginate
from market.errors import Invalid
from market.forms import page, text
from market.i18n import get_locale, gettext
from market.posts import (
    authors,
    choices,
    geo,
    guardian,
    queries,
    renewal,
    services,
    slots,
    taxonomy,
)
from market.posts import search as text_search
from market.posts.api import parse_search
from market.posts.models import Post
from market.posts.schemas import PostIn, PostPatch
from market.posts.taxonomy import N_
from market.translation import service as translation
from market.web import (
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
    settings_of,
    with_flash,
)

RADIUS_CHOICES = ("5", "10", "25", "50", "100")
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
SEARCH_FIELDS = {"cursor": "", "limit": "", "lat": "place", "lon": "place"}
# What a list of post cards never shows: left in the database (search_text is the whole text
# again, the other two are JSON decoded per row). Reading one of them raises, not a query.
NOT_ON_CARDS = (
    defer(Post.search_text, raiseload=True),
    defer(Post.search_translations, raiseload=True),
    defer(Post.availability, raiseload=True),
    defer(Post.rejection_reason, raiseload=True),
)


async def _rows(
    request: Request, session: AsyncSession, stmt: Select[Post]
) -> tuple[list[Post], str | None]:
    """One page of posts, newest first, and the link to the next page (None on the last)."""
    limit, cursor = page_params(request)
    page_stmt = paginate(stmt.options(*NOT_ON_CARDS), Post.created_at, Post.id, limit, cursor)
    rows = list((await session.execute(page_stmt)).scalars())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    params = {k: v for k, v in request.query_params.items() if k not in ("cursor", "msg") and v}
    params["cursor"] = encode_cursor(rows[-1].created_at, rows[-1].id)
    return rows, f"{request.url.path}?{urlencode(params)}"


async def _ranked_rows(
    request: Request,
    session: AsyncSession,
    base: Select[Any],
    understood: text_search.Understood,
) -> tuple[list[Post], str | None]:
    """One page of a free-text search, most relevant first (market.posts.search); base holds
    every filter but the search words."""
    limit, _cursor = page_params(request)
    rows, cursor = await text_search.ranked(
        session, base, understood, limit, request.query_params.get("cursor")
    )
    if cursor is None:
        return rows, None
    params = {k: v for k, v in request.query_params.items() if k not in ("cursor", "msg") and v}
    params["cursor"] = cursor
    return rows, f"{request.url.path}?{urlencode(params)}"


def _chips(values: dict[str, str], named: tuple[str, ...]) -> list[tuple[str, str, bool]]:
    """The topic links above the results: (label, address, current). They keep every filter
    but the topic and the search words, so one tap shows a whole topic nearby. Topics the
    search words name come first (a subtopic too: "Arzt" names going along to the doctor)."""
    keep = {
        k: v for k, v in values.items() if k in ("kind", "language", "place", "radius_km") and v
    }
    current = values.get("category", "")
    slugs = [*named, *(c.slug for c in taxonomy.CATEGORIES if c.parent is None)]
    chips = [(gettext("All topics"), "/posts?" + urlencode(keep), not current)]
    for slug in dict.fromkeys(slugs):
        address = "/posts?" + urlencode({**keep, "category": slug})
        chips.append((taxonomy.category_name(slug), address, current == slug))
    return chips


def _distance(viewer: Actor, post: Post, near: tuple[float, float, float] | None) -> int | None:
    """Whole kilometres from the searched place, measured to the public point the list was
    filtered on; only those who may see the exact place are told the distance to it."""
    if near is None or post.lat is None or post.lon is None:
        return None
    lat, lon = (
        (post.lat, post.lon)
        if guardian.can_see_exact(viewer, post)
        else services.public_point(post)
    )
    return round(geo.haversine_km(near[0], near[1], lat, lon))


def _search_options() -> dict[str, Any]:
    return _search_options_in(get_locale())


@functools.cache
def _search_options_in(locale: str) -> dict[str, Any]:
    """The search form's choices in one page language: the same for every request, and costly
    (Babel's name and native name of each language), so built once per language and process.
    Templates only read them."""
    return {
        "kind_options": [
            ("", gettext("Offers and needs")),
            ("offer", gettext("Offers of help")),
            ("need", gettext("Requests for help")),
        ],
        "category_options": choices.category_options(gettext("All topics")),
        "language_options": [("", gettext("All languages")), *forms.language_options()],
        "radius_options": [(r, gettext("%(num)s km", num=r)) for r in RADIUS_CHOICES],
    }


# --- Start page and browsing


async def home(request: Request) -> Response:
    session = db(request)
    viewer = await actor_of(request)
    stmt = (
        queries.published()
        .options(*NOT_ON_CARDS)
        .order_by(Post.created_at.desc(), Post.id.desc())
        .limit(6)
    )
    newest = list((await session.execute(stmt)).scalars())
    allowed = guardian.kinds_for(viewer)
    if viewer.is_anonymous:
        help_url, need_url = "/register?role=volunteer", "/register?role=seeker"
    else:
        help_url = "/posts/new?kind=offer" if "offer" in allowed else "/posts?kind=need"
        need_url = "/posts/new?kind=need" if "need" in allowed else "/posts?kind=offer"
    return await page(
        request,
        "home.html",
        {
            "posts": newest,
            "distances": {},
            "help_url": help_url,
            "need_url": need_url,
            "translations": await translation.for_posts(session, newest, reader_id=viewer.id),
        },
    )


async def browse(request: Request) -> Response:
    session = db(request)
    viewer = await actor_of(request)
    values = {k: v for k, v in request.query_params.items() if k != "cursor"}
    context: dict[str, Any] = {"values": values, **_search_options()}
    try:
        search, near = await parse_search(request)
        stmt = queries.search(
            kind=search.kind,
            category=search.category,
            language=search.language,
            place=near,
            q=search.q,
        )
        understood = text_search.understand(search.q) if search.q else None
        if understood is not None and understood.words:
            base = queries.search(
                kind=search.kind, category=search.category, language=search.language, place=near
            )
            posts, next_url = await _ranked_rows(request, session, base, understood)
        else:
            posts, next_url = await _rows(request, session, stmt)
        total = await text_search.count(session, stmt)
    except Invalid as exc:
        context |= {
            "errors": forms.errors_of(exc, forms.renamer(SEARCH_FIELDS)),
            "posts": [],
            "distances": {},
        }
        return await page(request, "posts/browse.html", context, status_code=422)
    context |= {
        "errors": {},
        "posts": posts,
        "distances": {p.id: _distance(viewer, p, near) for p in posts},
        "translations": await translation.for_posts(session, posts, reader_id=viewer.id),
        "near": near,
        "next_url": next_url,
        "first_url": request.url.path + "?" + urlencode(values)
        if "cursor" in request.query_params
        else None,
        "filtered": any(values.get(k) for k in ("kind", "category", "language", "place", "q")),
        "total": total,
        "total_cap": text_search.COUNT_CAP,
        "chips": _chips(values, understood.categories if understood else ()),
    }
    return await page(request, "posts/browse.html", context)


async def detail(request: Request) -> Response:
    session = db(request)
    viewer = await actor_of(request)
    post = await guardian.readable(session, viewer, request.path_params["post_id"])
    organisation = await services.organisation_of(session, post)
    context = {
        "post": post,
        "author_name": await authors.shown_name(session, post),
        "organisation": organisation,
        "is_author": guardian.may_change(viewer, post),
        "exact": guardian.can_see_exact(viewer, post),
        "WEEKDAY_LABELS": slots.WEEKDAYS,
        "translation": (await translation.for_posts(session, [post], reader_id=viewer.id))[post.id],
    }
    return await page(request, "posts/detail.html", context)


async def my_posts(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    stmt = guardian.own(await actor_of(request), select(Post))
    posts, next_url = await _rows(request, db(request), stmt)
    return await page(
        request, "posts/mine.html", {"posts": posts, "next_url": next_url, "distances": {}}
    )


# --- Writing and editing


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


routes = [
    Route("/", home, methods=["GET"]),
    Route("/posts/{post_id}/renew", renew_post, methods=["GET", "POST"]),
    Route("/posts", browse, methods=["GET"]),
    Route("/posts/new", new_post, methods=["GET", "POST"]),
    Route("/posts/{post_id}", detail, methods=["GET"]),
    Route("/posts/{post_id}/edit", edit_post, methods=["GET", "POST"]),
    Route("/posts/{post_id}/close", close_post, methods=["POST"]),
    Route("/my/posts", my_posts, methods=["GET"]),
]
