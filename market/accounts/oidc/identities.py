"""Who is who: identities (issuer + subject) linked to accounts, pending identities waiting
for proof by mail, and accounts created through a provider. The link mail goes out like every
mail, through notifications.mail.queue_mail (template email/link_oidc)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import services
from market.accounts.models import AccountToken, OidcIdentity, User
from market.accounts.oidc.client import Person
from market.db import utcnow
from market.security import digest, new_secret
from market.settings import OidcProvider, Settings
from market.validation import DisplayName, LocaleCode, Strict
from notifications.mail import queue_mail

LINK = "link_oidc"  # AccountToken.purpose
LINK_LIFETIME = timedelta(hours=1)
PENDING = "pending-link:"  # OidcIdentity.note of an identity waiting for proof; then the token id

SIGNUP_ROLES = ("volunteer", "seeker")


# --- Accounts and identities


def usable(user: User | None) -> bool:
    return user is not None and user.is_active and user.deleted_at is None


def is_pending(identity: OidcIdentity) -> bool:
    return (identity.note or "").startswith(PENDING)


async def find_identity(session: AsyncSession, issuer: str, subject: str) -> OidcIdentity | None:
    stmt = select(OidcIdentity).where(
        OidcIdentity.issuer == issuer, OidcIdentity.subject == subject
    )
    return (await session.execute(stmt)).scalar_one_or_none()


@dataclass
class Outcome:
    """What a verified sign-in leads to: "login", "signup", "link", "disabled" or "no_email"."""

    kind: str
    user: User | None = None
    identity: OidcIdentity | None = None


async def resolve(
    session: AsyncSession, settings: Settings, provider: OidcProvider, person: Person
) -> Outcome:
    """Apply the rules of this module's docstring to a verified sign-in."""
    identity = await find_identity(session, person.issuer, person.subject)
    if identity is not None and not is_pending(identity):
        user = await session.get(User, identity.user_id)
        return Outcome("login", user) if usable(user) else Outcome("disabled")
    if not person.email:
        return Outcome("no_email")
    user = await services.by_email(session, person.email)
    if user is None:
        if identity is not None:  # pending for an account that no longer has this address
            await _drop_pending(session, identity)
        return Outcome("signup")
    if not usable(user):
        return Outcome("disabled")
    identity = await request_link(session, settings, provider, person, user, identity)
    return Outcome("link", user, identity)


async def _drop_pending(session: AsyncSession, identity: OidcIdentity) -> None:
    await _use_pending_token(session, identity)
    await session.delete(identity)
    await session.flush()


async def _use_pending_token(session: AsyncSession, identity: OidcIdentity) -> None:
    token_id = (identity.note or "")[len(PENDING) :]
    token = await session.get(AccountToken, token_id) if token_id else None
    if token is not None and token.used_at is None:
        token.used_at = utcnow()


async def request_link(
    session: AsyncSession,
    settings: Settings,
    provider: OidcProvider,
    person: Person,
    user: User,
    identity: OidcIdentity | None = None,
) -> OidcIdentity:
    """Keep the identity as pending for `user` and mail a single-use link to the account's address."""
    secret = new_secret()
    token = AccountToken(
        id=digest(secret),
        user_id=user.id,
        purpose=LINK,
        email=user.email,
        expires_at=utcnow() + LINK_LIFETIME,
    )
    session.add(token)
    if identity is None:
        identity = OidcIdentity(user_id=user.id, issuer=person.issuer, subject=person.subject)
        session.add(identity)
    else:
        await _use_pending_token(session, identity)  # an earlier link stops working
        identity.user_id = user.id
    identity.note = PENDING + token.id
    await session.flush()
    link = f"{settings.base_url.rstrip('/')}/login/oidc/link?{urlencode({'token': secret})}"
    await _queue_link_mail(session, settings, user, provider, link)
    return identity


async def _queue_link_mail(
    session: AsyncSession, settings: Settings, user: User, provider: OidcProvider, link: str
) -> None:
    # It proves the address, like a verification mail, so it goes to unverified ones too.
    await queue_mail(
        session,
        to=user.email,
        template=LINK,
        locale=user.locale,
        context={
            "name": user.display_name,
            "provider": provider.label,
            "email": user.email,
            "link": link,
        },
        essential=True,
        settings=settings,
    )


async def link(session: AsyncSession, identity: OidcIdentity, user: User) -> None:
    """Turn a pending identity of `user` into a linked one."""
    await _use_pending_token(session, identity)
    identity.user_id = user.id
    identity.note = None


async def take_link_token(
    session: AsyncSession, secret: str, identity_id: int, user_id: str
) -> tuple[OidcIdentity, User] | None:
    """The pending identity and account of a mailed link, if it is still good; uses it up."""
    token = await session.get(AccountToken, digest(secret.strip()))
    if (
        token is None
        or token.purpose != LINK
        or token.used_at is not None
        or token.expires_at <= utcnow()
        or token.user_id != user_id
    ):
        return None
    identity = await session.get(OidcIdentity, identity_id)
    user = await session.get(User, token.user_id)
    if (
        identity is None
        or identity.note != PENDING + token.id
        or identity.user_id != token.user_id
        or user is None
        or not usable(user)
        or user.email != token.email
    ):
        return None
    await link(session, identity, user)
    # The mail reached the person, so the address is proven too.
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    return identity, user


class OidcSignupIn(Strict):
    display_name: DisplayName
    role: Literal["volunteer", "seeker"]
    locale: LocaleCode = "de"


async def create_account(
    session: AsyncSession, settings: Settings, person: Person, data: OidcSignupIn
) -> User:
    assert person.email is not None
    user = User(
        email=person.email,
        password_hash=None,  # none until the person sets one with "forgot password"
        display_name=data.display_name,
        role=data.role,
        locale=data.locale,
        email_verified_at=utcnow() if person.email_verified else None,
        vetting_status="pending" if data.role == "volunteer" else None,
    )
    session.add(user)
    await session.flush()
    session.add(OidcIdentity(user_id=user.id, issuer=person.issuer, subject=person.subject))
    await session.flush()
    if not person.email_verified:
        await services.send_verification(session, settings, user)
    return user
