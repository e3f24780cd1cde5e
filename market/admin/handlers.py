"""Audit entries for changes other features make on the admins' behalf.

Approving or rejecting an organisation happens in vetting (the review queue), which sits
below admin and cannot import its audit log; it announces the decision (market.events) and
the entry is written here, in the same transaction as the decision.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from market import events
from market.admin import audit
from market.organisations.models import Organisation


@events.subscribe(events.ORGANISATION_DECIDED)
async def _on_organisation_decided(
    session: AsyncSession, organisation: Organisation, coordinator_id: str | None, **_: Any
) -> None:
    action = (
        "organisation.approved" if organisation.status == "approved" else "organisation.rejected"
    )
    await audit.record(session, coordinator_id, action, "organisation", organisation.id)
