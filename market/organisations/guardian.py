"""Who may see and change an organisation and what hangs on it.

The one place for these rules; the pages (views.py) and the JSON API (api.py) only ask here, so
the two surfaces cannot drift apart. The readings behind them are written down in
docs/api-additions.md, "Organisations: who sees what".

- Profile, open postings: anyone once the organisation is approved. Before that (pending,
  rejected) only its members and the staff who oversee it; to everyone else it does not exist.
- The widget: public, approved organisations only (whoever asks, members too: it is what the
  association's website shows).
- Members list, leaving, caseworkers' clients: the members. Owners also change the profile and
  members' roles, remove members and handle invitations.
- Overview (dashboard) and the CSV of postings: the members, and staff who oversee the
  organisation, who see only the posts of their regions there.
- A posting's applications: the organisation's members (the author, for a posting without an
  organisation), the volunteer for their own, and staff who work the posting's region (they look,
  they never decide).

Staff oversee an organisation when they work every region, or when one of its posts lies in one
of their regions, or when it has no posts at all (then every coordinator: someone must be able to
review a new organisation). A region-limited coordinator gets 404 for whatever of an
organisation is not public and not theirs: for them it belongs to another region.

Refusals follow API.md: 404 when the caller may not know the object, 403 when they see it but
their role may never do this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.actor import Actor
from market.conversations.models import Conversation, Participant
from market.errors import Forbidden, NotFound
from market.organisations.models import (
    Application,
    Client,
    Invitation,
    Organisation,
    OrganisationMember,
)
from market.posts import queries as post_queries
from market.posts import services as posts
from market.posts.models import Post

MSG_NO_ORGANISATION = "There is no such organisation."
MSG_MEMBERS_ONLY = "Only the organisation's members can see this page."
MSG_OWNERS_ONLY = "Only the organisation's owners may do this."
MSG_NO_APPLICATION = "There is no such application."
MSG_NO_CLIENT = "There is no such client."


class HasRole(Protocol):
    @property
    def role(self) -> str | None: ...


@dataclass(frozen=True)
class Seat:
    """The actor's place in one organisation, for pages: `role` is "owner" or "member"."""

    role: str

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


def seat(actor: Actor, org: Organisation) -> Seat | None:
    if actor.owns(org.id):
        return Seat("owner")
    if actor.member_of(org.id):
        return Seat("member")
    return None


# --- Organisations


def _is_public(org: Organisation) -> bool:
    return org.status == "approved"


def in_regions(actor: Actor) -> ColumnElement[bool]:
    """Organisations a region-limited coordinator oversees: one of its posts lies in one of their
    regions, or it has no posts at all. (Everyone else: use `oversees`.)"""
    any_post = exists().where(Post.organisation_id == Organisation.id)
    post_here = exists().where(
        Post.organisation_id == Organisation.id, Post.region_id.in_(actor.region_ids)
    )
    return or_(post_here, ~any_post)


async def oversees(session: AsyncSession, actor: Actor, org: Organisation) -> bool:
    """Staff who work every region, or one of the organisation's (see `in_regions`)."""
    if not actor.is_staff:
        return False
    if not actor.is_regional:
        return True
    stmt = select(Organisation.id).where(Organisation.id == org.id, in_regions(actor))
    return (await session.execute(stmt)).first() is not None


async def _get(session: AsyncSession, org_id: str) -> Organisation:
    org = await session.get(Organisation, org_id) if 0 < len(org_id) <= 32 else None
    if org is None:
        raise NotFound(MSG_NO_ORGANISATION)
    return org


async def readable(session: AsyncSession, actor: Actor, org_id: str) -> Organisation:
    """The organisation's profile: public once approved, else members and overseeing staff."""
    org = await _get(session, org_id)
    if _is_public(org) or actor.member_of(org.id) or await oversees(session, actor, org):
        return org
    raise NotFound(MSG_NO_ORGANISATION)


async def public(session: AsyncSession, org_id: str) -> Organisation:
    """The widget's organisation: approved ones only, whoever asks."""
    org = await _get(session, org_id)
    if not _is_public(org):
        raise NotFound(MSG_NO_ORGANISATION)
    return org


async def _inner(session: AsyncSession, actor: Actor, org_id: str) -> tuple[Organisation, bool]:
    """For what is not public: the organisation and whether the actor oversees it.

    404 when the actor may not see the organisation at all, and for staff who do not oversee
    it (another region's, even when its profile is public)."""
    org = await readable(session, actor, org_id)
    if actor.member_of(org.id):
        return org, False
    watching = await oversees(session, actor, org)
    if actor.is_staff and not watching:
        raise NotFound(MSG_NO_ORGANISATION)
    return org, watching


async def for_members(session: AsyncSession, actor: Actor, org_id: str) -> Organisation:
    """Members list, leaving, clients: members only."""
    org, _ = await _inner(session, actor, org_id)
    if not actor.member_of(org.id):
        raise Forbidden(MSG_MEMBERS_ONLY)
    return org


async def for_owners(session: AsyncSession, actor: Actor, org_id: str) -> Organisation:
    """Profile changes, roles, removing others, invitations: owners only."""
    org = await for_members(session, actor, org_id)
    if not actor.owns(org.id):
        raise Forbidden(MSG_OWNERS_ONLY)
    return org


async def for_overview(session: AsyncSession, actor: Actor, org_id: str) -> Organisation:
    """The overview (dashboard) and the CSV of postings: members and overseeing staff."""
    org, watching = await _inner(session, actor, org_id)
    if not (actor.member_of(org.id) or watching):
        raise Forbidden(MSG_MEMBERS_ONLY)
    return org


def may_remove(actor: Actor, org: Organisation, user_id: str) -> None:
    """Owners remove anyone; a member may leave."""
    if not (actor.owns(org.id) or actor.id == user_id):
        raise Forbidden("Only the organisation's owners may remove members.")


def postings(actor: Actor, org: Organisation, stmt: Select[Any]) -> Select[Any]:
    """Narrow a select of the organisation's postings (`queries.postings_of`): members see every
    one, everyone else the open ones."""
    if actor.member_of(org.id):
        return stmt
    return stmt.where(Post.status == "published")


def overview_posts(actor: Actor, org: Organisation, stmt: Select[Any]) -> Select[Any]:
    """Narrow a select of the organisation's posts for its overview: members see all of them,
    a region-limited coordinator those of their regions."""
    if actor.member_of(org.id) or not actor.is_regional:
        return stmt
    return stmt.where(Post.region_id.in_(actor.region_ids))


def shows_private_parts(actor: Actor, org: Organisation) -> bool:
    """Clients and the members' own conversations appear on the overview for members only."""
    return actor.member_of(org.id)


async def memberships(session: AsyncSession, org_id: str) -> list[str]:
    """The user ids of an organisation's members (who manage its postings)."""
    stmt = select(OrganisationMember.user_id).where(OrganisationMember.organisation_id == org_id)
    return list((await session.execute(stmt)).scalars())


# --- Joining


def check_invitee(user: User, invitation: Invitation) -> None:
    """Whether this account may take this invitation: the invited address, confirmed, and an
    organisation account (403 with the reason otherwise)."""
    if user.email != invitation.email:
        raise Forbidden(
            "This invitation was sent to another email address. Log in with the invited address."
        )
    if not user.email_verified:
        raise Forbidden("Please confirm your email address first, then accept the invitation.")
    if user.role != "organisation":
        raise Forbidden(
            "Only organisation accounts can join an organisation. "
            "Please ask for an invitation to another email address."
        )


# --- Clients of caseworkers


async def client(
    session: AsyncSession, actor: Actor, org_id: str, client_id: str
) -> tuple[Organisation, Client]:
    """A client of the organisation: members only. Coordinators see the needs themselves
    (through the posts' rules); the person behind them was entrusted to the organisation."""
    org = await for_members(session, actor, org_id)
    found = await session.get(Client, client_id) if 0 < len(client_id) <= 32 else None
    if found is None or found.organisation_id != org.id:
        raise NotFound(MSG_NO_CLIENT)
    return org, found


# --- Postings and applications


def manages(actor: Actor, post: Post) -> bool:
    """A posting is managed by its organisation's members, or by its author without one."""
    if post.organisation_id:
        return actor.member_of(post.organisation_id)
    return actor.id is not None and actor.id == post.author_id


async def manager_ids(session: AsyncSession, post: Post) -> list[str]:
    """Who manages a posting (they hear of new applications)."""
    if post.organisation_id:
        return await memberships(session, post.organisation_id)
    return [post.author_id]


async def _visible_post(session: AsyncSession, actor: Actor, post_id: str) -> Post:
    """The post where the posts' rules let the actor read it (404 otherwise)."""
    return await posts.visible(session, actor, post_id)


async def posting(session: AsyncSession, actor: Actor, post_id: str) -> Post:
    """A posting's details are read where its post may be read (the posts' rules)."""
    return await _visible_post(session, actor, post_id)


async def post_applications(session: AsyncSession, actor: Actor, post_id: str) -> tuple[Post, bool]:
    """A posting whose applications the actor may see, and whether they manage it (decide).

    Managers decide; staff who work the posting's region look; staff of another region get 404;
    others 403 when they can see the post, 404 when they cannot."""
    post = await post_queries.get(session, post_id)
    if post is None:
        raise NotFound("There is no such post.")
    if manages(actor, post):
        return post, True
    if actor.is_staff:
        if actor.works(post.region_id):
            return post, False
        raise NotFound("There is no such post.")
    await _visible_post(session, actor, post_id)  # 404 when the caller may not see it
    raise Forbidden("Only the organisation's members and coordinators see the applications.")


async def managed_posting(session: AsyncSession, actor: Actor, post_id: str) -> Post:
    """A posting the actor manages (to describe it); staff and others see it at most: 403."""
    post, managing = await post_applications(session, actor, post_id)
    if not managing:
        raise Forbidden("Only the organisation's members can describe the posting.")
    return post


async def application(
    session: AsyncSession, actor: Actor, application_id: str
) -> tuple[Application, str]:
    """The application and the actor's relation to it: "volunteer", "manager" or "staff"
    (who works the posting's region); 404 for everyone else."""
    found = (
        await session.get(Application, application_id) if 0 < len(application_id) <= 32 else None
    )
    if found is not None and actor.id is not None:
        if found.volunteer_id == actor.id:
            return found, "volunteer"
        post = await session.get(Post, found.post_id)
        if post is not None and manages(actor, post):
            return found, "manager"
        if post is not None and actor.works(post.region_id):
            return found, "staff"
    raise NotFound(MSG_NO_APPLICATION)


async def decidable(
    session: AsyncSession, actor: Actor, application_id: str
) -> tuple[Application, str]:
    """An application the actor may accept or decline: its posting's managers only."""
    found, relation = await application(session, actor, application_id)
    if relation != "manager":
        raise Forbidden("Only the organisation's members decide on applications.")
    return found, relation


async def withdrawable(
    session: AsyncSession, actor: Actor, application_id: str
) -> tuple[Application, str]:
    """An application the actor may withdraw: their own."""
    found, relation = await application(session, actor, application_id)
    if relation != "volunteer":
        raise Forbidden("Only the volunteer can withdraw an application.")
    return found, relation


def may_apply(who: HasRole) -> bool:
    """Volunteers apply to postings (their vetting and certificate are the posting's rules)."""
    return who.role == "volunteer"


def require_applicant(who: HasRole) -> None:
    if not may_apply(who):
        raise Forbidden("Only volunteers apply to postings.")


async def conversations_joined(
    session: AsyncSession, actor: Actor, conversation_ids: list[str]
) -> set[str]:
    """Those of the conversations the actor takes part in.

    A conversation about an application is between the volunteer and the members who took part
    (the posting's author and whoever accepted); colleagues are not in it, so they get no link."""
    if actor.id is None or not conversation_ids:
        return set()
    stmt = select(Participant.conversation_id).where(
        Participant.user_id == actor.id, Participant.conversation_id.in_(conversation_ids)
    )
    return set((await session.execute(stmt)).scalars())


async def conversation_region(session: AsyncSession, conversation: Conversation) -> str | None:
    """The region of an application's conversation, its posting's (for
    market.conversations.guardian)."""
    if not conversation.application_id:
        return None
    return await session.scalar(
        select(Post.region_id)
        .join(Application, Application.post_id == Post.id)
        .where(Application.id == conversation.application_id)
    )
