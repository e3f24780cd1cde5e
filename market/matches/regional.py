"""A coordinator's matching run for a whole region, and the needs nobody could be found for.

The run computes a one-to-one assignment of waiting needs to offers that maximises the total
score (matching.assign), shows it as a preview and applies it only when the coordinator
confirms the very plan they saw.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

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
from market.posts.models import Post
from market.settings import Settings

log = logging.getLogger(__name__)

# The stages a need passes on its way to a match, in order; the first that leaves no offer is
# what the city lacks for this need.
FUNNEL = ("category", "language", "reach", "volunteer", "certificate", "declined", "capacity")


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


def waiting_needs(region_id: str | None) -> Select[tuple[Post]]:
    stmt = select(Post).where(
        Post.status == "published",
        Post.kind == "need",
        ~exists().where(Match.need_id == Post.id, Match.status.in_(OPEN)),
    )
    return _in_region(stmt, region_id).order_by(Post.published_at, Post.id)


def available_offers(region_id: str | None) -> Select[tuple[Post]]:
    stmt = select(Post).where(Post.status == "published", Post.kind == "offer")
    # A fixed order: the same situation must always give the same plan (and plan id).
    return _in_region(stmt, region_id).order_by(Post.published_at, Post.id)


async def _load(
    session: AsyncSession, region_id: str | None, *, offers_anywhere: bool = False
) -> tuple[list[Post], list[Post], dict[str, User], dict[str, int], set[tuple[str, str]]]:
    needs = list((await session.execute(waiting_needs(region_id))).scalars())
    if offers_anywhere:
        # An offer from outside the region may still reach its needs: judge them all, but only
        # in categories that could fit.
        categories = {c for n in needs for c in taxonomy.path(n.category)}
        stmt = available_offers(None).where(Post.category.in_(categories))
    else:
        stmt = available_offers(region_id)
    offers = list((await session.execute(stmt)).scalars())
    users = await queries.users_by_id(session, [p.author_id for p in needs + offers])
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
    offers: list[Post]
    need_facts: list[matching.PostFacts]
    offer_facts: list[matching.PostFacts]
    volunteers: list[matching.VolunteerFacts]
    declined: set[tuple[str, str]]

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
    offers: list[Post],
    users: dict[str, User],
    counts: dict[str, int],
    declined: set[tuple[str, str]],
) -> RegionFacts:
    # An offer whose author is gone cannot be matched.
    offers = [o for o in offers if o.author_id in users]
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


def _with_a_fit(facts: RegionFacts, today: date) -> set[int]:
    """The needs with at least one offer that passes every rule and whose volunteer has room,
    found through `nearby_pairs`, so that only the others need the whole funnel."""
    return {
        i
        for i, j in matching.nearby_pairs(facts.need_facts, facts.offer_facts)
        if facts.volunteers[j].room_for_matches > 0
        and not matching.check(facts.candidate(i, j), today)
    }


def _by_category(facts: RegionFacts, needs: Iterable[int]) -> dict[int, list[matching.Candidate]]:
    """For each of the `needs` (indexes), every offer whose category fits (the first rule)."""
    offers_in: dict[str, list[int]] = defaultdict(list)
    for j, offer in enumerate(facts.offers):
        offers_in[offer.category].append(j)
    return {
        i: [
            facts.candidate(i, j)
            for category in taxonomy.path(facts.needs[i].category)
            for j in offers_in.get(category, [])
        ]
        for i in needs
    }


def _plan_id(pairs: list[matching.Scored]) -> str:
    digest = hashlib.sha256()
    for pair in sorted(pairs, key=lambda p: (p.need_id, p.offer_id)):
        digest.update(f"{pair.need_id}:{pair.offer_id};".encode())
    return digest.hexdigest()[:16]


async def plan(session: AsyncSession, region_id: str | None) -> Plan:
    seconds: dict[str, float] = {}
    started = time.perf_counter()

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
    need_at = {n.id: i for i, n in enumerate(needs)}
    open_at = {facts.offers[j].id: k for k, j in enumerate(open_offers)}
    declined_pairs = [
        (need_at[need_id], open_at[offer_id])
        for offer_id, need_id in facts.declined
        if need_id in need_at and offer_id in open_at
    ]
    lap("facts")
    # Only the pairs in the right category, with a common language and within reach are judged:
    # a region of 5,000 needs and 5,000 offers holds millions of pairs, few of them near.
    nearby = list(matching.nearby_pairs(facts.need_facts, offer_facts))
    lap("pairs")
    judged = matching.judge_pairs(
        facts.need_facts,
        offer_facts,
        [facts.volunteers[j] for j in open_offers],
        [taxonomy.requires_police_certificate(n.category) for n in needs],
        declined_pairs,
        nearby,
        now,
        now.date(),
    )
    lap("judge")
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


async def apply(
    session: AsyncSession, settings: Settings, region_id: str | None, plan_id: str
) -> list[Match]:
    """Create the previewed matches, if the situation is still the one the coordinator saw."""
    current = await plan(session, region_id)
    if current.plan_id != plan_id:
        raise Conflict("Posts changed since the preview. Please look at the new preview.")
    posts: dict[str, Post] = {}
    for ids in queries.chunks(
        [x.need_id for x in current.pairs] + [x.offer_id for x in current.pairs]
    ):
        stmt = select(Post).where(Post.id.in_(ids))
        posts |= {p.id: p for p in (await session.execute(stmt)).scalars()}
    return await propose(
        session, settings, [(posts[x.offer_id], posts[x.need_id], x) for x in current.pairs]
    )


@dataclass(frozen=True)
class Unmatched:
    need: Post
    cause: str
    counts: dict[str, int]


async def unmatched(session: AsyncSession, region_id: str | None) -> list[Unmatched]:
    """Waiting needs without any fitting offer, each with the first reason none is left."""
    facts = await region_facts(session, region_id, offers_anywhere=True)
    today = utcnow().date()
    matched = _with_a_fit(facts, today)
    by_need = _by_category(facts, (i for i in range(len(facts.needs)) if i not in matched))
    result = []
    for i, cands in by_need.items():
        tally: Counter[str] = Counter()
        for cand in cands:
            failures = {str(f) for f in matching.check(cand, today)}
            # Every pair that passes the rules has a volunteer at their cap, or the need would
            # have a fit.
            tally["capacity" if not failures else _stage(failures)] += 1
        cause = max(tally, key=FUNNEL.index) if tally else "category"
        result.append(Unmatched(facts.needs[i], cause, dict(tally)))
    return result


def _stage(failures: set[str]) -> str:
    if "language" in failures:
        return "language"
    if failures & {"distance", "mode"}:
        return "reach"
    if "not_approved" in failures or "not_published" in failures:
        return "volunteer"
    if "certificate" in failures:
        return "certificate"
    if "declined" in failures:
        return "declined"
    return "category"
