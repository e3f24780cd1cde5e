"""Who may moderate what: handle reports, take posts down, report posts and people.

Reports and posts keep the rules of market.vetting.guardian and market.posts.guardian (a
coordinator with regions handles only what lies in them; everything else is 404 to them); this
module only names the questions the moderation pages ask, so their handlers decide nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.actor import Actor
from market.errors import NotFound, Unauthorized
from market.posts import guardian as posts_guardian
from market.posts.models import Post
from market.vetting import guardian as vetting_guardian
from market.vetting.models import Report


def reports(actor: Actor, stmt: Select[Any]) -> Select[Any]:
    """The reports this actor may handle (by their target's region)."""
    return vetting_guardian.reports(actor, stmt)


async def report(session: AsyncSession, actor: Actor, report_id: str) -> Report:
    """A report to resolve or dismiss: 403 for non-staff, 404 outside the actor's regions."""
    return await vetting_guardian.report(session, actor, report_id)


def may_moderate(actor: Actor, post: Post) -> bool:
    """Whether the post page offers "take down" / "publish again": staff of its region."""
    return actor.works(post.region_id)


async def post_to_moderate(session: AsyncSession, actor: Actor, post_id: str) -> Post:
    """A post to take down or publish again: 403 for non-staff, 404 outside their regions."""
    vetting_guardian.require_staff(actor)
    return await posts_guardian.reviewable(session, actor, post_id)


async def post_to_report(session: AsyncSession, actor: Actor, post_id: str) -> Post:
    """Anyone signed in may report a post they can see; others get 404 as for reading."""
    if actor.user is None:
        raise Unauthorized()
    return await posts_guardian.readable(session, actor, post_id)


async def user_to_report(session: AsyncSession, actor: Actor, user_id: str) -> User:
    """Anyone signed in may report another person who still has an account."""
    if actor.user is None:
        raise Unauthorized()
    person = await session.get(User, user_id) if 0 < len(user_id) <= 32 else None
    if person is None or person.deleted_at is not None or person.id == actor.id:
        raise NotFound("There is no such person.")
    return person


def may_report(actor: Actor, post: Post) -> bool:
    """Whether the post page shows "report": signed in and not the author."""
    return actor.user is not None and actor.id != post.author_id


async def own_post(session: AsyncSession, actor: Actor, post_id: str) -> Post:
    """The author's post to renew, reopen or resubmit: 404 when invisible, 403 otherwise."""
    return await posts_guardian.changeable(session, actor, post_id)


def may_renew(actor: Actor, post: Post) -> bool:
    return posts_guardian.may_change(actor, post)
