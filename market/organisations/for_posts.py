"""Organisations as posts see them (market.posts.organisations); put in place at start by
market/features.py, so posts never import this feature."""

from __future__ import annotations

from collections.abc import Collection

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
