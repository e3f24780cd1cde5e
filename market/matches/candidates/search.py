"""Judging the rows read, round after round, until no candidate left can change the choice."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import matching
from market.matches.candidates import rounds, tuning
from market.matches.candidates.author import restore
from market.matches.candidates.plan import Plan
from market.matches.candidates.rows import parse_languages, parse_levels
from market.matches.facts import published_at_of, skills, slots_of, volunteer_facts_of
from market.posts import taxonomy

log = logging.getLogger(__name__)


@dataclass
class Stats:
    """What one call did; the benchmark prints it."""

    rounds: int = 0
    rows: int = 0  # rows SQL returned
    judged: int = 0  # rows the matcher checked and scored
    matches: int = 0  # of them, pairs that satisfy every rule
    sql_seconds: float = 0.0
    python_seconds: float = 0.0
    exhaustive: bool = False
    fallback: bool = False


class BoundViolated(Exception):
    """A judged candidate scored above its bound: the assumptions above do not hold for it."""


# Sorts after every id (ids are hex).
_AFTER_EVERY_ID = chr(0x10FFFF)


@dataclass(frozen=True)
class _Scored:
    key: tuple[float, str]  # (-score, candidate id)
    order: tuple[Any, ...]  # the matcher's order of the choice (a new offer's: matching.fair_key)
    scored: matching.Scored
    volunteer: matching.VolunteerFacts

    def bar(self) -> tuple[Any, ...]:
        """The key (bound.order_key: (-bound, id), for a new offer (-bound, publication, id))
        that a row's key must sort before to be able to get in before this pick.

        A new offer's needs are chosen in matching.fair_key order (-score, publication, matches,
        id), but a row's matches are not known before it is read: a row whose bound and
        publication equal this pick's may still get in with fewer matches, whatever its id,
        unless this pick has had none."""
        if self.order == self.key:
            return self.key
        score, published_at, matches_had, need_id = self.order
        return (score, published_at, need_id if matches_had == 0 else _AFTER_EVERY_ID)


def _row_key(plan: Plan, bound: float, row: Any) -> tuple[Any, ...]:
    """The row's key in the order SQL returns rows (bound.order_key), with `bound`."""
    if plan.side == "need":
        return (-bound, row.id)
    return (-bound, row.tk, row.id)


def _judge(plan: Plan, row: Any) -> _Scored | None:
    """The matcher's verdict on one row; None when the pair breaks a rule."""
    theirs = matching.PostFacts(
        id=row.id,
        kind="offer" if plan.side == "need" else "need",
        category=row.category,
        category_path=taxonomy.path(row.category) or (row.category,),
        languages=skills(parse_languages(row.languages), parse_levels(row.levels)),
        mode=row.mode,
        lat=row.lat,
        lon=row.lon,
        radius_km=row.radius_km,
        published=True,
        published_at=published_at_of(row.published_at, row.created_at),
        slots=slots_of(row.availability),
    )
    if plan.side == "need":
        volunteer = volunteer_facts_of(
            row.author_id,
            row.role,
            row.vetting_status,
            row.police_certificate_until,
            row.max_open_matches,
            row.open_matches,
        )
        offer, need = theirs, plan.me
    else:
        assert plan.volunteer is not None
        volunteer = plan.volunteer
        offer, need = plan.me, theirs
    pair = matching.Candidate(
        offer=offer,
        need=need,
        volunteer=volunteer,
        requires_certificate=taxonomy.requires_police_certificate(need.category),
        declined_before=False,
    )
    scored = matching.judge(pair, plan.now, plan.now.date())
    if scored is None:
        return None
    if scored.score > row.rub or scored.score > row.ub:
        raise BoundViolated(f"{row.id}: score {scored.score!r} above {row.rub!r} / {row.ub!r}")
    key = (-scored.score, row.id)
    if plan.side == "need":
        return _Scored(key, key, scored, volunteer)
    fair = matching.fair_key(scored.score, need.published_at, row.need_matches, row.id)
    return _Scored(key, fair, scored, volunteer)


def _wanted(plan: Plan) -> int:
    if plan.side == "offer":
        assert plan.volunteer is not None
        return min(plan.limit, plan.volunteer.room_for_matches)
    return plan.limit


def _picks(plan: Plan, pool: list[_Scored]) -> list[_Scored]:
    """matching.best_offers_for_need / best_needs_for_offer on the pairs judged so far."""
    ordered = sorted(pool, key=lambda s: s.order)
    if plan.side == "offer":
        return ordered[: _wanted(plan)]
    proposed: Counter[str] = Counter()
    chosen: list[_Scored] = []
    for s in ordered:
        if len(chosen) >= plan.limit:
            break
        # Two offers by the same volunteer may both fit; together they must not exceed the cap.
        if proposed[s.volunteer.id] >= s.volunteer.room_for_matches:
            continue
        proposed[s.volunteer.id] += 1
        chosen.append(s)
    return chosen


async def best(
    session: AsyncSession,
    plan: Plan,
    *,
    exhaustive: bool = False,
    stats: Stats | None = None,
) -> list[matching.Scored]:
    """The pairs to propose for the plan's post, best first: exactly the matcher's choice among
    all candidates. `exhaustive` reads and judges every candidate (for tests and checks)."""
    stats = stats if stats is not None else Stats()
    stats.exhaustive = exhaustive
    try:
        return await _best(session, plan, exhaustive, stats)
    except BoundViolated as exc:
        if exhaustive:
            raise
        log.warning("matching bound violated (%s); judging every candidate", exc)
        stats.fallback = True
        return await _best(session, plan, True, stats)
    finally:
        await restore(session, plan.previous_settings)


async def _best(
    session: AsyncSession, plan: Plan, exhaustive: bool, stats: Stats
) -> list[matching.Scored]:
    wanted = _wanted(plan)
    pool: list[_Scored] = []
    picks: list[_Scored] = []
    last: tuple[Any, ...] | None = None  # the key of the last row read
    first = True
    while True:
        bar = picks[-1].bar() if len(picks) >= wanted and not exhaustive else None
        stmt, params, page = _round(plan, stats, exhaustive, first, last, bar)
        t0 = time.perf_counter()
        rows = (await session.execute(stmt, params)).all()
        t1 = time.perf_counter()
        stats.sql_seconds += t1 - t0
        stats.rounds += 1
        stats.rows += len(rows)
        done = False
        for row in rows:
            bar = picks[-1].bar() if len(picks) >= wanted and not exhaustive else None
            if bar is not None:
                # Stop: this row and every row after it sort after the last pick.
                if _row_key(plan, row.ub, row) > bar:
                    done = True
                    break
                # Skip: this row cannot get in.
                if _row_key(plan, row.rub, row) > bar:
                    last = _row_key(plan, row.ub, row)
                    continue
            last = _row_key(plan, row.ub, row)
            stats.judged += 1
            judged = _judge(plan, row)
            if judged is None:
                continue
            stats.matches += 1
            pool.append(judged)
            if not exhaustive:
                picks = _picks(plan, pool)
        stats.python_seconds += time.perf_counter() - t1
        if done or exhaustive:
            break
        # A round without a sort limit that returned less than asked has seen everything.
        if len(rows) < page and not (first and plan.shape.remote):
            break
        first = False
    return [p.scored for p in _picks(plan, pool)]


def _round(
    plan: Plan,
    stats: Stats,
    exhaustive: bool,
    first: bool,
    last: tuple[Any, ...] | None,
    bar: tuple[Any, ...] | None,
) -> tuple[Any, dict[str, Any], int]:
    """The statement, parameters and page size of the next round."""
    if exhaustive:
        stmt, params = rounds.round_query(plan, "all")
        return stmt, params, 0
    if first:
        page = tuning.FIRST_PAGE
        stmt, params = rounds.round_query(plan, "first", page=page)
        return stmt, params, page
    pages = tuning.NEXT_PAGES
    page = pages[min(stats.rounds - 1, len(pages) - 1)]
    stmt, params = rounds.round_query(plan, "next", after=last, threshold=bar, page=page)
    return stmt, params, page
