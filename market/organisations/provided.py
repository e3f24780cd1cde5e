"""What organisations put into the slots of layers below them (market.hooks), at start by
market/features.py, so those layers never import this feature: organisations as posts see them
(market.posts.organisations), a person's memberships for the actor (market.actor) and the
organisation of an organisation account (market.accounts.organisations)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.organisations.models import Organisation, OrganisationMember


class ForPosts:
    async def get(self, session: AsyncSession, organisation_id: str) -> Organisation | None:
        return await session.get(Organisation, organisation_id)

    async def many(
        self, session: AsyncSession, organisation_ids: Collection[str]
    ) -> dict[str, Organisation]:
        if not organisation_ids:
            return {}
        stmt = select(Organisation).where(Organisation.id.in_(list(organisation_ids)))
        return {o.id: o for o in (await session.execute(stmt)).scalars()}

    async def of_member(
        self, session: AsyncSession, user_id: str, organisation_id: str | None
    ) -> Organisation | None:
        stmt = (
            select(Organisation)
            .join(OrganisationMember, OrganisationMember.organisation_id == Organisation.id)
            .where(OrganisationMember.user_id == user_id)
        )
        if organisation_id is not None:
            stmt = stmt.where(Organisation.id == organisation_id)
        return (await session.execute(stmt.limit(1))).scalar_one_or_none()


POSTS_VIEW = ForPosts()


async def member_roles(session: AsyncSession, user_id: str) -> Sequence[tuple[str, str]]:
    """(organisation id, membership role) for each organisation the user is a member of."""
    stmt = select(OrganisationMember.organisation_id, OrganisationMember.role).where(
        OrganisationMember.user_id == user_id
    )
    return [(org_id, role) for org_id, role in (await session.execute(stmt)).all()]


async def organisation_of(session: AsyncSession, user_id: str) -> Organisation | None:
    """The organisation a user belongs to: their first membership (market.accounts)."""
    stmt = (
        select(Organisation)
        .join(OrganisationMember, OrganisationMember.organisation_id == Organisation.id)
        .where(OrganisationMember.user_id == user_id)
        .order_by(OrganisationMember.created_at)
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
