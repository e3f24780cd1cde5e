"""The organisations' part of a person's export: applications and memberships
(market.accounts.export), and their part of erasing a person (market.accounts.erasure); both
listed in market/features.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.erasure import Eraser, Person, ids
from market.accounts.export import iso
from market.accounts.models import User
from market.organisations import queries
from market.organisations.applications import to_json_many, withdraw_all_of
from market.organisations.models import (
    Application,
    Invitation,
    Organisation,
    OrganisationMember,
    Posting,
)
from market.posts.models import Post


async def applications(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    stmt = queries.of_volunteer(user.id).order_by(Application.created_at, Application.id)
    return await to_json_many(session, list(await session.scalars(stmt)))


async def organisations(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Organisation memberships."""
    stmt = (
        select(OrganisationMember, Organisation)
        .join(Organisation, Organisation.id == OrganisationMember.organisation_id)
        .where(OrganisationMember.user_id == user.id)
        .order_by(OrganisationMember.created_at, OrganisationMember.id)
    )
    return [
        {
            "organisation": {"id": org.id, "name": org.name, "status": org.status},
            "role": member.role,
            "joined_at": iso(member.created_at),
        }
        for member, org in (await session.execute(stmt)).all()
    ]


class OrganisationsEraser(Eraser):
    """Waiting applications withdrawn; the person's application texts, their postings' free
    texts and invitations to their address erased. Organisations themselves stay."""

    async def close(self, session: AsyncSession, person: Person) -> None:
        await withdraw_all_of(session, person.id)

    async def erase(self, session: AsyncSession, person: Person) -> None:
        their_posts = select(Post.id).where(Post.author_id == person.id)
        await session.execute(
            update(Posting)
            .where(Posting.post_id.in_(their_posts))
            .values(training=None, duration=None)
        )
        await session.execute(
            update(Application)
            .where(Application.volunteer_id == person.id)
            .values(message="", decision_message=None)
        )
        await session.execute(
            delete(Invitation).where(func.lower(Invitation.email) == person.email.lower())
        )

    async def related(self, session: AsyncSession, person: Person) -> set[str]:
        return await ids(
            session, select(Application.id).where(Application.volunteer_id == person.id)
        )


ERASER = OrganisationsEraser()
