"""An event as an iCalendar file (RFC 5545), written by the maintained `icalendar` package,
which folds long lines, escapes text and ends lines with CRLF as the RFC asks."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar, Event

from market.directory.models import Entry


def event_ics(entry: Entry, url: str, now: datetime) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Anlauf//Wegweiser//DE")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{entry.id}@anlauf")
    event.add("dtstamp", now.astimezone(UTC))
    if entry.starts_at is not None:
        event.add("dtstart", entry.starts_at.astimezone(UTC))
    if entry.ends_at is not None:
        event.add("dtend", entry.ends_at.astimezone(UTC))
    event.add("summary", entry.name)
    if entry.description:
        event.add("description", entry.description)
    event.add("location", entry.address)
    event.add("geo", (entry.lat, entry.lon))
    event.add("url", url)
    if entry.email:
        event.add(
            "organizer",
            f"mailto:{entry.email}",
            parameters={"CN": entry.organisation_name or entry.name},
        )
    cal.add_component(event)
    return bytes(cal.to_ical())
