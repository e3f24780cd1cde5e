"""Who may administer: admins only (with their second factor where it is required).

Coordinators moderate and review; regions, coordinators, suspensions, legal texts and the audit
log are for admins. Everyone else gets 403 (the pages do not exist for them in the nav).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.actor import Actor
from market.errors import Forbidden, NotFound
from market.posts.models import Region


def is_admin(actor: Actor) -> bool:
    return actor.is_staff and actor.role == "admin"


def require_admin(actor: Actor) -> None:
    if not is_admin(actor):
        raise Forbidden()


async def region(session: AsyncSession, actor: Actor, region_id: str) -> Region:
    require_admin(actor)
    found = await session.get(Region, region_id) if 0 < len(region_id) <= 32 else None
    if found is None:
        raise NotFound("There is no such region.")
    return found


async def account(session: AsyncSession, actor: Actor, user_id: str) -> User:
    """An account to look at, suspend or give regions; deleted accounts are gone."""
    require_admin(actor)
    found = await session.get(User, user_id) if 0 < len(user_id) <= 32 else None
    if found is None or found.deleted_at is not None:
        raise NotFound("There is no such account.")
    return found


def may_suspend(actor: Actor, person: User) -> bool:
    """Not oneself (an admin locking themselves out helps nobody), and not another admin."""
    return is_admin(actor) and person.id != actor.id and person.role != "admin"


def may_get_regions(person: User) -> bool:
    return person.role == "coordinator"


async def account_to_suspend(session: AsyncSession, actor: Actor, user_id: str) -> User:
    person = await account(session, actor, user_id)
    if not may_suspend(actor, person):
        raise Forbidden("You cannot suspend this account.")
    return person
