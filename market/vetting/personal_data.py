"""The vetting part of a person's export: reports they filed, decisions about them
(market.accounts.export), and its part of erasing a person (market.accounts.erasure); both
listed in market/features.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.erasure import Eraser, Person
from market.accounts.export import iso, oldest_first
from market.accounts.models import User
from market.conversations.models import Message
from market.posts.models import Post
from market.vetting.models import PostReview, Report, VettingDecision


async def reports(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Reports the caller filed (reports about the caller are the reporters' data)."""
    rows = await oldest_first(session, Report, Report.reporter_id == user.id)
    return [
        {
            "id": r.id,
            "target_type": r.target_type,
            "target_id": r.target_id,
            "reason": r.reason,
            "status": r.status,
            "created_at": iso(r.created_at),
            "resolved_at": iso(r.resolved_at),
            "resolution": r.resolution,
        }
        for r in rows
    ]


async def vetting_decisions(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Coordinators' decisions about the caller, oldest first, with the checklist and dates.
    Which coordinator decided is the coordinator's data and stays out."""
    rows = await oldest_first(session, VettingDecision, VettingDecision.volunteer_id == user.id)
    return [
        {
            "id": d.id,
            "decision": d.decision,
            "created_at": iso(d.created_at),
            "checklist": {
                "identity": d.identity,
                "interview": d.interview,
                "code_of_conduct": d.code_of_conduct,
            },
            "police_certificate_until": iso(d.police_certificate_until),
            # The certificate's own date and the day a coordinator saw it (migration 0012).
            "police_certificate_issued_on": iso(d.police_certificate_issued_on),
            "police_certificate_seen_on": iso(d.police_certificate_seen_on),
            "note": d.note,
        }
        for d in rows
    ]


class VettingEraser(Eraser):
    """Review reasons of the person's posts and notes of decisions about them erased (dates and
    checklist booleans stay); reports by or about them keep no name or address."""

    async def erase(self, session: AsyncSession, person: Person) -> None:
        their_posts = select(Post.id).where(Post.author_id == person.id)
        await session.execute(
            update(PostReview).where(PostReview.post_id.in_(their_posts)).values(reason=None)
        )
        # Dates and checklist booleans stay (see market.accounts.erasure); notes may name them.
        await session.execute(
            update(VettingDecision)
            .where(VettingDecision.volunteer_id == person.id)
            .values(note=None)
        )

    async def scrub(self, session: AsyncSession, person: Person) -> None:
        their_posts = select(Post.id).where(Post.author_id == person.id)
        their_messages = select(Message.id).where(Message.author_id == person.id)
        about = or_(
            Report.reporter_id == person.id,
            (Report.target_type == "user") & (Report.target_id == person.id),
            (Report.target_type == "message") & Report.target_id.in_(their_messages),
            (Report.target_type == "post") & Report.target_id.in_(their_posts),
        )
        for report in await session.scalars(select(Report).where(about)):
            report.reason = person.scrub(report.reason)
            if report.resolution:
                report.resolution = person.scrub(report.resolution)


ERASER = VettingEraser()
