"""Retention: police-certificate facts (§ 72a SGB VIII; API.md: kept only as dates, then
deleted). A periodic rule of market.maintenance; re-exported by market.retention.

What is stored of a certificate is three dates: its re-check date (`police_certificate_until`,
on the account and on each vetting decision), its own date and the day a coordinator saw it
(on each decision). All three are deleted together; the decision itself (its date and
checklist) stays as the record that vetting happened. They are deleted 6 months after the
volunteer's last match or application in a category that needs a certificate, or 3 months after
it was recorded when no such activity began since. An open match (proposed or connected) in
such a category counts as activity going on: its certificate is never deleted under it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.matches.models import Match
from market.posts.models import Post
from market.retention.accounts import add_months
from market.settings import Settings

KEEP_AFTER_ACTIVITY = 6
KEEP_WITHOUT_ACTIVITY = 3


async def delete_certificate_facts(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Delete re-check dates that are past their keeping time; returns volunteers affected."""
    from sqlalchemy import func

    from market.organisations.models import Application, Posting
    from market.posts import taxonomy
    from market.vetting.models import VettingDecision

    needing = [c.slug for c in taxonomy.CATEGORIES if taxonomy.requires_police_certificate(c.slug)]
    # Any of the three dates on a decision (the certificate's, the day seen, the re-check).
    decision_facts = or_(
        VettingDecision.police_certificate_until.is_not(None),
        VettingDecision.police_certificate_issued_on.is_not(None),
        VettingDecision.police_certificate_seen_on.is_not(None),
    )
    has_facts = or_(
        User.police_certificate_until.is_not(None),
        exists().where(VettingDecision.volunteer_id == User.id, decision_facts),
    )
    # Nothing recorded less than 3 months ago can be due.
    candidates = list(
        (
            await session.execute(
                select(User.id).where(User.role == "volunteer", has_facts).order_by(User.id)
            )
        ).scalars()
    )
    acted = 0
    for user_id in candidates:
        recorded = await session.scalar(
            select(func.max(VettingDecision.created_at)).where(
                VettingDecision.volunteer_id == user_id, decision_facts
            )
        )
        open_match = await session.scalar(
            select(
                exists().where(
                    Match.volunteer_id == user_id,
                    Match.status.in_(("proposed", "connected")),
                    Match.need_id == Post.id,
                    Post.category.in_(needing),
                )
            )
        )
        if open_match:
            continue
        last_match = await session.scalar(
            select(func.max(Match.created_at)).where(
                Match.volunteer_id == user_id,
                Match.need_id == Post.id,
                Post.category.in_(needing),
            )
        )
        last_application = await session.scalar(
            select(func.max(Application.created_at)).where(
                Application.volunteer_id == user_id,
                Application.post_id == Posting.post_id,
                or_(
                    Posting.police_certificate.is_(True),
                    exists().where(Post.id == Application.post_id, Post.category.in_(needing)),
                ),
            )
        )
        activity = [t for t in (last_match, last_application) if t is not None]
        since = recorded or (await session.get(User, user_id)).created_at  # type: ignore[union-attr]
        recent = [t for t in activity if t >= since]
        if recent:
            due = add_months(max(recent), KEEP_AFTER_ACTIVITY)
        else:
            due = add_months(since, KEEP_WITHOUT_ACTIVITY)
        if now < due:
            continue
        await session.execute(
            update(User)
            .where(User.id == user_id)
            .values(police_certificate_until=None)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(VettingDecision)
            .where(VettingDecision.volunteer_id == user_id)
            .values(
                police_certificate_until=None,
                police_certificate_issued_on=None,
                police_certificate_seen_on=None,
            )
            .execution_options(synchronize_session=False)
        )
        acted += 1
    return acted
