"""The coordinators' map of waiting needs (where volunteers are missing), with its list for
readers without JavaScript. The public map sits on the search page (templates/maps/_section.html),
drawn by static/map.js from /api/v1/map."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.actor import staff_actor
from market.api import ok
from market.forms import page
from market.maps import guardian, queries
from market.maps.params import parse_box, read_params
from market.posts.models import Post
from market.web import current_user, db, login_redirect

LISTED = 200


async def waiting_map(request: Request) -> Response:
    if await current_user(request) is None:
        return login_redirect(request)
    stmt = guardian.waiting_needs(await staff_actor(request), None, None)
    stmt = stmt.order_by(Post.created_at, Post.id).limit(LISTED + 1)
    needs = list((await db(request).scalars(stmt)).all())
    context = {"needs": needs[:LISTED], "more": len(needs) > LISTED}
    return await page(request, "maps/waiting.html", context)


async def waiting_json(request: Request) -> Response:
    """The same as GET /api/v1/review/map, for the page's script (which sends the session
    cookie, not a token)."""
    if await current_user(request) is None:
        return login_redirect(request)
    params = read_params(request)
    base = guardian.waiting_needs(await staff_actor(request), params.category, params.language)
    box = parse_box(params.bbox)
    stmt = queries.posts_in_view(kind=None, category=None, language=None, box=box, base=base)
    return ok(await queries.features(db(request), stmt))


routes = [
    Route("/review/map", waiting_map, methods=["GET"]),
    Route("/review/map.json", waiting_json, methods=["GET"]),
]
