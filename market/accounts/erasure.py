"""Deleting an account: what is erased, what is kept, and why.

API.md (Release 2, Accounts and personal data): `DELETE /me` erases the account's email, display
name, languages, sessions and tokens, its posts' title, body and exact location (the posts are
closed), and the copies of mail sent to it; partners keep the conversation, the deleted person's
messages show as from a deleted user. One function, `erase`, does it for every way in (the API
with a password, the page, the mailed link of password-less accounts).

Erased
- the account: address (replaced by `deleted-<id>@invalid`, which is unique and sends nothing),
  display name, password, languages, police-certificate date, verification time;
- every row of any table with a `user_id` column (sessions, API tokens, one-time tokens,
  single sign-on identities, second factor, recovery codes, own notifications and their
  preferences, organisation memberships, coordinator regions, and whatever table is added
  later), except the conversation memberships partners need;
- the posts (closed first, so matches are withdrawn and applicants told): title, body, search
  text, exact and public point, grid cell, postcode, city, availability, a coordinator's
  rejection words (they may quote the contact data that got the post rejected), the review
  reasons, the posting's free texts;
- own applications' message and the organisation's answer to it; notes of vetting decisions
  about the person; invitations to the address; the address in the bounce list;
- the outbox: every mail to the address is redacted (a pending one is cancelled); other mail
  that names the person is redacted when finished, or has the name replaced while pending.

Kept, with the person's name and address replaced by "[…]" where they occur
- messages, both the person's and the partners' (API.md: partners keep the conversation), in the
  conversations the person took part in; a phone number typed into a message stays;
- reports the person filed or that are about them (a coordinator's moderation record);
- other people's notifications about the person's posts, matches, applications, messages.

Kept as they are: matches (statuses, reasons, distance) for the partners' history, vetting
decisions' dates and checklist booleans (the record that § 72a SGB VIII inspection was done; the
certificate dates go with the retention rule of API.md), organisations and their clients, which
belong to the organisation, and the account row itself as an anonymous tombstone so that
references (messages, matches, decisions) stay valid.

Each feature erases its own tables (`market/<feature>/personal_data.py`, an `Eraser` named in
market/features.py `erasure=`), so accounts imports no feature above it; `erase` runs the
features' steps phase by phase (close, erase, related ids, scrub) in the order of
market/features.py, then does the foundation's part (notifications, mail, rows with a user_id,
the tombstone). The start fails if one of REQUIRED gives no eraser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.db import Base, utcnow
from market.i18n import gettext, use_locale
from notifications.models import FailingAddress, Notification, OutboxItem, OutboxStatus
from notifications.outbox import redact

# Tables whose rows of the person stay: partners keep the conversation (API.md).
KEEP_USER_ROWS = frozenset({"users", "conversation_participants"})
# What stands where the person's name or address was, in texts that others keep.
REMOVED = "[…]"
# Shorter names are not searched for in other people's texts: "Al" would match too much.
MIN_NAME_LENGTH = 3
# The features whose data API.md says is erased or scrubbed: each must give an Eraser.
REQUIRED = ("posts", "vetting", "organisations", "matches", "conversations")


class Person:
    """What identifies the person in free text: their address and (if long enough) name."""

    def __init__(self, user: User) -> None:
        self.id = user.id
        self.email = user.email.strip()
        name = " ".join(user.display_name.split())
        self.name = name if len(name) >= MIN_NAME_LENGTH else ""
        words = [re.escape(w) for w in (self.email, self.name) if w]
        # Whole words only: "Sam" must not eat "Samstag" in a partner's message.
        self._pattern = (
            re.compile(r"(?<!\w)(?:" + "|".join(words) + r")(?!\w)", re.IGNORECASE)
            if words
            else None
        )

    @property
    def needles(self) -> list[str]:
        return [w for w in (self.email, self.name) if w]

    def mentioned_in(self, text: str) -> bool:
        return self._pattern is not None and self._pattern.search(text) is not None

    def scrub(self, text: str, replacement: str = REMOVED) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(replacement, text)

    def scrub_json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self.scrub_json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.scrub_json(v) for k, v in value.items()}
        return value

    def in_json_text(self, column: Any) -> Any:
        """A prefilter for JSON columns: their text has non-ASCII escaped as \\uXXXX."""
        as_text = cast(column, Text)
        return or_(*(as_text.contains(json.dumps(w)[1:-1], autoescape=True) for w in self.needles))


class Eraser:
    """A feature's part of erasing a person. Every step is optional; `erase` runs each step of
    every feature before the next step (in the order of market/features.py)."""

    async def close(self, session: AsyncSession, person: Person) -> None:
        """Close what is open (queues mail and notifications that may name the person, which
        the foundation's scrubbing then finds too)."""

    async def erase(self, session: AsyncSession, person: Person) -> None:
        """Erase what the person wrote or where they are."""

    async def related(self, session: AsyncSession, person: Person) -> set[str]:
        """Ids of the person's things: other people's notifications about them name them."""
        return set()

    async def scrub(self, session: AsyncSession, person: Person) -> None:
        """Replace the person's name and address in texts other people keep."""


# The features' erasers, in the order of market/features.py (put in by market.features.build).
ERASERS: list[Eraser] = []


async def erase(session: AsyncSession, user: User) -> None:
    """Erase the person's data as described above; the caller's transaction commits it."""
    person = Person(user)
    # Closing first: withdrawing matches and answering applicants queues mail and notifications
    # that may name the person; the scrubbing below then finds those too.
    for eraser in ERASERS:
        await eraser.close(session, person)
    for eraser in ERASERS:
        await eraser.erase(session, person)
    related = {user.id}
    for eraser in ERASERS:
        related |= await eraser.related(session, person)
    for eraser in ERASERS:
        await eraser.scrub(session, person)
    await _scrub_notifications(session, person, related)
    await _erase_mail(session, person)
    await session.execute(
        delete(FailingAddress).where(FailingAddress.address == person.email.lower())
    )
    user.languages = []
    await session.flush()
    await _delete_rows_of(session, user.id)
    user.email = f"deleted-{user.id}@invalid"
    user.display_name = ""
    user.password_hash = None
    user.is_active = False
    user.deleted_at = utcnow()
    user.email_verified_at = None
    user.police_certificate_until = None
    await session.flush()


async def ids(session: AsyncSession, stmt: Any) -> set[str]:
    return {str(i) for i in (await session.scalars(stmt))}


def _refers_to(value: Any, ids: set[str]) -> bool:
    if isinstance(value, str):
        return value in ids
    if isinstance(value, list):
        return any(_refers_to(v, ids) for v in value)
    if isinstance(value, dict):
        return any(_refers_to(v, ids) for v in value.values())
    return False


async def _scrub_notifications(session: AsyncSession, person: Person, related: set[str]) -> None:
    """Other people's notifications that name the person and are about their things."""
    if not person.needles:
        return
    stmt = select(Notification).where(
        Notification.user_id != person.id, person.in_json_text(Notification.data)
    )
    for note in await session.scalars(stmt):
        if _refers_to(note.data, related):
            note.data = person.scrub_json(note.data)


async def _erase_mail(session: AsyncSession, person: Person) -> None:
    """Mail to the person: redacted, and cancelled if not sent yet. Mail to others naming them:
    redacted if finished (the 30-day rule would do it later anyway), name replaced if pending."""
    if not person.needles:
        return
    now = utcnow()
    stmt = select(OutboxItem).where(
        OutboxItem.redacted_at.is_(None), person.in_json_text(OutboxItem.payload)
    )
    for item in await session.scalars(stmt):
        payload = item.payload
        to = str(payload.get("to", ""))
        if to.strip().lower() == person.email.lower():
            if item.status == "pending":
                item.status = OutboxStatus.FAILED
                item.last_error = "The recipient deleted the account."
            redact(item, now)
        elif not any(person.mentioned_in(str(v)) for v in _mail_texts(payload)):
            continue
        elif item.status != "pending":
            redact(item, now)
        else:
            item.payload = _renamed(person, payload)


def _mail_texts(payload: dict[str, Any]) -> Iterable[Any]:
    return (payload.get(k, "") for k in ("subject", "text", "html"))


def _renamed(person: Person, payload: dict[str, Any]) -> dict[str, Any]:
    """A mail still to be sent to someone else: it says "deleted account" instead of the name."""
    from markupsafe import escape

    with use_locale(str(payload.get("locale") or "de")):
        label = gettext("deleted account")
    changed = dict(payload)
    for key in ("subject", "text"):
        changed[key] = person.scrub(str(payload.get(key, "")), label)
    html = person.scrub(str(payload.get("html", "")), str(escape(label)))
    # The HTML body has the name escaped (O'Brien is O&#39;Brien there).
    for needle in person.needles:
        escaped = str(escape(needle))
        if escaped != needle:
            html = html.replace(escaped, str(escape(label)))
    changed["html"] = html
    return changed


async def _delete_rows_of(session: AsyncSession, user_id: str) -> None:
    """Every row keyed by the person in any mapped table with a `user_id` column, but those
    partners need. New tables (tokens, idempotency keys, ...) are covered without a change."""
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        name = getattr(table, "name", "")
        if name in KEEP_USER_ROWS or "user_id" not in getattr(table, "c", {}):
            continue
        entity = mapper.class_
        await session.execute(
            delete(entity)
            .where(table.c.user_id == user_id)
            .execution_options(synchronize_session="fetch")
        )
