"""The daily digest: one mail a day with the notifications a person chose to get that way.

The day starts at 07:00 Europe/Berlin. Whoever has at least one kind of notification set to
"digest" gets, once per day, one mail listing those notifications that arrived since their
previous digest. `run()` is idempotent: each person's digest of a day is claimed in the same
transaction that queues its mail (a compare-and-set on notification_digests), so running it
twice, on two workers at once, or late after a restart sends each digest once, and a run that
was missed (the server was down at 07:00) is made up by the next one.

Why the covered window ends a few minutes before now: a notification is stamped when its
transaction writes it, and becomes visible when that transaction commits. Leaving the last few
minutes to the next digest means none falls between two digests.

The arq worker runs this as a cron job; `anlauf serve` without Redis runs it in-process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.accounts.models import User
from market.db import utcnow
from market.inbox.texts import describe
from market.settings import Settings
from notifications.mail import queue_mail
from notifications.models import DigestState, Notification
from notifications.outbox import pop_outbox_ids
from notifications.preferences import digest_kinds, digest_user_ids

log = logging.getLogger(__name__)

TIMEZONE = ZoneInfo("Europe/Berlin")
HOUR = 7
# Notifications younger than this are left to the next digest (their transaction may not
# have committed yet).
SETTLE = timedelta(minutes=5)
# The first digest of someone who never had one covers this much.
FIRST_WINDOW = timedelta(days=1)
MAX_ITEMS = 50
BATCH = 200


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
        await session.execute(postgresql.insert(DigestState).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        await session.execute(sqlite.insert(DigestState).values(values).on_conflict_do_nothing())
    elif await session.get(DigestState, user_id) is None:  # pragma: no cover
        session.add(DigestState(**values))
        await session.flush()


async def send_one(
    session: AsyncSession, settings: Settings, user_id: str, now: datetime
) -> bool:
    """Queue this person's digest of the day if it is due and has something to say."""
    user = await session.get(User, user_id)
    if user is None or not user.is_active or user.deleted_at is not None:
        return False
    if not user.email_verified:
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
    total = int(await session.scalar(select(func.count()).select_from(Notification).where(*window)) or 0)
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
    await queue_mail(
        session,
        to=user.email,
        template="digest",
        locale=user.locale,
        context={
            "name": user.display_name,
            "items": items,
            "count": total,
            "more": total - len(items),
            "link": f"{base}/notifications",
            "settings_link": f"{base}/account/notifications",
        },
        settings=settings,
        user_id=user.id,
        kind="digest",
    )
    return True


Kick = Callable[[Iterable[str]], None]


async def run(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime | None = None,
    kick: Kick | None = None,
) -> dict[str, int]:
    """One pass over everyone with a digest; each person in a transaction of their own.

    `kick` (a Relay's) starts the queued mails at once; otherwise the relay's sweep finds them.
    """
    now = now or utcnow()
    sent = failed = 0
    after: str | None = None
    while True:
        async with sessionmaker() as session:
            ids = await digest_user_ids(session, after=after, limit=BATCH)
        if not ids:
            break
        for user_id in ids:
            try:
                async with sessionmaker() as session:
                    async with session.begin():
                        if await send_one(session, settings, user_id, now):
                            sent += 1
                    if kick is not None:
                        kick(pop_outbox_ids(session))
            except Exception:
                failed += 1
                log.exception("digest for user %s failed; the next run tries again", user_id)
        after = ids[-1]
    if sent or failed:
        log.info("digest: %d queued, %d failed", sent, failed)
    return {"digests": sent, "failed": failed}


async def run_daily(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, kick: Kick | None = None
) -> None:
    """The in-process schedule for `anlauf serve` without Redis: now (catching up), then 07:00."""
    while True:
        try:
            await run(sessionmaker, settings, kick=kick)
        except Exception:
            log.warning("digest run failed; trying again at the next run", exc_info=True)
        wait = (next_run(utcnow()) - utcnow()).total_seconds()
        await asyncio.sleep(max(1.0, wait) + 1.0)
