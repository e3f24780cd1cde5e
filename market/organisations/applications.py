"""Mentor programme postings and applications: apply, accept, decline, withdraw.

A posting is a need with `seats`. Who manages it, who sees its applications and who decides is
the guardian's answer (market/organisations/guardian.py); these functions act once it said yes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market import events
from market.accounts.models import User
from market.conversations.models import Conversation
from market.conversations.services import open_for
from market.db import lock_row, utcnow
from market.errors import Conflict, Forbidden, NotFound
from market.organisations import guardian, queries
from market.organisations.models import Application, ApplicationStatus, Organisation, Posting
from market.organisations.schemas import ApplicationIn, DecisionIn, PostingIn
from market.posts import services as posts
from market.posts import taxonomy
from market.posts.models import Post
from market.settings import Settings
from market.text import plain_text
from notifications.tell import can_be_told, tell

ENDED = ("closed", "expired", "rejected")


def today() -> date:
    # The same "today" as the matching rules (UTC), so both agree on a certificate.
    return utcnow().date()


def is_posting(post: Post) -> bool:
    return post.kind == "need" and post.seats is not None


# --- Posting details


async def posting_of(session: AsyncSession, post_id: str) -> Posting | None:
    return await session.get(Posting, post_id)


def requires_certificate(post: Post, posting: Posting | None) -> bool:
    """The category's rule, or the organisation asks for one itself."""
    return taxonomy.requires_police_certificate(post.category) or bool(
        posting and posting.police_certificate
    )


def posting_json(post: Post, posting: Posting | None, accepted: int) -> dict[str, Any]:
    seats = post.seats or 0
    return {
        "post_id": post.id,
        "training": posting.training if posting else None,
        "police_certificate": requires_certificate(post, posting),
        "hours_per_week": posting.hours_per_week if posting else None,
        "duration": posting.duration if posting else None,
        "seats": post.seats,
        "accepted": accepted,
        "seats_left": max(seats - accepted, 0),
    }


async def set_posting(session: AsyncSession, post: Post, data: PostingIn) -> Posting:
    """Describe a posting (the caller was cleared by guardian.managed_posting)."""
    if not is_posting(post):
        raise Conflict("Only a need with seats is a posting; set seats first.")
    if post.status not in ("pending_review", "published"):
        raise Conflict("This posting is closed and cannot be changed.")
    posting = await posting_of(session, post.id)
    if posting is None:
        posting = Posting(post_id=post.id)
        session.add(posting)
    posting.training = plain_text(data.training) if data.training else None
    posting.police_certificate = data.police_certificate
    posting.hours_per_week = data.hours_per_week
    posting.duration = plain_text(data.duration) if data.duration else None
    posting.updated_at = utcnow()
    await session.flush()
    return posting


# --- Applying


def certificate_valid(volunteer: User) -> bool:
    until = volunteer.police_certificate_until
    return until is not None and until >= today()


async def apply(
    session: AsyncSession, settings: Settings, user: User, post_id: str, data: ApplicationIn
) -> Application:
    """An approved volunteer applies to a published posting (meeting its certificate rule)."""
    guardian.require_applicant(user)
    post = await posts.visible(session, user, post_id)
    # The posting is locked first (always post before application, as in decide()), so the
    # posting cannot close under us and one volunteer's two clicks apply one after the other.
    await lock_row(session, Post, post.id)
    if not is_posting(post):
        raise Conflict("This post does not take applications; it has no seats.")
    if post.status != "published":
        raise Conflict("This posting does not take applications any more.")
    if user.vetting_status != "approved":
        raise Forbidden(
            "A coordinator meets every volunteer before they can apply. "
            "You can apply once you are approved."
        )
    posting = await posting_of(session, post.id)
    if requires_certificate(post, posting) and not certificate_valid(user):
        raise Forbidden(
            "This posting needs a police certificate (erweitertes Führungszeugnis) valid "
            "today. Please show a current one to a coordinator first."
        )
    stmt = select(Application).where(
        Application.post_id == post.id, Application.volunteer_id == user.id
    )
    application = (await session.execute(stmt)).scalar_one_or_none()
    message = plain_text(data.message.strip())
    if application is not None:
        # Withdrawing is not final: a volunteer may apply again. Any other earlier
        # application (waiting, accepted or declined) makes this one a duplicate.
        if application.status != "withdrawn":
            raise Conflict("You have applied to this posting already.")
        application.status = ApplicationStatus.PENDING
        application.message = message
        application.decision_message = None
        application.decided_by = None
        application.decided_at = None
        application.created_at = utcnow()
        await session.flush()
    else:
        application = Application(post_id=post.id, volunteer_id=user.id, message=message)
        try:
            # The unique key (post, volunteer) is the last word; a savepoint keeps the
            # request's transaction usable when it speaks.
            async with session.begin_nested():
                session.add(application)
                await session.flush()
        except IntegrityError:
            raise Conflict("You have applied to this posting already.") from None
    await _tell_managers(session, settings, post, application, user)
    return application


async def _org_of(session: AsyncSession, post: Post) -> Organisation | None:
    return await session.get(Organisation, post.organisation_id) if post.organisation_id else None


def _manage_link(settings: Settings, post: Post) -> str:
    return f"{settings.base_url.rstrip('/')}/posts/{post.id}/applications"


async def _tell_managers(
    session: AsyncSession, settings: Settings, post: Post, application: Application, volunteer: User
) -> None:
    ids = await guardian.manager_ids(session, post)
    users = (
        list((await session.execute(select(User).where(User.id.in_(ids)))).scalars()) if ids else []
    )
    for manager in users:
        await tell(
            session,
            settings,
            manager,
            kind="application.received",
            data={
                "application_id": application.id,
                "post_id": post.id,
                "post_title": post.title,
                "volunteer_name": volunteer.display_name,
            },
            template="application_received",
            context={
                "volunteer": volunteer.display_name,
                "title": post.title,
                "link": _manage_link(settings, post),
            },
        )


# --- Showing applications


async def conversation_ids(session: AsyncSession, application_ids: list[str]) -> dict[str, str]:
    if not application_ids:
        return {}
    stmt = select(Conversation.application_id, Conversation.id).where(
        Conversation.application_id.in_(application_ids)
    )
    return {a: c for a, c in (await session.execute(stmt)).all() if a}


async def to_json_many(
    session: AsyncSession, applications: list[Application]
) -> list[dict[str, Any]]:
    """Applications with their volunteer (languages, vetting state; never vetting notes) and post."""
    user_ids = {a.volunteer_id for a in applications}
    post_ids = {a.post_id for a in applications}
    users = (
        {
            u.id: u
            for u in (await session.execute(select(User).where(User.id.in_(user_ids)))).scalars()
        }
        if user_ids
        else {}
    )
    post_rows = (
        {
            p.id: p
            for p in (await session.execute(select(Post).where(Post.id.in_(post_ids)))).scalars()
        }
        if post_ids
        else {}
    )
    org_ids = {p.organisation_id for p in post_rows.values() if p.organisation_id}
    orgs = (
        {
            o.id: o
            for o in (
                await session.execute(select(Organisation).where(Organisation.id.in_(org_ids)))
            ).scalars()
        }
        if org_ids
        else {}
    )
    conversations = await conversation_ids(
        session, [a.id for a in applications if a.status == "accepted"]
    )
    items = []
    for a in applications:
        volunteer = users.get(a.volunteer_id)
        post = post_rows.get(a.post_id)
        org = orgs.get(post.organisation_id or "") if post else None
        items.append(_json(a, volunteer, post, org, conversations.get(a.id)))
    return items


def _json(
    a: Application,
    volunteer: User | None,
    post: Post | None,
    org: Organisation | None,
    conversation_id: str | None,
) -> dict[str, Any]:
    active = volunteer is not None and volunteer.is_active and volunteer.deleted_at is None
    return {
        "id": a.id,
        "post_id": a.post_id,
        "status": a.status,
        "message": a.message,
        "decision_message": a.decision_message,
        "created_at": a.created_at.isoformat(),
        "decided_at": a.decided_at.isoformat() if a.decided_at else None,
        "volunteer": {
            "id": a.volunteer_id,
            "display_name": volunteer.display_name if active and volunteer else None,
            "languages": [{"code": lang.code, "level": lang.level} for lang in volunteer.languages]
            if active and volunteer
            else [],
            # The state only; the coordinators' notes stay in vetting.
            "vetting": {"status": volunteer.vetting_status or "pending"}
            if active and volunteer
            else None,
            "police_certificate_valid": certificate_valid(volunteer)
            if active and volunteer
            else False,
        },
        "post": {
            "id": post.id,
            "title": post.title,
            "status": post.status,
            "seats": post.seats,
            "organisation": {"id": org.id, "name": org.name} if org else None,
        }
        if post
        else None,
        "conversation_id": conversation_id,
    }


# --- Deciding and withdrawing


async def decide(
    session: AsyncSession,
    settings: Settings,
    user: User,
    application: Application,
    relation: str,
    data: DecisionIn,
) -> Application:
    if relation != "manager":
        raise Forbidden("Only the organisation's members decide on applications.")
    # Posting first, then the application (the order of apply() and of closing a posting):
    # two members deciding at once cannot overfill the posting or decide one application twice;
    # the second sees the first's decision and gets 409, and the volunteer is told once.
    post = await lock_row(session, Post, application.post_id)
    if post is None or await lock_row(session, Application, application.id) is None:
        raise NotFound("There is no such application.")
    if application.status != "pending":
        raise Conflict("This application is not waiting for a decision any more.")
    volunteer = await session.get(User, application.volunteer_id)
    accept = data.decision == "accept"
    if accept:
        if post.status != "published":
            raise Conflict("This posting is closed; nobody more can be accepted.")
        if volunteer is None or not volunteer.is_active or volunteer.deleted_at is not None:
            raise Conflict("This volunteer's account does not exist any more.")
        if volunteer.vetting_status != "approved":
            raise Conflict("This volunteer is not approved any more.")
        posting = await posting_of(session, post.id)
        if requires_certificate(post, posting) and not certificate_valid(volunteer):
            raise Conflict("This volunteer has no police certificate valid today.")
    application.status = ApplicationStatus.ACCEPTED if accept else ApplicationStatus.DECLINED
    application.decision_message = plain_text(data.message) if data.message else None
    application.decided_by = user.id
    application.decided_at = utcnow()
    await session.flush()
    conversation_id = None
    if accept:
        participants = [application.volunteer_id, post.author_id, user.id]
        conversation = await open_for(session, participants, application_id=application.id)
        conversation_id = conversation.id
    if volunteer is not None:
        await _tell_volunteer(session, settings, post, application, volunteer, conversation_id)
    if (
        accept
        and post.seats is not None
        and await queries.accepted_count(session, post.id) >= post.seats
    ):
        # Every place is taken: the posting closes, and its matches are withdrawn.
        await posts.end(session, post, "closed")
    return application


async def _tell_volunteer(
    session: AsyncSession,
    settings: Settings,
    post: Post,
    application: Application,
    volunteer: User,
    conversation_id: str | None = None,
) -> None:
    if not can_be_told(volunteer):
        return
    accepted = application.status == "accepted"
    org = await _org_of(session, post)
    sender = org.name if org else ""
    data: dict[str, Any] = {
        "application_id": application.id,
        "post_id": post.id,
        "post_title": post.title,
        "organisation_name": sender or None,
    }
    if conversation_id:
        data["conversation_id"] = conversation_id
    base = settings.base_url.rstrip("/")
    link = (
        f"{base}/conversations/{conversation_id}" if conversation_id else f"{base}/my/applications"
    )
    await tell(
        session,
        settings,
        volunteer,
        kind="application.accepted" if accepted else "application.declined",
        data=data,
        template="application_accepted" if accepted else "application_declined",
        context={
            "title": post.title,
            "organisation": sender,
            "message": application.decision_message or "",
            "link": link,
            "applications_link": f"{base}/my/applications",
        },
    )


async def withdraw(session: AsyncSession, application: Application, relation: str) -> Application:
    if relation != "volunteer":
        raise Forbidden("Only the volunteer can withdraw an application.")
    await lock_row(session, Post, application.post_id)
    if await lock_row(session, Application, application.id) is None:
        raise NotFound("There is no such application.")
    if application.status != "pending":
        raise Conflict("Only an application that waits for a decision can be withdrawn.")
    application.status = ApplicationStatus.WITHDRAWN
    application.decided_at = utcnow()
    await session.flush()
    return application


async def withdraw_all_of(session: AsyncSession, volunteer_id: str) -> int:
    """A deleted account's waiting applications are withdrawn (for accounts.delete_account)."""
    stmt = select(Application).where(
        Application.volunteer_id == volunteer_id, Application.status == "pending"
    )
    waiting = list((await session.execute(stmt)).scalars())
    now = utcnow()
    for application in waiting:
        application.status = ApplicationStatus.WITHDRAWN
        application.decided_at = now
    await session.flush()
    return len(waiting)


# --- When a posting ends, the waiting applications are answered


@events.subscribe(events.POST_CLOSED)
async def _on_closed(session: AsyncSession, post: Post, **_: Any) -> None:
    # Unpublishing (back to review) may be undone, so only a real end answers the applicants.
    if post.status not in ENDED or not is_posting(post):
        return
    waiting = list((await session.execute(queries.of_post(post.id, "pending"))).scalars())
    if not waiting:
        return
    settings = events.settings_of(session)
    now = utcnow()
    for application in waiting:
        application.status = "declined"
        application.decided_at = now
        await session.flush()
        volunteer = await session.get(User, application.volunteer_id)
        if volunteer is not None:
            await _tell_volunteer(session, settings, post, application, volunteer)
