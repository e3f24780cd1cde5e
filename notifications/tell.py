"""Tell a person: in the app, and by mail to a verified address, in their language.

The one place that decides who may be told at all (an active account that is not deleted) and
who gets mail (a verified address); features pass the person, the notification and the mail.
This package never imports feature code, so the person is any object with the fields below
(market.accounts.models.User is one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from market.settings import Settings
from notifications.inapp import notify
from notifications.mail import queue_mail


class Person(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def locale(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def deleted_at(self) -> datetime | None: ...
    @property
    def email_verified(self) -> bool: ...


def can_be_told(person: Person | None) -> bool:
    """An active account that is not deleted (a suspended one is not active)."""
    return person is not None and person.is_active and person.deleted_at is None


async def mail_person(
    session: AsyncSession,
    settings: Settings,
    person: Person,
    *,
    template: str,
    context: dict[str, Any],
    essential: bool = False,
    kind: str | None = None,
) -> str | None:
    """Queue a mail in the person's language, greeting them by name; only to a verified address.

    Returns the outbox id, or None when nothing was queued (see notifications.mail.queue_mail).
    """
    if not person.email_verified:
        return None
    return await queue_mail(
        session,
        to=person.email,
        template=template,
        locale=person.locale,
        context={"name": person.display_name, **context},
        essential=essential,
        settings=settings,
        user_id=person.id,
        kind=kind,
    )


async def tell(
    session: AsyncSession,
    settings: Settings,
    person: Person | None,
    *,
    kind: str,
    data: dict[str, Any],
    template: str,
    context: dict[str, Any],
    essential: bool = False,
) -> bool:
    """The notification `kind` in the app and the mail `template`; nothing for a person who
    cannot be told. `essential` for mails that cannot be switched off (matches). True when told."""
    if person is None or not can_be_told(person):
        return False
    await notify(session, user_id=person.id, kind=kind, data=data)
    await mail_person(
        session, settings, person, template=template, context=context, essential=essential
    )
    return True
