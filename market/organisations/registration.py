"""An organisation account brings its organisation: made here when the account is registered
(events.ACCOUNT_REGISTERED), pending until a coordinator approves it, with the new account as
its owner. Accounts sit below organisations and so only announce the registration."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market import events
from market.accounts.models import User
from market.accounts.schemas import OrganisationIn
from market.organisations.models import Organisation, OrganisationMember


@events.subscribe(events.ACCOUNT_REGISTERED)
async def _account_registered(
    session: AsyncSession, user: User, organisation: OrganisationIn | None, **_: Any
) -> None:
    if organisation is None:
        return
    org = Organisation(name=organisation.name, website=organisation.website)
    session.add(org)
    await session.flush()
    session.add(OrganisationMember(organisation_id=org.id, user_id=user.id, role="owner"))
