"""Admin use cases: regions, coordinators and their regions, suspending accounts. Each change
writes an audit entry in the same transaction. Services flush, never commit."""

from __future__ import annotations

import math

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import services as accounts
from market.accounts.models import CoordinatorRegion, Role, User
from market.accounts.sessions import revoke_sessions
from market.admin import audit
from market.admin.schemas import CoordinatorIn, RegionIn
from market.db import lock_row, utcnow
from market.errors import Conflict, Invalid
from market.posts import geo
from market.posts import services as posts
from market.posts.models import Post, PostStatus, Region
from market.security import new_secret
from market.settings import Settings

# The reason code on posts taken out of search while their author is suspended; unsuspending
# publishes exactly these again.
SUSPENDED = "account_suspended"


# --- Regions


async def _reassign_posts(session: AsyncSession, region: Region) -> int:
    """Posts get their region when written (market.posts.geo.region_for); a region made or
    moved later takes in the posts it now covers and lets go of those it no longer does, by
    the same rule (the nearest centre whose circle holds the point). Only posts in the
    region's box or assigned to it are read, so a small region costs little in a big city."""
    regions = list(await session.scalars(select(Region)))
    dlat = region.radius_km / 111.195
    dlon = region.radius_km / (111.195 * max(math.cos(math.radians(region.lat)), 0.01))
    in_box = and_(
        Post.lat.between(region.lat - dlat, region.lat + dlat),
        Post.lon.between(region.lon - dlon, region.lon + dlon),
    )
    stmt = select(Post.id, Post.lat, Post.lon, Post.region_id).where(
        Post.lat.is_not(None), or_(Post.region_id == region.id, in_box)
    )
    moves: dict[str | None, list[str]] = {}
    for post_id, lat, lon, current in (await session.execute(stmt)).all():
        if lat is None or lon is None:  # excluded by the query; said again for the types
            continue
        best: tuple[float, str] | None = None
        for r in regions:
            d = geo.haversine_km(lat, lon, r.lat, r.lon)
            if d <= r.radius_km and (best is None or d < best[0]):
                best = (d, r.id)
        wanted = best[1] if best else None
        if wanted != current:
            moves.setdefault(wanted, []).append(post_id)
    for region_id, ids in moves.items():
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            await session.execute(
                update(Post).where(Post.id.in_(chunk)).values(region_id=region_id)
            )
    return sum(len(ids) for ids in moves.values())


async def create_region(session: AsyncSession, admin: User, data: RegionIn) -> Region:
    taken = await session.scalar(select(Region.id).where(Region.slug == data.slug))
    if taken is not None:
        raise Invalid.one("slug", "This short name is taken already.")
    region = Region(**data.model_dump())
    session.add(region)
    await session.flush()
    moved = await _reassign_posts(session, region)
    detail = f"{data.slug}; posts: {moved}"
    await audit.record(session, admin.id, "region.created", "region", region.id, detail)
    return region


async def update_region(
    session: AsyncSession, admin: User, region: Region, data: RegionIn
) -> Region:
    taken = await session.scalar(
        select(Region.id).where(Region.slug == data.slug, Region.id != region.id)
    )
    if taken is not None:
        raise Invalid.one("slug", "This short name is taken already.")
    changed = [k for k, v in data.model_dump().items() if getattr(region, k) != v]
    for key, value in data.model_dump().items():
        setattr(region, key, value)
    await session.flush()
    if changed:
        moved = await _reassign_posts(session, region)
        detail = "changed: " + ", ".join(changed) + f"; posts: {moved}"
        await audit.record(session, admin.id, "region.changed", "region", region.id, detail)
    return region


async def regions(session: AsyncSession) -> list[Region]:
    return list(await session.scalars(select(Region).order_by(Region.name, Region.id)))


# --- Coordinators


async def add_coordinator(
    session: AsyncSession, settings: Settings, admin: User, data: CoordinatorIn
) -> tuple[User, bool]:
    """A new coordinator account (the person sets a password through the mailed reset link),
    or an existing account promoted. Returns the account and whether it was created."""
    existing = await accounts.by_email(session, data.email)
    if existing is not None:
        if existing.deleted_at is not None:
            raise Invalid.one("email", "This account was deleted.")
        if existing.role == "admin":
            raise Invalid.one("email", "This person is an admin already.")
        if existing.role == "coordinator":
            raise Invalid.one("email", "This person is a coordinator already.")
        was = existing.role
        existing.role = Role.COORDINATOR
        await session.flush()
        detail = f"promoted from {was}"
        await audit.record(session, admin.id, "coordinator.promoted", "user", existing.id, detail)
        return existing, False
    if not data.display_name:
        raise Invalid.one("display_name", "Please write a name.")
    user = await accounts.create_staff(
        session,
        settings,
        email=data.email,
        name=data.display_name,
        role="coordinator",
        password=new_secret(),  # unknown to anyone: the reset mail lets them choose one
    )
    await accounts.request_password_reset(session, settings, user.email, user.locale)
    await audit.record(session, admin.id, "coordinator.created", "user", user.id)
    return user, True


async def coordinators(session: AsyncSession) -> list[User]:
    stmt = (
        select(User)
        .where(User.role == "coordinator", User.deleted_at.is_(None))
        .order_by(User.display_name, User.id)
    )
    return list(await session.scalars(stmt))


async def coordinator_regions(session: AsyncSession, user_ids: list[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {i: set() for i in user_ids}
    if not user_ids:
        return found
    stmt = select(CoordinatorRegion.user_id, CoordinatorRegion.region_id).where(
        CoordinatorRegion.user_id.in_(user_ids)
    )
    for user_id, region_id in (await session.execute(stmt)).all():
        found[user_id].add(region_id)
    return found


async def set_regions(
    session: AsyncSession, admin: User, person: User, region_ids: list[str]
) -> None:
    """A coordinator's regions, replaced as a whole (none: every region)."""
    if person.role != "coordinator":
        raise Conflict("Only coordinators have regions.")
    known = set(await session.scalars(select(Region.id).where(Region.id.in_(region_ids))))
    if known != set(region_ids):
        raise Invalid.one("regions", "Please choose regions from the list.")
    before = (await coordinator_regions(session, [person.id]))[person.id]
    if before == known:
        return
    await session.execute(delete(CoordinatorRegion).where(CoordinatorRegion.user_id == person.id))
    for region_id in sorted(known):
        session.add(CoordinatorRegion(user_id=person.id, region_id=region_id))
    await session.flush()
    detail = "regions: " + (", ".join(sorted(known)) or "all")
    await audit.record(session, admin.id, "coordinator.regions", "user", person.id, detail)


# --- Suspending accounts


async def suspend(session: AsyncSession, admin: User, person: User) -> None:
    """The account cannot log in (is_active false: every login path refuses it), its browser
    sessions and API tokens end, and its published posts leave search and matching."""
    await lock_row(session, User, person.id)
    if person.suspended_at is not None:
        raise Conflict("This account is suspended already.")
    person.suspended_at = utcnow()
    person.is_active = False
    await revoke_sessions(session, person.id)
    stmt = select(Post).where(Post.author_id == person.id, Post.status == "published")
    for post in list(await session.scalars(stmt)):
        post.rejection_reason = SUSPENDED
        await posts.end(session, post, "rejected")  # withdraws its matches too
    await session.flush()
    await audit.record(session, admin.id, "user.suspended", "user", person.id)


async def unsuspend(session: AsyncSession, settings: Settings, admin: User, person: User) -> None:
    """Undo a suspension: the account may log in again and the posts it lost come back."""
    await lock_row(session, User, person.id)
    if person.suspended_at is None:
        raise Conflict("This account is not suspended.")
    person.suspended_at = None
    person.is_active = True
    stmt = select(Post).where(
        Post.author_id == person.id, Post.status == "rejected", Post.rejection_reason == SUSPENDED
    )
    for post in list(await session.scalars(stmt)):
        if post.kind == "offer" and person.vetting_status != "approved":
            post.status, post.rejection_reason = PostStatus.PENDING_REVIEW, None
        else:
            await posts.publish(session, settings, post)
    await session.flush()
    await audit.record(session, admin.id, "user.unsuspended", "user", person.id)


async def find_accounts(session: AsyncSession, q: str, limit: int = 50) -> list[User]:
    """Accounts by part of their address or name (admins look people up to suspend them)."""
    words = q.strip().lower()
    stmt = select(User).where(User.deleted_at.is_(None))
    if words:
        escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(
            or_(
                func.lower(User.email).like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
            )
        )
    return list(await session.scalars(stmt.order_by(User.created_at.desc(), User.id).limit(limit)))
