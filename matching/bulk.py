"""Judging many pairs at once, for a region's run: the rules and the score of `judge`, bit for
bit, computed a column at a time with numpy instead of a pair at a time.

A city's run judges hundreds of thousands of pairs, and `judge` spends most of its time building
the reasons that only the few assigned pairs will show. Here each fact is worked out once per
post (published, vetted, certificate, languages, waiting time) or once per distinct pair of
categories or of time slots, and combined per pair with the same floating-point operations in
the same order as `score`, so that the scores are identical, not merely close
(tests/matching/test_bulk.py). Two things stay per pair in Python because numpy's own sine and
cosine may differ from the C library's in the last bit: the great-circle distance
(`haversine_km`) and the overlap of time slots (`overlap_minutes`, memoised).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from numpy.typing import NDArray

from matching.availability import overlap_minutes
from matching.geo import EARTH_RADIUS_KM, haversine_km
from matching.model import LEVEL_WEIGHT, PostFacts, TimeSlot, VolunteerFacts
from matching.reach import radius_of_offer
from matching.score import (
    EDGE_OF_RADIUS_FIT,
    FULL_OVERLAP_HOURS,
    FULL_WAITING_DAYS,
    PARENT_CATEGORY_FIT,
    REMOTE_FIT,
    UNKNOWN_AVAILABILITY_FIT,
    WEIGHT_AVAILABILITY,
    WEIGHT_CATEGORY,
    WEIGHT_DISTANCE,
    WEIGHT_LANGUAGE,
    WEIGHT_WAITING,
)

# Pairs per slice of the language comparison, whose temporary arrays grow with the number of
# languages in the region; this keeps them to a few MB.
_SLICE = 65_536

Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]
Indexes = NDArray[np.intp]
# (need index, offer index) pairs: as tuples, or as an array of shape (n, 2).
Pairs = Iterable[tuple[int, int]] | NDArray[np.intp]


@dataclass(frozen=True)
class Judged:
    """The pairs that pass every rule: need index, offer index and score, in the given order."""

    need: Indexes
    offer: Indexes
    score: Floats


def judge_pairs(
    needs: Sequence[PostFacts],
    offers: Sequence[PostFacts],
    volunteers: Sequence[VolunteerFacts],
    requires_certificate: Sequence[bool],
    declined: Iterable[tuple[int, int]],
    pairs: Pairs,
    now: datetime,
    today: date,
) -> Judged:
    """`judge` for every (need index, offer index) of `pairs`.

    `volunteers[j]` is the author of `offers[j]`; `requires_certificate[i]` tells whether the
    category of `needs[i]` asks for a police certificate; `declined` holds the (need index,
    offer index) pairs that either side declined before.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    need, offer = _pair_arrays(needs, offers, volunteers, requires_certificate, pairs)

    keep = _published_and_vetted(needs, offers, volunteers, need, offer)
    keep &= _certified_where_asked(volunteers, requires_certificate, need, offer, today)
    keep &= ~_declined(declined, need, offer, len(offers))
    need, offer = need[keep], offer[keep]

    category = _category_fit(needs, offers, need, offer)
    language = _language_fit(needs, offers, need, offer)
    distance, reachable = _distance_fit(needs, offers, need, offer)
    keep = (category >= 0.0) & (language > 0.0) & reachable
    need, offer = need[keep], offer[keep]
    category, language, distance = category[keep], language[keep], distance[keep]
    availability = _availability_fit(needs, offers, need, offer)
    waiting = np.array([_waiting(n, now) for n in needs], dtype=np.float64)[need]

    # As `score`: sum() adds the weighted parts one after the other, starting from 0.
    total = np.zeros(need.size, dtype=np.float64)
    for weight, fit in (
        (WEIGHT_CATEGORY, category),
        (WEIGHT_LANGUAGE, language),
        (WEIGHT_DISTANCE, distance),
        (WEIGHT_AVAILABILITY, availability),
        (WEIGHT_WAITING, waiting),
    ):
        total = total + weight * fit
    return Judged(need=need, offer=offer, score=np.minimum(1.0, np.maximum(0.0, total)))


# The rules in the order `first_failures` reports them; published and vetted count as one.
FAILURE_ORDER = ("category", "language", "reach", "volunteer", "certificate", "declined")


def first_failures(
    needs: Sequence[PostFacts],
    offers: Sequence[PostFacts],
    volunteers: Sequence[VolunteerFacts],
    requires_certificate: Sequence[bool],
    declined: Iterable[tuple[int, int]],
    pairs: Pairs,
    today: date,
) -> NDArray[np.int8]:
    """For each pair, the first rule of FAILURE_ORDER that `check` says it breaks (its index),
    or len(FAILURE_ORDER) where it breaks none: what a coordinator's view of unmatched needs
    counts, for hundreds of thousands of pairs. Arguments as for `judge_pairs`."""
    need, offer = _pair_arrays(needs, offers, volunteers, requires_certificate, pairs)
    people_ok = _published_and_vetted(needs, offers, volunteers, need, offer)
    certified = _certified_where_asked(volunteers, requires_certificate, need, offer, today)
    broken = (
        _category_fit(needs, offers, need, offer) < 0.0,
        _language_fit(needs, offers, need, offer) <= 0.0,
        ~_distance_fit(needs, offers, need, offer)[1],
        ~people_ok,
        ~certified,
        _declined(declined, need, offer, len(offers)),
    )
    first = np.full(need.size, len(FAILURE_ORDER), dtype=np.int8)
    for index in reversed(range(len(FAILURE_ORDER))):
        first[broken[index]] = index
    return first


def _pair_arrays(
    needs: Sequence[PostFacts],
    offers: Sequence[PostFacts],
    volunteers: Sequence[VolunteerFacts],
    requires_certificate: Sequence[bool],
    pairs: Pairs,
) -> tuple[Indexes, Indexes]:
    if len(volunteers) != len(offers) or len(requires_certificate) != len(needs):
        raise ValueError("one volunteer per offer and one certificate flag per need")
    if isinstance(pairs, np.ndarray):
        flat = np.asarray(pairs, dtype=np.intp).reshape(-1)
    else:
        flat = np.fromiter((k for p in pairs for k in p), dtype=np.intp)
    need, offer = flat[0::2], flat[1::2]
    if need.size and (need.max() >= len(needs) or offer.max() >= len(offers) or flat.min() < 0):
        raise ValueError("a pair names a need or an offer that is not given")
    return need, offer


def _published_and_vetted(
    needs: Sequence[PostFacts],
    offers: Sequence[PostFacts],
    volunteers: Sequence[VolunteerFacts],
    need: Indexes,
    offer: Indexes,
) -> Bools:
    need_ok = np.array([n.published for n in needs], dtype=np.bool_)
    offer_ok = np.array(
        [o.published and v.approved for o, v in zip(offers, volunteers, strict=True)],
        dtype=np.bool_,
    )
    result: Bools = need_ok[need] & offer_ok[offer]
    return result


def _certified_where_asked(
    volunteers: Sequence[VolunteerFacts],
    requires_certificate: Sequence[bool],
    need: Indexes,
    offer: Indexes,
    today: date,
) -> Bools:
    requires = np.array(requires_certificate, dtype=np.bool_)
    certified = np.array(
        [
            v.police_certificate_until is not None and v.police_certificate_until >= today
            for v in volunteers
        ],
        dtype=np.bool_,
    )
    result: Bools = ~requires[need] | certified[offer]
    return result


def _declined(
    declined: Iterable[tuple[int, int]], need: Indexes, offer: Indexes, offer_count: int
) -> Bools:
    codes = np.array([i * offer_count + j for i, j in declined], dtype=np.int64)
    if codes.size == 0:
        return np.zeros(need.size, dtype=np.bool_)
    found: Bools = np.isin(need.astype(np.int64) * offer_count + offer, codes)
    return found


def _ids(values: Sequence[object]) -> tuple[NDArray[np.intp], list[object]]:
    """A small integer per distinct value, and the distinct values."""
    known: dict[object, int] = {}
    ids = np.array([known.setdefault(v, len(known)) for v in values], dtype=np.intp)
    return ids, list(known)


def _category_fit(
    needs: Sequence[PostFacts], offers: Sequence[PostFacts], need: Indexes, offer: Indexes
) -> Floats:
    """`score._category` per pair, -1 where the need is outside the offer's subtree: a table
    over the few distinct pairs of categories."""
    need_path, need_paths = _ids([n.category_path for n in needs])
    offer_path, offer_paths = _ids([o.category_path for o in offers])
    table = np.full((len(offer_paths), len(need_paths)), -1.0)
    for a, offer_post in enumerate(offer_paths):
        for b, need_post in enumerate(need_paths):
            assert isinstance(offer_post, tuple) and isinstance(need_post, tuple)
            depth = len(offer_post)
            if need_post[:depth] == offer_post:
                below = len(need_post) - depth
                table[a, b] = 1.0 if below == 0 else float(PARENT_CATEGORY_FIT**below)
    fit: Floats = table[offer_path[offer], need_path[need]]
    return fit


def _language_fit(
    needs: Sequence[PostFacts], offers: Sequence[PostFacts], need: Indexes, offer: Indexes
) -> Floats:
    """The weight of the best shared language (`score._language`), 0 where none is shared."""
    tags = sorted({tag for p in (*needs, *offers) for tag in p.levels})
    column = {tag: k for k, tag in enumerate(tags)}

    def weights(posts: Sequence[PostFacts]) -> Floats:
        table = np.zeros((len(posts), len(tags)))
        for row, post in enumerate(posts):
            for tag, level in post.levels.items():
                table[row, column[tag]] = LEVEL_WEIGHT[level]
        return table

    need_weights, offer_weights = weights(needs), weights(offers)
    fit = np.zeros(need.size, dtype=np.float64)
    for start in range(0, need.size, _SLICE):
        part = slice(start, start + _SLICE)
        both = np.minimum(need_weights[need[part]], offer_weights[offer[part]])
        fit[part] = both.max(axis=1, initial=0.0)
    return fit


def _distance_fit(
    needs: Sequence[PostFacts], offers: Sequence[PostFacts], need: Indexes, offer: Indexes
) -> tuple[Floats, Bools]:
    """`score._distance` per pair, and whether the pair can meet at all (`reach`)."""

    def column(posts: Sequence[PostFacts], value: str) -> Floats:
        return np.array(
            [getattr(p, value) if getattr(p, value) is not None else np.nan for p in posts]
        )

    remote = (
        np.array([o.meets_remotely for o in offers], dtype=np.bool_)[offer]
        & np.array([n.meets_remotely for n in needs], dtype=np.bool_)[need]
    )
    offer_radius = np.array([radius_of_offer(o) for o in offers], dtype=np.float64)
    need_radius = np.array(
        [n.radius_km if n.radius_km is not None else np.inf for n in needs], dtype=np.float64
    )
    radius = np.minimum(offer_radius[offer], need_radius[need])
    olat, olon, nlat, nlon = (
        column(offers, "lat"),
        column(offers, "lon"),
        column(needs, "lat"),
        column(needs, "lon"),
    )
    capable = (
        np.array([o.meets_in_person for o in offers], dtype=np.bool_)[offer]
        & np.array([n.meets_in_person for n in needs], dtype=np.bool_)[need]
        & ~np.isnan(olat[offer])
        & ~np.isnan(nlat[need])
    )
    # numpy's distance first, for every pair that could meet in person; it may differ from
    # haversine_km in the last bit, so it only rules out pairs clearly beyond their radius
    # (a margin far above any rounding), and haversine_km gives the distance of the others.
    where = np.flatnonzero(capable)
    km = np.full(need.size, np.inf)
    km[where] = _haversine(
        olat[offer[where]], olon[offer[where]], nlat[need[where]], nlon[need[where]]
    )
    where = where[km[where] <= radius[where] * (1 + 1e-9) + 1e-9]
    km[where] = [
        haversine_km(a, b, c, d)
        for a, b, c, d in zip(
            olat[offer[where]].tolist(),
            olon[offer[where]].tolist(),
            nlat[need[where]].tolist(),
            nlon[need[where]].tolist(),
            strict=True,
        )
    ]
    in_person = capable & (km <= radius)
    # 1 - 0.9 * min(1, km / radius), or 1 for a radius of 0, as `score._distance_decay`.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        share = np.minimum(1.0, km / radius)
    decay = np.where(radius <= 0, 1.0, 1.0 - (1.0 - EDGE_OF_RADIUS_FIT) * share)
    fit = np.where(in_person, decay, 0.0)
    fit = np.where(remote, np.maximum(fit, REMOTE_FIT), fit)
    return fit, in_person | remote


def _haversine(lat1: Floats, lon1: Floats, lat2: Floats, lon2: Floats) -> Floats:
    """`haversine_km` for arrays (to within rounding, not bit for bit)."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    h = (
        np.sin((phi2 - phi1) / 2) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    result: Floats = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, h)))
    return result


def _availability_fit(
    needs: Sequence[PostFacts], offers: Sequence[PostFacts], need: Indexes, offer: Indexes
) -> Floats:
    """`score._availability` per pair; the overlap is worked out once per distinct pair of
    weekly schedules."""
    fit = np.full(need.size, UNKNOWN_AVAILABILITY_FIT)
    offer_slots, offer_schedules = _ids([o.slots for o in offers])
    need_slots, need_schedules = _ids([n.slots for n in needs])
    both = np.flatnonzero(
        np.array([bool(s) for s in offer_schedules], dtype=np.bool_)[offer_slots[offer]]
        & np.array([bool(s) for s in need_schedules], dtype=np.bool_)[need_slots[need]]
    )
    memo: dict[tuple[int, int], float] = {}
    values = []
    for a, b in zip(
        offer_slots[offer[both]].tolist(), need_slots[need[both]].tolist(), strict=True
    ):
        value = memo.get((a, b))
        if value is None:
            value = memo[(a, b)] = _overlap_fit(offer_schedules[a], need_schedules[b])
        values.append(value)
    fit[both] = values
    return fit


def _overlap_fit(offer: object, need: object) -> float:
    assert isinstance(offer, tuple) and isinstance(need, tuple)
    slots_a: tuple[TimeSlot, ...] = offer
    slots_b: tuple[TimeSlot, ...] = need
    hours = overlap_minutes(slots_a, slots_b) / 60
    return 0.0 if hours == 0 else min(1.0, hours / FULL_OVERLAP_HOURS)


def _waiting(need: PostFacts, now: datetime) -> float:
    days = max(0.0, (now - need.published_at).total_seconds() / 86400)
    return min(1.0, days / FULL_WAITING_DAYS)
