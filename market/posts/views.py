"""HTML pages for offers and needs: the start page, browsing, a post, my posts.

Writing and editing one is market.posts.editing; the routes of both are listed here.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlencode

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import forms
from market.actor import Actor, actor_of
from market.api import encode_cursor, page_params, paginate
from market.errors import Invalid
from market.forms import page
from market.i18n import get_locale, gettext
from market.posts import (
    authors,
    cards,
    choices,
    geo,
    guardian,
    queries,
    services,
    slots,
    taxonomy,
)
from market.posts import search as text_search
from market.posts.api import parse_search
from market.posts.cards import Card
from market.posts.editing import close_post, edit_post, new_post, renew_post
from market.posts.models import Post
from market.translation import service as translation
from market.web import (
    current_user,
    db,
    login_redirect,
)

RADIUS_CHOICES = ("5", "10", "25", "50", "100")
SEARCH_FIELDS = {"cursor": "", "limit": "", "lat": "place", "lon": "place"}


async def _rows(
    request: Request, session: AsyncSession, stmt: Select[Post]
) -> tuple[list[Card], str | None]:
    """One page of post cards, newest first, and the link to the next page (None on the last)."""
    limit, cursor = page_params(request)
    rows = await cards.read_cards(session, paginate(stmt, Post.created_at, Post.id, limit, cursor))
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
) -> tuple[list[Card], str | None]:
    """One page of a free-text search, most relevant first (market.posts.search); base holds
    every filter but the search words."""
    limit, _cursor = page_params(request)
    rows, cursor = await text_search.ranked_cards(
        session, base, understood, limit, request.query_params.get("cursor")
    )
    if cursor is None:
        return rows, None
    params = {k: v for k, v in request.query_params.items() if k not in ("cursor", "msg") and v}
    params["cursor"] = cursor
    return rows, f"{request.url.path}?{urlencode(params)}"


async def _translations(
    session: AsyncSession, posts: Sequence[Card] | Sequence[Post], viewer: Actor
) -> dict[str, dict[str, Any] | None]:
    # A card has what the translation reads of a post (id, lang, author, title, body).
    return await translation.for_posts(session, cast(Sequence[Post], posts), reader_id=viewer.id)


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


def _distance(
    viewer: Actor, post: Card | Post, near: tuple[float, float, float] | None
) -> int | None:
    """Whole kilometres from the searched place, measured to the public point the list was
    filtered on; only those who may see the exact place are told the distance to it."""
    if near is None or post.lat is None or post.lon is None:
        return None
    lat, lon = (
        (post.lat, post.lon)
        if guardian.can_see_exact(viewer, post)
        # A card has the points public_point reads (not all of PostFields).
        else services.public_point(cast(Post, post))
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


@functools.cache
def _newest(dialect: str) -> Select[Any]:
    """The start page's six newest posts as cards: the same statement for every request (a
    select is immutable; built and its cache key computed once)."""
    return cards.card_statement(
        queries.published().order_by(Post.created_at.desc(), Post.id.desc()).limit(6), dialect
    )


async def home(request: Request) -> Response:
    session = db(request)
    viewer = await actor_of(request)
    newest = await cards.read_card_statement(session, _newest(session.get_bind().dialect.name))
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
            "translations": await _translations(session, newest, viewer),
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
        if next_url is None and "cursor" not in request.query_params:
            # The first page holds every result (ranked's tiers do not overlap, and together
            # they are stmt's condition): nothing left to count. Searches with few results
            # were the dearest to count, the window read to its end and then the index.
            total = min(len(posts), text_search.COUNT_CAP + 1)
        else:
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
        "translations": await _translations(session, posts, viewer),
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
