"""Organisation use cases: the profile, members and invitations, caseworkers' clients.

Who may do what is decided in `market.organisations.guardian`; these functions act on an
organisation the caller was already cleared for.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.accounts.services import by_email, set_languages
from market.conversations.models import Conversation, Participant
from market.db import lock_row, utcnow
from market.errors import Conflict, Invalid, NotFound
from market.matches.models import Match
from market.organisations import guardian, queries
from market.organisations.models import (
    Application,
    Client,
    ClientPost,
    Invitation,
    MemberRole,
    Organisation,
    OrganisationMember,
)
from market.organisations.schemas import (
    ClientIn,
    InvitationIn,
    InvitationSignupIn,
    OrganisationPatch,
)
from market.posts import services as posts
from market.posts.models import Post
from market.posts.schemas import PostIn
from market.security import digest, hash_password, new_secret
from market.settings import Settings
from market.text import plain_text
from market.validation import check_password_personal
from notifications.mail import queue_mail

INVITATION_LIFETIME = timedelta(days=14)
MSG_BAD_TOKEN = "This invitation is not valid any more. Please ask for a new one."  # noqa: S105


# --- Finding an organisation and the caller's place in it


async def get(session: AsyncSession, org_id: str) -> Organisation:
    org = await session.get(Organisation, org_id) if 0 < len(org_id) <= 32 else None
    if org is None:
        raise NotFound("There is no such organisation.")
    return org


async def membership(session: AsyncSession, user_id: str, org_id: str) -> OrganisationMember | None:
    stmt = select(OrganisationMember).where(
        OrganisationMember.user_id == user_id, OrganisationMember.organisation_id == org_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def organisations_of(session: AsyncSession, user_id: str) -> list[Organisation]:
    stmt = (
        select(Organisation)
        .join(OrganisationMember, OrganisationMember.organisation_id == Organisation.id)
        .where(OrganisationMember.user_id == user_id)
        .order_by(OrganisationMember.created_at, Organisation.id)
    )
    return list((await session.execute(stmt)).scalars())


# --- Profile


async def update_profile(
    session: AsyncSession, org: Organisation, patch: OrganisationPatch
) -> Organisation:
    fields = patch.model_fields_set
    if "name" in fields and patch.name is not None and patch.name != org.name:
        # A coordinator verified the organisation under its name; a new name needs a new check.
        if org.status == "approved":
            raise Conflict(
                "The name of an approved organisation cannot be changed here. "
                "Please ask a coordinator."
            )
        org.name = plain_text(patch.name)
    if "name" in fields and patch.name is None:
        raise Invalid.one("name", "Please give the organisation's name.")
    if "website" in fields:
        org.website = patch.website
    if "description" in fields:
        org.description = plain_text(patch.description) if patch.description else None
    if "address" in fields:
        org.address = plain_text(patch.address) if patch.address else None
    await session.flush()
    return org


async def open_postings_count(session: AsyncSession, org_id: str) -> int:
    stmt = select(func.count()).select_from(Post).where(queries.open_posting_of(org_id))
    return int((await session.execute(stmt)).scalar_one())


async def to_json(session: AsyncSession, org: Organisation) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "website": org.website,
        "status": org.status,
        "description": org.description,
        "address": org.address,
        "open_postings": await open_postings_count(session, org.id),
    }


# --- Members


def members_query(org_id: str) -> Any:
    """The members with their accounts, oldest first (order by created_at, user_id)."""
    return (
        select(OrganisationMember, User)
        .join(User, User.id == OrganisationMember.user_id)
        .where(OrganisationMember.organisation_id == org_id)
    )


def member_cursor_columns() -> tuple[Any, Any]:
    return OrganisationMember.created_at, OrganisationMember.user_id


async def members(session: AsyncSession, org_id: str) -> list[tuple[OrganisationMember, User]]:
    stmt = members_query(org_id).order_by(OrganisationMember.created_at, OrganisationMember.user_id)
    return [(m, u) for m, u in (await session.execute(stmt)).all()]


def member_json(member: OrganisationMember, user: User) -> dict[str, Any]:
    active = user.is_active and user.deleted_at is None
    return {
        "user_id": user.id,
        "display_name": user.display_name if active else None,
        "email": user.email if active else None,
        "role": member.role,
        "joined_at": member.created_at.isoformat(),
    }


async def owner_count(session: AsyncSession, org_id: str) -> int:
    stmt = select(func.count()).where(
        OrganisationMember.organisation_id == org_id, OrganisationMember.role == "owner"
    )
    return int((await session.execute(stmt)).scalar_one())


async def remove_member(session: AsyncSession, org: Organisation, user_id: str) -> None:
    """Remove a member (the guardian said who may); the last owner stays (409)."""
    target = await membership(session, user_id, org.id) if len(user_id) <= 32 else None
    if target is None:
        raise NotFound("This person is not a member.")
    if target.role == "owner" and await owner_count(session, org.id) <= 1:
        raise Conflict("The last owner cannot be removed. Make someone else an owner first.")
    await session.delete(target)
    await session.flush()


async def change_role(
    session: AsyncSession, org: Organisation, user_id: str, role: str
) -> tuple[OrganisationMember, User]:
    target = await membership(session, user_id, org.id) if len(user_id) <= 32 else None
    user = await session.get(User, user_id) if target is not None else None
    if target is None or user is None:
        raise NotFound("This person is not a member.")
    if target.role == "owner" and role != "owner" and await owner_count(session, org.id) <= 1:
        raise Conflict("The last owner must stay an owner. Make someone else an owner first.")
    target.role = MemberRole(role)
    await session.flush()
    return target, user


# --- Invitations


def invitation_link(settings: Settings, secret: str) -> str:
    return f"{settings.base_url.rstrip('/')}/organisations/join?{urlencode({'token': secret})}"


async def invite(
    session: AsyncSession,
    settings: Settings,
    owner: User,
    org: Organisation,
    data: InvitationIn,
) -> tuple[Invitation, str]:
    """Mail a single-use link; a new invitation to the same address replaces the old one.

    Returns the invitation and its secret (only its hash is stored).
    """
    existing = await by_email(session, data.email)
    if existing is not None and await membership(session, existing.id, org.id) is not None:
        raise Conflict("This person is a member already.")
    now = utcnow()
    await session.execute(
        update(Invitation)
        .where(
            Invitation.organisation_id == org.id,
            Invitation.email == data.email,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    secret = new_secret()
    invitation = Invitation(
        organisation_id=org.id,
        email=data.email,
        role=data.role,
        token_hash=digest(secret),
        invited_by=owner.id,
        expires_at=now + INVITATION_LIFETIME,
    )
    session.add(invitation)
    await session.flush()
    # In the invitee's language when they have an account, else in the inviter's.
    locale = existing.locale if existing is not None else owner.locale
    await queue_mail(
        session,
        to=data.email,
        template="org_invitation",
        locale=locale,
        context={
            "inviter": owner.display_name,
            "organisation": org.name,
            "role": data.role,
            "link": invitation_link(settings, secret),
            "days": INVITATION_LIFETIME.days,
        },
        settings=settings,
    )
    return invitation, secret


def pending_invitations_query(org_id: str) -> Any:
    return select(Invitation).where(
        Invitation.organisation_id == org_id,
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > utcnow(),
    )


def invitation_json(invitation: Invitation) -> dict[str, Any]:
    return {
        "id": invitation.id,
        "email": invitation.email,
        "role": invitation.role,
        "created_at": invitation.created_at.isoformat(),
        "expires_at": invitation.expires_at.isoformat(),
    }


async def revoke_invitation(session: AsyncSession, org: Organisation, invitation_id: str) -> None:
    # Locked: a revoke and an acceptance at the same moment end in one of the two.
    invitation = (
        await lock_row(session, Invitation, invitation_id) if len(invitation_id) <= 32 else None
    )
    if (
        invitation is None
        or invitation.organisation_id != org.id
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
    ):
        raise NotFound("There is no such open invitation.")
    invitation.revoked_at = utcnow()
    await session.flush()


async def invitation_by_token(session: AsyncSession, secret: str) -> Invitation:
    """The open invitation for this link; 422 on the token when it is unknown, used or old."""
    secret = secret.strip()
    invitation = None
    if 10 <= len(secret) <= 200:
        stmt = select(Invitation).where(Invitation.token_hash == digest(secret))
        invitation = (await session.execute(stmt)).scalar_one_or_none()
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= utcnow()
    ):
        raise Invalid.one("token", MSG_BAD_TOKEN)
    return invitation


async def _locked_open(session: AsyncSession, invitation: Invitation) -> Invitation:
    """The invitation again, locked: two clicks on one link, or a revoke at the same moment,
    act one after the other, and the second finds it used."""
    await lock_row(session, Invitation, invitation.id)
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise Invalid.one("token", MSG_BAD_TOKEN)
    return invitation


async def accept_invitation(
    session: AsyncSession, user: User, secret: str
) -> tuple[Organisation, OrganisationMember]:
    invitation = await _locked_open(session, await invitation_by_token(session, secret))
    guardian.check_invitee(user, invitation)
    org = await get(session, invitation.organisation_id)
    if await membership(session, user.id, org.id) is not None:
        raise Conflict("You are a member of this organisation already.")
    member = OrganisationMember(organisation_id=org.id, user_id=user.id, role=invitation.role)
    session.add(member)
    invitation.accepted_at = utcnow()
    invitation.accepted_by = user.id
    await session.flush()
    return org, member


async def signup_with_invitation(
    session: AsyncSession, settings: Settings, data: InvitationSignupIn
) -> tuple[User, Organisation, OrganisationMember]:
    """An invitee without an account signs up through the link: an organisation account that
    joins the inviting organisation (no new organisation). The token came by mail to the
    address, so the address counts as confirmed."""
    invitation = await _locked_open(session, await invitation_by_token(session, data.token))
    if await by_email(session, invitation.email) is not None:
        raise Conflict(
            "An account with this email address exists already. "
            "Please log in and accept the invitation."
        )
    check_password_personal(data.password, email=invitation.email, display_name=data.display_name)
    org = await get(session, invitation.organisation_id)
    now = utcnow()
    user = User(
        email=invitation.email,
        password_hash=await hash_password(
            data.password, settings.argon2_memory_kib, settings.argon2_time_cost
        ),
        display_name=data.display_name,
        role="organisation",
        locale=data.locale,
        email_verified_at=now,
    )
    set_languages(user, [(s.code, s.level) for s in data.languages])
    session.add(user)
    await session.flush()
    member = OrganisationMember(organisation_id=org.id, user_id=user.id, role=invitation.role)
    session.add(member)
    invitation.accepted_at = now
    invitation.accepted_by = user.id
    await session.flush()
    return user, org, member


# --- The overview


async def conversations_of(
    session: AsyncSession, org_id: str, user_id: str
) -> list[dict[str, Any]]:
    """Conversations about the organisation's applications and matches."""
    org_posts = select(Post.id).where(Post.organisation_id == org_id)
    app_ids = select(Application.id).where(Application.post_id.in_(org_posts))
    match_ids = select(Match.id).where(Match.need_id.in_(org_posts))
    stmt = (
        select(Conversation)
        .where(or_(Conversation.application_id.in_(app_ids), Conversation.match_id.in_(match_ids)))
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .limit(50)
    )
    conversations = list((await session.execute(stmt)).scalars())
    if not conversations:
        return []
    rows = (
        await session.execute(
            select(Participant.conversation_id, User)
            .join(User, User.id == Participant.user_id)
            .where(Participant.conversation_id.in_([c.id for c in conversations]))
        )
    ).all()
    people: dict[str, list[User]] = {}
    for conversation_id, person in rows:
        people.setdefault(conversation_id, []).append(person)
    return [
        {
            "conversation": c,
            "people": [p for p in people.get(c.id, []) if p.id != user_id],
            "mine": any(p.id == user_id for p in people.get(c.id, [])),
        }
        for c in conversations
    ]


# --- Clients of caseworkers


async def create_client(
    session: AsyncSession, user: User, org: Organisation, data: ClientIn
) -> Client:
    client = Client(
        organisation_id=org.id,
        label=plain_text(data.first_name_or_initials),
        languages=list(data.languages),
        consent_at=utcnow(),
        created_by=user.id,
    )
    session.add(client)
    await session.flush()
    return client


def clients_query(org_id: str) -> Select[Any]:
    return select(Client).where(Client.organisation_id == org_id)


async def clients(session: AsyncSession, org_id: str) -> list[Client]:
    stmt = clients_query(org_id).order_by(Client.created_at.desc(), Client.id.desc())
    return list((await session.execute(stmt)).scalars())


async def client_posts(session: AsyncSession, client_ids: list[str]) -> dict[str, list[Post]]:
    found: dict[str, list[Post]] = {cid: [] for cid in client_ids}
    if not client_ids:
        return found
    stmt = (
        select(ClientPost.client_id, Post)
        .join(Post, Post.id == ClientPost.post_id)
        .where(ClientPost.client_id.in_(client_ids))
        .order_by(Post.created_at.desc())
    )
    for client_id, post in (await session.execute(stmt)).all():
        found[client_id].append(post)
    return found


def client_json(client: Client, post_list: list[Post] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": client.id,
        "label": client.label,
        "languages": list(client.languages or []),
        "consent_at": client.consent_at.isoformat(),
        "created_at": client.created_at.isoformat(),
    }
    if post_list is not None:
        body["posts"] = [
            {"id": p.id, "title": p.title, "status": p.status, "category": p.category}
            for p in post_list
        ]
    return body


async def post_for_client(
    session: AsyncSession,
    settings: Settings,
    user: User,
    org: Organisation,
    client: Client,
    data: PostIn,
) -> Post:
    """A need on the client's behalf: the member is its author, the organisation acts for the
    client in matches and conversations."""
    if data.kind != "need":
        raise Invalid.one("kind", "Posts for a client are needs.")
    if data.organisation_id not in (None, org.id):
        raise Invalid.one("organisation_id", "Posts for a client belong to its organisation.")
    post = await posts.create(
        session, settings, user, data.model_copy(update={"organisation_id": org.id})
    )
    session.add(ClientPost(post_id=post.id, client_id=client.id))
    await session.flush()
    return post


async def delete_client(session: AsyncSession, client: Client) -> None:
    """Erase a client: their open needs are closed (matches withdrawn), the record deleted."""
    for post in (await client_posts(session, [client.id]))[client.id]:
        if post.status in ("pending_review", "published"):
            await posts.end(session, post, "closed")
    await session.delete(client)
    await session.flush()


async def client_of_post(session: AsyncSession, post_id: str) -> Client | None:
    stmt = (
        select(Client)
        .join(ClientPost, ClientPost.client_id == Client.id)
        .where(ClientPost.post_id == post_id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
