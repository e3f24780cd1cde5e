"""What posts need to know of organisations, which sit above posts in the layers.

A post may be made for an organisation (`Post.organisation_id`); posts show its name, let only
its members post for it, and publish at once only for an approved one. The organisations feature
implements `Organisations` and market/features.py puts it into `ORGANISATIONS` at start.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.organisations import Organisation
from market.hooks import Slot


class Organisations(Protocol):
    async def get(self, session: AsyncSession, organisation_id: str) -> Organisation | None: ...

    async def many(
        self, session: AsyncSession, organisation_ids: Collection[str]
    ) -> dict[str, Organisation]: ...

    async def of_member(
        self, session: AsyncSession, user_id: str, organisation_id: str | None
    ) -> Organisation | None:
        """The given organisation if user_id is a member of it (None if not); without one,
        the first they are a member of."""
        ...


__all__ = ["ORGANISATIONS", "Organisation", "Organisations"]

ORGANISATIONS: Slot[Organisations] = Slot("market.posts.organisations:ORGANISATIONS")
