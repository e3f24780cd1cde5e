"""Coordinator use cases: vet volunteers, review posts, verify organisations, handle reports."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from market import events
from market.accounts.models import User, VettingStatus
from market.db import lock_row, utcnow
from market.errors import Conflict, Invalid, NotFound
from market.i18n import N_
from market.organisations.models import Organisation, OrganisationMember, OrgStatus
from market.posts import services as posts
from market.posts.models import Post, PostStatus
from market.settings import Settings
from market.vetting.models import PostReview, Report, ReportStatus, VettingDecision
from market.vetting.schemas import (
    OrganisationDecisionIn,
    PostDecisionIn,
    ReportIn,
    VolunteerDecisionIn,
)

MSG_AUTHOR_SUSPENDED = N_(
    "The author's account is suspended. Their posts can be published only after the "
    "suspension ends."
)


def volunteers_query(status: str | None) -> Select[User]:
    """Accounts by vetting status; market.vetting.guardian narrows them to the reviewer's."""
    stmt = select(User)
    return stmt.where(User.vetting_status == status) if status else stmt


async def offers_of(session: AsyncSession, volunteer_id: str) -> list[Post]:
    """A volunteer's offers in any status, newest first: what the reviewer weighs."""
    stmt = (
        select(Post)
        .where(Post.author_id == volunteer_id, Post.kind == "offer")
        .order_by(Post.created_at.desc())
    )
    return list((await session.execute(stmt)).scalars())


async def latest_decision(session: AsyncSession, user_id: str) -> VettingDecision | None:
    stmt = (
        select(VettingDecision)
        .where(VettingDecision.volunteer_id == user_id)
        .order_by(VettingDecision.created_at.desc(), VettingDecision.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def history(session: AsyncSession, user_id: str) -> list[VettingDecision]:
    stmt = (
        select(VettingDecision)
        .where(VettingDecision.volunteer_id == user_id)
        .order_by(VettingDecision.created_at.desc(), VettingDecision.id.desc())
    )
    return list((await session.execute(stmt)).scalars())


def checks_json(decision: VettingDecision | None) -> dict[str, Any]:
    if decision is None:
        return {
            "identity": False,
            "interview": False,
            "code_of_conduct": False,
            "police_certificate_until": None,
            "police_certificate_issued_on": None,
            "police_certificate_seen_on": None,
        }
    return {
        "identity": decision.identity,
        "interview": decision.interview,
        "code_of_conduct": decision.code_of_conduct,
        "police_certificate_until": _iso(decision.police_certificate_until),
        "police_certificate_issued_on": _iso(decision.police_certificate_issued_on),
        "police_certificate_seen_on": _iso(decision.police_certificate_seen_on),
    }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def certificate_dates(data: VolunteerDecisionIn, today: date) -> tuple[date | None, date | None]:
    """(issued on, seen on) as recorded: a certificate cannot be dated in the future nor after
    its re-check date, and it was seen today unless the coordinator says otherwise."""
    issued, seen = data.police_certificate_issued_on, data.police_certificate_seen_on
    if issued is not None and issued > today:
        raise Invalid.one(
            "police_certificate_issued_on", "The date of the certificate cannot be in the future."
        )
    until = data.police_certificate_until
    if issued is not None and until is not None and issued > until:
        raise Invalid.one(
            "police_certificate_issued_on",
            "The date of the certificate must be before the date it must be checked again.",
        )
    if seen is not None and seen > today:
        raise Invalid.one("police_certificate_seen_on", "This date cannot be in the future.")
    if seen is None and (issued is not None or until is not None):
        seen = today
    return issued, seen


async def decide_volunteer(
    session: AsyncSession,
    settings: Settings,
    coordinator: User,
    volunteer: User,
    data: VolunteerDecisionIn,
) -> VettingDecision:
    """Record a decision; the latest counts. Approval publishes waiting offers, a revocation
    takes published offers back to review (matches on them are withdrawn)."""
    # Two coordinators deciding at once: one after the other, so the stored state is the
    # latest decision's and its side effects (publishing, withdrawing) run once each.
    if await lock_row(session, User, volunteer.id) is None:
        raise NotFound("There is no such volunteer.")
    if data.decision == "approve":
        missing = [
            name
            for name in ("identity", "interview", "code_of_conduct")
            if not getattr(data.checks, name)
        ]
        if missing:
            raise Invalid.one(
                f"checks.{missing[0]}",
                "Approval needs identity seen, interview held and code of conduct signed.",
            )
    issued_on, seen_on = certificate_dates(data, utcnow().date())
    decision = VettingDecision(
        volunteer_id=volunteer.id,
        coordinator_id=coordinator.id,
        decision=data.decision,
        identity=data.checks.identity,
        interview=data.checks.interview,
        code_of_conduct=data.checks.code_of_conduct,
        police_certificate_until=data.police_certificate_until,
        police_certificate_issued_on=issued_on,
        police_certificate_seen_on=seen_on,
        note=data.note,
        created_at=utcnow(),
    )
    session.add(decision)
    was = volunteer.vetting_status
    volunteer.vetting_status = (
        VettingStatus.APPROVED if data.decision == "approve" else VettingStatus.REJECTED
    )
    volunteer.police_certificate_until = data.police_certificate_until
    await session.flush()
    if data.decision == "approve":
        await posts.publish_waiting_offers(session, settings, volunteer.id)
    elif was == "approved":
        stmt = select(Post).where(
            Post.author_id == volunteer.id, Post.status == "published", Post.kind == "offer"
        )
        for post in (await session.execute(stmt)).scalars():
            post.status = PostStatus.PENDING_REVIEW
            await session.flush()
            await events.emit(session, events.POST_CLOSED, post=post)
    await events.emit(
        session, events.VOLUNTEER_CHANGED, volunteer=volunteer, decision=decision, previous=was
    )
    return decision


async def decide_post(
    session: AsyncSession, settings: Settings, coordinator: User, post: Post, data: PostDecisionIn
) -> Post:
    if await lock_row(session, Post, post.id) is None:
        raise NotFound("There is no such post.")
    if data.decision == "publish":
        if post.status not in ("pending_review", "rejected"):
            raise Conflict("Only posts waiting for review or rejected ones can be published.")
        author = await session.get(User, post.author_id)
        if author is not None and author.suspended_at is not None:
            # Unsuspending brings back what the suspension took; nothing goes out before.
            raise Conflict(MSG_AUTHOR_SUSPENDED)
        if post.kind == "offer" and (author is None or author.vetting_status != "approved"):
            raise Conflict("The volunteer is not approved yet; approve the volunteer first.")
        await posts.publish(session, settings, post)
    else:
        if post.status not in ("pending_review", "published"):
            raise Conflict("This post is not waiting for review or published.")
        if not data.reason or not data.reason.strip():
            raise Invalid.one("reason", "Please give a reason; the author will see it.")
        post.rejection_reason = data.reason.strip()
        await posts.end(session, post, "rejected")
    session.add(
        PostReview(
            post_id=post.id,
            coordinator_id=coordinator.id,
            decision=data.decision,
            reason=data.reason,
        )
    )
    await session.flush()
    return post


async def decide_organisation(
    session: AsyncSession,
    settings: Settings,
    org: Organisation,
    data: OrganisationDecisionIn,
    coordinator_id: str | None = None,
) -> Organisation:
    """Approve or reject an organisation; approving publishes its members' waiting posts
    (not those of a suspended member). `coordinator_id` is None only for the demo data."""
    if await lock_row(session, Organisation, org.id) is None:
        raise NotFound("There is no such organisation.")
    if data.decision == "approve":
        org.status = OrgStatus.APPROVED
        org.rejection_reason = None
        member_ids = (
            select(OrganisationMember.user_id)
            .join(User, User.id == OrganisationMember.user_id)
            .where(OrganisationMember.organisation_id == org.id, User.suspended_at.is_(None))
        )
        stmt = select(Post).where(
            Post.organisation_id == org.id,
            Post.status == "pending_review",
            Post.author_id.in_(member_ids),
            Post.rejection_reason.is_(None),
        )
        for post in list((await session.execute(stmt)).scalars()):
            await posts.publish(session, settings, post)
    else:
        org.status = OrgStatus.REJECTED
        org.rejection_reason = data.reason
    await session.flush()
    # The audit log (market.admin) records it, like every change an admin makes.
    await events.emit(
        session, events.ORGANISATION_DECIDED, organisation=org, coordinator_id=coordinator_id
    )
    return org


async def people_of_organisations(
    session: AsyncSession, org_ids: list[str]
) -> dict[str, list[User]]:
    """The members of each organisation (accounts not deleted), for the reviewer to see who
    stands behind it."""
    people: dict[str, list[User]] = {org_id: [] for org_id in org_ids}
    if not org_ids:
        return people
    stmt = (
        select(OrganisationMember.organisation_id, User)
        .join(User, User.id == OrganisationMember.user_id)
        .where(OrganisationMember.organisation_id.in_(org_ids), User.deleted_at.is_(None))
    )
    for org_id, member in (await session.execute(stmt)).all():
        people[org_id].append(member)
    return people


async def _target_exists(session: AsyncSession, target_type: str, target_id: str) -> bool:
    from market.conversations.models import Message

    model = {"post": Post, "user": User, "message": Message}[target_type]
    return await session.get(model, target_id) is not None


async def create_report(session: AsyncSession, reporter: User, data: ReportIn) -> Report:
    """Anyone logged in may report a post, a message or a user; coordinators handle it."""
    if not await _target_exists(session, data.target_type, data.target_id):
        raise Invalid.one("target_id", "There is nothing to report with this id.")
    report = Report(
        reporter_id=reporter.id,
        target_type=data.target_type,
        target_id=data.target_id,
        reason=data.reason.strip(),
    )
    session.add(report)
    await session.flush()
    return report


async def resolve_report(
    session: AsyncSession, coordinator: User, report: Report, resolution: str
) -> Report:
    if await lock_row(session, Report, report.id) is None:
        raise NotFound("There is no such report.")
    if report.status != "open":
        raise Conflict("This report is handled already.")
    report.status = ReportStatus.RESOLVED
    report.resolved_at = utcnow()
    report.resolved_by = coordinator.id
    report.resolution = resolution.strip()
    await session.flush()
    return report
