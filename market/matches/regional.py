"""A coordinator's matching run for a whole region, and the needs nobody could be found for.

The run computes a one-to-one assignment of waiting needs to offers that maximises the total
score (matching.assign), shows it as a preview and applies it only when the coordinator
confirms the very plan they saw.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
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
from market.matches.services import _propose
from market.posts import taxonomy
from market.posts.models import Post
from market.settings import Settings

# The stages a need passes on its way to a match, in order; the first that leaves no offer is
# what the city lacks for this need.
FUNNEL = ("category", "language", "reach", "volunteer", "certificate", "declined", "capacity")


@dataclass(frozen=True)
class Plan:
    pairs: list[matching.Scored]
    plan_id: str
    needs_waiting: int
    offers_available: int


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
    need_ids = [n.id for n in needs]
    declined: set[tuple[str, str]] = set()
    if need_ids:
        rows = await session.execute(
            select(Match.offer_id, Match.need_id).where(
                Match.need_id.in_(need_ids), Match.status == "declined"
            )
        )
        declined = {(r[0], r[1]) for r in rows.all()}
    return needs, offers, users, counts, declined


def _candidates(
    needs: list[Post],
    offers: list[Post],
    users: dict[str, User],
    counts: dict[str, int],
    declined: set[tuple[str, str]],
) -> list[matching.Candidate]:
    # Group offers by category so that each need looks only at offers that could fit at all.
    by_category: dict[str, list[Post]] = defaultdict(list)
    for offer in offers:
        if offer.author_id in users:
            by_category[offer.category].append(offer)
    result = []
    for need in needs:
        for category in taxonomy.path(need.category):
            for offer in by_category.get(category, []):
                volunteer = users[offer.author_id]
                result.append(
                    matching.Candidate(
                        offer=post_facts(offer, volunteer),
                        need=post_facts(need, users.get(need.author_id)),
                        volunteer=volunteer_facts(volunteer, counts.get(volunteer.id, 0)),
                        requires_certificate=taxonomy.requires_police_certificate(need.category),
                        declined_before=(offer.id, need.id) in declined,
                    )
                )
    return result


def _plan_id(pairs: list[matching.Scored]) -> str:
    digest = hashlib.sha256()
    for pair in sorted(pairs, key=lambda p: (p.need_id, p.offer_id)):
        digest.update(f"{pair.need_id}:{pair.offer_id};".encode())
    return digest.hexdigest()[:16]


async def plan(session: AsyncSession, region_id: str | None) -> Plan:
    needs, offers, users, counts, declined = await _load(session, region_id)
    # Waiting time counts in whole days here, so that a preview and its confirmation a minute
    # later compute the very same plan.
    now = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    author_of = {o.id: o.author_id for o in offers}
    candidates = _candidates(needs, offers, users, counts, declined)
    feasible = [
        pair
        for pair in matching.rank(candidates, now, now.date())
        # A volunteer at their cap gets nothing new from the run either.
        if users[author_of[pair.offer_id]].max_open_matches > counts.get(author_of[pair.offer_id], 0)
    ]
    pairs = matching.assign([n.id for n in needs], [o.id for o in offers], feasible)
    pairs.sort(key=lambda p: -p.score)
    return Plan(pairs, _plan_id(pairs), len(needs), len(offers))


async def apply(
    session: AsyncSession, settings: Settings, region_id: str | None, plan_id: str
) -> list[Match]:
    """Create the previewed matches, if the situation is still the one the coordinator saw."""
    current = await plan(session, region_id)
    if current.plan_id != plan_id:
        raise Conflict("Posts changed since the preview. Please look at the new preview.")
    posts = {
        p.id: p
        for p in (
            await session.execute(
                select(Post).where(
                    Post.id.in_([x.need_id for x in current.pairs] + [x.offer_id for x in current.pairs])
                )
            )
        ).scalars()
    }
    created = []
    for pair in current.pairs:
        created.append(
            await _propose(session, settings, posts[pair.offer_id], posts[pair.need_id], pair)
        )
    return created


@dataclass(frozen=True)
class Unmatched:
    need: Post
    cause: str
    counts: dict[str, int]


async def unmatched(session: AsyncSession, region_id: str | None) -> list[Unmatched]:
    """Waiting needs without any fitting offer, each with the first reason none is left."""
    needs, offers, users, counts, declined = await _load(session, region_id, offers_anywhere=True)
    cands = _candidates(needs, offers, users, counts, declined)
    today = utcnow().date()
    by_need: dict[str, list[matching.Candidate]] = defaultdict(list)
    for cand in cands:
        by_need[cand.need.id].append(cand)
    result = []
    for need in needs:
        tally: Counter[str] = Counter()
        fits = 0
        for cand in by_need.get(need.id, []):
            failures = {str(f) for f in matching.check(cand, today)}
            if not failures:
                if cand.volunteer.room_for_matches > 0:
                    fits += 1
                else:
                    tally["capacity"] += 1
                continue
            tally[_stage(failures)] += 1
        if fits:
            continue
        cause = "category" if not by_need.get(need.id) else max(
            tally, key=lambda stage: FUNNEL.index(stage)
        )
        result.append(Unmatched(need, cause, dict(tally)))
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
