"""A city's catalogue as CSV: `anlauf directory import FILE.csv` and `/services.csv`.

One row a service, in the columns of COLUMNS (documented in the README). Lists are separated
by ";", opening hours are written "0 09:00-12:00; 2 14:00-18:00" (weekday 0 = Monday, Berlin
time). Import is all-or-nothing per row: a row that cannot be read is reported with its line
and field, and nothing is created from it; every other row is imported. Export writes the
published directory in the same columns, so an export imports into an empty installation as
the same directory.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.api import validation_errors
from market.db import utcnow
from market.directory import services
from market.directory.models import Entry, pack
from market.directory.schemas import ServiceIn
from market.errors import Invalid
from market.organisations.models import Organisation
from market.posts import geo

COLUMNS = (
    "name",
    "organisation",
    "topics",
    "languages",
    "description",
    "address",
    "lat",
    "lon",
    "opening_hours",
    "phone",
    "email",
    "website",
)


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str


def format_hours(hours: list[dict[str, Any]]) -> str:
    return "; ".join(f"{s['weekday']} {s['start']}-{s['end']}" for s in hours)


def parse_hours(text: str) -> list[dict[str, Any]] | str:
    """ "0 09:00-12:00; 2 14:00-18:00" -> slots (validated later), or the problem as text."""
    slots: list[dict[str, Any]] = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        try:
            day, span = part.split(None, 1)
            start, end = (t.strip() for t in span.split("-", 1))
            slots.append({"weekday": int(day), "start": start, "end": end})
        except ValueError:
            return f"Cannot read {part!r}; write it like 0 09:00-12:00 (0 is Monday)."
    return slots


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(";") if p.strip()]


def export_rows(entries: list[Entry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for e in entries:
        writer.writerow(
            [
                e.name,
                e.organisation_name,
                ";".join(e.topic_list),
                ";".join(e.language_list),
                e.description,
                e.address,
                repr(e.lat),
                repr(e.lon),
                format_hours(e.opening_hours),
                e.phone or "",
                e.email or "",
                e.website or "",
            ]
        )
    return out.getvalue()


async def published_services(session: AsyncSession) -> list[Entry]:
    stmt = (
        select(Entry)
        .where(Entry.kind == "service", Entry.status == "published")
        .order_by(Entry.name, Entry.id)
    )
    return list((await session.scalars(stmt)).all())


def _row_input(row: dict[str, str]) -> dict[str, Any] | RowError:
    data: dict[str, Any] = {
        "name": row.get("name", ""),
        "topics": _split(row.get("topics", "")),
        "languages": _split(row.get("languages", "")),
        "description": row.get("description", ""),
        "address": row.get("address", ""),
        "phone": row.get("phone") or None,
        "email": row.get("email") or None,
        "website": row.get("website") or None,
    }
    lat, lon = (row.get("lat") or "").strip(), (row.get("lon") or "").strip()
    if lat or lon:
        try:
            data["location"] = {"lat": float(lat), "lon": float(lon)}
        except ValueError:
            return RowError(0, "lat" if not _is_number(lat) else "lon", "Please enter a number.")
    hours = parse_hours(row.get("opening_hours", ""))
    if isinstance(hours, str):
        return RowError(0, "opening_hours", hours)
    data["opening_hours"] = hours
    return data


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _field(path: str) -> str:
    """A schema path as the CSV column: location.lat -> lat, topics.0 -> topics."""
    head = path.split(".")[0]
    if head == "location":
        return path.split(".")[1] if "." in path else "lat"
    return head


async def import_csv(
    session: AsyncSession, text: str, now: datetime | None = None
) -> tuple[int, list[RowError]]:
    """Import every readable row as a published service; (created, problems by line)."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [
        c for c in ("name", "topics", "languages", "address") if c not in (reader.fieldnames or [])
    ]
    if missing:
        return 0, [RowError(1, c, "This column is missing.") for c in missing]
    at = now or utcnow()
    orgs = {
        o.name: o
        for o in (
            await session.scalars(select(Organisation).where(Organisation.status == "approved"))
        )
    }
    created = 0
    errors: list[RowError] = []
    for row in reader:
        line = reader.line_num
        data = _row_input({k: (v or "") for k, v in row.items() if isinstance(k, str)})
        if isinstance(data, RowError):
            errors.append(RowError(line, data.field, data.message))
            continue
        try:
            service = ServiceIn.model_validate(data)
        except ValidationError as exc:
            first = validation_errors(exc)[0]
            errors.append(RowError(line, _field(first.field), first.message))
            continue
        try:
            lat, lon = await services.place_address(session, service.address, service.location)
        except Invalid as exc:
            errors.append(RowError(line, exc.errors[0].field, exc.errors[0].message))
            continue
        org_name = (row.get("organisation") or "").strip()
        org = orgs.get(org_name)
        region = await geo.region_for(session, lat, lon)
        entry = Entry(
            kind="service",
            name=service.name,
            organisation_id=org.id if org else None,
            organisation_name=org_name,
            topics=pack(service.topics),
            languages=pack(service.languages),
            description=service.description,
            address=service.address,
            lat=lat,
            lon=lon,
            region_id=region.id if region else None,
            opening_hours=[s.model_dump() for s in service.opening_hours],
            phone=service.phone,
            email=service.email,
            website=service.website,
        )
        entry.search_text = services.search_text(entry)
        services.publish(entry, at)
        session.add(entry)
        created += 1
    await session.flush()
    return created, errors
