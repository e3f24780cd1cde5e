"""Telling people: vetting decisions and new messages become notifications and mail.

These run inside the transaction of the event (a coordinator's decision, a message written), so
the notification, the outbox row of the mail and the event itself commit or roll back together.
Mail goes through queue_mail, which honours each person's preferences (immediately, daily
digest, off) and skips addresses that bounced.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market import events
from market.accounts.models import User
from market.conversations.models import Conversation, Message, Participant
from market.db import utcnow
from market.settings import Settings
from notifications.inapp import mark_group_read, notify
from notifications.preferences import IMMEDIATE, mode_for
from notifications.tell import can_be_told, mail_person, tell

# At most one "new message" mail per conversation and recipient in this time.
MESSAGE_MAIL_INTERVAL = timedelta(minutes=15)


def _settings(session: AsyncSession) -> Settings:
    return events.settings_of(session)


def conversation_key(conversation_id: str) -> str:
    """The group key of a conversation's "new message" notifications."""
    return f"conversation:{conversation_id}"


# --- Vetting


@events.subscribe(events.VOLUNTEER_CHANGED)
async def _on_vetting(
    session: AsyncSession,
    volunteer: User,
    decision: Any = None,
    previous: str | None = None,
    **_: Any,
) -> None:
    """Approved or not approved: the volunteer hears of it (a repeated decision is not news)."""
    status = volunteer.vetting_status
    if decision is None or status == previous or status not in ("approved", "rejected"):
        return
    settings = _settings(session)
    kind = "vetting.approved" if status == "approved" else "vetting.rejected"
    revoked = status == "rejected" and previous == "approved"
    data: dict[str, Any] = {"decision_id": getattr(decision, "id", None)}
    if revoked:
        data["revoked"] = True
    base = settings.base_url.rstrip("/")
    await tell(
        session,
        settings,
        volunteer,
        kind=kind,
        data=data,
        template="vetting_approved" if status == "approved" else "vetting_rejected",
        context={
            "revoked": revoked,
            "link": f"{base}/my/posts" if status == "approved" else f"{base}/account",
        },
    )


# --- Messages


def conversation_path(conversation: Conversation) -> str:
    if conversation.match_id:
        return f"/matches/{conversation.match_id}#messages"
    return f"/conversations/{conversation.id}"


@events.subscribe(events.MESSAGE_POSTED)
async def _on_message(
    session: AsyncSession, message: Message, conversation: Conversation, author: User, **_: Any
) -> None:
    """Each other participant: one unread "new message" entry per conversation, and a mail at
    most every 15 minutes per conversation while messages wait (if they want it at once)."""
    settings = _settings(session)
    now = utcnow()
    # The participant rows are locked so that two messages written at the same moment do not
    # both decide that a mail is due (PostgreSQL; SQLite writes one transaction at a time).
    stmt = (
        select(Participant, User)
        .join(User, User.id == Participant.user_id)
        .where(Participant.conversation_id == conversation.id, Participant.user_id != author.id)
        .order_by(Participant.id)
        .with_for_update(of=Participant)
    )
    rows = list((await session.execute(stmt)).all())
    data = {
        "conversation_id": conversation.id,
        "match_id": conversation.match_id,
        "application_id": conversation.application_id,
        "message_id": message.id,
        # Only the id: the name is looked up when the notification is shown, so that it
        # disappears with the account if the author deletes theirs.
        "author_id": author.id,
    }
    for participant, recipient in rows:
        if not can_be_told(recipient):
            continue
        await notify(
            session,
            user_id=recipient.id,
            kind="message.new",
            data=data,
            group_key=conversation_key(conversation.id),
        )
        if not recipient.email_verified:
            continue
        last = participant.last_mailed_at
        if last is not None and now - last < MESSAGE_MAIL_INTERVAL:
            continue
        if await mode_for(session, recipient.id, "message.new") != IMMEDIATE:
            continue
        base = settings.base_url.rstrip("/")
        queued = await mail_person(
            session,
            settings,
            recipient,
            template="message_new",
            context={
                "author": author.display_name,
                "link": base + conversation_path(conversation),
                "settings_link": f"{base}/account/notifications",
            },
            kind="message.new",
        )
        if queued is not None:
            participant.last_mailed_at = now
    await session.flush()


@events.subscribe(events.CONVERSATION_READ)
async def _on_read(session: AsyncSession, user: User, conversation_id: str, **_: Any) -> None:
    """Whoever read a conversation has seen its "new message" notification."""
    await mark_group_read(session, user.id, conversation_key(conversation_id))
