"""Legal texts: the admin's version in a language, or the default; saving one (audited);
accessibility feedback mailed to the operator through the outbox."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.admin import audit
from market.db import utcnow
from market.errors import Invalid
from market.i18n import use_locale
from market.legal.defaults import default_text
from market.legal.models import LegalText
from market.settings import Settings
from notifications.mail import queue_mail

MAX_BODY = 40_000
OPERATOR_LOCALE = "de"  # the operator is a German public body or association


async def stored(session: AsyncSession, kind: str, locale: str) -> LegalText | None:
    stmt = select(LegalText).where(LegalText.kind == kind, LegalText.locale == locale)
    return (await session.execute(stmt)).scalar_one_or_none()


async def text_for(session: AsyncSession, settings: Settings, kind: str, locale: str) -> str:
    """What the page shows in `locale`: the admin's text, else the default in that language."""
    row = await stored(session, kind, locale)
    if row is not None:
        return row.body
    with use_locale(locale):
        return default_text(kind, settings.operator_email)


async def save(session: AsyncSession, admin: User, kind: str, locale: str, body: str) -> None:
    """Store the admin's text; a blank one brings the default back."""
    text = body.replace("\r\n", "\n").strip()
    if len(text) > MAX_BODY:
        raise Invalid.one("body", "This text is too long.")
    row = await stored(session, kind, locale)
    if not text:
        await session.execute(
            delete(LegalText).where(LegalText.kind == kind, LegalText.locale == locale)
        )
        detail = f"{locale}: default restored"
    elif row is None:
        session.add(LegalText(kind=kind, locale=locale, body=text, updated_by=admin.id))
        detail = f"{locale}: written"
    else:
        row.body, row.updated_at, row.updated_by = text, utcnow(), admin.id
        detail = f"{locale}: changed"
    await session.flush()
    await audit.record(session, admin.id, "legal.changed", "legal", kind, detail)


async def send_feedback(
    session: AsyncSession, settings: Settings, message: str, reply_to: str, page_locale: str
) -> None:
    """One mail to the operator through the outbox (delivered by the worker like every mail)."""
    if not settings.operator_email:
        raise Invalid.one("message", "Feedback cannot be sent here. Please write an email.")
    await queue_mail(
        session,
        to=settings.operator_email,
        template="accessibility_feedback",
        locale=OPERATOR_LOCALE,
        context={"message": message, "reply_to": reply_to, "page_locale": page_locale},
        settings=settings,
        essential=True,  # the operator's inbox, not a person's notification preferences
    )
