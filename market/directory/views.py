"""Pages of the directory: finding services and events, a service and its print view, writing
entries, the coordinators' review and lapse list, confirming a service, suggesting one."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import forms
from market.actor import Actor, actor_of, staff_actor
from market.db import utcnow
from market.directory import api as directory_api
from market.directory import freshness, guardian, hours, ical, services
from market.directory.models import Entry
from market.directory.schemas import EventIn, ServiceIn, ServicePatch
from market.errors import Invalid, NotFound
from market.forms import page, text
from market.i18n import N_, gettext
from market.organisations.models import Organisation
from market.posts import choices, taxonomy
from market.web import (
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
    settings_of,
    with_flash,
)

RADIUS_CHOICES = ("2", "5", "10", "25", "50")
MSG_SAVED_PENDING = N_(
    "Thank you. The entry is saved. Everyone sees it after a coordinator has checked it."
)
MSG_SAVED_PUBLISHED = N_("The entry is published.")
MSG_UPDATED = N_("Your changes are saved.")
MSG_CONFIRMED = N_("Thank you. The service stays in the directory for another 180 days.")
MSG_DECIDED = N_("Your decision is saved.")
MSG_SUGGESTED = N_("The person gets a message with this service.")
MSG_BAD_LINK = N_("This link is not valid any more. Please log in to confirm the service.")
WEEKDAYS = range(7)
SEARCH_FIELDS = {"cursor": "", "limit": "", "lat": "place", "lon": "place"}
ENTRY_STATUS_LABELS = {
    "pending_review": N_("Waiting for review"),
    "published": N_("Published"),
    "rejected": N_("Not accepted"),
    "archived": N_("No longer in the directory (not confirmed)"),
}


def _kind_path(kind: str) -> str:
    return "services" if kind == "service" else "events"


def _options() -> dict[str, Any]:
    return {
        "topic_options": choices.category_options(gettext("All topics")),
        "language_options": [("", gettext("All languages")), *forms.language_options()],
        "radius_options": [(r, gettext("%(num)s km", num=r)) for r in RADIUS_CHOICES],
        "category_name": taxonomy.category_name,
    }


def _referral_target(request: Request) -> dict[str, str]:
    """A search opened from a need or match page ("suggest a service") carries its id."""
    target = {}
    for key in ("need_id", "match_id"):
        value = request.query_params.get(key, "")
        if value and len(value) <= 32:
            target[key] = value
    return target


# --- Finding services


async def service_search(request: Request) -> Response:
    values = {k: v for k, v in request.query_params.items() if k not in ("cursor", "msg")}
    context: dict[str, Any] = {"values": values, **_options(), "refer": _referral_target(request)}
    try:
        found, limit, start = await directory_api.search_services(request)
    except Invalid as exc:
        context |= {"errors": forms.errors_of(exc, forms.renamer(SEARCH_FIELDS)), "results": []}
        return await page(request, "directory/services.html", context, status_code=422)
    chunk = found[start : start + limit]
    next_url = None
    if len(found) > start + limit:
        params = {k: v for k, v in values.items() if v}
        params["cursor"] = directory_api.offset_cursor(start + limit)
        next_url = f"/services?{urlencode(params)}"
    now = utcnow()
    context |= {
        "errors": {},
        "results": [(e, d, hours.is_open(e.opening_hours, now)) for e, d in chunk],
        "total": len(found),
        "next_url": next_url,
        "may_write": guardian.may_write_any(await actor_of(request)),
        "filtered": any(values.get(k) for k in ("topic", "language", "place", "q", "open_now")),
    }
    return await page(request, "directory/services.html", context)


def _routing_url(request: Request, entry: Entry) -> str | None:
    """The operator's routing site (ANLAUF_ROUTING_URL with {lat}, {lon}); none by default."""
    template = settings_of(request).routing_url
    if not template:
        return None
    return str(template).replace("{lat}", f"{entry.lat:.6f}").replace("{lon}", f"{entry.lon:.6f}")


async def _entry_context(request: Request, entry: Entry, actor: Actor) -> dict[str, Any]:
    from market.i18n import get_locale

    translated = await services.translations(db(request), [entry])
    return {
        "entry": entry,
        "translation": translated[entry.id],
        "week": hours.week(entry.opening_hours, get_locale()),
        "open_now": hours.is_open(entry.opening_hours, utcnow()),
        "routing_url": _routing_url(request, entry),
        "may_change": guardian.may_change(actor, entry),
        "category_name": taxonomy.category_name,
        "refer": _referral_target(request),
        "due_at": services.due_at(entry),
        "ENTRY_STATUS_LABELS": ENTRY_STATUS_LABELS,
    }


async def service_detail(request: Request) -> Response:
    actor = await actor_of(request)
    entry = await guardian.readable(db(request), actor, "service", request.path_params["entry_id"])
    return await page(
        request, "directory/service.html", await _entry_context(request, entry, actor)
    )


async def service_print(request: Request) -> Response:
    actor = await actor_of(request)
    entry = await guardian.readable(db(request), actor, "service", request.path_params["entry_id"])
    return await page(request, "directory/print.html", await _entry_context(request, entry, actor))


async def services_csv(request: Request) -> Response:
    return await directory_api.services_csv(request)


# --- Events


async def event_list(request: Request) -> Response:
    values = {k: v for k, v in request.query_params.items() if k not in ("cursor", "msg")}
    context: dict[str, Any] = {"values": values, **_options()}
    try:
        search = directory_api.parse_event_search(request)
    except Invalid as exc:
        context |= {"errors": forms.errors_of(exc), "events": []}
        return await page(request, "directory/events.html", context, status_code=422)
    stmt = services.events_query(
        topic=search.topic, language=search.language, q=search.q, start=search.from_, end=search.to
    ).order_by(Entry.starts_at, Entry.id)
    events = list((await db(request).scalars(stmt.limit(100))).all())
    context |= {
        "errors": {},
        "events": events,
        "may_write": guardian.may_write_any(await actor_of(request)),
    }
    return await page(request, "directory/events.html", context)


async def event_detail(request: Request) -> Response:
    actor = await actor_of(request)
    entry = await guardian.readable(db(request), actor, "event", request.path_params["entry_id"])
    return await page(request, "directory/event.html", await _entry_context(request, entry, actor))


async def event_ics(request: Request) -> Response:
    actor = await actor_of(request)
    entry = await guardian.readable(db(request), actor, "event", request.path_params["entry_id"])
    url = settings_of(request).base_url.rstrip("/") + f"/events/{entry.id}"
    return Response(
        ical.event_ics(entry, url, utcnow()),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="event-{entry.id}.ics"'},
    )


# --- Writing


def _form_data(form: FormData, kind: str) -> tuple[dict[str, Any], list[int]]:
    """The form as the API's input, and the weekday each opening-hours slot came from."""
    topics = [t for t in (text(form, "topic"), text(form, "topic_2")) if t]
    data = forms.present(
        name=text(form, "name"),
        organisation_id=text(form, "organisation_id"),
        topics=topics,
        description=text(form, "description"),
        languages=forms.getlist(form, "languages"),
        address=text(form, "address"),
        phone=text(form, "phone"),
        email=text(form, "email"),
        website=text(form, "website"),
    )
    rows: list[int] = []
    if kind == "service":
        slots = []
        for day in WEEKDAYS:
            start, end = text(form, f"open_{day}"), text(form, f"close_{day}")
            if start or end:
                slots.append({"weekday": day, "start": start, "end": end})
                rows.append(day)
        data["opening_hours"] = slots
    else:
        data |= forms.present(starts_at=text(form, "starts_at"), ends_at=text(form, "ends_at"))
    return data, rows


def _renamer(rows: list[int]) -> forms.Rename:
    def rename(path: str) -> str:
        parts = path.split(".")
        if parts[0] == "opening_hours":
            if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(rows):
                return f"hours_{rows[int(parts[1])]}"
            return "hours_0"
        if parts[0] == "topics":
            return "topic"
        if parts[0] == "location":
            return "address"
        return forms.default_field(path)

    return rename


def _values_of(entry: Entry) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": entry.name,
        "topic": (entry.topic_list or [""])[0],
        "topic_2": entry.topic_list[1] if len(entry.topic_list) > 1 else "",
        "description": entry.description,
        "languages": entry.language_list,
        "address": entry.address,
        "phone": entry.phone or "",
        "email": entry.email or "",
        "website": entry.website or "",
        "organisation_id": entry.organisation_id or "",
    }
    for slot in entry.opening_hours:
        values[f"open_{slot['weekday']}"] = slot["start"]
        values[f"close_{slot['weekday']}"] = slot["end"]
    if entry.starts_at and entry.ends_at:
        values["starts_at"] = entry.starts_at.astimezone(hours.BERLIN).strftime("%Y-%m-%dT%H:%M")
        values["ends_at"] = entry.ends_at.astimezone(hours.BERLIN).strftime("%Y-%m-%dT%H:%M")
    return values


def _form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: text(form, k) for k in form if k != "languages"}
    values["languages"] = forms.getlist(form, "languages")
    return values


async def _org_options(request: Request, actor: Actor) -> list[tuple[str, str]]:
    ids = sorted(actor.organisation_ids)
    if not ids:
        return []
    orgs = (await db(request).scalars(select(Organisation).where(Organisation.id.in_(ids)))).all()
    return [(o.id, o.name) for o in orgs]


async def _form_page(
    request: Request,
    kind: str,
    actor: Actor,
    values: dict[str, Any],
    errors: dict[str, str],
    entry: Entry | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "kind": kind,
        "entry": entry,
        "values": values,
        "errors": errors,
        "org_options": await _org_options(request, actor),
        "topic_options": choices.category_options(""),
        "language_options": forms.language_options(),
        "day_names": [
            d
            for d, _ in hours.week(
                [{"weekday": i, "start": "00:00", "end": "01:00"} for i in WEEKDAYS]
            )
        ],
    }
    return await page(request, "directory/form.html", context, status_code=status_code)


def _new(kind: str) -> Any:
    async def handler(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            return login_redirect(request)
        actor = await actor_of(request)
        if not guardian.may_write_any(actor):
            raise NotFound("This page does not exist.")
        if request.method == "GET":
            return await _form_page(request, kind, actor, {}, {})
        form = await form_with_csrf(request)
        data, rows = _form_data(form, kind)
        parsed: ServiceIn | EventIn | None
        if kind == "service":
            parsed, errors = forms.parse(ServiceIn, data, _renamer(rows))
        else:
            parsed, errors = forms.parse(EventIn, data, _renamer(rows))
        if parsed is None:
            return await _form_page(
                request, kind, actor, _form_values(form), errors, status_code=422
            )
        try:
            entry = await services.create(db(request), actor, kind, parsed)
        except Invalid as exc:
            errors = forms.errors_of(exc, _renamer(rows))
            return await _form_page(
                request, kind, actor, _form_values(form), errors, status_code=422
            )
        message = MSG_SAVED_PUBLISHED if entry.status == "published" else MSG_SAVED_PENDING
        return redirect(with_flash(f"/{_kind_path(kind)}/{entry.id}", message))

    return handler


def _edit(kind: str) -> Any:
    async def handler(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            return login_redirect(request)
        actor = await actor_of(request)
        session = db(request)
        entry = await guardian.changeable(session, actor, kind, request.path_params["entry_id"])
        if request.method == "GET":
            return await _form_page(request, kind, actor, _values_of(entry), {}, entry)
        form = await form_with_csrf(request)
        data, rows = _form_data(form, kind)
        data.pop("organisation_id", None)
        for name in ("phone", "email", "website"):
            data.setdefault(name, None)
        if kind == "service":
            data.setdefault("opening_hours", [])
        parsed, errors = forms.parse(ServicePatch, data, _renamer(rows))
        if parsed is None:
            return await _form_page(
                request, kind, actor, _form_values(form), errors, entry, status_code=422
            )
        try:
            await services.update(session, entry, parsed)
        except Invalid as exc:
            errors = forms.errors_of(exc, _renamer(rows))
            return await _form_page(
                request, kind, actor, _form_values(form), errors, entry, status_code=422
            )
        return redirect(with_flash(f"/{_kind_path(kind)}/{entry.id}", MSG_UPDATED))

    return handler


# --- Freshness: the one-click link from the mail (a page with a button), or a logged-in insider


async def confirm(request: Request) -> Response:
    session = db(request)
    settings = settings_of(request)
    entry_id = request.path_params["entry_id"]
    token = request.query_params.get("token", "")
    by_link = bool(token) and freshness.entry_from_token(settings, token) == entry_id
    entry = await session.get(Entry, entry_id) if by_link and len(entry_id) <= 32 else None
    if entry is None:
        if await current_user(request) is None:
            if token:
                return await page(
                    request,
                    "directory/confirm.html",
                    {"entry": None, "bad_link": True},
                    status_code=404,
                )
            return login_redirect(request)
        entry = await guardian.changeable(session, await actor_of(request), "service", entry_id)
    if request.method == "POST":
        await form_with_csrf(request)
        await services.confirm(session, entry)
        return redirect(with_flash(f"/services/{entry.id}", MSG_CONFIRMED))
    return await page(
        request,
        "directory/confirm.html",
        {"entry": entry, "token": token, "bad_link": False, "due_at": services.due_at(entry)},
    )


# --- Review: pending entries and services about to lapse


async def review(request: Request) -> Response:
    actor = await staff_actor(request)
    session = db(request)
    if request.method == "POST":
        form = await form_with_csrf(request)
        kind = "event" if text(form, "kind") == "event" else "service"
        entry = await guardian.reviewable(session, actor, kind, text(form, "entry_id"))
        decision = "publish" if text(form, "decision") == "publish" else "reject"
        await services.decide(session, entry, decision)
        return redirect(with_flash("/review/directory", MSG_DECIDED))
    pending_stmt = guardian.under_review(
        actor, select(Entry).where(Entry.status == "pending_review").order_by(Entry.created_at)
    )
    lapsing_stmt = guardian.under_review(
        actor,
        select(Entry)
        .where(
            Entry.kind == "service",
            Entry.status == "published",
            Entry.confirm_asked_at.is_not(None),
        )
        .order_by(Entry.confirmed_at),
    )
    pending = list((await session.scalars(pending_stmt.limit(100))).all())
    lapsing = list((await session.scalars(lapsing_stmt.limit(100))).all())
    return await page(
        request,
        "directory/review.html",
        {
            "pending": pending,
            "lapsing": [(e, services.due_at(e)) for e in lapsing],
            "archive_after": services.ARCHIVE_AFTER,
            "category_name": taxonomy.category_name,
        },
    )


# --- Suggesting a service to a person (from a need or a match page)


async def suggest(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    actor = await actor_of(request)
    session = db(request)
    form = await form_with_csrf(request)
    entry = await guardian.readable(session, actor, "service", request.path_params["entry_id"])
    need = await guardian.need_to_refer(
        session, actor, text(form, "need_id") or None, text(form, "match_id") or None
    )
    await services.suggest(session, actor, entry, need, text(form, "note")[:1000])
    back = f"/matches/{text(form, 'match_id')}" if text(form, "match_id") else f"/posts/{need.id}"
    return redirect(with_flash(back, MSG_SUGGESTED))


async def my_suggestions(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    rows = (await db(request).execute(services.suggested_to(user.id))).all()
    return await page(
        request,
        "directory/suggested.html",
        {"suggestions": [(r, e) for r, e in rows], "category_name": taxonomy.category_name},
    )


routes = [
    Route("/services", service_search, methods=["GET"]),
    Route("/services.csv", services_csv, methods=["GET"]),
    Route("/services/new", _new("service"), methods=["GET", "POST"]),
    Route("/services/{entry_id}", service_detail, methods=["GET"]),
    Route("/services/{entry_id}/print", service_print, methods=["GET"]),
    Route("/services/{entry_id}/edit", _edit("service"), methods=["GET", "POST"]),
    Route("/services/{entry_id}/confirm", confirm, methods=["GET", "POST"]),
    Route("/services/{entry_id}/suggest", suggest, methods=["POST"]),
    Route("/events", event_list, methods=["GET"]),
    Route("/events/new", _new("event"), methods=["GET", "POST"]),
    Route("/events/{entry_id}.ics", event_ics, methods=["GET"]),
    Route("/events/{entry_id}", event_detail, methods=["GET"]),
    Route("/events/{entry_id}/edit", _edit("event"), methods=["GET", "POST"]),
    Route("/review/directory", review, methods=["GET", "POST"]),
    Route("/my/suggestions", my_suggestions, methods=["GET"]),
]
