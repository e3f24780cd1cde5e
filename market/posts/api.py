"""JSON API for posts and reference data."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import i18n, languages
from market.actor import Actor, actor_of
from market.api import (
    cursor_params,
    ok,
    page,
    page_params,
    paginate,
    paginate_later,
    read_action,
    read_json,
    validation_errors,
)
from market.errors import Invalid
from market.posts import geo, guardian, queries, renewal, services, taxonomy
from market.posts import search as text_search
from market.posts.models import Post
from market.posts.schemas import PostIn, PostPatch, SearchIn
from market.web import db, require_user, settings_of


async def categories(request: Request) -> Response:
    return ok(
        [
            {
                "slug": c.slug,
                "parent": c.parent,
                "name": i18n.gettext(c.name),
                "requires_police_certificate": taxonomy.requires_police_certificate(c.slug),
            }
            for c in taxonomy.ordered()
        ]
    )


async def language_list(request: Request) -> Response:
    return ok(languages.reference())


async def parse_search(request: Request) -> tuple[SearchIn, tuple[float, float, float] | None]:
    params = {
        k: v
        for k, v in request.query_params.items()
        if k not in ("limit", "cursor", "lang", "page")
    }
    params = {k: v for k, v in params.items() if v != ""}
    try:
        search = SearchIn.model_validate(params)
    except ValidationError as exc:
        raise Invalid(validation_errors(exc)) from exc
    return search, await geo.search_circle(db(request), search, default_km=25.0)


async def posts(request: Request) -> Response:
    session = db(request)
    if request.method == "POST":
        user = await require_user(request)
        data = await read_json(request, PostIn)
        post = await services.create(session, settings_of(request), user, data)
        return ok((await services.to_json_many(session, [post], await actor_of(request)))[0], 201)
    search, near = await parse_search(request)
    limit, cursor = page_params(request)
    understood = text_search.understand(search.q) if search.q else None
    if understood is not None and understood.words:
        # Ranked by relevance (market.posts.search); the same items and next_cursor as before.
        base = queries.search(
            kind=search.kind, category=search.category, language=search.language, place=near
        )
        found, next_cursor = await text_search.ranked(
            session, base, understood, limit, request.query_params.get("cursor")
        )
        items = await services.to_json_many(session, found, await actor_of(request))
        return ok({"items": items, "next_cursor": next_cursor})
    dialect = session.get_bind().dialect.name
    listing = _search_listing(
        search.kind, search.category, search.language, near, search.q, dialect
    )
    if cursor is None:
        stmt, params = _first_page(listing, limit), {}
    else:
        stmt, params = _later_page(listing, limit), cursor_params(cursor)
    return ok(await _page(session, stmt, params, limit, await actor_of(request)))


# A select is immutable and its cache key is computed once per object: built once per set of
# filters (and limit), a search's listing and its pages (the first, and the later ones with
# the cursor bound at execution) cost neither their construction nor their cache key again.
# The WHERE is queries.search's.
@lru_cache(maxsize=512)
def _search_listing(
    kind: str | None,
    category: str | None,
    language: str | None,
    place: tuple[float, float, float] | None,
    q: str | None,
    dialect: str,
) -> Select[*tuple[Any, ...]]:
    stmt = queries.search(kind=kind, category=category, language=language, place=place, q=q)
    return services.listing(stmt, dialect)


@lru_cache(maxsize=512)
def _first_page(listing: Select[*tuple[Any, ...]], limit: int) -> Select[Any]:
    return _next_page(listing, limit, None)


@lru_cache(maxsize=512)
def _later_page(listing: Select[*tuple[Any, ...]], limit: int) -> Select[Any]:
    return paginate_later(listing, Post.created_at, Post.id, limit)


def _next_page(
    listing: Select[*tuple[Any, ...]], limit: int, cursor: tuple[datetime, str] | None
) -> Select[Any]:
    return paginate(listing, Post.created_at, Post.id, limit, cursor)


async def _page(
    session: AsyncSession, stmt: Select[Any], params: dict[str, Any], limit: int, viewer: Actor
) -> dict[str, Any]:
    """One page of posts, newest first, from a paginated `services.listing` select: rows of
    what the JSON shows, read in one statement."""
    # Executed on the session's connection, as Core: the rows become Listed tuples at once,
    # and the ORM's result machinery (entities, identity map, autoflush) has nothing to do for
    # columns; a GET has nothing to flush. ~8 % of the request's instructions (callgrind).
    connection = await session.connection()
    posts = services.listed(await connection.execute(stmt, params))
    items = await services.listing_json(session, posts[:limit], viewer)
    by_id = {item["id"]: item for item in items}
    return page(posts, limit, lambda p: by_id[p.id], lambda p: (p.created_at, p.id))


async def post_detail(request: Request) -> Response:
    session = db(request)
    post_id = request.path_params["post_id"]
    if request.method == "PATCH":
        user = await require_user(request)
        actor = await actor_of(request)
        post = await guardian.changeable(session, actor, post_id)
        patch = await read_json(request, PostPatch)
        post = await services.update(session, settings_of(request), user, post, patch)
        return ok((await services.to_json_many(session, [post], actor))[0])
    actor = await actor_of(request)
    post = await guardian.readable(session, actor, post_id)
    return ok((await services.to_json_many(session, [post], actor))[0])


async def close(request: Request) -> Response:
    session = db(request)
    user = await require_user(request)
    actor = await actor_of(request)
    post = await guardian.changeable(session, actor, request.path_params["post_id"])
    await read_action(request)
    post = await services.close(session, user, post)
    return ok((await services.to_json_many(session, [post], actor))[0])


async def renew(request: Request) -> Response:
    session = db(request)
    await require_user(request)
    actor = await actor_of(request)
    post = await guardian.changeable(session, actor, request.path_params["post_id"])
    await read_action(request)
    post = await renewal.renew(session, settings_of(request), post)
    return ok((await services.to_json_many(session, [post], actor))[0])


async def my_posts(request: Request) -> Response:
    session = db(request)
    await require_user(request)
    actor = await actor_of(request)
    limit, cursor = page_params(request)
    listing = services.listing(guardian.own(actor, select(Post)), session.get_bind().dialect.name)
    return ok(await _page(session, _next_page(listing, limit, cursor), {}, limit, actor))


routes = [
    Route("/categories", categories, methods=["GET"]),
    Route("/languages", language_list, methods=["GET"]),
    Route("/posts", posts, methods=["GET", "POST"]),
    Route("/posts/{post_id}", post_detail, methods=["GET", "PATCH"]),
    Route("/posts/{post_id}/close", close, methods=["POST"]),
    Route("/posts/{post_id}/renew", renew, methods=["POST"]),
    Route("/me/posts", my_posts, methods=["GET"]),
]
