"""Directory use cases: write, change, review, search, suggest; each flushes, never commits."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.actor import Actor
from market.api import iso
from market.db import utcnow
from market.directory import guardian, hours
from market.directory.models import Entry, EntryStatus, Referral, pack
from market.directory.schemas import EventIn, PointIn, ServiceIn, ServicePatch, in_berlin
from market.errors import Conflict, Invalid
from market.i18n import LOCALES, use_locale
from market.organisations.models import Organisation
from market.posts import geo, taxonomy
from market.posts.models import Post
from market.text import plain_text
from notifications.inapp import notify

MSG_UNPLACEABLE = "We cannot find this address on the map. Please give a postcode and city."
CONFIRM_EVERY = timedelta(days=180)
ARCHIVE_AFTER = timedelta(days=30)
_POSTCODE = re.compile(r"\b(\d{5})\b")


async def place_address(
    session: AsyncSession, address: str, location: PointIn | None
) -> tuple[float, float]:
    """The point of an entry: given coordinates, else the postcode, else a city in the address.

    Geocoding stays offline (the bundled gazetteer and imported postcodes), so a street is
    placed at its postcode's or city's centre; organisations can give exact coordinates."""
    if location is not None:
        return location.lat, location.lon
    found = _POSTCODE.search(address)
    if found:
        place = await geo.find_postcode(session, found.group(1))
        if place is not None:
            return place.lat, place.lon
    # "Eisenbahnstraße 66, 04315 Leipzig": try each comma part, the last first, without digits.
    for part in reversed(address.split(",")):
        words = " ".join(w for w in part.split() if not any(ch.isdigit() for ch in w))
        city = geo.find_city(words) if words else None
        if city is not None:
            return city.lat, city.lon
    raise Invalid.one("address", MSG_UNPLACEABLE)


def search_text(entry: Entry) -> str:
    """What words find: name, description, address, operator, and the topics' names in every
    page language, so "Wohnung", "housing" and "سكن" all find a housing service."""
    names = _topic_names(entry.topic_list)
    return f"{entry.name}\n{entry.description}\n{entry.address}\n{entry.organisation_name}\n{names}".lower()


def _topic_names(topics: list[str]) -> str:
    names: list[str] = []
    for locale in LOCALES:
        with use_locale(locale):  # category_name reads the current language
            names.extend(taxonomy.category_name(t) for t in topics)
    return " ".join(names)


async def _organisation_name(session: AsyncSession, org_id: str | None) -> str:
    org = await session.get(Organisation, org_id) if org_id else None
    return org.name if org is not None else ""


async def _apply(
    session: AsyncSession, entry: Entry, data: ServiceIn | EventIn | ServicePatch
) -> None:
    given = data.model_fields_set
    if data.name is not None:
        entry.name = plain_text(data.name).strip() or entry.name
    if data.topics is not None:
        entry.topics = pack(data.topics)
    if data.languages is not None:
        entry.languages = pack(data.languages)
    if data.description is not None:
        entry.description = plain_text(data.description)
    if data.address is not None or data.location is not None:
        entry.address = plain_text(data.address or entry.address).strip()
        entry.lat, entry.lon = await place_address(session, entry.address, data.location)
        region = await geo.region_for(session, entry.lat, entry.lon)
        entry.region_id = region.id if region else None
    for name in ("phone", "email", "website"):
        if name in given:
            setattr(entry, name, getattr(data, name))
    if isinstance(data, ServiceIn) or (
        isinstance(data, ServicePatch) and data.opening_hours is not None
    ):
        slots = data.opening_hours or []
        entry.opening_hours = [s.model_dump() for s in slots]
    if isinstance(data, EventIn | ServicePatch):
        starts = data.starts_at or entry.starts_at
        ends = data.ends_at or entry.ends_at
        if starts is not None and ends is not None:
            starts, ends = in_berlin(starts), in_berlin(ends)
            if ends <= starts:
                raise Invalid.one("ends_at", "The end must be after the start.")
            entry.starts_at, entry.ends_at = starts, ends
    entry.search_text = search_text(entry)


async def create(
    session: AsyncSession, actor: Actor, kind: str, data: ServiceIn | EventIn
) -> Entry:
    org_id = await guardian.writer_organisation(session, actor, data.organisation_id)
    entry = Entry(
        kind=kind,
        organisation_id=org_id,
        organisation_name=await _organisation_name(session, org_id),
        author_id=actor.id,
        address=data.address,
        status="pending_review",
        opening_hours=[],
    )
    await _apply(session, entry, data)
    session.add(entry)
    if guardian.publishes_at_once(actor, entry.region_id):
        publish(entry, utcnow())
    await session.flush()
    return entry


async def update(session: AsyncSession, entry: Entry, data: ServicePatch) -> Entry:
    if entry.kind == "service" and (data.starts_at or data.ends_at):
        raise Invalid.one("starts_at", "Services have opening hours, not a start and an end.")
    if entry.kind == "event" and data.opening_hours is not None:
        raise Invalid.one("opening_hours", "Events have a start and an end, not opening hours.")
    await _apply(session, entry, data)
    await session.flush()
    return entry


def publish(entry: Entry, now: datetime) -> None:
    entry.status = EntryStatus.PUBLISHED
    entry.published_at = now
    entry.confirmed_at = now
    entry.confirm_asked_at = None
    entry.archived_at = None


async def decide(session: AsyncSession, entry: Entry, decision: str) -> Entry:
    if entry.status != "pending_review":
        raise Conflict("This entry has been decided already.")
    if decision == "publish":
        publish(entry, utcnow())
    else:
        entry.status = EntryStatus.REJECTED
    await session.flush()
    return entry


async def confirm(session: AsyncSession, entry: Entry, now: datetime | None = None) -> Entry:
    """The organisation says the service is still right: another 180 days; an archived one is
    back in search."""
    if entry.status not in ("published", "archived"):
        raise Conflict("Only published or archived services can be confirmed.")
    at = now or utcnow()
    entry.status = EntryStatus.PUBLISHED
    entry.confirmed_at = at
    entry.confirm_asked_at = None
    entry.archived_at = None
    await session.flush()
    return entry


def due_at(entry: Entry) -> datetime | None:
    """When the service must next be confirmed."""
    base = entry.confirmed_at or entry.published_at
    return base + CONFIRM_EVERY if base is not None else None


# --- Serialising


async def translations(
    session: AsyncSession, entries: list[Entry], target: str | None = None
) -> dict[str, dict[str, str] | None]:
    """entry id -> {"lang", "description"} machine-translated into the reader's language, where
    ANLAUF_TRANSLATE_URL is set (market.translation: cache first, never more than its budget,
    the original on any fault); None where there is nothing to translate or no translation."""
    from market.translation import service as translation  # imported late, as posts do

    result: dict[str, dict[str, str] | None] = {e.id: None for e in entries}
    wanted = [e for e in entries if e.description.strip()]
    if not wanted:
        return result
    language = translation.reader_language(target)
    items = [translation.Item(e.description, None, ("directory", e.id)) for e in wanted]
    found = await translation.translate(session, items, language)
    for entry in wanted:
        text = found.get(entry.description)
        if text is not None and text != entry.description:
            result[entry.id] = {"lang": language, "description": text}
    return result


def to_json(
    entry: Entry,
    distance_km: float | None = None,
    translation: dict[str, str] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": entry.id,
        "name": entry.name,
        "organisation": {"id": entry.organisation_id, "name": entry.organisation_name}
        if entry.organisation_id or entry.organisation_name
        else None,
        "topics": entry.topic_list,
        "description": entry.description,
        "languages": entry.language_list,
        "address": entry.address,
        "location": {"lat": entry.lat, "lon": entry.lon},
    }
    if entry.kind == "service":
        data["opening_hours"] = entry.opening_hours
    else:
        data["starts_at"] = iso(entry.starts_at)
        data["ends_at"] = iso(entry.ends_at)
    data |= {
        "phone": entry.phone,
        "email": entry.email,
        "website": entry.website,
        "status": entry.status,
        "confirmed_at": iso(entry.confirmed_at),
        # {"lang", "description"} in the reader's language, or null (see `translations`).
        "translation": translation,
    }
    if distance_km is not None:
        data["distance_km"] = round(distance_km, 1)
    return data


# --- Finding


def _has(column: Any, code: str) -> Any:
    return or_(column.like(f"%|{code}|%"), column.like(f"%|{code}-%"))


def _filters(
    stmt: Select[Any], topic: str | None, language: str | None, q: str | None
) -> Select[Any]:
    if topic:
        stmt = stmt.where(or_(*(Entry.topics.like(f"%|{t}|%") for t in taxonomy.subtree(topic))))
    if language:
        stmt = stmt.where(_has(Entry.languages, language))
    for word in (q or "").lower().split()[:8]:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Entry.search_text.like(f"%{escaped}%", escape="\\"))
    return stmt


async def find_services(
    session: AsyncSession,
    *,
    topic: str | None = None,
    language: str | None = None,
    q: str | None = None,
    near: tuple[float, float, float] | None = None,
    open_at: datetime | None = None,
) -> list[tuple[Entry, float | None]]:
    """Published services, nearest first when a place is given, else by name."""
    stmt = select(Entry).where(Entry.kind == "service", Entry.status == "published")
    stmt = _filters(stmt, topic, language, q)
    if near is not None:
        lat, _lon, radius = near
        dlat = radius / geo.KM_PER_DEGREE
        stmt = stmt.where(Entry.lat.between(lat - dlat, lat + dlat))
    found: list[tuple[Entry, float | None]] = []
    for entry in (await session.scalars(stmt.order_by(Entry.name, Entry.id))).all():
        distance = None
        if near is not None:
            distance = geo.haversine_km(near[0], near[1], entry.lat, entry.lon)
            if distance > near[2]:
                continue
        if open_at is not None and not hours.is_open(entry.opening_hours, open_at):
            continue
        found.append((entry, distance))
    if near is not None:
        found.sort(key=lambda pair: (pair[1] or 0.0, pair[0].name))
    return found


def events_query(
    *,
    topic: str | None = None,
    language: str | None = None,
    q: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> Select[Any]:
    """Published events that have not ended (past ones leave by themselves), soonest first."""
    at = now or utcnow()
    stmt = select(Entry).where(
        Entry.kind == "event", Entry.status == "published", Entry.ends_at > max(at, start or at)
    )
    if end is not None:
        stmt = stmt.where(Entry.starts_at < end)
    return _filters(stmt, topic, language, q)


# --- Referral


async def suggest(
    session: AsyncSession, actor: Actor, entry: Entry, need: Post, note: str
) -> Referral:
    """Tell the need's author about a service: a notification and a card on their page."""
    referral = Referral(
        entry_id=entry.id,
        to_user_id=need.author_id,
        from_user_id=actor.id,
        post_id=need.id,
        note=plain_text(note).strip(),
    )
    session.add(referral)
    await session.flush()
    await notify(
        session,
        user_id=need.author_id,
        kind="service.suggested",
        data={"service_id": entry.id, "service_name": entry.name, "post_title": need.title},
    )
    return referral


def suggested_to(user_id: str) -> Any:
    """The services suggested to a person, newest first (published ones only)."""
    return (
        select(Referral, Entry)
        .join(Entry, Entry.id == Referral.entry_id)
        .where(Referral.to_user_id == user_id, Entry.status == "published")
        .order_by(Referral.created_at.desc())
        .limit(20)
    )
