"""Reading the period, and the statistics as JSON and as CSV rows (the API and the page share it)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market.errors import FieldError, Invalid
from market.stats.figures import (
    DIMENSIONS,
    MATCH_KEYS,
    NEED_KEYS,
    VOLUNTEER_KEYS,
    Period,
    Report,
)
from market.stats.guardian import Scope
from market.stats.queries import Statistics, region_names

DEFAULT_DAYS = 30
# A longer period is allowed; this only keeps a typo ("20025") from scanning for ever.
MAX_DAYS = 366 * 10
CSV_COLUMNS = (
    "dimension",
    "key",
    *(f"needs_{k}" for k in NEED_KEYS),
    "time_to_first_contact_days_median",
    "time_to_first_contact_days_p90",
    *(f"matches_{k}" for k in MATCH_KEYS),
    *(f"volunteers_{k}" for k in VOLUNTEER_KEYS),
)


def _moment(raw: str, name: str, end: bool) -> datetime:
    """An ISO 8601 date (a whole day: `to` includes it) or timestamp (UTC unless it says)."""
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime.combine(day, time(), tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        parsed = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise Invalid.one(name, "Give a date such as 2027-01-31.") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_period(params: Mapping[str, str], now: datetime) -> Period:
    """`from` and `to` (both optional): by default the 30 days up to now."""
    raw_from, raw_to = params.get("from", "").strip(), params.get("to", "").strip()
    end = _moment(raw_to, "to", end=True) if raw_to else now
    start = _moment(raw_from, "from", end=False) if raw_from else end - timedelta(DEFAULT_DAYS)
    errors = []
    if start >= end:
        errors.append(FieldError("from", "The start must be before the end."))
    elif end - start > timedelta(days=MAX_DAYS):
        errors.append(FieldError("from", "Choose a period of at most ten years."))
    if errors:
        raise Invalid(errors)
    return Period(start=start, end=end)


async def build(session: AsyncSession, scope: Scope, period: Period, now: datetime) -> Report:
    return await Statistics(session, scope.region_ids, period, now).report()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def as_json(session: AsyncSession, scope: Scope, report: Report) -> dict[str, Any]:
    regions = await region_names(session, report.groups["region"].keys())

    def rows(dimension: str, name: str) -> list[dict[str, Any]]:
        found = report.groups[dimension]
        out = []
        for key in sorted(found, key=lambda k: (k is None, k or "")):
            row: dict[str, Any] = {name: key}
            if dimension == "region":
                region = regions.get(key or "")
                row = {
                    "region": region.slug if region else None,
                    "name": region.name if region else None,
                }
            row.update(found[key].as_json())
            out.append(row)
        return out

    return {
        "region": scope.region.slug if scope.region else None,
        "from": _iso(report.period.start),
        "to": _iso(report.period.end),
        **report.total.as_json(),
        "by_category": rows("category", "category"),
        "by_language": rows("language", "language"),
        "by_region": rows("region", "region"),
    }


def _csv_row(dimension: str, key: str, figures: Mapping[str, Any]) -> list[Any]:
    contact = figures["time_to_first_contact_days"]
    return [
        dimension,
        key,
        *(figures["needs"][k] for k in NEED_KEYS),
        "" if contact["median"] is None else contact["median"],
        "" if contact["p90"] is None else contact["p90"],
        *(figures["matches"][k] for k in MATCH_KEYS),
        *(figures["volunteers"][k] for k in VOLUNTEER_KEYS),
    ]


def as_csv(data: Mapping[str, Any]) -> str:
    """The JSON's figures as rows: the total first, then each category, language and region."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerow(_csv_row("total", "", data))
    keys = {"category": "category", "language": "language", "region": "region"}
    for dimension in DIMENSIONS:
        for row in data[f"by_{dimension}"]:
            writer.writerow(_csv_row(dimension, row[keys[dimension]] or "", row))
    return out.getvalue()
