"""JSON API of the follow-through: a volunteer says they are available again."""

from __future__ import annotations

from pydantic import Field, StrictBool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.accounts import services as accounts
from market.actor import actor_of
from market.api import ok, read_json
from market.db import utcnow
from market.errors import Forbidden
from market.matches import followthrough, guardian
from market.validation import Strict
from market.web import db, require_user, settings_of


class AvailabilityIn(Strict):
    available: StrictBool


async def availability(request: Request) -> Response:
    """POST /api/v1/me/availability {"available": bool}: answers as GET /api/v1/me."""
    user = await require_user(request)
    data = await read_json(request, AvailabilityIn)
    if not guardian.may_set_availability(await actor_of(request), user.id):
        raise Forbidden()
    session = db(request)
    await followthrough.set_available(session, settings_of(request), user, data.available)
    return ok(accounts.me(user, await accounts.organisation_of(session, user.id)))


class OutcomeIn(Strict):
    met: StrictBool
    note: str | None = Field(default=None, max_length=500)


async def outcome(request: Request) -> Response:
    """POST /api/v1/matches/{id}/outcome {"met": bool, "note"}: a party's "Did you meet?"."""
    from market.matches.api import match_json

    await require_user(request)
    actor = await actor_of(request)
    session = db(request)
    match, side = await guardian.readable(session, actor, request.path_params["match_id"])
    data = await read_json(request, OutcomeIn)
    note = data.note.strip() if data.note else None
    match = await followthrough.record_outcome(session, match, side, data.met, note, utcnow())
    return ok(await match_json(session, match, actor, side))


routes = [
    Route("/me/availability", availability, methods=["POST"]),
    Route("/matches/{match_id}/outcome", outcome, methods=["POST"]),
]
