"""Who may review what: volunteers, posts, organisations and reports, by coordinator region.

The one place for these rules; the review pages and the JSON API only ask
(tests/market/test_guardian_rule.py). Review is for staff (403 for everyone else). A
coordinator with regions (API.md, "Coordinators' regions") sees and decides only:

- volunteers by the regions of their offers (one without any post belongs to every coordinator);
- posts located in their regions;
- organisations with a post in their regions (one without any post belongs to every
  coordinator, as in market/organisations);
- reports by their target: a post by its region, a user as a volunteer above, a message by its
  conversation (a match's need, an application's posting).

Everything else answers 404 to them and is left out of their lists.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.actor import Actor
from market.conversations.models import Conversation, Message
from market.errors import Forbidden, NotFound
from market.matches.models import Match
from market.organisations.models import Application, Organisation
from market.posts import guardian as posts_guardian
from market.posts.models import Post
from market.vetting.models import Report


def require_staff(actor: Actor) -> None:
    """Every review page and endpoint: 403 unless a coordinator or admin (callers check login)."""
    if not actor.is_staff:
        raise Forbidden()


def _regions(actor: Actor) -> list[str]:
    return sorted(actor.region_ids)


def _scoped(actor: Actor, condition: Any) -> ColumnElement[bool]:
    """`condition` for a coordinator with regions, nothing for non-staff, all for the rest."""
    if not actor.is_staff:
        return false()
    if not actor.region_ids:
        return true()
    return condition  # type: ignore[no-any-return]


def _user_in_regions(actor: Actor, user_id: Any) -> ColumnElement[bool]:
    in_region = exists().where(Post.author_id == user_id, Post.region_id.in_(_regions(actor)))
    has_posts = exists().where(Post.author_id == user_id)
    return or_(in_region, ~has_posts)


# --- Volunteers


def volunteers(actor: Actor, stmt: Select[User]) -> Select[User]:
    """Narrow a select of users to the volunteers the actor may vet."""
    stmt = stmt.where(User.role == "volunteer", User.deleted_at.is_(None))
    return stmt.where(_scoped(actor, _user_in_regions(actor, User.id)))


async def volunteer(session: AsyncSession, actor: Actor, user_id: str) -> User:
    """The volunteer to vet; NotFound when absent or outside the actor's regions."""
    require_staff(actor)
    stmt = volunteers(actor, select(User)).where(User.id == user_id)
    person = (await session.execute(stmt)).scalar_one_or_none() if len(user_id) <= 32 else None
    if person is None:
        raise NotFound("There is no such volunteer in your regions.")
    return person


# --- Posts under review


def posts(actor: Actor, stmt: Select[Post]) -> Select[Post]:
    """Narrow a select of posts to those the actor may review."""
    return posts_guardian.under_review(actor, stmt)


async def post(session: AsyncSession, actor: Actor, post_id: str) -> Post:
    """The post to publish or reject; NotFound outside the actor's regions."""
    require_staff(actor)
    return await posts_guardian.reviewable(session, actor, post_id)


# --- Organisations under review


def _organisation_in_regions(actor: Actor) -> ColumnElement[bool]:
    in_region = exists().where(
        Post.organisation_id == Organisation.id, Post.region_id.in_(_regions(actor))
    )
    has_posts = exists().where(Post.organisation_id == Organisation.id)
    return or_(in_region, ~has_posts)


def organisations(actor: Actor, stmt: Select[Organisation]) -> Select[Organisation]:
    """Narrow a select of organisations to those the actor may review."""
    return stmt.where(_scoped(actor, _organisation_in_regions(actor)))


async def organisation(session: AsyncSession, actor: Actor, org_id: str) -> Organisation:
    """The organisation to approve or reject; NotFound outside the actor's regions."""
    require_staff(actor)
    found = None
    if org_id and len(org_id) <= 32:
        stmt = organisations(actor, select(Organisation)).where(Organisation.id == org_id)
        found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("There is no such organisation.")
    return found


# --- Reports


def _report_in_regions(actor: Actor) -> ColumnElement[bool]:
    regions = _regions(actor)
    post_target = and_(
        Report.target_type == "post",
        exists().where(Post.id == Report.target_id, Post.region_id.in_(regions)),
    )
    user_target = and_(Report.target_type == "user", _user_in_regions(actor, Report.target_id))
    need = Post.__table__.alias("need")
    by_match = (
        select(Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Match, Match.id == Conversation.match_id)
        .join(need, need.c.id == Match.need_id)
        .where(need.c.region_id.in_(regions))
    )
    posting = Post.__table__.alias("posting")
    by_application = (
        select(Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(Application, Application.id == Conversation.application_id)
        .join(posting, posting.c.id == Application.post_id)
        .where(posting.c.region_id.in_(regions))
    )
    message_target = and_(
        Report.target_type == "message",
        or_(Report.target_id.in_(by_match), Report.target_id.in_(by_application)),
    )
    return or_(post_target, user_target, message_target)


def reports(actor: Actor, stmt: Select[Report]) -> Select[Report]:
    """Narrow a select of reports to those the actor may handle (by their target's region)."""
    return stmt.where(_scoped(actor, _report_in_regions(actor)))


async def report(session: AsyncSession, actor: Actor, report_id: str) -> Report:
    """The report to resolve; NotFound when absent or its target is outside the actor's regions."""
    require_staff(actor)
    found = None
    if report_id and len(report_id) <= 32:
        stmt = reports(actor, select(Report)).where(Report.id == report_id)
        found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("There is no such report.")
    return found
