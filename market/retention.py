"""Retention: needs that may be stale (API.md, Release 2, Follow-through).

A need that has waited 30 days without a match asks its author whether it is still needed; left
unconfirmed for 7 more days it is closed and the author is told.

"Without a match" (our reading): no match of any status was proposed for the need since it was
published, and the author has not confirmed it in the last 30 days (a confirmation starts the
30 days again). The state lives in `need_confirmations`, one row per need: `asked_at` is set
while a question is open, `confirmed_at` by the author's answer, `closed_at` by the closing.

Once per need and period, even when two ticks run at the same moment: each step is a
conditional UPDATE on that row (asked_at IS NULL to ask, asked_at = the asked time to close or
confirm), and only the transaction whose UPDATE changed the row sends mail. The confirm link is
signed, carries the asked time (so it works once: the answer clears it) and opens a page whose
button confirms, so a mail scanner that follows links confirms nothing.

The rules are registered with market.maintenance and take `now`; they never read the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import ForeignKey, String, and_, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import Exists
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.accounts.models import User
from market.db import Base, lock_row, utcnow
from market.matches.models import Match
from market.posts.models import Post
from market.settings import Settings
from notifications.inapp import notify
from notifications.mail import queue_mail

STALE_AFTER = timedelta(days=30)
CLOSE_AFTER = timedelta(days=7)
# The link stays valid a little longer than the question stays open (real clock).
LINK_MAX_AGE = timedelta(days=14)
BATCH = 200


class NeedConfirmation(Base):
    """Whether a need's author still needs it: the open question and the last answer."""

    __tablename__ = "need_confirmations"

    post_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    asked_at: Mapped[datetime | None] = mapped_column(index=True)
    confirmed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


def _signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt="anlauf-need-still-needed")


def confirm_token(settings: Settings, post_id: str, asked_at: datetime) -> str:
    return _signer(settings).dumps({"post": post_id, "asked": asked_at.isoformat()})


def read_token(settings: Settings, token: str) -> tuple[str, datetime] | None:
    """(post id, asked time) of a genuine, recent link; None otherwise."""
    try:
        data = _signer(settings).loads(token, max_age=int(LINK_MAX_AGE.total_seconds()))
        return str(data["post"]), datetime.fromisoformat(str(data["asked"]))
    except (BadSignature, SignatureExpired, KeyError, TypeError, ValueError):
        return None


def _path(settings: Settings, post_id: str, asked_at: datetime) -> str:
    return f"/needs/{post_id}/still-needed?token={confirm_token(settings, post_id, asked_at)}"


async def _ensure_row(session: AsyncSession, post_id: str) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(insert(NeedConfirmation).values(post_id=post_id).on_conflict_do_nothing())


def _matched_since(since: Any) -> Exists:
    return exists().where(Match.need_id == Post.id, Match.created_at >= since)


async def ask_stale_needs(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Ask the authors of needs waiting 30 days without a match; each need once per period."""
    cutoff = now - STALE_AFTER
    stmt = (
        select(Post)
        .outerjoin(NeedConfirmation, NeedConfirmation.post_id == Post.id)
        .where(
            Post.kind == "need",
            Post.status == "published",
            Post.published_at <= cutoff,
            NeedConfirmation.asked_at.is_(None),
            or_(NeedConfirmation.confirmed_at.is_(None), NeedConfirmation.confirmed_at <= cutoff),
            ~_matched_since(Post.published_at),
        )
        .order_by(Post.published_at)
        .limit(BATCH)
    )
    acted = 0
    for post in list((await session.execute(stmt)).scalars()):
        await _ensure_row(session, post.id)
        claimed = await session.execute(
            update(NeedConfirmation)
            .where(
                NeedConfirmation.post_id == post.id,
                NeedConfirmation.asked_at.is_(None),
                or_(
                    NeedConfirmation.confirmed_at.is_(None),
                    NeedConfirmation.confirmed_at <= cutoff,
                ),
            )
            .values(asked_at=now)
            .execution_options(synchronize_session=False)
        )
        if int(getattr(claimed, "rowcount", 0) or 0) != 1:
            continue  # another tick asked already
        acted += 1
        author = await session.get(User, post.author_id)
        if author is None or author.deleted_at is not None or not author.is_active:
            continue
        path = _path(settings, post.id, now)
        link = settings.base_url.rstrip("/") + path
        await notify(
            session,
            user_id=author.id,
            kind="need.confirm",
            data={"post_id": post.id, "post_title": post.title, "path": path},
        )
        if author.email_verified:
            await queue_mail(
                session,
                to=author.email,
                template="need_still_needed",
                locale=author.locale,
                context={
                    "name": author.display_name,
                    "title": post.title,
                    "link": link,
                    "close_on": (now + CLOSE_AFTER).date().isoformat(),
                },
                settings=settings,
                user_id=author.id,
            )
    return acted


async def close_unconfirmed(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Close needs whose author left the question unanswered for 7 days, and tell them."""
    from market.posts import services as posts

    rows = list(
        (
            await session.execute(
                select(NeedConfirmation.post_id, NeedConfirmation.asked_at)
                .where(NeedConfirmation.asked_at <= now - CLOSE_AFTER)
                .limit(BATCH)
            )
        ).all()
    )
    acted = 0
    for post_id, asked_at in rows:
        claimed = await session.execute(
            update(NeedConfirmation)
            .where(NeedConfirmation.post_id == post_id, NeedConfirmation.asked_at == asked_at)
            .values(asked_at=None)
            .execution_options(synchronize_session=False)
        )
        if int(getattr(claimed, "rowcount", 0) or 0) != 1:
            continue  # answered or closed in the meantime
        acted += 1
        post = await lock_row(session, Post, post_id)
        if post is None or post.status != "published":
            continue  # ended some other way: nothing to close
        matched = await session.scalar(
            select(exists().where(Match.need_id == post_id, Match.created_at >= asked_at))
        )
        if matched:
            continue  # a match came after the question: the need is not stale
        await posts.end(session, post, "closed")
        await session.execute(
            update(NeedConfirmation)
            .where(NeedConfirmation.post_id == post_id)
            .values(closed_at=now)
            .execution_options(synchronize_session=False)
        )
        author = await session.get(User, post.author_id)
        if author is None or author.deleted_at is not None or not author.is_active:
            continue
        await notify(
            session,
            user_id=author.id,
            kind="need.closed",
            data={"post_id": post.id, "post_title": post.title},
        )
        if author.email_verified:
            await queue_mail(
                session,
                to=author.email,
                template="need_closed_stale",
                locale=author.locale,
                context={
                    "name": author.display_name,
                    "title": post.title,
                    "link": f"{settings.base_url.rstrip('/')}/posts/{post.id}",
                },
                settings=settings,
                user_id=author.id,
            )
    return acted


async def confirm(session: AsyncSession, post_id: str, asked_at: datetime) -> bool:
    """The author's "still needed": True the first time, False for a used or outdated link."""
    # Never before the question: ticks may run "in the future" (anlauf tick --at, tests).
    answered = max(utcnow(), asked_at)
    result = await session.execute(
        update(NeedConfirmation)
        .where(
            and_(NeedConfirmation.post_id == post_id, NeedConfirmation.asked_at == asked_at),
            exists().where(Post.id == post_id, Post.status == "published"),
        )
        .values(asked_at=None, confirmed_at=answered)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


# --- Inactive accounts (API.md: warned 30 and 7 days before, then deleted as by DELETE /me).
#
# "Inactive" is what we can measure without writing on every request: the account's creation,
# its last login (a new browser session) and its last API token use or creation (kept to the
# minute by market.web). Browser sessions expire, so a person who keeps using the site logs in
# again within a session's lifetime. Staff accounts (coordinators, admins) are warned but never
# deleted automatically: removing the last admin of a region must be a person's decision.
# Suspended accounts (is_active false) are left alone: nobody could act on a warning.

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


# --- Police-certificate facts (§ 72a SGB VIII; API.md: kept only as dates, then deleted).
#
# What is stored of a certificate is three dates: its re-check date (`police_certificate_until`,
# on the account and on each vetting decision), its own date and the day a coordinator saw it
# (on each decision). All three are deleted together; the decision itself (its date and
# checklist) stays as the record that vetting happened. They are deleted 6 months after the
# volunteer's last match or application in a category that needs a certificate, or 3 months after
# it was recorded when no such activity began since. An open match (proposed or connected) in
# such a category counts as activity going on: its certificate is never deleted under it.

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


# --- The page behind the link: GET shows a button, POST confirms.


async def still_needed(request: Request) -> Response:
    from market.forms import page
    from market.web import db, form_with_csrf, settings_of

    session, settings = db(request), settings_of(request)
    token = request.query_params.get("token", "")
    if request.method == "POST":
        form = await form_with_csrf(request)
        token = str(form.get("token", ""))
    found = read_token(settings, token)
    post = None
    state = "gone"
    if found is not None and found[0] == request.path_params["post_id"]:
        post = await session.get(Post, found[0])
        row = await session.get(NeedConfirmation, found[0])
        if (
            post is not None
            and post.status == "published"
            and row is not None
            and row.asked_at == found[1]
        ):
            state = "ask"
            if request.method == "POST":
                state = "done" if await confirm(session, post.id, found[1]) else "gone"
    context = {"post": post, "token": token, "state": state}
    # A used, outdated or forged link: a friendly page that changes nothing.
    status = 409 if state == "gone" else 200
    return await page(request, "posts/still_needed.html", context, status_code=status)


routes = [Route("/needs/{post_id}/still-needed", still_needed, methods=["GET", "POST"])]
