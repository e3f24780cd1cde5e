"""The demo directory: about fifteen services in Leipzig and Halle and a few events.

Read from data/demo.json (fictional, marked as demo data like the rest of the demo city) and
loaded by `anlauf demo` / `serve --demo` through one call in market/demo.py. Entries of a demo
organisation belong to it; the others name their operator only.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.directory import services, transfer
from market.directory.hours import BERLIN
from market.directory.models import Entry, pack
from market.organisations.models import Organisation
from market.posts import geo

DATA = Path(__file__).resolve().parent / "data" / "demo.json"


def _at(day: datetime, hhmm: str) -> datetime:
    hours, mins = hhmm.split(":")
    return datetime.combine(day.astimezone(BERLIN).date(), time(int(hours), int(mins)), BERLIN)


async def load_directory(session: AsyncSession, now: datetime) -> int:
    """Add the demo services and events, published, as if confirmed in the last months."""
    data: dict[str, Any] = json.loads(DATA.read_text(encoding="utf-8"))
    orgs = {o.name: o for o in (await session.scalars(select(Organisation))).all()}
    created = 0
    for index, item in enumerate([*data["services"], *data["events"]]):
        org = orgs.get(item["organisation"])
        kind = "event" if "in_days" in item else "service"
        region = await geo.region_for(session, item["lat"], item["lon"])
        entry = Entry(
            kind=kind,
            name=item["name"],
            organisation_id=org.id if org is not None and org.status == "approved" else None,
            organisation_name=item["organisation"],
            topics=pack(item["topics"]),
            languages=pack(item["languages"]),
            description=item["description"],
            address=item["address"],
            lat=item["lat"],
            lon=item["lon"],
            region_id=region.id if region else None,
            phone=item["phone"],
            email=item["email"],
            website=item["website"],
            opening_hours=[],
        )
        if kind == "service":
            hours = transfer.parse_hours(item["hours"])
            assert not isinstance(hours, str), item["hours"]
            entry.opening_hours = hours
        else:
            day = now + timedelta(days=int(item["in_days"]))
            entry.starts_at, entry.ends_at = _at(day, item["start"]), _at(day, item["end"])
        entry.search_text = services.search_text(entry)
        # Confirmed at different times, so the freshness rule has something to do one day.
        services.publish(entry, now - timedelta(days=10 + 11 * index))
        entry.created_at = entry.published_at or now
        session.add(entry)
        created += 1
    await session.flush()
    return created
