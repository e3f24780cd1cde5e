"""No one left waiting: the clock on every proposed match (API.md, Release 2, Follow-through).

48 hours after a proposal, a side that has not answered is reminded; at 5 days the region's
coordinators see the match in their "waiting for an answer" queue and are told once; at 7 days
the match expires, the side that answered is told, and each post goes to its next candidate. A
volunteer who let two proposals expire is paused (the matcher skips them) until they say they
are available again.

Every rule takes `now` (so `anlauf tick --at` can move time) and marks each step with a
conditional UPDATE (`... WHERE reminded_at IS NULL`): two runs at the same moment do each step
once, as only one of them changes the row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import CoordinatorRegion, User
from market.db import lock_row, utcnow
from market.matches import queries
from market.matches.models import Match
from market.posts.models import Post
from market.settings import Settings
from notifications.tell import tell

REMIND_AFTER = timedelta(hours=48)
STALLED_AFTER = timedelta(days=5)
EXPIRE_AFTER = timedelta(days=7)
# Proposals a volunteer may let expire before they are paused.
PAUSE_AFTER = 2
BATCH = 200
AVAILABILITY_LINK_DAYS = 30


async def _claim(session: AsyncSession, match_id: str, values: dict[str, Any], unset: Any) -> bool:
    """Mark a proposed match unless another run did it first (True: this run owns the step)."""
    result = await session.execute(
        update(Match)
        .where(Match.id == match_id, Match.status == "proposed", unset.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _base(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


async def _tell(
    session: AsyncSession,
    settings: Settings,
    user: User | None,
    kind: str,
    template: str,
    data: dict[str, Any],
    link: str,
    extra: dict[str, Any] | None = None,
) -> None:
    await tell(
        session,
        settings,
        user,
        kind=kind,
        data=data,
        template=template,
        context={"link": link, **(extra or {})},
        essential=True,  # match mails cannot be switched off
    )


def _due(column: Any, age: timedelta, now: datetime) -> Any:
    return (
        select(Match.id)
        .where(Match.status == "proposed", column.is_(None), Match.created_at <= now - age)
        .order_by(Match.created_at)
        .limit(BATCH)
    )


async def send_reminders(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """`match.reminder` once to each side that has not answered 48 hours after the proposal."""
    ids = list((await session.execute(_due(Match.reminded_at, REMIND_AFTER, now))).scalars())
    for match_id in ids:
        if not await _claim(session, match_id, {"reminded_at": now}, Match.reminded_at):
            continue
        await remind(session, settings, match_id)
    return len(ids)


async def remind(session: AsyncSession, settings: Settings, match_id: str) -> int:
    """Remind the sides of a proposed match that have not answered (also the coordinators'
    "remind again"); how many were reminded."""
    match = await session.get(Match, match_id, populate_existing=True)
    if match is None or match.status != "proposed":
        return 0
    users = await queries.users_by_id(session, [match.volunteer_id, match.need_author_id])
    link = f"{_base(settings)}/matches/{match.id}"
    told = 0
    for user_id, response in (
        (match.volunteer_id, match.offer_response),
        (match.need_author_id, match.need_response),
    ):
        if response == "pending":
            await _tell(
                session,
                settings,
                users.get(user_id),
                "match.reminder",
                "match_reminder",
                {"match_id": match.id},
                link,
            )
            told += 1
    return told


async def coordinators_of(session: AsyncSession, region_id: str | None) -> list[User]:
    """The active coordinators who work a region: those named for it, and those without any
    region (they work every region)."""
    named = select(CoordinatorRegion.user_id).where(CoordinatorRegion.region_id == region_id)
    any_region = select(CoordinatorRegion.user_id)
    stmt = select(User).where(
        User.role == "coordinator",
        User.is_active.is_(True),
        or_(User.id.in_(named), User.id.not_in(any_region)),
    )
    return list((await session.execute(stmt)).scalars())


async def flag_stalled(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """At 5 days: into the coordinators' queue, and `match.stalled` once to the region's."""
    ids = list((await session.execute(_due(Match.stalled_at, STALLED_AFTER, now))).scalars())
    for match_id in ids:
        if not await _claim(session, match_id, {"stalled_at": now}, Match.stalled_at):
            continue
        match = await session.get(Match, match_id, populate_existing=True)
        need = await session.get(Post, match.need_id) if match is not None else None
        if need is None:
            continue
        link = f"{_base(settings)}/review/waiting"
        for coordinator in await coordinators_of(session, need.region_id):
            await _tell(
                session,
                settings,
                coordinator,
                "match.stalled",
                "match_stalled",
                {"match_id": match_id},
                link,
            )
    return len(ids)


async def expire(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """At 7 days: `expired`, the side that answered is told, each post goes to its next
    candidate, and a volunteer who let two proposals expire is paused."""
    from market.matches.services import match_post

    ids = list(
        (
            await session.execute(
                select(Match.id)
                .where(Match.status == "proposed", Match.created_at <= now - EXPIRE_AFTER)
                .order_by(Match.created_at)
                .limit(BATCH)
            )
        ).scalars()
    )
    for match_id in ids:
        claimed = await _claim(
            session,
            match_id,
            {
                "status": "expired",
                "expired_at": now,
                "closed_at": now,
                "closed_reason": "no_answer",
            },
            Match.expired_at,
        )
        if not claimed:
            continue
        match = await session.get(Match, match_id, populate_existing=True)
        if match is None:
            continue
        users = await queries.users_by_id(session, [match.volunteer_id, match.need_author_id])
        link = f"{_base(settings)}/matches/{match.id}"
        for user_id, response in (
            (match.volunteer_id, match.offer_response),
            (match.need_author_id, match.need_response),
        ):
            if response == "accepted":
                await _tell(
                    session,
                    settings,
                    users.get(user_id),
                    "match.expired",
                    "match_expired",
                    {"match_id": match.id},
                    link,
                )
        if match.offer_response == "pending":
            await _count_expiry(session, settings, match.volunteer_id, now)
        for post_id in (match.need_id, match.offer_id):
            post = await session.get(Post, post_id)
            if post is not None:
                await match_post(session, settings, post, now)
    return len(ids)


async def _count_expiry(
    session: AsyncSession, settings: Settings, volunteer_id: str, now: datetime
) -> None:
    volunteer = await lock_row(session, User, volunteer_id)
    if volunteer is None:
        return
    volunteer.expired_proposals += 1
    if volunteer.available and volunteer.expired_proposals >= PAUSE_AFTER:
        volunteer.available = False
        volunteer.paused_at = now
        await session.flush()
        link = f"{_base(settings)}/me/available?token={availability_token(settings, volunteer)}"
        await _tell(
            session,
            settings,
            volunteer,
            "match.paused",
            "availability_paused",
            {},
            link,
        )
    await session.flush()


# --- Saying "I am available again"


def _signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt="anlauf-availability")


def availability_token(settings: Settings, user: User) -> str:
    # Bound to this pause: once the volunteer is available again, the link is spent.
    paused = user.paused_at.isoformat() if user.paused_at else ""
    return _signer(settings).dumps({"user": user.id, "paused": paused})


async def user_from_token(session: AsyncSession, settings: Settings, token: str) -> User | None:
    """The paused volunteer a link belongs to; None when the link is forged, too old, or spent."""
    try:
        data = _signer(settings).loads(token, max_age=AVAILABILITY_LINK_DAYS * 24 * 3600)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict):
        return None
    user = await session.get(User, str(data.get("user")))
    if user is None or user.available or user.paused_at is None:
        return None
    if user.paused_at.isoformat() != data.get("paused"):
        return None
    return user


async def set_available(
    session: AsyncSession, settings: Settings, user: User, available: bool
) -> User:
    """Pause or unpause; unpausing proposes the volunteer's offers again."""
    from market.matches.services import match_post

    if await lock_row(session, User, user.id) is None:
        return user
    was = user.available
    user.available = available
    if available:
        user.expired_proposals = 0
        user.paused_at = None
    elif was:
        from market.db import utcnow

        user.paused_at = utcnow()
    await session.flush()
    if available and not was:
        stmt = select(Post).where(
            Post.author_id == user.id, Post.status == "published", Post.kind == "offer"
        )
        for offer in list((await session.execute(stmt)).scalars()):
            await match_post(session, settings, offer)
    return user


# --- "Did you meet?" seven days after connected

ASK_OUTCOME_AFTER = timedelta(days=7)
OUTCOME_LINK_DAYS = 30


def _outcome_signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt="anlauf-match-outcome")


def outcome_token(settings: Settings, match: Match, side: str, now: datetime | None = None) -> str:
    """A signed link for one side. It carries the moment of its run (`now`, the rule's
    time), since the signer's own stamp is the wall clock and `anlauf tick --at` has another."""
    issued = (now or utcnow()).timestamp()
    return _outcome_signer(settings).dumps({"match": match.id, "side": side, "at": issued})


def outcome_from_token(
    settings: Settings, token: str, now: datetime | None = None
) -> tuple[str, str] | None:
    """(match id, side) of a genuine link not older than 30 days at `now`."""
    max_age = OUTCOME_LINK_DAYS * 24 * 3600
    try:
        data = _outcome_signer(settings).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or data.get("side") not in ("offer", "need"):
        return None
    issued = data.get("at")
    if not isinstance(issued, (int, float)):
        return None
    if (now or utcnow()).timestamp() - issued > max_age:
        return None
    return str(data.get("match")), str(data["side"])


async def ask_outcome(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """One "Did you meet?" mail to each side of a match connected seven days ago."""
    ids = list(
        (
            await session.execute(
                select(Match.id)
                .where(
                    Match.status == "connected",
                    Match.outcome_asked_at.is_(None),
                    Match.connected_at <= now - ASK_OUTCOME_AFTER,
                )
                .order_by(Match.connected_at)
                .limit(BATCH)
            )
        ).scalars()
    )
    for match_id in ids:
        result = await session.execute(
            update(Match)
            .where(
                Match.id == match_id,
                Match.status == "connected",
                Match.outcome_asked_at.is_(None),
            )
            .values(outcome_asked_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue
        match = await session.get(Match, match_id, populate_existing=True)
        if match is None:
            continue
        users = await queries.users_by_id(session, [match.volunteer_id, match.need_author_id])
        for user_id, side in ((match.volunteer_id, "offer"), (match.need_author_id, "need")):
            token = outcome_token(settings, match, side, now)
            base = f"{_base(settings)}/matches/{match.id}/met?token={token}"
            # The question in the app too: a notification, and a card on the notifications page.
            await tell(
                session,
                settings,
                users.get(user_id),
                kind="match.outcome",
                data={"match_id": match.id},
                template="match_outcome",
                context={"yes_link": f"{base}&met=1", "no_link": f"{base}&met=0"},
                essential=True,  # match mails cannot be switched off
            )
    return len(ids)


async def record_outcome(
    session: AsyncSession, match: Match, side: str, met: bool, note: str | None, now: datetime
) -> Match:
    """A side's answer to "Did you meet?": once, and only while the match is connected."""
    from market.errors import Conflict, NotFound

    if await lock_row(session, Match, match.id) is None:
        raise NotFound("There is no such match.")
    if match.status != "connected":
        raise Conflict("This match is not connected any more.")
    if (match.offer_met if side == "offer" else match.need_met) is not None:
        raise Conflict("You have answered already.")
    if side == "offer":
        match.offer_met, match.offer_met_at = met, now
    else:
        match.need_met, match.need_met_at = met, now
    if note:
        match.outcome_note = note[:500]
    await session.flush()
    return match


def asks(match: Match, side: str | None) -> bool:
    """Whether the app asks this side "Did you meet?" now: asked, connected, not answered."""
    if side is None or match.status != "connected" or match.outcome_asked_at is None:
        return False
    return (match.offer_met if side == "offer" else match.need_met) is None


QUESTIONS_SHOWN = 5


async def questions(session: AsyncSession, actor: Any) -> list[tuple[Match, Post]]:
    """The actor's matches waiting for their "Did you meet?" answer, each with the partner's
    post (for its title), oldest question first; the guardian says which matches are theirs."""
    from market.matches import guardian

    stmt = guardian.visible(
        actor,
        select(Match).where(Match.status == "connected", Match.outcome_asked_at.is_not(None)),
    ).order_by(Match.outcome_asked_at, Match.id)
    found: list[tuple[Match, Post]] = []
    for match in (await session.execute(stmt.limit(50))).scalars():
        side = await guardian.side_of(session, actor, match)
        if not asks(match, side):
            continue
        partner = await session.get(Post, match.need_id if side == "offer" else match.offer_id)
        if partner is not None:
            found.append((match, partner))
        if len(found) >= QUESTIONS_SHOWN:
            break
    return found


def outcome_json(match: Match, side: str | None) -> dict[str, Any]:
    """`"outcome": {"mine", "partner"}`, each `{"met", "at"}` or null (docs/api-additions.md)."""

    def one(met: bool | None, at: datetime | None) -> dict[str, Any] | None:
        if met is None:
            return None
        return {"met": met, "at": at.isoformat() if at else None}

    offer = one(match.offer_met, match.offer_met_at)
    need = one(match.need_met, match.need_met_at)
    if side == "need":
        return {"mine": need, "partner": offer}
    return {"mine": offer, "partner": need}
