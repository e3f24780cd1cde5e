"""Weekly time slots on the post form, without JavaScript: a fixed number of rows (weekday,
from, to); blank rows are ignored, a half-filled or impossible row is an error on that row,
and what was typed stays in the form."""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import FormData

from market.posts.taxonomy import N_

EMPTY_ROWS = 3  # blank rows offered below the stored slots
MAX_ROWS = 21  # as many as the API takes (posts.schemas.Slots)
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")
MSG_INCOMPLETE = N_("Please choose a day and write both times.")
MSG_TIME = N_("Please write the time like 09:30.")
MSG_ORDER = N_("The end time must be after the start time.")


def rows_for(slots: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The form rows for stored slots, plus the empty ones."""
    rows = [
        {"day": str(s["weekday"]), "start": str(s["start"]), "end": str(s["end"])}
        for s in slots[:MAX_ROWS]
    ]
    blank = {"day": "", "start": "", "end": ""}
    return rows + [dict(blank) for _ in range(min(EMPTY_ROWS, MAX_ROWS - len(rows)))]


def _minutes(hhmm: str) -> int:
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


def read(form: FormData) -> tuple[list[dict[str, str]], list[dict[str, Any]], dict[str, str]]:
    """(the rows as typed, the slots for the API schema, errors by row field `slot_N`)."""
    typed: list[dict[str, str]] = []
    slots: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for n in range(MAX_ROWS):
        day, start, end = (
            str(form.get(f"slot_{n}_{part}") or "").strip() for part in ("day", "start", "end")
        )
        if f"slot_{n}_day" not in form:
            break
        typed.append({"day": day, "start": start, "end": end})
        if not (day or start or end):
            continue
        if day not in {str(i) for i in range(7)} or not start or not end:
            errors[f"slot_{n}"] = MSG_INCOMPLETE
        elif not _TIME.match(start) or not _TIME.match(end):
            errors[f"slot_{n}"] = MSG_TIME
        elif _minutes(end) <= _minutes(start):
            errors[f"slot_{n}"] = MSG_ORDER
        else:
            slots.append({"weekday": int(day), "start": start, "end": end})
    return typed, slots, errors
