"""Selects for organisations, postings and applications."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.organisations.models import Application
from market.posts.models import Post


def is_posting() -> ColumnElement[bool]:
    """A need with seats: a programme volunteers apply to."""
    return and_(Post.kind == "need", Post.seats.is_not(None))


def open_posting_of(org_id: str) -> ColumnElement[bool]:
    return and_(Post.organisation_id == org_id, Post.status == "published", is_posting())


def open_postings(org_id: str) -> Select[Any]:
    return (
        select(Post).where(open_posting_of(org_id)).order_by(Post.created_at.desc(), Post.id.desc())
    )


def postings_of(org_id: str) -> Select[Any]:
    """All of the organisation's postings, in any status, newest first."""
    return (
        select(Post)
        .where(Post.organisation_id == org_id, is_posting())
        .order_by(Post.created_at.desc(), Post.id.desc())
    )


def needs_of(org_id: str) -> Select[Any]:
    """The organisation's needs without seats (for one person), newest first."""
    return (
        select(Post)
        .where(Post.organisation_id == org_id, Post.kind == "need", Post.seats.is_(None))
        .order_by(Post.created_at.desc(), Post.id.desc())
    )


async def application_counts(
    session: AsyncSession, post_ids: list[str]
) -> dict[str, dict[str, int]]:
    """{post_id: {status: count}} for the given posts; absent statuses count 0."""
    counts: dict[str, dict[str, int]] = defaultdict(
        lambda: {"pending": 0, "accepted": 0, "declined": 0, "withdrawn": 0}
    )
    if not post_ids:
        return counts
    stmt = (
        select(Application.post_id, Application.status, func.count())
        .where(Application.post_id.in_(post_ids))
        .group_by(Application.post_id, Application.status)
    )
    for post_id, status, n in (await session.execute(stmt)).all():
        counts[post_id][status] = int(n)
    return counts


async def accepted_count(session: AsyncSession, post_id: str) -> int:
    stmt = select(func.count()).where(
        Application.post_id == post_id, Application.status == "accepted"
    )
    return int((await session.execute(stmt)).scalar_one())


def of_post(post_id: str, status: str | None = None) -> Select[Any]:
    stmt = select(Application).where(Application.post_id == post_id)
    if status:
        stmt = stmt.where(Application.status == status)
    return stmt


def of_volunteer(user_id: str) -> Select[Any]:
    return select(Application).where(Application.volunteer_id == user_id)


def of_posts(post_ids: list[str], status: str | None = None) -> Select[Any]:
    stmt = select(Application).where(Application.post_id.in_(post_ids))
    if status:
        stmt = stmt.where(Application.status == status)
    return stmt.order_by(Application.created_at, Application.id)
