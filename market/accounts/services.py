"""Account use cases: register, verify, log in, reset, profile, deletion.

Signed-in browser sessions and API tokens are in market.accounts.sessions.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from market import events
from market.accounts.models import (
    AccountToken,
    User,
    UserLanguage,
)
from market.accounts.organisations import ORGANISATION_OF, Organisation
from market.accounts.schemas import MePatch, RegisterIn
from market.accounts.sessions import revoke_sessions
from market.db import utcnow
from market.errors import Conflict, Forbidden, Invalid, Unauthorized
from market.i18n import N_, get_locale
from market.security import digest, hash_password, new_secret, verify_password
from market.settings import Settings
from market.validation import check_password_personal
from notifications.mail import queue_mail

VERIFY = "verify_email"
RESET = "reset_password"
DELETE = "delete_account"
TOKEN_LIFETIME = {
    VERIFY: timedelta(days=7),
    RESET: timedelta(hours=2),
    # Short: the link deletes an account that has no password to ask for.
    DELETE: timedelta(hours=1),
}
TOKEN_PATHS = {VERIFY: "/verify-email", RESET: "/reset-password", DELETE: "/account/delete/confirm"}


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(User.email == normalise_email(email))
    return (await session.execute(stmt)).scalar_one_or_none()


def set_languages(user: User, skills: list[tuple[str, str]]) -> None:
    user.languages = [
        UserLanguage(code=code, level=level, position=i) for i, (code, level) in enumerate(skills)
    ]


async def _mail_token(session: AsyncSession, settings: Settings, user: User, purpose: str) -> str:
    secret = new_secret()
    session.add(
        AccountToken(
            id=digest(secret),
            user_id=user.id,
            purpose=purpose,
            email=user.email,
            expires_at=utcnow() + TOKEN_LIFETIME[purpose],
        )
    )
    path = TOKEN_PATHS[purpose]
    return f"{settings.base_url.rstrip('/')}{path}?{urlencode({'token': secret})}"


async def register(session: AsyncSession, settings: Settings, data: RegisterIn) -> None:
    """Create the account and mail a verification link; the same outward result either way.

    If the address is taken we change nothing and tell its owner by mail instead, so the
    answer never reveals who is registered.
    """
    if data.role == "organisation" and data.organisation is None:
        raise Invalid.one("organisation.name", "Please give the organisation's name.")
    if data.role != "organisation" and data.organisation is not None:
        raise Invalid.one("organisation", "Only organisation accounts have an organisation.")
    check_password_personal(data.password, email=data.email, display_name=data.display_name)
    # Hash before looking the address up, known or not: the hash is nearly all of the work, so
    # the answer takes as long for a taken address as for a new one (no enumeration by timing).
    password_hash = await hash_password(
        data.password, settings.argon2_memory_kib, settings.argon2_time_cost
    )
    existing = await by_email(session, data.email)
    if existing is not None:
        await _tell_already_registered(session, settings, existing)
        return
    user = User(
        email=data.email,
        password_hash=password_hash,
        display_name=data.display_name,
        role=data.role,
        locale=data.locale,
        vetting_status="pending" if data.role == "volunteer" else None,
    )
    set_languages(user, [(s.code, s.level) for s in data.languages])
    try:
        # The same address registered twice at once: the unique key decides, and the second
        # request answers as if it came after the first (a savepoint keeps its transaction).
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError:
        existing = await by_email(session, data.email)
        if existing is None:
            raise
        await _tell_already_registered(session, settings, existing)
        return
    # An organisation account's organisation (and its owner membership) is the organisations
    # feature's to make, in this transaction.
    await events.emit(session, events.ACCOUNT_REGISTERED, user=user, organisation=data.organisation)
    await send_verification(session, settings, user)


async def _tell_already_registered(session: AsyncSession, settings: Settings, owner: User) -> None:
    base = settings.base_url.rstrip("/")
    await queue_mail(
        session,
        to=owner.email,
        template="already_registered",
        locale=owner.locale,
        context={
            "name": owner.display_name,
            "login_link": f"{base}/login",
            "reset_link": f"{base}/forgot-password",
        },
        essential=True,
    )


async def send_verification(session: AsyncSession, settings: Settings, user: User) -> None:
    await _mail_link(session, settings, user, VERIFY)


async def _mail_link(session: AsyncSession, settings: Settings, user: User, purpose: str) -> None:
    """Mail a one-time link for `purpose` in the user's language; the mail template is named
    as the purpose. Essential: these mails cannot be switched off."""
    link = await _mail_token(session, settings, user, purpose)
    await queue_mail(
        session,
        to=user.email,
        template=purpose,
        locale=user.locale,
        context={"name": user.display_name, "link": link},
        essential=True,
    )


async def _valid_token(session: AsyncSession, secret: str, purpose: str) -> AccountToken:
    """The unused, unexpired token for `secret`, without using it up; Invalid otherwise."""
    token = await session.get(AccountToken, digest(secret.strip()))
    if (
        token is None
        or token.purpose != purpose
        or token.used_at is not None
        or token.expires_at <= utcnow()
    ):
        raise Invalid.one("token", "This link is not valid any more. Please ask for a new one.")
    return token


async def _take_token(session: AsyncSession, secret: str, purpose: str) -> AccountToken:
    token = await _valid_token(session, secret, purpose)
    token.used_at = utcnow()
    return token


async def verify_email(session: AsyncSession, secret: str) -> User:
    token = await _take_token(session, secret, VERIFY)
    user = await session.get(User, token.user_id)
    if user is None or user.email != token.email:
        raise Invalid.one("token", "This link is not valid any more. Please ask for a new one.")
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    return user


MSG_SUSPENDED = N_(
    "This account is suspended. You cannot log in now. Please write to the team of this site."
)


class AccountSuspended(Unauthorized):
    """The password was right, but an admin suspended the account. Only someone who knows the
    password gets this far, so saying it reveals nothing to a guesser (who still reads "wrong
    email or password"); the API keeps its 401."""

    def __init__(self) -> None:
        super().__init__(MSG_SUSPENDED)


async def authenticate(
    session: AsyncSession, settings: Settings, email: str, password: str
) -> User | None:
    """The account for this email and password, or None. Raises AccountSuspended for a
    suspended account's correct password."""
    user = await by_email(session, email)
    usable = user is not None and user.is_active and user.deleted_at is None
    suspended = user is not None and user.suspended_at is not None and user.deleted_at is None
    ok = await verify_password(
        user.password_hash if (usable or suspended) and user is not None else None,
        password,
        settings.argon2_memory_kib,
        settings.argon2_time_cost,
    )
    if ok and suspended:
        raise AccountSuspended()
    return user if ok and usable else None


async def request_password_reset(
    session: AsyncSession, settings: Settings, email: str, locale: str | None = None
) -> None:
    """Mail a reset link if the account exists; the caller answers the same either way.

    An address without an account gets a mail too ("there is no account; sign up?"), in the
    page's language (`locale`): the same work either way, so the answer's timing tells nothing.
    """
    user = await by_email(session, email)
    if user is None:
        # For a known address the person's languages are loaded with them and a link token is
        # stored: two more round trips to the database. Spend them here too (look-ups of rows
        # that cannot exist), so that the timings stay alike.
        nobody = digest(new_secret())
        await session.execute(select(UserLanguage.code).where(UserLanguage.user_id == nobody))
        await session.execute(select(AccountToken.id).where(AccountToken.id == nobody))
        await queue_mail(
            session,
            to=normalise_email(email),
            template="reset_no_account",
            locale=locale or get_locale(),
            context={"register_link": f"{settings.base_url.rstrip('/')}/register"},
            essential=True,
        )
        return
    if not user.is_active or user.deleted_at is not None:
        return
    await _mail_link(session, settings, user, RESET)


async def reset_password(
    session: AsyncSession, settings: Settings, secret: str, password: str
) -> User:
    token = await _take_token(session, secret, RESET)
    user = await session.get(User, token.user_id)
    if user is None or not user.is_active or user.deleted_at is not None:
        raise Invalid.one("token", "This link is not valid any more. Please ask for a new one.")
    await _set_password(session, settings, user, password)
    # The mail reached its owner, so the address is proven too.
    if user.email_verified_at is None and user.email == token.email:
        user.email_verified_at = utcnow()
    await revoke_sessions(session, user.id)
    return user


async def _set_password(
    session: AsyncSession, settings: Settings, user: User, password: str, field: str = "password"
) -> None:
    # Every new password (reset, change) is checked against the account's own name and address.
    check_password_personal(password, email=user.email, display_name=user.display_name, field=field)
    user.password_hash = await hash_password(
        password, settings.argon2_memory_kib, settings.argon2_time_cost
    )
    user.password_changed_at = utcnow()
    # Outstanding reset links die with the old password; deletion links too, since an
    # account with a password confirms its deletion with the password.
    await session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose.in_((RESET, DELETE)),
            AccountToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )


async def change_password(
    session: AsyncSession,
    settings: Settings,
    user: User,
    current: str,
    new: str,
    keep_session_id: str | None,
) -> None:
    if not await verify_password(
        user.password_hash, current, settings.argon2_memory_kib, settings.argon2_time_cost
    ):
        raise Invalid.one("current_password", "This is not your current password.")
    await _set_password(session, settings, user, new, field="new_password")
    await revoke_sessions(session, user.id, keep_session_id=keep_session_id)


async def update_profile(session: AsyncSession, user: User, patch: MePatch) -> User:
    if patch.display_name is not None:
        user.display_name = patch.display_name
    if patch.locale is not None:
        user.locale = patch.locale
    if patch.languages is not None:
        set_languages(user, [(s.code, s.level) for s in patch.languages])
    await session.flush()
    return user


async def organisation_of(session: AsyncSession, user_id: str) -> Organisation | None:
    """The organisation the user belongs to (their first membership), or None."""
    return await ORGANISATION_OF()(session, user_id)


def deletes_by_mail(user: User) -> bool:
    """True for accounts without a password (single sign-on): they confirm deletion by mail."""
    return user.password_hash is None


async def delete_account(
    session: AsyncSession, settings: Settings, user: User, password: str
) -> None:
    """Close the posts and erase personal data; partners keep conversations, shown as deleted."""
    if not await verify_password(
        user.password_hash, password, settings.argon2_memory_kib, settings.argon2_time_cost
    ):
        raise Forbidden("The password is not correct.")
    await _erase(session, user)


async def request_deletion_link(session: AsyncSession, settings: Settings, user: User) -> None:
    """Mail a one-time link that deletes a password-less account once its owner confirms.

    The link goes to a verified address only; the caller sends a verification mail instead
    when the address is not confirmed yet (see deletes_by_mail and User.email_verified).
    """
    if not deletes_by_mail(user):
        raise Conflict("This account has a password. Please confirm with your password.")
    if not user.email_verified:
        raise Conflict("Please confirm your email address first.")
    await _mail_link(session, settings, user, DELETE)


async def _deletion_target(session: AsyncSession, token: AccountToken) -> User:
    user = await session.get(User, token.user_id)
    if (
        user is None
        or not user.is_active
        or user.deleted_at is not None
        or user.email != token.email
        or not deletes_by_mail(user)
    ):
        raise Invalid.one("token", "This link is not valid any more. Please ask for a new one.")
    return user


async def account_to_delete(session: AsyncSession, secret: str) -> User:
    """The account a deletion link is for, without using the link; Invalid if it does not work.

    Opening the link only shows a button: mail scanners follow links, and must not delete.
    """
    return await _deletion_target(session, await _valid_token(session, secret, DELETE))


async def delete_account_by_link(session: AsyncSession, secret: str) -> User:
    """Use a mailed deletion link: erase the account as delete_account does."""
    user = await _deletion_target(session, await _take_token(session, secret, DELETE))
    await _erase(session, user)
    return user


async def _erase(session: AsyncSession, user: User) -> None:
    """Close the posts and erase the person's data everywhere (market.accounts.erasure)."""
    from market.accounts.erasure import erase

    await erase(session, user)


async def create_staff(
    session: AsyncSession,
    settings: Settings,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    region_ids: list[str] | None = None,
) -> User:
    from market.accounts.models import CoordinatorRegion

    if await by_email(session, email) is not None:
        raise Invalid.one("email", "An account with this address exists already.")
    user = User(
        email=normalise_email(email),
        display_name=name,
        role=role,
        password_hash=await hash_password(
            password, settings.argon2_memory_kib, settings.argon2_time_cost
        ),
        email_verified_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    for region_id in region_ids or []:
        session.add(CoordinatorRegion(user_id=user.id, region_id=region_id))
    return user


async def count_users(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


def me(user: User, organisation: Organisation | None) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
        "locale": user.locale,
        "languages": [{"code": lang.code, "level": lang.level} for lang in user.languages],
        "email_verified": user.email_verified,
        "vetting": {"status": user.vetting_status or "pending"}
        if user.role == "volunteer"
        else None,
        # False while paused after letting proposals expire (API.md, Release 2, Follow-through).
        "available": user.available,
        "organisation": {
            "id": organisation.id,
            "name": organisation.name,
            "status": organisation.status,
        }
        if organisation
        else None,
    }
