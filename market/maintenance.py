"""Keeping the marketplace fresh: posts expire unless renewed, certificates run out.

Seed platforms died of data nobody updated. Posts live `post_lifetime_days` (90) unless their
author renews them; seven days before, the author gets a reminder with a renew link. Expired
posts leave search and their matches are withdrawn. A volunteer whose police certificate has
run out loses the matches that need one. Copies of mail are redacted 30 days after the mail was
sent or given up (notifications.outbox.redact_mail_copies): they are personal data too.

`run(sessionmaker, settings)` does all of it and is idempotent: the arq worker runs it as a cron
job, and `anlauf serve` without Redis runs it in-process every hour.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market import idempotency
from market.accounts.models import User
from market.db import utcnow
from market.matches.models import Match
from market.matches.services import withdraw
from market.posts import renewal, taxonomy
from market.posts import services as posts
from market.posts.models import Post
from market.settings import Settings
from notifications.outbox import redact_mail_copies
from notifications.tell import can_be_told, mail_person

log = logging.getLogger(__name__)

REMIND_BEFORE = timedelta(days=7)
BATCH = 200


# The renew link and the renewal live with the posts; these names stay for older callers.
renew_token = renewal.renew_token
post_from_token = renewal.post_from_token
renew = renewal.renew


async def send_reminders(session: AsyncSession, settings: Settings, now: datetime) -> int:
    stmt = (
        select(Post)
        .where(
            Post.status == "published",
            Post.expires_at <= now + REMIND_BEFORE,
            Post.expires_at > now,
            Post.reminder_sent_at.is_(None),
        )
        .limit(BATCH)
    )
    sent = 0
    for post in list((await session.execute(stmt)).scalars()):
        post.reminder_sent_at = now
        author = await session.get(User, post.author_id)
        if author is None or not can_be_told(author) or not author.email_verified:
            continue
        link = f"{settings.base_url.rstrip('/')}/posts/{post.id}/renew?token={renew_token(settings, post)}"
        await mail_person(
            session,
            settings,
            author,
            template="post_expiring",
            context={
                "title": post.title,
                "link": link,
                "expires_at": post.expires_at.date().isoformat() if post.expires_at else "",
            },
        )
        sent += 1
    return sent


async def expire_posts(session: AsyncSession, now: datetime) -> int:
    stmt = select(Post).where(Post.status == "published", Post.expires_at <= now).limit(BATCH)
    expired = list((await session.execute(stmt)).scalars())
    for post in expired:
        await posts.end(session, post, "expired")
    return len(expired)


async def withdraw_uncertified(session: AsyncSession, now: datetime) -> int:
    """Matches that need a police certificate lose it the day after it runs out."""
    needing = [c.slug for c in taxonomy.CATEGORIES if taxonomy.requires_police_certificate(c.slug)]
    stmt = (
        select(Match)
        .join(User, User.id == Match.volunteer_id)
        .join(Post, Post.id == Match.need_id)
        .where(
            Match.status.in_(("proposed", "connected")),
            Post.category.in_(needing),
            (User.police_certificate_until.is_(None))
            | (User.police_certificate_until < now.date()),
            User.role == "volunteer",
        )
    )
    found = list((await session.execute(stmt)).scalars())
    for match in found:
        await withdraw(session, match, "certificate")
    return len(found)


# A periodic rule: one batch of work as of `now` (never the clock: `anlauf tick --at` and the
# tests move time), in the caller's transaction; returns how many rows it acted on. A rule that
# acted on BATCH rows is run again in a new transaction until it acts on fewer.
Rule = Callable[[AsyncSession, Settings, datetime], Awaitable[int]]

RULES: dict[str, Rule] = {
    "reminders": send_reminders,
    "expired": lambda s, settings, now: expire_posts(s, now),
    "certificates": lambda s, settings, now: withdraw_uncertified(s, now),
    "idempotency_keys_deleted": lambda s, settings, now: idempotency.delete_expired(s, now),
    "mail_copies_redacted": lambda s, settings, now: redact_mail_copies(s, now, limit=BATCH),
}


def register_rule(name: str, rule: Rule) -> Rule:
    """Add a periodic rule; market/features.py installs the features' rules and checks that
    every rule registered here is declared there (a stray one fails the start)."""
    RULES[name] = rule
    return rule


def _rules() -> dict[str, Rule]:
    # The features' rules are installed, in the order they run, by market/features.py (which
    # the app, the worker and the CLI build before anything runs); nothing is imported here.
    return dict(RULES)


async def run(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime | None = None
) -> dict[str, int]:
    """One pass of every periodic rule as of `now`, each batch in a transaction of its own."""
    at = now or utcnow()
    counts: dict[str, int] = {}
    for name, rule in _rules().items():
        total = 0
        while True:
            # Mail queued here is picked up by the outbox sweep within seconds.
            async with sessionmaker() as session, session.begin():
                done = await rule(session, settings, at)
            total += done
            if done < BATCH:
                break
        counts[name] = total
    return counts


Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


async def run_periodically(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    interval: float = 3600,
    *,
    clock: Clock = utcnow,
    sleep: Sleep = asyncio.sleep,
) -> None:
    """The in-process schedule for `anlauf serve` without Redis: every rule as of `clock()`,
    then `sleep(interval)` (tests pass their own clock and sleep instead of waiting)."""
    while True:
        try:
            counts = await run(sessionmaker, settings, clock())
        except Exception:
            # The next pass tries again (a database away for a while); but never silently.
            log.exception(
                "maintenance: the periodic rules failed; trying again in %.0f s", interval
            )
        else:
            if any(counts.values()):
                log.info("maintenance: %s", counts)
        await sleep(interval)
