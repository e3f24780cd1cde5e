"""Administration pages (admins only): regions, coordinators and their regions, suspending
accounts, and the audit log of all of it. Forms only, no JavaScript."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import forms
from market.accounts.models import User
from market.actor import Actor, staff_actor
from market.admin import audit, guardian, services
from market.admin.models import AuditEntry
from market.admin.schemas import CoordinatorIn, RegionIn
from market.api import encode_cursor, page_params, paginate
from market.errors import Invalid
from market.forms import page, text
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

MSG_REGION_SAVED = N_("The region is saved.")
MSG_COORDINATOR_CREATED = N_(
    "The coordinator account is made. The person gets a mail to choose a password."
)
MSG_COORDINATOR_PROMOTED = N_("The person is a coordinator now.")
MSG_REGIONS_SAVED = N_("The regions are saved.")
MSG_SUSPENDED = N_("The account is suspended. The person cannot log in and their posts are hidden.")
MSG_UNSUSPENDED = N_("The account is active again.")
REGION_FIELDS = ("slug", "name", "lat", "lon", "radius_km")


async def _admin(request: Request) -> Actor | Response:
    if await current_user(request) is None:
        return login_redirect(request)
    actor = await staff_actor(request)
    guardian.require_admin(actor)
    return actor


def _user(actor: Actor) -> User:
    assert actor.user is not None  # _admin let only signed-in admins through
    return actor.user


async def index(request: Request) -> Response:
    admin = await _admin(request)
    if isinstance(admin, Response):
        return admin
    return await page(request, "admin/index.html", {})


# --- Regions


def _region_values(form: Any) -> dict[str, str]:
    return {name: text(form, name) for name in REGION_FIELDS}


async def _regions_page(
    request: Request, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> Response:
    rows = await services.regions(db(request))
    context = {"regions": rows, "values": values or {"radius_km": "25"}, "errors": errors or {}}
    return await page(request, "admin/regions.html", context, status_code=422 if errors else 200)


async def regions(request: Request) -> Response:
    admin = await _admin(request)
    if isinstance(admin, Response):
        return admin
    if request.method == "GET":
        return await _regions_page(request)
    values = _region_values(await form_with_csrf(request))
    data, errors = forms.parse(RegionIn, dict(values.items()))
    if data is not None:
        try:
            await services.create_region(db(request), _user(admin), data)
        except Invalid as exc:
            errors = forms.errors_of(exc)
    if errors:
        return await _regions_page(request, values, errors)
    return redirect(with_flash("/admin/regions", MSG_REGION_SAVED))


async def region(request: Request) -> Response:
    admin = await _admin(request)
    if isinstance(admin, Response):
        return admin
    session = db(request)
    found = await guardian.region(session, admin, request.path_params["region_id"])
    errors: dict[str, str] = {}
    if request.method == "GET":
        values = {name: str(getattr(found, name)) for name in REGION_FIELDS}
    else:
        values = _region_values(await form_with_csrf(request))
        data, errors = forms.parse(RegionIn, dict(values))
        if data is not None:
            try:
                await services.update_region(session, _user(admin), found, data)
            except Invalid as exc:
                errors = forms.errors_of(exc)
        if not errors:
            return redirect(with_flash("/admin/regions", MSG_REGION_SAVED))
    return await page(
        request,
        "admin/region.html",
        {"region": found, "values": values, "errors": errors},
        status_code=422 if errors else 200,
    )


# --- Coordinators


async def _coordinators_page(
    request: Request, values: dict[str, str] | None = None, errors: dict[str, str] | None = None
) -> Response:
    session = db(request)
    people = await services.coordinators(session)
    context = {
        "coordinators": people,
        "their_regions": await services.coordinator_regions(session, [p.id for p in people]),
        "regions": await services.regions(session),
        "values": values or {},
        "errors": errors or {},
    }
    return await page(
        request, "admin/coordinators.html", context, status_code=422 if errors else 200
    )


async def coordinators(request: Request) -> Response:
    admin = await _admin(request)
    if isinstance(admin, Response):
        return admin
    if request.method == "GET":
        return await _coordinators_page(request)
    form = await form_with_csrf(request)
    values = {"email": text(form, "email"), "display_name": text(form, "display_name")}
    data, errors = forms.parse(CoordinatorIn, forms.present(**values) | {"email": values["email"]})
    created = False
    if data is not None:
        try:
            _person, created = await services.add_coordinator(
                db(request), settings_of(request), _user(admin), data
            )
        except Invalid as exc:
            errors = forms.errors_of(exc)
    if errors:
        return await _coordinators_page(request, values, errors)
    message = MSG_COORDINATOR_CREATED if created else MSG_COORDINATOR_PROMOTED
    return redirect(with_flash("/admin/coordinators", message))


async def coordinator_regions(request: Request) -> Response:
    admin = await _admin(request)
    if isinstance(admin, Response):
        return admin
    form = await form_with_csrf(request)
    session = db(request)
    person = await guardian.account(session, admin, request.path_params["user_id"])
    await services.set_regions(session, _user(admin), person, forms.getlist(form, "regions"))
    return redirect(with_flash("/admin/coordinators", MSG_REGIONS_SAVED))


# --- Accounts


async def accounts(request: Request) -> Response:
    admin = await _admin(request)
    if isinstance(admin, Response):
        return admin
    q = request.query_params.get("q", "")[:100]
    rows = await services.find_accounts(db(request), q)
    return await page(request, "admin/accounts.html", {"accounts": rows, "q": q})


async def account(request: Request) -> Response:
    admin = await _admin(request)
    if isinstance(admin, Response):
        return admin
    session = db(request)
    person = await guardian.account(session, admin, request.path_params["user_id"])
    their = (await services.coordinator_regions(session, [person.id]))[person.id]
    context = {
        "person": person,
        "may_suspend": guardian.may_suspend(admin, person),
        "may_get_regions": guardian.may_get_regions(person),
        "their_regions": their,
        "regions": await services.regions(session),
    }
    return await page(request, "admin/account.html", context)


async def suspend(request: Request) -> Response:
    admin = await _admin(request)
    if isinstance(admin, Response):
        return admin
    await form_with_csrf(request)
    session = db(request)
    person = await guardian.account_to_suspend(session, admin, request.path_params["user_id"])
    await services.suspend(session, _user(admin), person)
    return redirect(with_flash(f"/admin/users/{person.id}", MSG_SUSPENDED))


async def unsuspend(request: Request) -> Response:
    admin = await _admin(request)
    if isinstance(admin, Response):
        return admin
    await form_with_csrf(request)
    session = db(request)
    person = await guardian.account(session, admin, request.path_params["user_id"])
    await services.unsuspend(session, settings_of(request), _user(admin), person)
    return redirect(with_flash(f"/admin/users/{person.id}", MSG_UNSUSPENDED))


# --- Audit log


async def audit_log(request: Request) -> Response:
    admin = await _admin(request)
    if isinstance(admin, Response):
        return admin
    session = db(request)
    limit, cursor = page_params(request)
    stmt = paginate(audit.newest_first(), AuditEntry.created_at, AuditEntry.id, limit, cursor)
    rows = list(await session.scalars(stmt))
    next_url = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_url = "/admin/audit?" + urlencode(
            {"cursor": encode_cursor(rows[-1].created_at, rows[-1].id)}
        )
    ids = {r.actor_id for r in rows if r.actor_id}
    names = {
        u.id: u.display_name for u in await session.scalars(select(User).where(User.id.in_(ids)))
    }
    region_names = {r.id: r.name for r in await services.regions(session)}
    return await page(
        request,
        "admin/audit.html",
        {"entries": rows, "names": names, "region_names": region_names, "next_url": next_url},
    )


routes = [
    Route("/admin", index, methods=["GET"]),
    Route("/admin/regions", regions, methods=["GET", "POST"]),
    Route("/admin/regions/{region_id}", region, methods=["GET", "POST"]),
    Route("/admin/coordinators", coordinators, methods=["GET", "POST"]),
    Route("/admin/coordinators/{user_id}/regions", coordinator_regions, methods=["POST"]),
    Route("/admin/users", accounts, methods=["GET"]),
    Route("/admin/users/{user_id}", account, methods=["GET"]),
    Route("/admin/users/{user_id}/suspend", suspend, methods=["POST"]),
    Route("/admin/users/{user_id}/unsuspend", unsuspend, methods=["POST"]),
    Route("/admin/audit", audit_log, methods=["GET"]),
]
