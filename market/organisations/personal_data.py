"""The organisations' part of a person's export: applications and memberships
(market.accounts.export; listed in market/features.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.export import iso
from market.accounts.models import User
from market.organisations import queries
from market.organisations.applications import to_json_many
from market.organisations.models import Application, Organisation, OrganisationMember


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
