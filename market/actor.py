"""Who is asking: the caller with their role, organisations and coordinator regions.

Built once per request (`actor_of`) and handed to the features' guardians, which alone decide
who may see or change what. Handlers never test roles, memberships or regions themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from market.accounts.models import CoordinatorRegion, User
from market.hooks import Slot

STAFF_ROLES = frozenset({"coordinator", "admin"})

# (organisation id, membership role) of each organisation a user is a member of: organisations
# sit above this foundation module, so their feature fills the slot at start (features.py).
MemberRoles = Callable[[AsyncSession, str], Awaitable[Sequence[tuple[str, str]]]]
MEMBER_ROLES: Slot[MemberRoles] = Slot("market.actor:MEMBER_ROLES")


@dataclass(frozen=True)
class Actor:
    """The caller. `user` is None for an anonymous visitor.

    `region_ids` holds a coordinator's regions; an empty set means "every region" (a coordinator
    created without a region, and admins). `organisation_ids` are the organisations the user is
    a member of (any membership role), `owned_organisation_ids` those where they are an owner.
    """

    user: User | None
    region_ids: frozenset[str] = field(default_factory=frozenset)
    organisation_ids: frozenset[str] = field(default_factory=frozenset)
    owned_organisation_ids: frozenset[str] = field(default_factory=frozenset)
    # False for a coordinator or admin who has not set up the second factor that
    # ANLAUF_STAFF_2FA=required asks of them: until then they see only what anyone sees.
    staff_ready: bool = True

    @property
    def id(self) -> str | None:
        return self.user.id if self.user else None

    @property
    def role(self) -> str | None:
        return self.user.role if self.user else None

    @property
    def is_anonymous(self) -> bool:
        return self.user is None

    @property
    def is_staff(self) -> bool:
        """Coordinators and admins (with their second factor where it is required): they review,
        vet and moderate, and read their regions' conversations."""
        return self.role in STAFF_ROLES and self.staff_ready

    @property
    def is_regional(self) -> bool:
        """A coordinator limited to some regions (everything else is invisible to them)."""
        return self.is_staff and bool(self.region_ids)

    def works(self, region_id: str | None) -> bool:
        """Whether a staff member works the region of an object (False for everyone else).

        An object outside every region (region None) belongs to staff without a region only.
        """
        if not self.is_staff:
            return False
        if not self.region_ids:
            return True
        return region_id is not None and region_id in self.region_ids

    def member_of(self, organisation_id: str | None) -> bool:
        return organisation_id is not None and organisation_id in self.organisation_ids

    def owns(self, organisation_id: str | None) -> bool:
        return organisation_id is not None and organisation_id in self.owned_organisation_ids


ANONYMOUS = Actor(user=None)


async def load_actor(session: AsyncSession, user: User | None) -> Actor:
    """The actor for a user: one query for regions (staff) and one for memberships."""
    if user is None:
        return ANONYMOUS
    regions: frozenset[str] = frozenset()
    if user.role == "coordinator":
        rows = await session.scalars(
            select(CoordinatorRegion.region_id).where(CoordinatorRegion.user_id == user.id)
        )
        regions = frozenset(rows.all())
    members = await MEMBER_ROLES()(session, user.id)
    return Actor(
        user=user,
        region_ids=regions,
        organisation_ids=frozenset(org_id for org_id, _ in members),
        owned_organisation_ids=frozenset(org_id for org_id, role in members if role == "owner"),
    )


async def actor_of(request: Request) -> Actor:
    """The caller of this request, built once and kept on request.state."""
    cached: Actor | None = getattr(request.state, "actor", None)
    if cached is not None:
        return cached
    from market.web import current_user, db

    actor = await load_actor(db(request), await current_user(request))
    if actor.user is not None and actor.role in STAFF_ROLES:
        # Staff powers reach beyond the review routes (a region's conversations, exact places),
        # so the second-factor rule is applied to the actor itself, not only to those routes.
        from market.accounts.twofactor import staff_ready

        if not await staff_ready(request, actor.user):
            actor = replace(actor, staff_ready=False)
    request.state.actor = actor
    return actor


async def actor_for(session: AsyncSession, who: Actor | User | None) -> Actor:
    """An Actor as is; a bare User (from code that has no request) with its regions loaded."""
    if isinstance(who, Actor):
        return who
    return await load_actor(session, who)


async def staff_actor(request: Request) -> Actor:
    """The caller of a review or admin route: 401 without login, 403 unless a coordinator or
    admin, and (market.web.require_user) the second factor when ANLAUF_STAFF_2FA=required.
    What the staff member may then see is for the features' guardians to say."""
    from market.web import require_user

    await require_user(request, STAFF_ROLES)
    return await actor_of(request)
