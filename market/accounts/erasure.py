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
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Text, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.conversations.models import Message, Participant
from market.db import Base, utcnow
from market.i18n import gettext, use_locale
from market.matches.models import Match
from market.organisations.models import Application, Invitation, Posting
from market.posts.models import Post
from market.vetting.models import PostReview, Report, VettingDecision
from notifications.models import FailingAddress, Notification, OutboxItem, OutboxStatus
from notifications.outbox import redact

# Tables whose rows of the person stay: partners keep the conversation (API.md).
KEEP_USER_ROWS = frozenset({"users", "conversation_participants"})
# What stands where the person's name or address was, in texts that others keep.
REMOVED = "[…]"
# Shorter names are not searched for in other people's texts: "Al" would match too much.
MIN_NAME_LENGTH = 3
# Post columns that hold the place or what the author wrote; public_* come with the places work.
_POST_FIELDS: dict[str, Any] = {
    "title": "",
    "body": "",
    "search_text": "",
    "search_translations": None,
    "lat": None,
    "lon": None,
    "public_lat": None,
    "public_lon": None,
    "cell_lat": None,
    "cell_lon": None,
    "city": None,
    "postcode": None,
    "rejection_reason": None,
    "availability": [],
}


class _Person:
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


async def erase(session: AsyncSession, user: User) -> None:
    """Erase the person's data as described above; the caller's transaction commits it."""
    from market.organisations.applications import withdraw_all_of
    from market.posts.services import close_all_of_author

    person = _Person(user)
    # Closing first: withdrawing matches and answering applicants queues mail and notifications
    # that may name the person; the scrubbing below then finds those too.
    await close_all_of_author(session, user.id)
    await withdraw_all_of(session, user.id)
    post_ids = await _ids(session, select(Post.id).where(Post.author_id == user.id))
    await _erase_posts(session, user.id, post_ids)
    await _erase_applications_and_vetting(session, user.id)
    related = await _related_ids(session, user.id, post_ids)
    await _scrub_messages(session, person)
    await _scrub_reports(session, person, post_ids)
    await _scrub_notifications(session, person, related)
    await _erase_mail(session, person)
    await session.execute(
        delete(Invitation).where(func.lower(Invitation.email) == person.email.lower())
    )
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


async def _ids(session: AsyncSession, stmt: Any) -> list[str]:
    return [str(i) for i in (await session.scalars(stmt))]


async def _erase_posts(session: AsyncSession, user_id: str, post_ids: list[str]) -> None:
    values = {k: v for k, v in _POST_FIELDS.items() if hasattr(Post, k)}
    await session.execute(update(Post).where(Post.author_id == user_id).values(**values))
    if post_ids:
        await session.execute(
            update(PostReview).where(PostReview.post_id.in_(post_ids)).values(reason=None)
        )
        await session.execute(
            update(Posting)
            .where(Posting.post_id.in_(post_ids))
            .values(training=None, duration=None)
        )


async def _erase_applications_and_vetting(session: AsyncSession, user_id: str) -> None:
    await session.execute(
        update(Application)
        .where(Application.volunteer_id == user_id)
        .values(message="", decision_message=None)
    )
    # Dates and checklist booleans stay (see the module's docstring); notes may name the person.
    await session.execute(
        update(VettingDecision).where(VettingDecision.volunteer_id == user_id).values(note=None)
    )


async def _related_ids(session: AsyncSession, user_id: str, post_ids: list[str]) -> set[str]:
    """Ids of things that are the person's: other people's notifications about them name them."""
    related = {user_id, *post_ids}
    related.update(
        await _ids(
            session,
            select(Match.id).where(
                or_(Match.volunteer_id == user_id, Match.need_author_id == user_id)
            ),
        )
    )
    applications = select(Application.id).where(Application.volunteer_id == user_id)
    related.update(await _ids(session, applications))
    related.update(
        await _ids(
            session, select(Participant.conversation_id).where(Participant.user_id == user_id)
        )
    )
    related.update(await _ids(session, select(Message.id).where(Message.author_id == user_id)))
    return related


async def _scrub_messages(session: AsyncSession, person: _Person) -> None:
    if not person.needles:
        return
    theirs = select(Participant.conversation_id).where(Participant.user_id == person.id)
    stmt = select(Message).where(
        Message.conversation_id.in_(theirs),
        or_(*(Message.body.contains(w, autoescape=True) for w in person.needles)),
    )
    for message in await session.scalars(stmt):
        message.body = person.scrub(message.body)


async def _scrub_reports(session: AsyncSession, person: _Person, post_ids: list[str]) -> None:
    about = [
        Report.reporter_id == person.id,
        (Report.target_type == "user") & (Report.target_id == person.id),
        (Report.target_type == "message")
        & Report.target_id.in_(select(Message.id).where(Message.author_id == person.id)),
    ]
    if post_ids:
        about.append((Report.target_type == "post") & Report.target_id.in_(post_ids))
    for report in await session.scalars(select(Report).where(or_(*about))):
        report.reason = person.scrub(report.reason)
        if report.resolution:
            report.resolution = person.scrub(report.resolution)


def _refers_to(value: Any, ids: set[str]) -> bool:
    if isinstance(value, str):
        return value in ids
    if isinstance(value, list):
        return any(_refers_to(v, ids) for v in value)
    if isinstance(value, dict):
        return any(_refers_to(v, ids) for v in value.values())
    return False


async def _scrub_notifications(session: AsyncSession, person: _Person, related: set[str]) -> None:
    """Other people's notifications that name the person and are about their things."""
    if not person.needles:
        return
    stmt = select(Notification).where(
        Notification.user_id != person.id, person.in_json_text(Notification.data)
    )
    for note in await session.scalars(stmt):
        if _refers_to(note.data, related):
            note.data = person.scrub_json(note.data)


async def _erase_mail(session: AsyncSession, person: _Person) -> None:
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


def _renamed(person: _Person, payload: dict[str, Any]) -> dict[str, Any]:
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
