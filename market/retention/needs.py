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
from notifications.tell import tell

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


async def _tell_author(
    session: AsyncSession,
    settings: Settings,
    post: Post,
    *,
    kind: str,
    data: dict[str, Any],
    template: str,
    context: dict[str, Any],
) -> None:
    """In the app, and by mail to a verified address; nobody when the author is gone or
    suspended. The post's id and title go along with both."""
    await tell(
        session,
        settings,
        await session.get(User, post.author_id),
        kind=kind,
        data={"post_id": post.id, "post_title": post.title, **data},
        template=template,
        context={"title": post.title, **context},
    )


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
        path = _path(settings, post.id, now)
        await _tell_author(
            session,
            settings,
            post,
            kind="need.confirm",
            data={"path": path},
            template="need_still_needed",
            context={
                "link": settings.base_url.rstrip("/") + path,
                "close_on": (now + CLOSE_AFTER).date().isoformat(),
            },
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
        await _tell_author(
            session,
            settings,
            post,
            kind="need.closed",
            data={},
            template="need_closed_stale",
            context={"link": f"{settings.base_url.rstrip('/')}/posts/{post.id}"},
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
