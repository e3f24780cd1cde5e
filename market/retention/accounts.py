"""Retention: inactive accounts, warned 30 and 7 days before, then deleted as by DELETE /me
(API.md). A periodic rule of market.maintenance; re-exported by market.retention.

"Inactive" is what we can measure without writing on every request: the account's creation,
its last login (a new browser session) and its last API token use or creation (kept to the
minute by market.web). Browser sessions expire, so a person who keeps using the site logs in
again within a session's lifetime. Staff accounts (coordinators, admins) are warned but never
deleted automatically: removing the last admin of a region must be a person's decision.
Suspended accounts (is_active false) are left alone: nobody could act on a warning.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from market.accounts.models import User
from market.db import Base
from market.retention.needs import BATCH
from market.settings import Settings
from notifications.mail import queue_mail

WARN_FIRST = timedelta(days=30)
WARN_LAST = timedelta(days=7)


class AccountRetention(Base):
    """Warnings sent about an inactive account, for the activity they refer to."""

    __tablename__ = "account_retention"

    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # 0 nothing sent, 1 warned 30 days before, 2 warned 7 days before, 3 deleted.
    stage: Mapped[int] = mapped_column(default=0)
    # The last activity the warnings were about: newer activity starts over.
    active_at: Mapped[datetime | None]
    first_warned_at: Mapped[datetime | None]


def add_months(when: datetime, months: int) -> datetime:
    """Calendar months later; the 31st becomes the last day of a shorter month."""
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    last = [
        31,
        29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ][month - 1]
    return when.replace(year=year, month=month, day=min(when.day, last))


async def last_active(session: AsyncSession, user: User) -> datetime:
    from sqlalchemy import func

    from market.accounts.models import ApiToken, WebSession

    login = await session.scalar(
        select(func.max(WebSession.created_at)).where(WebSession.user_id == user.id)
    )
    token = await session.scalar(
        select(func.max(func.coalesce(ApiToken.last_used_at, ApiToken.created_at))).where(
            ApiToken.user_id == user.id
        )
    )
    return max(t for t in (user.created_at, login, token) if t is not None)


async def _advance(
    session: AsyncSession,
    user_id: str,
    row: AccountRetention | None,
    stage: int,
    active_at: datetime,
    now: datetime,
) -> bool:
    """Move the account's warning stage on, if no other tick did it first."""
    await _ensure_account_row(session, user_id)
    values: dict[str, object] = {"stage": stage, "active_at": active_at}
    if stage == 1:
        values["first_warned_at"] = now
    cond = [AccountRetention.user_id == user_id]
    if row is None:
        cond.append(AccountRetention.stage == 0)
        cond.append(AccountRetention.active_at.is_(None))
    else:
        cond.append(AccountRetention.stage == row.stage)
        cond.append(
            AccountRetention.active_at.is_(None)
            if row.active_at is None
            else AccountRetention.active_at == row.active_at
        )
    result = await session.execute(
        update(AccountRetention)
        .where(*cond)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def _ensure_account_row(session: AsyncSession, user_id: str) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(AccountRetention).values(user_id=user_id, stage=0).on_conflict_do_nothing()
    )


async def retire_inactive_accounts(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Warn accounts 30 and 7 days before they count as inactive, then erase them."""
    from market.accounts.erasure import erase
    from market.accounts.models import ApiToken, WebSession

    # Nobody active after this can be due for anything yet.
    threshold = add_months(now + WARN_FIRST, -settings.inactive_months)
    stmt = (
        select(User)
        .outerjoin(AccountRetention, AccountRetention.user_id == User.id)
        .where(
            User.deleted_at.is_(None),
            User.is_active.is_(True),
            User.created_at <= threshold,
            ~exists().where(WebSession.user_id == User.id, WebSession.created_at > threshold),
            ~exists().where(
                ApiToken.user_id == User.id,
                or_(ApiToken.created_at > threshold, ApiToken.last_used_at > threshold),
            ),
            or_(AccountRetention.stage.is_(None), AccountRetention.stage < 3),
        )
        .order_by(User.created_at, User.id)
        .limit(BATCH)
    )
    acted = 0
    for user in list((await session.execute(stmt)).scalars()):
        row = await session.get(AccountRetention, user.id)
        active_at = await last_active(session, user)
        stage = row.stage if row is not None and row.active_at == active_at else 0
        deadline = add_months(active_at, settings.inactive_months)
        if row is not None and stage >= 1 and row.first_warned_at is not None:
            # Everyone gets the full notice, even if the rule first ran late.
            deadline = max(deadline, row.first_warned_at + WARN_FIRST)
        if stage == 0 and now >= deadline - WARN_FIRST:
            step = 1
        elif stage == 1 and now >= deadline - WARN_LAST:
            step = 2
        elif stage == 2 and now >= deadline and not user.is_staff:
            step = 3
        else:
            continue
        if not await _advance(session, user.id, row, step, active_at, now):
            continue  # another tick did it
        acted += 1
        if step == 3:
            await erase(session, user)
            continue
        await queue_mail(
            session,
            to=user.email,
            template="account_inactive",
            locale=user.locale,
            context={
                "name": user.display_name,
                "delete_on": deadline.date().isoformat(),
                "staff": user.is_staff,
                "link": f"{settings.base_url.rstrip('/')}/login",
            },
            settings=settings,
            user_id=user.id,
        )
    return acted
