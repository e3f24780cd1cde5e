"""The daily digest: one mail a day with the notifications a person chose to get that way.

The day starts at 07:00 Europe/Berlin. Whoever has at least one kind of notification set to
"digest" gets, once per day, one mail listing those notifications that arrived since their
previous digest.

How: `run()` (an hourly arq cron job, or the in-process schedule of `anlauf serve` without
Redis) queues one outbox job per person whose digest of the day is still due; the job
(`send_digest`) claims that person's day with a compare-and-set on notification_digests and
queues the mail in the same commit. So a run repeated, run on two workers at once, or late
after an outage sends each digest once, and a missed 07:00 is made up by the next run. The
cron job itself only fans out, so it stays within arq's job timeout (which also bounds how soon
a crashed worker's mails are retried; see market.worker).

Why the covered window ends a few minutes before now: a notification is stamped when its
transaction writes it, and becomes visible when that transaction commits. Leaving the last few
minutes to the next digest means none falls between two digests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.accounts.models import User
from market.db import utcnow
from market.inbox.texts import describe
from market.settings import Settings
from notifications.models import DigestState, Notification, NotificationPreference
from notifications.outbox import JobContext, claim, enqueue, pop_outbox_ids, register_job
from notifications.preferences import digest_kinds
from notifications.tell import can_be_told, mail_person

log = logging.getLogger(__name__)

TIMEZONE = ZoneInfo("Europe/Berlin")
HOUR = 7
# Notifications younger than this are left to the next digest (their transaction may not
# have committed yet).
SETTLE = timedelta(minutes=5)
# The first digest of someone who never had one covers this much.
FIRST_WINDOW = timedelta(days=1)
MAX_ITEMS = 50
BATCH = 500
DIGEST_JOB = "send_digest"


Kick = Callable[[Iterable[str]], None]


def period_start(now: datetime) -> datetime:
    """The most recent 07:00 in Berlin at or before `now` (UTC)."""
    local = now.astimezone(TIMEZONE)
    start = local.replace(hour=HOUR, minute=0, second=0, microsecond=0)
    if local < start:
        day = (local - timedelta(days=1)).date()
        start = datetime(day.year, day.month, day.day, HOUR, tzinfo=TIMEZONE)
    return start.astimezone(ZoneInfo("UTC"))


def next_run(now: datetime) -> datetime:
    """The next 07:00 in Berlin after `now` (UTC); correct across daylight saving changes."""
    local = period_start(now).astimezone(TIMEZONE)
    day = (local + timedelta(days=1, hours=12)).date()
    return datetime(day.year, day.month, day.day, HOUR, tzinfo=TIMEZONE).astimezone(ZoneInfo("UTC"))


async def _ensure_state(session: AsyncSession, user_id: str) -> None:
    values = {"user_id": user_id, "covered_until": None}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        await session.execute(
            postgresql.insert(DigestState).values(values).on_conflict_do_nothing()
        )
    elif dialect == "sqlite":
        await session.execute(sqlite.insert(DigestState).values(values).on_conflict_do_nothing())
    elif await session.get(DigestState, user_id) is None:  # pragma: no cover
        session.add(DigestState(**values))
        await session.flush()


async def send_one(session: AsyncSession, settings: Settings, user_id: str, now: datetime) -> bool:
    """Queue this person's digest of the day if it is due and has something to say."""
    user = await session.get(User, user_id)
    if user is None or not can_be_told(user) or not user.email_verified:
        return False
    kinds = await digest_kinds(session, user_id)
    if not kinds:
        return False
    await _ensure_state(session, user_id)
    previous = await session.scalar(
        select(DigestState.covered_until).where(DigestState.user_id == user_id)
    )
    start = period_start(now)
    cut = now - SETTLE
    if previous is not None and previous >= start - SETTLE:
        return False  # today's digest is out already
    claim = (
        update(DigestState)
        .where(DigestState.user_id == user_id)
        .values(covered_until=cut, sent_at=now)
    )
    claim = claim.where(
        DigestState.covered_until.is_(None)
        if previous is None
        else DigestState.covered_until == previous
    )
    result = await session.execute(claim.execution_options(synchronize_session=False))
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return False  # someone else claimed it in the meantime
    since = previous if previous is not None else cut - FIRST_WINDOW
    window = (
        Notification.user_id == user_id,
        Notification.kind.in_(kinds),
        Notification.created_at > since,
        Notification.created_at <= cut,
    )
    total = int(
        await session.scalar(select(func.count()).select_from(Notification).where(*window)) or 0
    )
    if total == 0:
        return False
    notes = list(
        await session.scalars(
            select(Notification)
            .where(*window)
            .order_by(Notification.created_at.desc(), Notification.id)
            .limit(MAX_ITEMS)
        )
    )
    described = await describe(session, user, notes, user.locale)
    base = settings.base_url.rstrip("/")
    items: list[dict[str, Any]] = [
        {
            "text": described[n.id].text,
            "link": base + described[n.id].url,
            "at": n.created_at,
            "unread": n.read_at is None,
        }
        for n in notes
    ]
    await mail_person(
        session,
        settings,
        user,
        template="digest",
        context={
            "items": items,
            "count": total,
            "more": total - len(items),
            "link": f"{base}/notifications",
            "settings_link": f"{base}/account/notifications",
        },
        kind="digest",
    )
    return True


async def due_user_ids(
    session: AsyncSession, now: datetime, *, after: str | None = None, limit: int = BATCH
) -> list[str]:
    """People with a kind in the digest whose digest of the day has not gone out yet."""
    start = period_start(now)
    stmt = (
        select(NotificationPreference.user_id)
        .outerjoin(DigestState, DigestState.user_id == NotificationPreference.user_id)
        .where(
            NotificationPreference.mode == "digest",
            or_(
                DigestState.covered_until.is_(None),
                DigestState.covered_until < start - SETTLE,
            ),
        )
        .group_by(NotificationPreference.user_id)
        .order_by(NotificationPreference.user_id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(NotificationPreference.user_id > after)
    return list(await session.scalars(stmt))


async def run(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime | None = None,
    kick: Kick | None = None,
) -> dict[str, int]:
    """Queue a digest job (an outbox row) for everyone whose digest of the day is due.

    Quick, so the cron job stays within arq's job timeout; the digests themselves are outbox
    jobs (at-least-once, each claimed once per day in send_one). `now` is for tests and
    catch-ups; by default each job uses the time it runs. `kick` starts the jobs at once.
    """
    at = now or utcnow()
    queued = 0
    after: str | None = None
    while True:
        async with sessionmaker() as session:
            async with session.begin():
                ids = await due_user_ids(session, at, after=after)
                for user_id in ids:
                    payload: dict[str, Any] = {"user_id": user_id}
                    if now is not None:
                        payload["now"] = now.isoformat()
                    await enqueue(session, DIGEST_JOB, payload)
            if kick is not None:
                kick(pop_outbox_ids(session))
        queued += len(ids)
        if len(ids) < BATCH:
            break
        after = ids[-1]
    if queued:
        log.info("digest: %d queued", queued)
    return {"queued": queued}


@register_job(DIGEST_JOB)
async def send_digest(ctx: JobContext, outbox_id: str) -> None:
    """One person's digest: claimed with its outbox row; the mail is queued in that commit."""
    async with claim(ctx, outbox_id) as c:
        if c is None:
            return
        payload = c.item.payload
        raw_now = payload.get("now")
        now = datetime.fromisoformat(str(raw_now)) if raw_now else utcnow()
        await send_one(c.session, ctx.settings, str(payload["user_id"]), now)


async def run_hourly(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, kick: Kick | None = None
) -> None:
    """The in-process schedule for `anlauf serve` without Redis: now (catching up), then on
    every full hour, like the arq cron job; the 07:00 run sends the day's digests."""
    while True:
        try:
            await run(sessionmaker, settings, kick=kick)
        except Exception:
            log.warning("digest run failed; trying again at the next run", exc_info=True)
        now = utcnow()
        next_hour = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        await asyncio.sleep((next_hour - now).total_seconds() + 1.0)
