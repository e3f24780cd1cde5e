"""JSON API for posts and reference data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import i18n, languages
from market.actor import Actor, actor_of
from market.api import ok, page, page_params, paginate, read_action, read_json, validation_errors
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
    stmt = queries.search(
        kind=search.kind, category=search.category, language=search.language, place=near, q=search.q
    )
    return ok(await _page(session, stmt, limit, cursor, await actor_of(request)))


async def _page(
    session: AsyncSession,
    stmt: Select[Any],
    limit: int,
    cursor: tuple[datetime, str] | None,
    viewer: Actor,
) -> dict[str, Any]:
    """One page of a select of posts, newest first: rows of what the JSON shows (one statement),
    not Post objects (services.listing)."""
    listed = services.listing(stmt, session.get_bind().dialect.name)
    rows = (await session.execute(paginate(listed, Post.created_at, Post.id, limit, cursor))).all()
    by_id = {
        item["id"]: item for item in await services.listing_json(session, rows[:limit], viewer)
    }
    return page(rows, limit, lambda row: by_id[row.id], lambda row: (row.created_at, row.id))


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
    return ok(await _page(session, guardian.own(actor, select(Post)), limit, cursor, actor))


routes = [
    Route("/categories", categories, methods=["GET"]),
    Route("/languages", language_list, methods=["GET"]),
    Route("/posts", posts, methods=["GET", "POST"]),
    Route("/posts/{post_id}", post_detail, methods=["GET", "PATCH"]),
    Route("/posts/{post_id}/close", close, methods=["POST"]),
    Route("/posts/{post_id}/renew", renew, methods=["POST"]),
    Route("/me/posts", my_posts, methods=["GET"]),
]
