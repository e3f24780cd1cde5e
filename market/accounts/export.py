"""Everything stored about a person, for the right of access (GDPR Art. 15).

API.md (Release 2, Accounts and personal data) lists what `GET /me/export` holds: profile,
languages, posts, matches (status, partner's display name, reasons, outcome), conversations
with their messages, notifications, reports the caller filed, applications, organisation
memberships, vetting decisions about the caller with their checklist and dates, sessions and
tokens (created, last used). Each is one entry of EXPORT_SECTIONS below, written out in one
place: a section that features had to register at import time went missing silently whenever
the module was not imported, and an export that looks complete but is not is worse than none.
Secrets never appear: no password hash, no token or session key, no second-factor secret.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import services
from market.accounts.models import AccountToken, ApiToken, OidcIdentity, User, WebSession
from market.conversations.models import Conversation, Message, Participant
from market.matches.models import Match
from market.organisations.models import Organisation, OrganisationMember
from market.posts.models import Post
from market.vetting.models import Report, VettingDecision
from notifications.models import Notification

Section = Callable[[AsyncSession, User], Awaitable[Any]]


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


async def _profile(session: AsyncSession, user: User) -> dict[str, Any]:
    org = await services.organisation_of(session, user.id)
    return services.me(user, org) | {
        "created_at": _iso(user.created_at),
        "police_certificate_until": _iso(user.police_certificate_until),
        "max_open_matches": user.max_open_matches,
    }


async def _languages(session: AsyncSession, user: User) -> list[dict[str, str]]:
    return [{"code": lang.code, "level": lang.level} for lang in user.languages]


async def _posts(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    from market.posts import services as posts

    stmt = select(Post).where(Post.author_id == user.id).order_by(Post.created_at, Post.id)
    return await posts.to_json_many(session, list(await session.scalars(stmt)), user)


async def _matches(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """The caller's matches as the API shows them to the caller (partner's display name,
    reasons in words, outcome where the match object has one)."""
    from market.matches.api import match_json

    stmt = (
        select(Match)
        .where(or_(Match.volunteer_id == user.id, Match.need_author_id == user.id))
        .order_by(Match.created_at, Match.id)
    )
    result = []
    for match in await session.scalars(stmt):
        side = "offer" if match.volunteer_id == user.id else "need"
        item = await match_json(session, match, user, side)
        item.update(
            side=side,
            closed_reason=match.closed_reason,
            connected_at=_iso(match.connected_at),
            closed_at=_iso(match.closed_at),
        )
        result.append(item)
    return result


async def _conversations(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Each conversation the caller takes part in, with everybody's messages in it."""
    mine = select(Participant.conversation_id).where(Participant.user_id == user.id)
    conversations = list(
        await session.scalars(
            select(Conversation)
            .where(Conversation.id.in_(mine))
            .order_by(Conversation.created_at, Conversation.id)
        )
    )
    ids = [c.id for c in conversations]
    people: dict[str, list[User]] = {i: [] for i in ids}
    messages: dict[str, list[Message]] = {i: [] for i in ids}
    if ids:
        rows = await session.execute(
            select(Participant.conversation_id, User)
            .join(User, User.id == Participant.user_id)
            .where(Participant.conversation_id.in_(ids))
            .order_by(Participant.id)
        )
        for conversation_id, person in rows.all():
            people[conversation_id].append(person)
        for message in await session.scalars(
            select(Message)
            .where(Message.conversation_id.in_(ids))
            .order_by(Message.created_at, Message.id)
        ):
            messages[message.conversation_id].append(message)
    names = {p.id: _shown_name(p) for group in people.values() for p in group}
    return [
        {
            "id": c.id,
            "match_id": c.match_id,
            "application_id": c.application_id,
            "created_at": _iso(c.created_at),
            "participants": [
                {
                    "display_name": names[p.id],
                    "deleted": p.deleted_at is not None,
                    "me": p.id == user.id,
                }
                for p in people[c.id]
            ],
            "messages": [
                {
                    "id": m.id,
                    "from_me": m.author_id == user.id,
                    "author": names.get(m.author_id or "") if m.author_id != user.id else None,
                    "body": m.body,
                    "created_at": _iso(m.created_at),
                }
                for m in messages[c.id]
            ],
        }
        for c in conversations
    ]


def _shown_name(person: User) -> str | None:
    return None if person.deleted_at is not None else person.display_name


async def _messages(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """The messages the caller wrote (they are in "conversations" too, with the others')."""
    stmt = select(Message).where(Message.author_id == user.id).order_by(Message.created_at)
    return [
        {
            "id": m.id,
            "conversation_id": m.conversation_id,
            "body": m.body,
            "created_at": _iso(m.created_at),
        }
        for m in await session.scalars(stmt)
    ]


async def _notifications(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    stmt = (
        select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.created_at, Notification.id)
    )
    return [
        {
            "id": n.id,
            "kind": n.kind,
            "created_at": _iso(n.created_at),
            "read_at": _iso(n.read_at),
            "data": n.data,
        }
        for n in await session.scalars(stmt)
    ]


async def _notification_preferences(session: AsyncSession, user: User) -> dict[str, str]:
    from notifications.preferences import modes_of

    return await modes_of(session, user.id)


async def _reports(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Reports the caller filed (reports about the caller are the reporters' data)."""
    stmt = (
        select(Report).where(Report.reporter_id == user.id).order_by(Report.created_at, Report.id)
    )
    return [
        {
            "id": r.id,
            "target_type": r.target_type,
            "target_id": r.target_id,
            "reason": r.reason,
            "status": r.status,
            "created_at": _iso(r.created_at),
            "resolved_at": _iso(r.resolved_at),
            "resolution": r.resolution,
        }
        for r in await session.scalars(stmt)
    ]


async def _applications(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    from market.organisations import queries
    from market.organisations.applications import to_json_many
    from market.organisations.models import Application

    stmt = queries.of_volunteer(user.id).order_by(Application.created_at, Application.id)
    return await to_json_many(session, list(await session.scalars(stmt)))


async def _organisations(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Organisation memberships."""
    stmt = (
        select(OrganisationMember, Organisation)
        .join(Organisation, Organisation.id == OrganisationMember.organisation_id)
        .where(OrganisationMember.user_id == user.id)
        .order_by(OrganisationMember.created_at, OrganisationMember.id)
    )
    return [
        {
            "organisation": {"id": org.id, "name": org.name, "status": org.status},
            "role": member.role,
            "joined_at": _iso(member.created_at),
        }
        for member, org in (await session.execute(stmt)).all()
    ]


async def _vetting_decisions(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Coordinators' decisions about the caller, oldest first, with the checklist and dates.
    Which coordinator decided is the coordinator's data and stays out."""
    stmt = (
        select(VettingDecision)
        .where(VettingDecision.volunteer_id == user.id)
        .order_by(VettingDecision.created_at, VettingDecision.id)
    )
    return [
        {
            "id": d.id,
            "decision": d.decision,
            "created_at": _iso(d.created_at),
            "checklist": {
                "identity": d.identity,
                "interview": d.interview,
                "code_of_conduct": d.code_of_conduct,
            },
            "police_certificate_until": _iso(d.police_certificate_until),
            # The certificate's own date and the day a coordinator saw it (migration 0012).
            "police_certificate_issued_on": _iso(d.police_certificate_issued_on),
            "police_certificate_seen_on": _iso(d.police_certificate_seen_on),
            "note": d.note,
        }
        for d in await session.scalars(stmt)
    ]


async def _referrals(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """Services suggested to the caller and those the caller suggested to others. Who
    received a suggestion is that person's data, so a sent one shows only the service."""
    from market.directory.models import Entry, Referral

    stmt = (
        select(Referral, Entry.name)
        .join(Entry, Entry.id == Referral.entry_id)
        .where(or_(Referral.to_user_id == user.id, Referral.from_user_id == user.id))
        .order_by(Referral.created_at, Referral.id)
    )
    return [
        {
            "id": r.id,
            "direction": "received" if r.to_user_id == user.id else "sent",
            "service_id": r.entry_id,
            "service_name": name,
            "post_id": r.post_id,
            "note": r.note,
            "created_at": _iso(r.created_at),
        }
        for r, name in (await session.execute(stmt)).all()
    ]


def _public_id(row: Any) -> str | None:
    """The id pages and the token list show (the primary key is the secret's hash: never)."""
    value = getattr(row, "public_id", None)
    return str(value) if value else None


async def _sessions(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    stmt = (
        select(WebSession)
        .where(WebSession.user_id == user.id)
        .order_by(WebSession.created_at, WebSession.id)
    )
    return [
        {
            "id": _public_id(s),
            "created_at": _iso(s.created_at),
            "last_used_at": _iso(getattr(s, "last_used_at", None)),
            "expires_at": _iso(s.expires_at),
            "revoked_at": _iso(s.revoked_at),
            "user_agent": s.user_agent,
        }
        for s in await session.scalars(stmt)
    ]


async def _tokens(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    stmt = (
        select(ApiToken)
        .where(ApiToken.user_id == user.id)
        .order_by(ApiToken.created_at, ApiToken.id)
    )
    return [
        {
            "id": _public_id(t),
            "created_at": _iso(t.created_at),
            "last_used_at": _iso(getattr(t, "last_used_at", None)),
            "expires_at": _iso(t.expires_at),
            "revoked_at": _iso(t.revoked_at),
        }
        for t in await session.scalars(stmt)
    ]


async def _mailed_links(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    """One-time links mailed to the caller (verification, reset, deletion), without the secret."""
    stmt = (
        select(AccountToken)
        .where(AccountToken.user_id == user.id)
        .order_by(AccountToken.created_at, AccountToken.id)
    )
    return [
        {
            "purpose": t.purpose,
            "email": t.email,
            "created_at": _iso(t.created_at),
            "expires_at": _iso(t.expires_at),
            "used_at": _iso(t.used_at),
        }
        for t in await session.scalars(stmt)
    ]


async def _single_sign_on(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    stmt = select(OidcIdentity).where(OidcIdentity.user_id == user.id).order_by(OidcIdentity.id)
    return [
        {"issuer": i.issuer, "subject": i.subject, "created_at": _iso(i.created_at)}
        for i in await session.scalars(stmt)
    ]


# The export, section by section, in this order. Add a section here when a feature stores
# something about a person; tests/market/accounts/test_export.py checks each against the tables.
EXPORT_SECTIONS: tuple[tuple[str, Section], ...] = (
    ("profile", _profile),
    ("languages", _languages),
    ("posts", _posts),
    ("matches", _matches),
    ("conversations", _conversations),
    ("messages", _messages),
    ("notifications", _notifications),
    ("notification_preferences", _notification_preferences),
    ("reports", _reports),
    ("applications", _applications),
    ("organisations", _organisations),
    ("vetting_decisions", _vetting_decisions),
    # Accessibility feedback is mailed to the operator and not kept, so it has no section.
    ("directory_referrals", _referrals),
    ("sessions", _sessions),
    ("tokens", _tokens),
    ("mailed_links", _mailed_links),
    ("single_sign_on", _single_sign_on),
)


async def export_user(session: AsyncSession, user: User) -> dict[str, Any]:
    return {name: await section(session, user) for name, section in EXPORT_SECTIONS}
