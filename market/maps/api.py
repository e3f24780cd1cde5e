"""JSON API of the map: GET /api/v1/map (anyone) and GET /api/v1/review/map (staff: waiting needs).

Both answer a GeoJSON FeatureCollection of coarse points (market.maps.queries). The public one is
kept by the anonymous page cache (market.pagecache lists /api/v1/map).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.actor import actor_of
from market.api import ok
from market.maps import guardian, queries
from market.maps.params import parse_box, read_params
from market.web import db, require_user


async def public_map(request: Request) -> Response:
    params = read_params(request)
    box = parse_box(params.bbox)
    stmt = queries.posts_in_view(
        kind=params.kind, category=params.category, language=params.language, box=box
    )
    return ok(await queries.features(db(request), stmt))


async def waiting_map(request: Request) -> Response:
    await require_user(request)
    params = read_params(request)
    box = parse_box(params.bbox)
    base = guardian.waiting_needs(await actor_of(request), params.category, params.language)
    stmt = queries.posts_in_view(kind=None, category=None, language=None, box=box, base=base)
    return ok(await queries.features(db(request), stmt))


routes = [
    Route("/map", public_map, methods=["GET"]),
    Route("/review/map", waiting_map, methods=["GET"]),
]
