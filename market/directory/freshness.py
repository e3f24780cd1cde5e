"""Freshness of the directory: every published service is confirmed every 180 days.

A directory nobody updates sends people to closed doors. 180 days after a service was published
or last confirmed, its organisation's members (else its author, else the service's own address)
get a mail with a one-click link; 30 days later, unconfirmed, the service is archived and leaves
search. Confirming an archived service brings it back. The rule is registered with
market.maintenance, so `anlauf tick --at` runs it as of any time.
"""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_date
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.directory.models import Entry, EntryStatus
from market.directory.services import ARCHIVE_AFTER, CONFIRM_EVERY
from market.i18n import babel_locale
from market.maintenance import BATCH, register_rule
from market.organisations import guardian as organisations_guardian
from market.settings import Settings
from notifications.mail import queue_mail

TOKEN_DAYS = 90


def _signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt="anlauf-confirm-service")


def confirm_token(settings: Settings, entry: Entry) -> str:
    return _signer(settings).dumps({"entry": entry.id})


def entry_from_token(settings: Settings, token: str) -> str | None:
    """The service id in a confirmation link, if genuine and not older than 90 days."""
    try:
        data = _signer(settings).loads(token, max_age=TOKEN_DAYS * 24 * 3600)
    except (BadSignature, SignatureExpired):
        return None
    return str(data.get("entry")) if isinstance(data, dict) else None


def confirm_path(settings: Settings, entry: Entry) -> str:
    return f"/services/{entry.id}/confirm?token={confirm_token(settings, entry)}"


def _last(entry: Entry) -> datetime:
    return entry.confirmed_at or entry.published_at or entry.created_at


async def _recipients(session: AsyncSession, entry: Entry) -> list[tuple[str, str]]:
    """(address, locale) of whoever answers for the service."""
    user_ids: list[str] = []
    if entry.organisation_id:
        user_ids = await organisations_guardian.memberships(session, entry.organisation_id)
    if not user_ids and entry.author_id:
        user_ids = [entry.author_id]
    found: list[tuple[str, str]] = []
    for user_id in user_ids:
        user = await session.get(User, user_id)
        if user is not None and user.is_active and user.email_verified:
            found.append((user.email, user.locale))
    if not found and entry.email:
        found.append((entry.email, "de"))
    return found


async def ask_to_confirm(session: AsyncSession, settings: Settings, now: datetime) -> int:
    stmt = (
        select(Entry)
        .where(
            Entry.kind == "service",
            Entry.status == "published",
            Entry.confirm_asked_at.is_(None),
            or_(
                Entry.confirmed_at <= now - CONFIRM_EVERY,
                Entry.confirmed_at.is_(None) & (Entry.published_at <= now - CONFIRM_EVERY),
            ),
        )
        .limit(BATCH)
    )
    entries = list((await session.scalars(stmt)).all())
    for entry in entries:
        entry.confirm_asked_at = now
        link = settings.base_url.rstrip("/") + confirm_path(settings, entry)
        deadline = _last(entry) + CONFIRM_EVERY + ARCHIVE_AFTER
        for address, locale in await _recipients(session, entry):
            await queue_mail(
                session,
                to=address,
                template="service_confirm",
                locale=locale,
                context={
                    "title": entry.name,
                    "link": link,
                    "deadline": format_date(deadline.date(), "long", locale=babel_locale(locale)),
                },
                settings=settings,
            )
    await session.flush()
    return len(entries)


async def archive_lapsed(session: AsyncSession, now: datetime) -> int:
    limit = now - CONFIRM_EVERY - ARCHIVE_AFTER
    stmt = (
        select(Entry)
        .where(
            Entry.kind == "service",
            Entry.status == "published",
            or_(
                Entry.confirmed_at <= limit,
                Entry.confirmed_at.is_(None) & (Entry.published_at <= limit),
            ),
        )
        .limit(BATCH)
    )
    entries = list((await session.scalars(stmt)).all())
    for entry in entries:
        entry.status = EntryStatus.ARCHIVED
        entry.archived_at = now
    await session.flush()
    return len(entries)


register_rule("directory_confirmations_asked", ask_to_confirm)
register_rule("directory_services_archived", lambda s, settings, now: archive_lapsed(s, now))
