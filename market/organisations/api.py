"""JSON API for organisations."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.api import ok
from market.errors import NotFound
from market.organisations.models import Organisation
from market.web import db


async def organisation(request: Request) -> Response:
    org_id = request.path_params["org_id"]
    org = await db(request).get(Organisation, org_id) if len(org_id) <= 32 else None
    if org is None:
        raise NotFound("There is no such organisation.")
    return ok({"id": org.id, "name": org.name, "website": org.website, "status": org.status})


routes = [Route("/organisations/{org_id}", organisation, methods=["GET"])]
