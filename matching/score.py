"""How good a pair is: a score in [0, 1] with structured reasons the app translates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType

from matching.availability import overlap_minutes
from matching.categories import levels_below
from matching.languages import SharedLanguage, shared_between
from matching.model import Candidate
from matching.reach import Reach, reach

ReasonParam = str | int | float

# Weights of the five components; they sum to 1 so that the score stays in [0, 1].
# Category, language and distance are what makes a meeting work at all, so they carry most.
WEIGHT_CATEGORY = 0.25
WEIGHT_LANGUAGE = 0.25
WEIGHT_DISTANCE = 0.25
# Waiting time is fairness: enough to lift a need that has waited a month above a fresh one that
# fits slightly better, never enough to prefer a poor fit.
WEIGHT_WAITING = 0.15
# Availability is often not given (then neutral), so it only nudges.
WEIGHT_AVAILABILITY = 0.10

# An offer for the parent category helps, but less surely than one for the very subcategory;
# each level further up multiplies again.
PARENT_CATEGORY_FIT = 0.6
# At the edge of the radius a pair is still a match, so it keeps a little credit; nearer pairs
# gain linearly up to 1 at the same spot.
EDGE_OF_RADIUS_FIT = 0.1
# Neutral values: a remote-only pair has no distance, a post without slots no availability to
# compare; neither should win or lose on that count.
REMOTE_FIT = 0.5
UNKNOWN_AVAILABILITY_FIT = 0.5
# A weekly overlap of this many hours is enough for regular meetings; more does not help.
FULL_OVERLAP_HOURS = 3.0
# A need that has waited this long gets the full waiting credit; older is not more urgent.
FULL_WAITING_DAYS = 30.0


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason for a match, e.g. Reason("shared_language", {"language": "ar"})."""

    code: str
    params: Mapping[str, ReasonParam] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A read-only copy, so that a frozen Reason cannot change behind the caller's back.
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def __hash__(self) -> int:
        return hash((self.code, tuple(sorted(self.params.items()))))


# A region's run explains hundreds of thousands of pairs with the same few dozen languages and
# categories and distances in tenths of a km; a Reason is frozen, so one instance serves them all.
@lru_cache(maxsize=8192)
def _reason(code: str, *params: tuple[str, ReasonParam]) -> Reason:
    return Reason(code, dict(params))


@dataclass(frozen=True, slots=True)
class Scored:
    """A scored offer-need pair, best explained by its reasons."""

    offer_id: str
    need_id: str
    score: float
    reasons: tuple[Reason, ...]
    distance_km: float | None

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score must be within 0..1, got {self.score}")


def score(candidate: Candidate, now: datetime) -> Scored:
    """Score a pair; meant for pairs that passed `check`, but defined for any pair."""
    offer, need = candidate.offer, candidate.need
    return scored(
        candidate, now, levels_below(offer, need), shared_between(offer, need), reach(offer, need)
    )


def scored(
    candidate: Candidate,
    now: datetime,
    below: int | None,
    shared: list[SharedLanguage],
    where: Reach,
) -> Scored:
    """`score`, given the facts that `check` works out as well (`levels_below`,
    `shared_between`, `reach`), so that `rules.judge` works each out only once."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    reasons: list[Reason] = []
    parts = (
        (WEIGHT_CATEGORY, _category(candidate, below, reasons)),
        (WEIGHT_LANGUAGE, _language(shared, reasons)),
        (WEIGHT_DISTANCE, _distance(where, reasons)),
        (WEIGHT_AVAILABILITY, _availability(candidate, reasons)),
        (WEIGHT_WAITING, _waiting(candidate, now, reasons)),
    )
    total = sum(weight * fit for weight, fit in parts)
    return Scored(
        offer_id=candidate.offer.id,
        need_id=candidate.need.id,
        # Floating-point sums can land a hair outside [0, 1].
        score=min(1.0, max(0.0, total)),
        reasons=tuple(reasons),
        distance_km=where.distance_km,
    )


def _category(candidate: Candidate, below: int | None, reasons: list[Reason]) -> float:
    offer, need = candidate.offer, candidate.need
    if below is None:
        return 0.0
    if below == 0:
        reasons.append(_reason("same_category", ("category", need.category)))
        return 1.0
    reasons.append(
        _reason("parent_category", ("category", offer.category), ("subcategory", need.category))
    )
    return float(PARENT_CATEGORY_FIT**below)


def _language(shared: list[SharedLanguage], reasons: list[Reason]) -> float:
    reasons.extend(_reason("shared_language", ("language", s.language)) for s in shared)
    # One good common language is all a conversation needs; more do not add up.
    return shared[0].weight if shared else 0.0


def _distance(where: Reach, reasons: list[Reason]) -> float:
    fit = 0.0
    if where.in_person and where.distance_km is not None:
        reasons.append(_reason("distance", ("km", round(where.distance_km, 1))))
        fit = _distance_decay(where.distance_km, where.radius_km)
    if where.remote:
        reasons.append(_reason("remote"))
        # Either way of meeting is open; the better one counts, which keeps nearer never worse.
        fit = max(fit, REMOTE_FIT)
    return fit


def _distance_decay(km: float, radius_km: float) -> float:
    if radius_km <= 0:
        return 1.0
    return 1.0 - (1.0 - EDGE_OF_RADIUS_FIT) * min(1.0, km / radius_km)


def _availability(candidate: Candidate, reasons: list[Reason]) -> float:
    offer_slots, need_slots = candidate.offer.slots, candidate.need.slots
    if not offer_slots or not need_slots:
        return UNKNOWN_AVAILABILITY_FIT
    hours = overlap_minutes(offer_slots, need_slots) / 60
    if hours == 0:
        reasons.append(_reason("no_time_overlap"))
        return 0.0
    reasons.append(_reason("time_overlap", ("hours", round(hours, 1))))
    return min(1.0, hours / FULL_OVERLAP_HOURS)


def _waiting(candidate: Candidate, now: datetime, reasons: list[Reason]) -> float:
    # A need published "in the future" (clock skew) has simply not waited yet.
    days = max(0.0, (now - candidate.need.published_at).total_seconds() / 86400)
    if days >= 1:
        reasons.append(_reason("waiting", ("days", int(days))))
    return min(1.0, days / FULL_WAITING_DAYS)
