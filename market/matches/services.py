"""The match lifecycle: proposed -> connected, or declined; withdrawn when a rule stops holding.

Matching runs inside the transaction of the event that makes the last rule true (a post
published or edited, a volunteer approved), so a match exists the moment it is possible.
Telling people happens later, through the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import matching
from market import events
from market.accounts.models import User
from market.conversations.models import Conversation
from market.conversations.services import open_for
from market.db import lock_row, utcnow
from market.errors import Conflict, NotFound
from market.matches import candidates, queries
from market.matches.facts import post_facts, volunteer_facts
from market.matches.models import OPEN, DeclineReason, Match, MatchStatus, Response
from market.posts import taxonomy
from market.posts.models import Post
from market.settings import Settings
from notifications.outbox import enqueue
from notifications.tell import tell

# A new post is proposed to the best few partners first, not to everyone at once.
PROPOSALS = 3


def _today(now: datetime) -> date:
    return now.date()


def _candidate(
    offer: Post, need: Post, users: dict[str, User], counts: dict[str, int], declined: bool = False
) -> matching.Candidate:
    volunteer = users[offer.author_id]
    return matching.Candidate(
        offer=post_facts(offer, volunteer),
        need=post_facts(need, users.get(need.author_id)),
        volunteer=volunteer_facts(volunteer, counts.get(volunteer.id, 0)),
        requires_certificate=taxonomy.requires_police_certificate(need.category),
        declined_before=declined,
    )


async def _open_for_need(session: AsyncSession, need_id: str) -> int:
    stmt = select(func.count()).where(Match.need_id == need_id, Match.status == "proposed")
    return int((await session.execute(stmt)).scalar_one())


async def choose(
    session: AsyncSession,
    post: Post,
    now: datetime,
    *,
    exhaustive: bool = False,
    stats: candidates.Stats | None = None,
) -> list[matching.Scored]:
    """Whom a published post should be proposed to now, best first; nothing is written.

    Exactly matching.best_offers_for_need / best_needs_for_offer over every candidate of
    `queries.offers_for_need` / `needs_for_offer`, found without judging all of them
    (market.matches.candidates)."""
    if post.status != "published":
        return []
    if post.kind == "offer":
        # A paused volunteer's offers wait until they are available again (followthrough).
        author = await session.get(User, post.author_id)
        if author is not None and not author.available:
            return []
    plan = await candidates.plan_for(session, post, now, PROPOSALS)
    if plan is None:
        return []
    return await candidates.best(session, plan, exhaustive=exhaustive, stats=stats)


async def match_post(
    session: AsyncSession, settings: Settings, post: Post, now: datetime | None = None
) -> list[Match]:
    """Propose the best partners for a published post (a few at a time), as of `now` (a
    periodic rule passes its own time, so `anlauf tick --at` dates the proposals it makes)."""
    if post.status != "published":
        return []
    now = now or utcnow()
    chosen = await choose(session, post, now)
    if not chosen:
        return []
    # Only the chosen partners become ORM objects, to write their matches.
    partner_ids = [s.offer_id if post.kind == "need" else s.need_id for s in chosen]
    stmt = select(Post).where(Post.id.in_(partner_ids))
    by_id = {p.id: p for p in (await session.execute(stmt)).scalars()}
    by_id[post.id] = post
    return await propose(
        session, settings, [(by_id[s.offer_id], by_id[s.need_id], s) for s in chosen], now
    )


def _reasons(scored: matching.Scored) -> list[dict[str, Any]]:
    return [{"code": r.code, "params": dict(r.params)} for r in scored.reasons]


async def propose(
    session: AsyncSession,
    settings: Settings,
    pairs: Sequence[tuple[Post, Post, matching.Scored]],
    now: datetime | None = None,
) -> list[Match]:
    """Propose each (offer, need, scored) pair and tell both sides; flush, never commit.

    Written for a batch (a regional run proposes thousands): the pairs' earlier rows (a closed
    match may be proposed again) and the people are read with one query each, the new rows
    written with one flush.
    """
    existing: dict[tuple[str, str], Match] = {}
    for need_ids in queries.chunks({need.id for _, need, _ in pairs}):
        stmt = select(Match).where(Match.need_id.in_(need_ids))
        existing |= {(m.offer_id, m.need_id): m for m in (await session.execute(stmt)).scalars()}
    matches = []
    now = now or utcnow()
    for offer, need, scored in pairs:
        match = existing.get((offer.id, need.id))
        if match is None:
            match = Match(offer_id=offer.id, need_id=need.id)
            session.add(match)
        match.volunteer_id = offer.author_id
        match.need_author_id = need.author_id
        match.score = round(scored.score, 4)
        match.reasons = _reasons(scored)
        match.distance_km = round(scored.distance_km, 1) if scored.distance_km is not None else None
        match.status = MatchStatus.PROPOSED
        match.offer_response = match.need_response = Response.PENDING
        match.closed_at = match.closed_reason = None
        # A pair proposed again starts its waiting clock afresh (matches.followthrough).
        match.reminded_at = match.stalled_at = match.expired_at = None
        match.created_at = now
        matches.append(match)
    await session.flush()
    people = [m.volunteer_id for m in matches] + [m.need_author_id for m in matches]
    users = await queries.users_by_id(session, people)
    for match in matches:
        await _tell(session, settings, match, "match.proposed", "match_proposed", users)
    return matches


async def _tell(
    session: AsyncSession,
    settings: Settings,
    match: Match,
    kind: str,
    template: str,
    users: dict[str, User] | None = None,
) -> None:
    """In the app and by mail, to both parties (mail only to verified addresses)."""
    if users is None:
        users = await queries.users_by_id(session, [match.volunteer_id, match.need_author_id])
    link = f"{settings.base_url.rstrip('/')}/matches/{match.id}"
    for user_id in (match.volunteer_id, match.need_author_id):
        await tell(
            session,
            settings,
            users.get(user_id),
            kind=kind,
            data={"match_id": match.id},
            template=template,
            context={"link": link},
            essential=True,  # match mails cannot be switched off
        )


async def withdraw(session: AsyncSession, match: Match, reason: str) -> None:
    """Close an open match (a rule stopped holding); one that ended meanwhile stays as it is."""
    if await lock_row(session, Match, match.id) is None or match.status not in OPEN:
        return
    match.status = MatchStatus.CLOSED
    match.closed_at = utcnow()
    match.closed_reason = reason
    await session.flush()


async def recheck(session: AsyncSession, settings: Settings, post: Post) -> None:
    """After an edit, withdraw the proposals whose rules no longer hold."""
    open_matches = list((await session.execute(queries.open_of_post(post.id))).scalars())
    proposed = [m for m in open_matches if m.status == "proposed"]
    if not proposed:
        return
    post_ids = {m.offer_id for m in proposed} | {m.need_id for m in proposed}
    others = {
        p.id: p
        for p in (await session.execute(select(Post).where(Post.id.in_(post_ids)))).scalars()
    }
    users = await queries.users_by_id(session, [p.author_id for p in others.values()])
    counts = await queries.open_counts(session, [m.volunteer_id for m in proposed])
    now = utcnow()
    for m in proposed:
        cand = _candidate(others[m.offer_id], others[m.need_id], users, counts)
        failures = matching.check(cand, _today(now))
        if failures:
            await withdraw(session, m, str(failures[0]))


# --- Reacting to events


@events.subscribe(events.POST_PUBLISHED)
async def _on_published(session: AsyncSession, post: Post, **_: Any) -> None:
    settings = events.settings_of(session)
    await recheck(session, settings, post)
    await match_post(session, settings, post)


# The outbox job that proposes the partners of a closed post to others (market.matches.rematch).
REMATCH_JOB = "matches.rematch"


@events.subscribe(events.POST_CLOSED)
async def _on_closed(session: AsyncSession, post: Post, **_: Any) -> None:
    reason = {"expired": "expired", "rejected": "rejected", "pending_review": "unpublished"}.get(
        post.status, "post_closed"
    )
    partners: list[str] = []
    for match in list((await session.execute(queries.open_of_post(post.id))).scalars()):
        if match.status == "proposed":
            partners.append(match.need_id if match.offer_id == post.id else match.offer_id)
        await withdraw(session, match, reason)
    # A partner whose proposal was withdrawn may now be proposed to someone else. That is
    # matching work for each of them (a deleted account closes all its posts at once), so it
    # runs as an outbox job after this transaction commits (market.matches.rematch).
    if partners:
        await enqueue(session, REMATCH_JOB, {"post_ids": list(dict.fromkeys(partners))})


@events.subscribe(events.VOLUNTEER_CHANGED)
async def _on_volunteer(session: AsyncSession, volunteer: User, **_: Any) -> None:
    if volunteer.vetting_status != "approved":
        return
    settings = events.settings_of(session)
    # A newly recorded certificate may open categories that need one.
    stmt = select(Post).where(
        Post.author_id == volunteer.id, Post.status == "published", Post.kind == "offer"
    )
    for offer in list((await session.execute(stmt)).scalars()):
        await match_post(session, settings, offer)


async def is_partner(session: AsyncSession, user_id: str, post_id: str) -> bool:
    """Whether the user is a party to a match of the post (listed in market/features.py)."""
    stmt = select(Match.id).where(
        ((Match.offer_id == post_id) & (Match.need_author_id == user_id))
        | ((Match.need_id == post_id) & (Match.volunteer_id == user_id))
    )
    return (await session.execute(stmt.limit(1))).first() is not None


# --- A party's answers (who is a party: market.matches.guardian)


async def respond(
    session: AsyncSession,
    settings: Settings,
    user: User,
    match: Match,
    side: str,
    accept: bool,
    *,
    reason: str | None = None,
    note: str | None = None,
) -> Match:
    # Both parties may answer at the same moment: the second waits here for the first, then
    # sees its answer, so exactly one of them connects the match (conversation, notifications).
    if await lock_row(session, Match, match.id) is None:
        raise NotFound("There is no such match.")
    if match.status != "proposed":
        raise Conflict("This match is not waiting for an answer any more.")
    mine = "offer_response" if side == "offer" else "need_response"
    if getattr(match, mine) != "pending":
        raise Conflict("You have answered already.")
    if not accept:
        setattr(match, mine, Response.DECLINED)
        match.status = MatchStatus.DECLINED
        match.declined_by = user.id
        # Why, from a fixed list (models.DECLINE_REASONS), shown to the region's coordinators.
        match.decline_reason = DeclineReason(reason) if reason is not None else None
        match.decline_note = note or None
        await session.flush()
        # Each post may now be proposed to the next best partner.
        for post_id in (match.need_id, match.offer_id):
            post = await session.get(Post, post_id)
            if post is not None:
                await match_post(session, settings, post)
        return match
    setattr(match, mine, Response.ACCEPTED)
    if match.offer_response == match.need_response == "accepted":
        match.status = MatchStatus.CONNECTED
        match.connected_at = utcnow()
        # Time to first contact, for the statistics (the proposal's time is created_at).
        match.first_contact_seconds = max(
            0, int((match.connected_at - match.created_at).total_seconds())
        )
        await session.flush()
        await open_for(session, [match.volunteer_id, match.need_author_id], match_id=match.id)
        await _tell(session, settings, match, "match.connected", "match_connected")
    await session.flush()
    return match


async def conversation_id(session: AsyncSession, match: Match) -> str | None:
    stmt = select(Conversation.id).where(Conversation.match_id == match.id)
    return (await session.execute(stmt)).scalar_one_or_none()


# --- Reopening a match that did not happen (API.md, Follow-through)

# Ended after being connected: the match was there, but the two never got together.
REOPENABLE_ENDED = ("declined", "expired", "closed")
REOPENED = "reopened"  # closed_reason of a reopened match: it is reopened once only


def may_be_reopened(match: Match) -> bool:
    """Whether the match did not happen: someone answered "we did not meet", or it ended after
    it was connected. A reopened match is not reopened again."""
    if match.closed_reason == REOPENED:
        return False
    if match.status == "connected":
        return match.need_met is False or match.offer_met is False
    return match.connected_at is not None and match.status in REOPENABLE_ENDED


REOPENED_KIND = "match.reopened"  # the volunteer's notification (market.inbox.texts)


async def reopen(
    session: AsyncSession, settings: Settings, match: Match, now: datetime | None = None
) -> list[Match]:
    """Close a match that did not happen and propose the need to its next candidates (the
    pair itself is never proposed again, as every pair has one row). Who may: the guardian."""
    if await lock_row(session, Match, match.id) is None:
        raise NotFound("There is no such match.")
    if not may_be_reopened(match):
        raise Conflict("This match cannot be reopened.")
    need = await session.get(Post, match.need_id)
    if need is None or need.status != "published":
        raise Conflict("Your request is not published, so nobody can be proposed.")
    now = now or utcnow()
    if match.status == "connected":
        match.status = MatchStatus.CLOSED
        match.closed_at = now
    match.closed_reason = REOPENED
    await session.flush()
    await _tell_volunteer_reopened(session, settings, match)
    return await match_post(session, settings, need, now)


async def _tell_volunteer_reopened(session: AsyncSession, settings: Settings, match: Match) -> None:
    """The volunteer learns the match was given up (in the app, and by mail like every match
    mail), so they do not wait for a meeting that will not come; their offer stays."""
    await tell(
        session,
        settings,
        await session.get(User, match.volunteer_id),
        kind=REOPENED_KIND,
        data={"match_id": match.id},
        template="match_reopened",
        context={"link": f"{settings.base_url.rstrip('/')}/matches/{match.id}"},
        essential=True,  # match mails cannot be switched off
    )


def my_response(match: Match, side: str) -> str:
    return match.offer_response if side == "offer" else match.need_response


OPEN_STATUSES = OPEN
