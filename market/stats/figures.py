"""What a statistics report holds: the figures per total, category, language and region, and
how the rows of market.stats.queries are added to them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DIMENSIONS = ("category", "language", "region")
DAY = 86400
MATCH_KEYS = ("proposed", "connected", "declined", "expired", "met")
NEED_KEYS = ("created", "matched_within_7_days", "matched_within_30_days", "waiting")
VOLUNTEER_KEYS = ("approved", "active_90_days")


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime  # exclusive


@dataclass
class Figures:
    """One row of the statistics: the total, or one category, language or region."""

    needs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NEED_KEYS, 0))
    contact_seconds: list[int] = field(default_factory=list)
    contact_days: dict[str, float | None] = field(
        default_factory=lambda: {"median": None, "p90": None}
    )
    matches: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MATCH_KEYS, 0))
    volunteers: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VOLUNTEER_KEYS, 0))

    def as_json(self) -> dict[str, Any]:
        return {
            "needs": dict(self.needs),
            "time_to_first_contact_days": dict(self.contact_days),
            "matches": dict(self.matches),
            "volunteers": dict(self.volunteers),
        }


@dataclass
class Report:
    period: Period
    total: Figures
    # dimension -> key (category slug, language code, region id or None) -> figures
    groups: dict[str, dict[str | None, Figures]]


def percentile(values: list[int], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / DAY, 2)


def grouped(
    total: Figures,
    groups: dict[str, dict[str | None, Figures]],
    sets: int,
    category: str | None,
    region: str | None,
) -> Figures:
    """The figures a GROUPING SETS row belongs to: grouping(category, region) is 3 for the
    total, 1 for a category (region left out), 2 for a region."""
    if sets == 3:
        return total
    if sets == 1:
        return groups["category"][category]
    return groups["region"][region]


def add_matches(figures: Figures, status: str, count: Any, met_count: Any) -> None:
    matches = figures.matches
    if status in matches:
        matches[status] += int(count)
    matches["met"] += int(met_count or 0)


def set_volunteers(figures: Figures, approved: Any, active: Any) -> None:
    figures.volunteers["approved"] = int(approved or 0)
    figures.volunteers["active_90_days"] = int(active or 0)


def set_needs(figures: Figures, created: Any, week: Any, month: Any, still: Any) -> None:
    needs = figures.needs
    needs["created"] = int(created or 0)
    needs["matched_within_7_days"] = int(week or 0)
    needs["matched_within_30_days"] = int(month or 0)
    needs["waiting"] = int(still or 0)


class Single(dict[str | None, Figures]):
    """The total: every key (there is only None) is the one Figures."""

    def __init__(self, figures: Figures) -> None:
        super().__init__()
        self.figures = figures

    def __missing__(self, key: str | None) -> Figures:
        return self.figures
