"""JSON API for matches: a party's matches, a post's matches, accept and decline."""

from __future__ import annotations

import base64
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.accounts.models import User
from market.actor import Actor, actor_of
from market.api import (
    iso,
    ok,
    page,
    page_params,
    paginate,
    parse_json,
    read_action,
    read_body,
    validation_errors,
)
from market.errors import Forbidden, Invalid
from market.matches import followthrough, guardian, reasons, services
from market.matches.models import MATCH_STATUSES, Match
from market.posts import services as posts
from market.posts.models import Post
from market.web import db, require_user, settings_of


async def match_json(
    session: AsyncSession, match: Match, viewer: Actor | User, side: str | None
) -> dict[str, Any]:
    post_rows = {
        p.id: p
        for p in (
            await session.execute(select(Post).where(Post.id.in_((match.offer_id, match.need_id))))
        ).scalars()
    }
    offer_json, need_json = await posts.to_json_many(
        session, [post_rows[match.offer_id], post_rows[match.need_id]], viewer
    )
    body: dict[str, Any] = {
        "id": match.id,
        "offer": offer_json,
        "need": need_json,
        "score": match.score,
        # Whole km (at least 1) until connected: API.md, Release 2, Privacy of places.
        "reasons": reasons.texts(match.reasons, exact=reasons.is_connected(match)),
        "distance_km": reasons.shown_distance_km(match),
        "status": match.status,
        # Why it was declined (a fixed list; None without a reason): API.md, Follow-through.
        "decline_reason": match.decline_reason,
        # "Did you meet?" per side (docs/api-additions.md): {"mine", "partner"}.
        "outcome": followthrough.outcome_json(match, side),
        "my_response": services.my_response(match, side) if side else None,
        # Proposal to connected, in seconds (null until connected): docs/api-additions.md.
        "time_to_first_contact_seconds": match.first_contact_seconds,
        # Whether the need's side may reopen it now (a match that did not happen).
        "reopenable": guardian.may_reopen(side) and services.may_be_reopened(match),
        "created_at": iso(match.created_at),
    }
    if side is not None:
        partner_id = match.need_author_id if side == "offer" else match.volunteer_id
        partner = await session.get(User, partner_id)
        deleted = partner is None or partner.deleted_at is not None
        body["partner"] = {
            "display_name": None if deleted or partner is None else partner.display_name,
            "deleted": deleted,
        }
        if match.status == "connected":
            if not deleted and partner is not None:
                body["partner"]["email"] = partner.email
            body["conversation_id"] = await services.conversation_id(session, match)
    return body


async def my_matches(request: Request) -> Response:
    await require_user(request)
    actor = await actor_of(request)
    session = db(request)
    limit, cursor = page_params(request)
    stmt = guardian.visible(actor, select(Match))
    status = request.query_params.get("status")
    if status:
        if status not in MATCH_STATUSES:
            raise Invalid.one(
                "status", "status must be proposed, connected, declined, closed or expired."
            )
        stmt = stmt.where(Match.status == status)
    rows = list(
        (await session.execute(paginate(stmt, Match.created_at, Match.id, limit, cursor))).scalars()
    )
    items = []
    for m in rows[:limit]:
        items.append(await match_json(session, m, actor, await guardian.side_of(session, actor, m)))
    by_id = {i["id"]: i for i in items}
    return ok(page(rows, limit, lambda m: by_id[m.id], lambda m: (m.created_at, m.id)))


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        value = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        raise Invalid.one("cursor", "The cursor is not valid.") from None
    if value < 0:
        raise Invalid.one("cursor", "The cursor is not valid.")
    return value


async def post_matches(request: Request) -> Response:
    """A post's matches, best first (author and coordinators)."""
    await require_user(request)
    actor = await actor_of(request)
    session = db(request)
    post = await guardian.post_for_matches(session, actor, request.path_params["post_id"])
    limit, _ = page_params(request)
    offset = _offset(request.query_params.get("cursor"))
    rows = await guardian.best_of_post(session, post, offset, limit + 1)
    items = [
        await match_json(session, m, actor, await guardian.side_of(session, actor, m))
        for m in rows[:limit]
    ]
    next_cursor = (
        base64.urlsafe_b64encode(str(offset + limit).encode()).decode().rstrip("=")
        if len(rows) > limit
        else None
    )
    return ok({"items": items, "next_cursor": next_cursor})


async def match_detail(request: Request) -> Response:
    await require_user(request)
    actor = await actor_of(request)
    session = db(request)
    match, side = await guardian.readable(session, actor, request.path_params["match_id"])
    return ok(await match_json(session, match, actor, side))


class DeclineIn(BaseModel):
    """An optional reason on decline (API.md, Release 2, Follow-through); other fields are
    ignored, as release 1 accepted any small object."""

    reason: Literal["not_available", "too_far", "language", "not_suitable", "other"] | None = None
    note: str | None = Field(default=None, max_length=500)


async def _decline_reason(request: Request) -> DeclineIn:
    body = await read_body(request)
    if not body.strip():
        return DeclineIn()
    data = parse_json(body)
    if not isinstance(data, dict):
        raise Invalid.one("", "The body must be a JSON object.")
    try:
        return DeclineIn.model_validate(data)
    except ValidationError as exc:
        raise Invalid(validation_errors(exc)) from exc


async def _answer(request: Request, accept: bool) -> Response:
    user = await require_user(request)
    actor = await actor_of(request)
    session = db(request)
    match, side = await guardian.readable(session, actor, request.path_params["match_id"])
    if accept:
        await read_action(request)
        match = await services.respond(session, settings_of(request), user, match, side, True)
    else:
        why = await _decline_reason(request)
        match = await services.respond(
            session,
            settings_of(request),
            user,
            match,
            side,
            False,
            reason=why.reason,
            note=why.note.strip() if why.note else None,
        )
    return ok(await match_json(session, match, actor, side))


async def accept(request: Request) -> Response:
    return await _answer(request, True)


async def decline(request: Request) -> Response:
    return await _answer(request, False)


async def reopen(request: Request) -> Response:
    """POST /matches/{id}/reopen: the need's side reopens a match that did not happen; the need
    goes to its next candidates. 403 for the volunteer, 409 when the match may not be reopened."""
    await require_user(request)
    actor = await actor_of(request)
    session = db(request)
    match, side = await guardian.readable(session, actor, request.path_params["match_id"])
    if not guardian.may_reopen(side):
        raise Forbidden("Only the person who asked for help can reopen a match.")
    await read_action(request)
    await services.reopen(session, settings_of(request), match)
    return ok(await match_json(session, match, actor, side))


routes = [
    Route("/matches", my_matches, methods=["GET"]),
    Route("/matches/{match_id}", match_detail, methods=["GET"]),
    Route("/matches/{match_id}/accept", accept, methods=["POST"]),
    Route("/matches/{match_id}/decline", decline, methods=["POST"]),
    Route("/matches/{match_id}/reopen", reopen, methods=["POST"]),
    Route("/posts/{post_id}/matches", post_matches, methods=["GET"]),
]
