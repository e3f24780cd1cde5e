"""Who may see, write, review and suggest services and events: the one place that decides it.

- A published entry is public (services are public places, their location is exact).
  Anything else (pending, rejected, archived) is seen by the members of its organisation, its
  author and the coordinators who work its region; to everyone else it does not exist (404).
- Writing: members of an approved organisation (for that organisation) and staff. A member's
  new entry waits for a coordinator of its region; staff publish their own at once when they
  work the region it lies in.
- Changing and confirming (freshness): the organisation's members, the author, and the staff
  who work its region; anyone else who sees it gets 403.
- Review: staff, and a coordinator with regions only the entries in them (as posts).
- Suggesting a service to a person: from a match, its volunteer and the staff who work the
  need's region; from a published need, members of an approved organisation (caseworkers and
  counsellors) and the staff of its region. The person told is always the need's author.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, false, or_
from sqlalchemy.ext.asyncio import AsyncSession

from market.actor import Actor
from market.directory.models import Entry
from market.errors import Forbidden, Invalid, NotFound
from market.i18n import N_
from market.matches import guardian as matches_guardian
from market.organisations import guardian as organisations_guardian
from market.posts import guardian as posts_guardian
from market.posts.models import Post

MSG_NO_ENTRY = N_("There is no such entry.")
MSG_MAY_NOT_WRITE = N_(
    "Only members of an approved organisation and coordinators can add services and events."
)


def _is_insider(actor: Actor, entry: Entry) -> bool:
    return (
        actor.member_of(entry.organisation_id)
        or (actor.id is not None and actor.id == entry.author_id)
        or actor.works(entry.region_id)
    )


def may_read(actor: Actor, entry: Entry) -> bool:
    return entry.status == "published" or _is_insider(actor, entry)


async def _get(session: AsyncSession, kind: str, entry_id: str) -> Entry:
    entry = await session.get(Entry, entry_id) if 0 < len(entry_id) <= 32 else None
    if entry is None or entry.kind != kind:
        raise NotFound(MSG_NO_ENTRY)
    return entry


async def readable(session: AsyncSession, actor: Actor, kind: str, entry_id: str) -> Entry:
    entry = await _get(session, kind, entry_id)
    if not may_read(actor, entry):
        raise NotFound(MSG_NO_ENTRY)
    return entry


def may_change(actor: Actor, entry: Entry) -> bool:
    return _is_insider(actor, entry)


async def changeable(session: AsyncSession, actor: Actor, kind: str, entry_id: str) -> Entry:
    """404 when invisible, 403 when visible but not the actor's to change."""
    entry = await readable(session, actor, kind, entry_id)
    if not may_change(actor, entry):
        raise Forbidden("Only the organisation and its coordinators can change this entry.")
    return entry


async def writer_organisation(
    session: AsyncSession, actor: Actor, organisation_id: str | None
) -> str | None:
    """The organisation a new entry belongs to; Forbidden unless the actor may write one.

    A member names one of their approved organisations (or has exactly one); staff may name
    any approved organisation or none (the city's own entry)."""
    if actor.user is None:
        raise Forbidden(MSG_MAY_NOT_WRITE)
    if organisation_id:
        org = await organisations_guardian.readable(session, actor, organisation_id)
        if org.status != "approved":
            raise Invalid.one("organisation_id", "This organisation is not approved yet.")
        if actor.member_of(org.id) or actor.is_staff:
            return org.id
        raise Forbidden(MSG_MAY_NOT_WRITE)
    if actor.is_staff:
        return None
    approved = [
        org_id
        for org_id in sorted(actor.organisation_ids)
        if (await organisations_guardian.readable(session, actor, org_id)).status == "approved"
    ]
    if len(approved) == 1:
        return approved[0]
    if approved:
        raise Invalid.one("organisation_id", "Please choose the organisation.")
    raise Forbidden(MSG_MAY_NOT_WRITE)


def may_write_any(actor: Actor) -> bool:
    """Whether to offer the "add a service" form (the guardian decides again on submit)."""
    return actor.is_staff or bool(actor.organisation_ids)


def publishes_at_once(actor: Actor, region_id: str | None) -> bool:
    """Staff who work the entry's region publish it themselves; everyone else waits."""
    return actor.works(region_id)


def under_review(actor: Actor, stmt: Select[Any]) -> Select[Any]:
    """Entries a reviewer may decide or watch: staff only, regional staff their regions'."""
    if not actor.is_staff:
        return stmt.where(false())
    if actor.region_ids:
        return stmt.where(Entry.region_id.in_(sorted(actor.region_ids)))
    return stmt


async def reviewable(session: AsyncSession, actor: Actor, kind: str, entry_id: str) -> Entry:
    entry = await _get(session, kind, entry_id)
    if not actor.works(entry.region_id):
        raise NotFound(MSG_NO_ENTRY)
    return entry


def own(actor: Actor, stmt: Select[Any]) -> Select[Any]:
    """The entries of the actor's organisations and their own, in any status."""
    conditions = [Entry.author_id == (actor.id or "")]
    if actor.organisation_ids:
        conditions.append(Entry.organisation_id.in_(sorted(actor.organisation_ids)))
    return stmt.where(or_(*conditions))


# --- Referral


async def need_to_refer(
    session: AsyncSession, actor: Actor, need_id: str | None, match_id: str | None
) -> Post:
    """The need whose author is told of a service, if the actor may suggest one there.

    404 when the actor may not see the need or match, 403 when they see it but may not."""
    if match_id:
        if actor.works(await _need_region(session, match_id)):
            return await _need_of_match(session, match_id)
        match, side = await matches_guardian.readable(session, actor, match_id)
        if side != "offer":
            raise Forbidden("Only the volunteer of this match can suggest a service here.")
        return await _need_of_match(session, match.id)
    need = await posts_guardian.readable(session, actor, need_id or "")
    if need.kind != "need":
        raise Invalid.one("need_id", "This is not a request for help.")
    if actor.works(need.region_id) or await _is_caseworker(session, actor):
        return need
    raise Forbidden("Only coordinators and the organisation's caseworkers can suggest here.")


async def _is_caseworker(session: AsyncSession, actor: Actor) -> bool:
    """A member of an approved organisation: counsellors point people to services every day
    (the person is only told of a published service, never who else was told)."""
    for org_id in sorted(actor.organisation_ids):
        org = await organisations_guardian.readable(session, actor, org_id)
        if org.status == "approved":
            return True
    return False


async def _need_of_match(session: AsyncSession, match_id: str) -> Post:
    from market.matches.models import Match

    match = await session.get(Match, match_id)
    need = await session.get(Post, match.need_id) if match is not None else None
    if need is None:
        raise NotFound("There is no such match.")
    return need


async def _need_region(session: AsyncSession, match_id: str) -> str | None:
    from market.matches.models import Match

    match = await session.get(Match, match_id) if len(match_id) <= 32 else None
    need = await session.get(Post, match.need_id) if match is not None else None
    return need.region_id if need is not None else "\0none"
