"""Opening hours: "open now" in Europe/Berlin, and the hours in the reader's locale.

Hours are weekly slots as on posts: weekday 0-6 with Monday 0, "HH:MM" local time in Berlin,
where every service in the directory is; "24:00" ends a slot at midnight.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_time, get_day_names

from market.i18n import babel_locale, get_locale, gettext, use_locale

BERLIN = ZoneInfo("Europe/Berlin")


def _minutes(hhmm: str) -> int:
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


def is_open(hours: list[dict[str, Any]], at: datetime) -> bool:
    """Whether one of the weekly slots holds `at` (any zone; compared as Berlin wall time)."""
    local = at.astimezone(BERLIN)
    now = local.hour * 60 + local.minute
    return any(
        int(slot["weekday"]) == local.weekday()
        and _minutes(str(slot["start"])) <= now < _minutes(str(slot["end"]))
        for slot in hours
    )


def _clock(hhmm: str, locale: str | None) -> str:
    if hhmm == "24:00":  # the end of the day reads as midnight, as on a door sign
        hhmm = "00:00"
    hours, mins = hhmm.split(":")
    return format_time(time(int(hours), int(mins)), format="short", locale=babel_locale(locale))


def _span(slot: dict[str, Any], locale: str | None) -> str:
    if slot["start"] == "00:00" and slot["end"] == "24:00":
        with use_locale(locale or get_locale()):
            return gettext("Open all day")
    return f"{_clock(str(slot['start']), locale)}–{_clock(str(slot['end']), locale)}"


def week(hours: list[dict[str, Any]], locale: str | None = None) -> list[tuple[str, list[str]]]:
    """Each weekday with hours, in order, as (day name, ["09:00–12:00", ...]) in the locale."""
    names = get_day_names("wide", locale=babel_locale(locale))
    days: list[tuple[str, list[str]]] = []
    for weekday in range(7):
        slots = sorted(
            (s for s in hours if int(s["weekday"]) == weekday), key=lambda s: str(s["start"])
        )
        if slots:
            days.append(
                (
                    names[weekday],
                    [_span(s, locale) for s in slots],
                )
            )
    return days
