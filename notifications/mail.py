"""Email: render a template folder in the recipient's language and queue it in the outbox.

Each mail is a folder `templates/email/<name>/` with `subject.txt`, `body.txt` and
`body.html`; the bodies extend `email/_layout.txt` and `email/_layout.html`. Strings are
wrapped in `{% trans %}` or `_("...")` and translated through market.i18n's catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import column, delete, select, table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from market.db import utcnow
from market.i18n import get_locale, is_rtl, translations, use_locale
from market.settings import Settings
from notifications.models import FailingAddress
from notifications.outbox import enqueue
from notifications.preferences import IMMEDIATE, TEMPLATE_KINDS, is_switchable, mode_for

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
SEND_MAIL_JOB = "send_mail"
# The accounts table, by name only (this package never imports feature code): queue_mail
# finds whose preferences apply when a caller passes an address but no user id.
_USERS = table("users", column("id"), column("email"))


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    locale: str


def _gettext(message: str) -> str:
    # Jinja's newstyle gettext does the %-formatting itself, so these look up the catalog of
    # the locale set by use_locale() and return the raw translation (market.i18n.gettext would
    # format a second time).
    return translations(get_locale()).ugettext(message)


def _ngettext(singular: str, plural: str, n: int) -> str:
    return translations(get_locale()).ungettext(singular, plural, n)


@cache
def environment() -> Environment:
    """The Jinja2 environment for mails (autoescape for .html only; StrictUndefined)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        lstrip_blocks=True,
    )
    # Collapse whitespace inside {% trans %} so that msgids do not depend on indentation.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    return env


def render_mail(
    template: str, locale: str, context: dict[str, Any], *, base_url: str
) -> RenderedMail:
    """Subject, text and HTML of `templates/email/<template>/` in `locale`."""
    env = environment()
    with use_locale(locale):
        effective = get_locale()  # an unknown locale falls back to the default
        rtl = is_rtl(effective)
        values: dict[str, Any] = {
            "base_url": base_url.rstrip("/"),
            **context,
            "lang": effective,
            "rtl": rtl,
            "dir": "rtl" if rtl else "ltr",
        }
        raw_subject = env.get_template(f"email/{template}/subject.txt").render(values)
        # One line, whatever the template or a translator did: it goes into a header.
        subject = " ".join(raw_subject.split())
        values["subject"] = subject
        text = env.get_template(f"email/{template}/body.txt").render(values).strip() + "\n"
        html = env.get_template(f"email/{template}/body.html").render(values)
    return RenderedMail(subject=subject, text=text, html=html, locale=effective)


def normalise_address(address: str) -> str:
    return address.strip().lower()


async def queue_mail(
    session: AsyncSession,
    *,
    to: str,
    template: str,
    locale: str,
    context: dict[str, Any],
    essential: bool = False,
    settings: Settings | None = None,
    user_id: str | None = None,
    kind: str | None = None,
) -> str | None:
    """Render a mail now and add a "send_mail" outbox row to the caller's transaction.

    Returns the outbox id, or None when nothing was queued: the address bounced permanently
    before, or the recipient chose the daily digest or no mail for this kind of notification
    (notifications.preferences). `kind` defaults to the template's kind (TEMPLATE_KINDS);
    `user_id` defaults to the account with this address. `essential` mail ignores both.

    The caller decides whether the recipient may get this mail at all: only verification and
    password-reset mails go to unverified addresses (pass `essential=True` for those, which
    also sends them to an address that bounced before, since the person may have fixed it).

    `base_url` is added to the context from `settings`, or `session.info["settings"]` (set it
    with `async_sessionmaker(engine, info={"settings": settings})`), or `Settings()`.
    """
    address = to.strip()
    if "@" not in address or any(c in address for c in "\r\n,;<>"):
        raise ValueError(f"not a single email address: {to!r}")
    if not essential and await is_failing(session, address):
        return None
    if not essential and not await _wanted_now(session, address, template, user_id, kind):
        return None
    resolved = _resolve_settings(session, settings)
    rendered = render_mail(template, locale, context, base_url=resolved.base_url)
    payload: dict[str, Any] = {
        "to": address,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "template": template,
        "essential": essential,
        "locale": rendered.locale,
    }
    return await enqueue(session, SEND_MAIL_JOB, payload)


async def _wanted_now(
    session: AsyncSession, address: str, template: str, user_id: str | None, kind: str | None
) -> bool:
    """False when the recipient wants this kind of mail in the digest or not at all."""
    kind = kind or TEMPLATE_KINDS.get(template)
    if kind is None or not is_switchable(kind):
        return True
    if user_id is None:
        found = await session.scalar(
            select(_USERS.c.id).where(_USERS.c.email == normalise_address(address))
        )
        if found is None:
            return True
        user_id = str(found)
    return await mode_for(session, user_id, kind) == IMMEDIATE


def _resolve_settings(session: AsyncSession, settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from_session = session.info.get("settings")
    if isinstance(from_session, Settings):
        return from_session
    return _default_settings()


@cache
def _default_settings() -> Settings:
    return Settings()


async def is_failing(session: AsyncSession, address: str) -> bool:
    """True when a mail server rejected this address permanently."""
    key = normalise_address(address)
    found = await session.scalar(
        select(FailingAddress.address).where(FailingAddress.address == key)
    )
    return found is not None


async def record_failing_address(session: AsyncSession, address: str, reason: str) -> None:
    """Remember a permanent rejection (insert or refresh; safe against a concurrent insert)."""
    values = {
        "address": normalise_address(address),
        "failed_at": utcnow(),
        "reason": reason[:2000],
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = postgresql.insert(FailingAddress).values(values)
        await session.execute(
            pg.on_conflict_do_update(
                index_elements=[FailingAddress.address],
                set_={"failed_at": pg.excluded.failed_at, "reason": pg.excluded.reason},
            )
        )
    elif dialect == "sqlite":
        lite = sqlite.insert(FailingAddress).values(values)
        await session.execute(
            lite.on_conflict_do_update(
                index_elements=[FailingAddress.address],
                set_={"failed_at": lite.excluded.failed_at, "reason": lite.excluded.reason},
            )
        )
    else:  # pragma: no cover - Anlauf runs on PostgreSQL and SQLite only
        await session.merge(FailingAddress(**values))


async def forget_failing_address(session: AsyncSession, address: str) -> None:
    """A mail to the address was accepted again: stop skipping it."""
    await session.execute(
        delete(FailingAddress).where(FailingAddress.address == normalise_address(address))
    )
