"""Ranking pairs best first, and choosing whom to propose a new post to."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime

from matching.model import Candidate
from matching.rules import judge
from matching.score import Scored

# A new need is proposed to a few offers at a time rather than to every volunteer at once, so
# that a seeker is not flooded and volunteers are not all asked about the same need.
DEFAULT_PROPOSALS = 3


def _best_first(scored: Scored) -> tuple[float, str, str]:
    # Ties are broken by ids so that the same input always gives the same order.
    return (-scored.score, scored.offer_id, scored.need_id)


def rank(
    candidates: Iterable[Candidate], now: datetime, today: date, limit: int | None = None
) -> list[Scored]:
    """The pairs that satisfy every rule, best first; at most `limit` of them."""
    if limit is not None:
        _require_limit(limit)
    judged = (judge(c, now, today) for c in candidates)
    ranked = sorted((s for s in judged if s is not None), key=_best_first)
    return ranked if limit is None else ranked[:limit]


def best_offers_for_need(
    candidates: Iterable[Candidate],
    now: datetime,
    today: date,
    limit: int = DEFAULT_PROPOSALS,
) -> list[Scored]:
    """The offers a need should be proposed to: the best `limit` matches whose volunteers still
    have room for another match. All candidates must share one need."""
    _require_limit(limit)
    pool = list(candidates)
    _require_one({c.need.id for c in pool}, "need")
    volunteers = {c.offer.id: c.volunteer for c in pool}
    proposed: Counter[str] = Counter()
    chosen: list[Scored] = []
    for pair in rank(pool, now, today):
        if len(chosen) >= limit:
            break
        volunteer = volunteers[pair.offer_id]
        # Two offers by the same volunteer may both fit; together they must not exceed the cap.
        if proposed[volunteer.id] >= volunteer.room_for_matches:
            continue
        proposed[volunteer.id] += 1
        chosen.append(pair)
    return chosen


def fair_key(
    score: float, published_at: datetime, matches_had: int, need_id: str
) -> tuple[float, datetime, int, str]:
    """The order in which needs competing for one volunteer get the volunteer's room: the best
    score first (its waiting credit already lifts a need that has waited, up to a month); among
    equal scores the need that has waited longest, then the one that has had fewest matches
    (Lern-Fair's fairness rule), then the id, so that the same input gives the same choice."""
    return (-score, published_at, matches_had, need_id)


def best_needs_for_offer(
    candidates: Iterable[Candidate],
    now: datetime,
    today: date,
    limit: int = DEFAULT_PROPOSALS,
    matches_had: Mapping[str, int] | None = None,
) -> list[Scored]:
    """The needs a newly published offer should be proposed to: the best matches, no more than
    `limit` and no more than its volunteer has room for, in `fair_key` order. `matches_had`
    holds each need's matches so far, whatever became of them (none when missing). All
    candidates must share one offer."""
    _require_limit(limit)
    pool = list(candidates)
    _require_one({c.offer.id for c in pool}, "offer")
    if not pool:
        return []
    room = pool[0].volunteer.room_for_matches
    had = matches_had or {}
    published = {c.need.id: c.need.published_at for c in pool}
    ranked = sorted(
        rank(pool, now, today),
        key=lambda s: fair_key(s.score, published[s.need_id], had.get(s.need_id, 0), s.need_id),
    )
    return ranked[: min(limit, room)]


def _require_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")


def _require_one(ids: set[str], what: str) -> None:
    if len(ids) > 1:
        raise ValueError(f"candidates must share one {what}, got {', '.join(sorted(ids))}")
