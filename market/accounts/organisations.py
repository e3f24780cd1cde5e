"""What accounts need to know of organisations, which sit above accounts in the layers.

An organisation account shows its organisation (/me, the account page, the export). The
organisations feature puts `ORGANISATION_OF` in at start (market/features.py `provides=`), and
creates the organisation of a new organisation account on events.ACCOUNT_REGISTERED.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from market.hooks import Slot


class Organisation(Protocol):
    """An organisation as the features below it see it (market.organisations.models)."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def status(self) -> str: ...


# The organisation a user belongs to (their first membership), or None.
OrganisationOf = Callable[[AsyncSession, str], Awaitable[Organisation | None]]
ORGANISATION_OF: Slot[OrganisationOf] = Slot("market.accounts.organisations:ORGANISATION_OF")
