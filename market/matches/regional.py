"""A coordinator's matching run for a whole region, and the needs nobody could be found for.

The run computes a one-to-one assignment of waiting needs to offers that maximises the total
score (matching.max_weight_matching_capped), shows it as a preview and applies it only when the coordinator
confirms the very plan they saw.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

import matching
from market.accounts.models import User
from market.db import utcnow
from market.errors import Conflict
from market.matches import queries
from market.matches.facts import post_facts, volunteer_facts
from market.matches.models import OPEN, Match
from market.matches.services import propose
from market.posts import taxonomy
from market.posts.models import Post, PostLanguage
from market.settings import Settings

log = logging.getLogger(__name__)

# The stages a need passes on its way to a match, in order; the first that leaves no offer is
# what the city lacks for this need.
# The rules in `check`'s order, then "capacity": every rule holds, but the volunteer is at their cap.
FUNNEL = (*matching.FAILURE_ORDER, "capacity")


# A job's progress report: (step, done, total); see market.matches.runs.
Progress = Callable[[str, int, int], Awaitable[None]]


async def _no_progress(step: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class Plan:
    pairs: list[matching.Scored]
    plan_id: str
    needs_waiting: int
    offers_available: int
    # What the run did, for the benchmark and the logs: pairs judged, pairs that passed every
    # rule, and the seconds of each step (load, facts, pairs, judge, assign).
    judged: int = 0
    feasible: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def _in_region(stmt: Select[Any], region_id: str | None) -> Select[Any]:
    return stmt.where(Post.region_id == region_id) if region_id else stmt


def waiting_needs(region_id: str | None) -> Select[Post]:
    stmt = select(Post).where(
        Post.status == "published",
        Post.kind == "need",
        ~exists().where(Match.need_id == Post.id, Match.status.in_(OPEN)),
    )
    return _in_region(stmt, region_id).order_by(Post.published_at, Post.id)


@dataclass(frozen=True, slots=True)
class OfferRow:
    """A published offer's columns, read without building ORM objects: a run over a whole
    installation reads 100,000 of them."""

    id: str
    author_id: str
    kind: str
    category: str
    mode: str
    lat: float | None
    lon: float | None
    radius_km: float | None
    status: str
    published_at: datetime | None
    created_at: datetime | None
    availability: list[dict[str, Any]] | None
    language_codes: list[str]


_OFFER_COLUMNS = (
    Post.id,
    Post.author_id,
    Post.kind,
    Post.category,
    Post.mode,
    Post.lat,
    Post.lon,
    Post.radius_km,
    Post.status,
    Post.published_at,
    Post.created_at,
    Post.availability,
)


async def available_offers(session: AsyncSession, *conditions: Any) -> list[OfferRow]:
    """The published offers meeting `conditions`, with their languages in their order."""
    where = [Post.status == "published", Post.kind == "offer", *conditions]
    # A fixed order: the same situation must always give the same plan (and plan id).
    stmt = select(*_OFFER_COLUMNS).where(*where).order_by(Post.published_at, Post.id)
    rows = (await session.execute(stmt)).all()
    codes: dict[str, list[str]] = defaultdict(list)
    languages = (
        select(PostLanguage.post_id, PostLanguage.code)
        .join(Post, Post.id == PostLanguage.post_id)
        .where(*where)
        .order_by(PostLanguage.post_id, PostLanguage.position)
    )
    for post_id, code in (await session.execute(languages)).all():
        codes[post_id].append(code)
    # The rows hold every field of OfferRow but its languages, in order.
    return [OfferRow(*row, language_codes=codes.get(row[0], [])) for row in rows]  # type: ignore[misc]


async def _load(
    session: AsyncSession, region_id: str | None, *, offers_anywhere: bool = False
) -> tuple[list[Post], list[OfferRow], dict[str, User], dict[str, int], set[tuple[str, str]]]:
    needs = list((await session.execute(waiting_needs(region_id))).scalars())
    if offers_anywhere:
        # An offer from outside the region may still reach its needs: judge them all, but only
        # in categories that could fit.
        categories = {c for n in needs for c in taxonomy.path(n.category)}
        offers = await available_offers(session, Post.category.in_(categories))
    else:
        offers = await available_offers(
            session, *([Post.region_id == region_id] if region_id else [])
        )
    users = await queries.users_by_id(
        session, [p.author_id for p in needs] + [o.author_id for o in offers]
    )
    counts = await queries.open_counts(session, [o.author_id for o in offers])
    declined: set[tuple[str, str]] = set()
    for need_ids in queries.chunks(n.id for n in needs):
        stmt = select(Match.offer_id, Match.need_id).where(
            Match.need_id.in_(need_ids), Match.status == "declined"
        )
        declined |= {(r[0], r[1]) for r in (await session.execute(stmt)).all()}
    return needs, offers, users, counts, declined


@dataclass
class RegionFacts:
    """A region's posts as the matcher's facts, each worked out once."""

    needs: list[Post]
    offers: list[OfferRow]
    need_facts: list[matching.PostFacts]
    offer_facts: list[matching.PostFacts]
    volunteers: list[matching.VolunteerFacts]
    declined: set[tuple[str, str]]

    def requires_certificate(self) -> list[bool]:
        return [taxonomy.requires_police_certificate(n.category) for n in self.needs]

    def declined_indexes(self) -> list[tuple[int, int]]:
        """The declined pairs as (need index, offer index)."""
        need_at = {n.id: i for i, n in enumerate(self.needs)}
        offer_at = {o.id: j for j, o in enumerate(self.offers)}
        return [
            (need_at[need_id], offer_at[offer_id])
            for offer_id, need_id in self.declined
            if need_id in need_at and offer_id in offer_at
        ]

    def candidate(self, i: int, j: int) -> matching.Candidate:
        need, offer = self.needs[i], self.offers[j]
        return matching.Candidate(
            offer=self.offer_facts[j],
            need=self.need_facts[i],
            volunteer=self.volunteers[j],
            requires_certificate=taxonomy.requires_police_certificate(need.category),
            declined_before=(offer.id, need.id) in self.declined,
        )


def _facts(
    needs: list[Post],
    offers: list[OfferRow],
    users: dict[str, User],
    counts: dict[str, int],
    declined: set[tuple[str, str]],
) -> RegionFacts:
    # An offer whose author is gone, or paused (matches.followthrough), cannot be matched.
    offers = [o for o in offers if o.author_id in users and users[o.author_id].available]
    return RegionFacts(
        needs=needs,
        offers=offers,
        need_facts=[post_facts(n, users.get(n.author_id)) for n in needs],
        offer_facts=[post_facts(o, users[o.author_id]) for o in offers],
        volunteers=[
            volunteer_facts(users[o.author_id], counts.get(o.author_id, 0)) for o in offers
        ],
        declined=declined,
    )


async def region_facts(
    session: AsyncSession, region_id: str | None, *, offers_anywhere: bool = False
) -> RegionFacts:
    """The waiting needs and the published offers of a region, as the matcher's facts."""
    return _facts(*await _load(session, region_id, offers_anywhere=offers_anywhere))


def _plan_id(pairs: list[matching.Scored]) -> str:
    digest = hashlib.sha256()
    for pair in sorted(pairs, key=lambda p: (p.need_id, p.offer_id)):
        digest.update(f"{pair.need_id}:{pair.offer_id};".encode())
    return digest.hexdigest()[:16]


# Pairs judged at a time by a run's plan (about 0.1 s each), between its progress reports.
JUDGE_SLICE = 100_000


async def plan(
    session: AsyncSession, region_id: str | None, *, progress: Progress = _no_progress
) -> Plan:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    await progress("load", 0, 0)

    def lap(step: str) -> None:
        nonlocal started
        moment = time.perf_counter()
        seconds[step], started = moment - started, moment

    needs, offers, users, counts, declined = await _load(session, region_id)
    lap("load")
    # Waiting time counts in whole days here, so that a preview and its confirmation a minute
    # later compute the very same plan.
    now = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    facts = _facts(needs, offers, users, counts, declined)
    # A volunteer at their cap gets nothing new from the run either.
    open_offers = [j for j, v in enumerate(facts.volunteers) if v.room_for_matches > 0]
    offer_facts = [facts.offer_facts[j] for j in open_offers]
    position = {j: k for k, j in enumerate(open_offers)}
    declined_pairs = [(i, position[j]) for i, j in facts.declined_indexes() if j in position]
    lap("facts")
    await progress("pairs", 0, 0)
    # Only the pairs in the right category, with a common language and within reach are judged:
    # a region of 5,000 needs and 5,000 offers holds millions of pairs, few of them near.
    nearby = matching.nearby_pairs(facts.need_facts, offer_facts)
    lap("pairs")
    total = len(nearby)
    await progress("judge", 0, total)
    # In slices, so that a job can tell how far it is; judge_pairs keeps the given order, so
    # the slices joined are what one call gives.
    volunteers = [facts.volunteers[j] for j in open_offers]
    certificate = facts.requires_certificate()
    parts = []
    for start in range(0, max(total, 1), JUDGE_SLICE):
        parts.append(
            matching.judge_pairs(
                facts.need_facts,
                offer_facts,
                volunteers,
                certificate,
                declined_pairs,
                nearby[start : start + JUDGE_SLICE],
                now,
                now.date(),
            )
        )
        await progress("judge", min(start + JUDGE_SLICE, total), total)
    judged = matching.Judged(
        np.concatenate([p.need for p in parts]),
        np.concatenate([p.offer for p in parts]),
        np.concatenate([p.score for p in parts]),
    )
    lap("judge")
    await progress("assign", 0, int(judged.score.size))
    # One volunteer may have posted several offers; together they get no more than the
    # volunteer's room for matches.
    volunteer_at: dict[str, int] = {}
    owner = [
        volunteer_at.setdefault(facts.volunteers[j].id, len(volunteer_at)) for j in open_offers
    ]
    room = [0] * len(volunteer_at)
    for j in open_offers:
        room[volunteer_at[facts.volunteers[j].id]] = facts.volunteers[j].room_for_matches
    chosen = matching.max_weight_matching_capped(
        judged.need,
        judged.offer,
        judged.score,
        shape=(len(needs), len(offer_facts)),
        owner=owner,
        room=room,
    )
    pairs = []
    for k in chosen.tolist():
        i, j = int(judged.need[k]), open_offers[int(judged.offer[k])]
        # The reasons, for the few pairs chosen; judge gives the very score judge_pairs gave.
        scored = matching.judge(facts.candidate(i, j), now, now.date())
        assert scored is not None and scored.score == judged.score[k]
        pairs.append(scored)
    pairs.sort(key=lambda p: (-p.score, p.offer_id, p.need_id))
    lap("assign")
    log.info(
        "matching run %s: %d needs, %d offers, %d pairs judged, %d pass, %d assigned; %s",
        region_id or "(all regions)",
        len(needs),
        len(offers),
        len(nearby),
        judged.score.size,
        len(pairs),
        ", ".join(f"{step} {t:.2f} s" for step, t in seconds.items()),
    )
    return Plan(
        pairs,
        _plan_id(pairs),
        len(needs),
        len(offers),
        judged=len(nearby),
        feasible=int(judged.score.size),
        seconds=seconds,
    )


# Proposals are written this many at a time, so that a job can report how far it is.
PROPOSE_BATCH = 500


async def apply(
    session: AsyncSession,
    settings: Settings,
    region_id: str | None,
    plan_id: str,
    *,
    progress: Progress = _no_progress,
) -> list[Match]:
    """Create the previewed matches, if the situation is still the one the coordinator saw."""
    current = await plan(session, region_id, progress=progress)
    if current.plan_id != plan_id:
        raise Conflict("Posts changed since the preview. Please look at the new preview.")
    total = len(current.pairs)
    await progress("write", 0, total)
    posts: dict[str, Post] = {}
    for ids in queries.chunks(
        [x.need_id for x in current.pairs] + [x.offer_id for x in current.pairs]
    ):
        stmt = select(Post).where(Post.id.in_(ids))
        posts |= {p.id: p for p in (await session.execute(stmt)).scalars()}
    created: list[Match] = []
    for start in range(0, total, PROPOSE_BATCH):
        batch = current.pairs[start : start + PROPOSE_BATCH]
        created += await propose(
            session, settings, [(posts[x.offer_id], posts[x.need_id], x) for x in batch]
        )
        await progress("write", min(start + PROPOSE_BATCH, total), total)
    return created


@dataclass(frozen=True)
class Unmatched:
    need: Post
    cause: str
    counts: dict[str, int]


async def unmatched(
    session: AsyncSession, region_id: str | None, *, progress: Progress = _no_progress
) -> list[Unmatched]:
    """Waiting needs without any fitting offer, each with the first reason none is left."""
    await progress("load", 0, 0)
    facts = await region_facts(session, region_id, offers_anywhere=True)
    await progress("pairs", 0, len(facts.needs))
    now = utcnow()
    requires, declined = facts.requires_certificate(), facts.declined_indexes()
    # First the needs that do have a fit (an offer passing every rule, its volunteer with
    # room), found the quick way; only the others are taken through the funnel.
    judged = matching.judge_pairs(
        facts.need_facts,
        facts.offer_facts,
        facts.volunteers,
        requires,
        declined,
        matching.nearby_pairs(facts.need_facts, facts.offer_facts),
        now,
        now.date(),
    )
    room = np.array([v.room_for_matches > 0 for v in facts.volunteers], dtype=np.bool_)
    fitted = set(judged.need[room[judged.offer]].tolist()) if room.size else set()
    waiting = [i for i in range(len(facts.needs)) if i not in fitted]
    await progress("judge", len(fitted), len(facts.needs))

    offers_in: dict[str, list[int]] = defaultdict(list)
    for j, offer in enumerate(facts.offers):
        offers_in[offer.category].append(j)
    # Every offer of a fitting category (the first rule), for each waiting need.
    per_need = [
        np.array(
            [j for c in taxonomy.path(facts.needs[i].category) for j in offers_in.get(c, [])],
            dtype=np.intp,
        )
        for i in waiting
    ]
    rows = np.repeat(np.arange(len(waiting)), [a.size for a in per_need])
    pairs = np.column_stack(
        [
            np.asarray(waiting, dtype=np.intp)[rows],
            np.concatenate([np.empty(0, np.intp), *per_need]),
        ]
    )
    first = matching.first_failures(
        facts.need_facts,
        facts.offer_facts,
        facts.volunteers,
        requires,
        declined,
        pairs,
        now.date(),
    )
    # A pair that breaks no rule has a volunteer at their cap, or the need would have a fit.
    counts = np.zeros((len(waiting), len(FUNNEL)), dtype=np.int64)
    np.add.at(counts, (rows, first), 1)
    result = []
    for row, i in enumerate(waiting):
        tally = {FUNNEL[k]: int(n) for k, n in enumerate(counts[row].tolist()) if n}
        cause = max(tally, key=FUNNEL.index) if tally else "category"
        result.append(Unmatched(facts.needs[i], cause, tally))
    return result


async def decline_counts(session: AsyncSession, need_ids: list[str]) -> dict[str, dict[str, int]]:
    """Why people said no to each need's matches: {need id: {reason: count}} over the fixed
    list (models.DECLINE_REASONS); a decline without a reason counts as "none". For the
    unmatched-needs report and the coordinators' waiting queue (follow-through)."""
    from sqlalchemy import func

    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for ids in queries.chunks(need_ids):
        stmt = (
            select(Match.need_id, Match.decline_reason, func.count())
            .where(Match.need_id.in_(ids), Match.status == "declined")
            .group_by(Match.need_id, Match.decline_reason)
        )
        for need_id, reason, n in (await session.execute(stmt)).all():
            counts[need_id][reason or "none"] = int(n)
    return dict(counts)
