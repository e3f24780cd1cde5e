"""Moderation use cases: what a report points at, resolving it, taking posts down and up.
Services flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.admin import audit
from market.conversations.models import Conversation, Message
from market.errors import Conflict, Invalid
from market.posts.models import Post
from market.settings import Settings
from market.vetting import services as vetting
from market.vetting.models import Report
from market.vetting.reasons import POST_REJECTION_REASONS
from market.vetting.schemas import PostDecisionIn

ACTIONS = ("resolve", "dismiss")


@dataclass(frozen=True)
class Target:
    """What a report is about, as the moderator needs to see it."""

    kind: str  # post | message | user
    exists: bool
    title: str = ""
    text: str = ""
    name: str = ""  # the author of a post or message, the reported person
    link: str | None = None
    status: str | None = None  # a post's status
    admin_link: str | None = None  # a reported person's account page (admins only)


async def targets(session: AsyncSession, reports: list[Report]) -> dict[str, Target]:
    """The reported content of each report (by report id), in a handful of queries."""

    def ids(kind: str) -> set[str]:
        return {r.target_id for r in reports if r.target_type == kind}

    posts = {p.id: p for p in (await session.scalars(select(Post).where(Post.id.in_(ids("post")))))}
    messages = {
        m.id: m
        for m in (await session.scalars(select(Message).where(Message.id.in_(ids("message")))))
    }
    conversations = {
        c.id: c
        for c in await session.scalars(
            select(Conversation).where(
                Conversation.id.in_({m.conversation_id for m in messages.values()})
            )
        )
    }
    people_ids = ids("user") | {p.author_id for p in posts.values()}
    people_ids |= {m.author_id for m in messages.values() if m.author_id}
    people = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(people_ids)))}

    def name(user_id: str | None) -> str:
        person = people.get(user_id or "")
        if person is None or person.deleted_at is not None:
            return ""
        return person.display_name

    found: dict[str, Target] = {}
    for r in reports:
        if r.target_type == "post" and r.target_id in posts:
            post = posts[r.target_id]
            found[r.id] = Target(
                "post",
                True,
                title=post.title,
                text=post.body,
                name=name(post.author_id),
                link=f"/posts/{post.id}",
                status=post.status,
            )
        elif r.target_type == "message" and r.target_id in messages:
            message = messages[r.target_id]
            conversation = conversations.get(message.conversation_id)
            link = None
            if conversation is not None:
                link = (
                    f"/matches/{conversation.match_id}#m-{message.id}"
                    if conversation.match_id
                    else f"/conversations/{conversation.id}#m-{message.id}"
                )
            found[r.id] = Target(
                "message", True, text=message.body, name=name(message.author_id), link=link
            )
        elif r.target_type == "user" and r.target_id in people:
            person = people[r.target_id]
            # A volunteer's vetting page is open to the region's coordinators; the account
            # page (suspension) only to admins, so the template picks by the reader's role.
            found[r.id] = Target(
                "user",
                person.deleted_at is None,
                name=name(person.id),
                link=f"/review/volunteers/{person.id}" if person.role == "volunteer" else None,
                admin_link=f"/admin/users/{person.id}",
            )
        else:
            found[r.id] = Target(r.target_type, False)
    return found


async def handle(
    session: AsyncSession, moderator: User, report: Report, action: str, note: str
) -> Report:
    """Resolve (something was done) or dismiss (nothing to do) an open report.

    Both close it as `resolved` (the API's two statuses stay); the resolution says which, so the
    history shows a dismissal as such.
    """
    if action not in ACTIONS:
        raise Invalid.one("action", "Please choose one of the options.")
    words = note.strip()
    label = "Dismissed" if action == "dismiss" else "Resolved"
    resolution = f"{label}: {words}" if words else label
    report = await vetting.resolve_report(session, moderator, report, resolution[:2000])
    # The note may name people; the log keeps only what was done to which report.
    done = "report.dismissed" if action == "dismiss" else "report.resolved"
    await audit.record(session, moderator.id, done, "report", report.id)
    return report


async def unpublish(
    session: AsyncSession, settings: Settings, moderator: User, post: Post, reason: str
) -> Post:
    """Take a published post down: the review API's "reject" (the author is told why)."""
    if post.status != "published":
        raise Conflict("Only a published post can be taken down.")
    data = PostDecisionIn(decision="reject", reason=reason or None)
    post = await vetting.decide_post(session, settings, moderator, post, data)
    code = reason if reason in POST_REJECTION_REASONS else "own words"
    await audit.record(session, moderator.id, "post.unpublished", "post", post.id, code)
    return post


async def republish(session: AsyncSession, settings: Settings, moderator: User, post: Post) -> Post:
    """Publish a taken-down (rejected) post again: the review API's "publish"."""
    post = await vetting.decide_post(
        session, settings, moderator, post, PostDecisionIn(decision="publish")
    )
    await audit.record(session, moderator.id, "post.republished", "post", post.id)
    return post


async def names(session: AsyncSession, ids: set[str | None]) -> dict[str, str]:
    """Display names by id (accounts that were deleted left out)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    stmt = select(User).where(User.id.in_(wanted), User.deleted_at.is_(None))
    return {u.id: u.display_name for u in await session.scalars(stmt)}
