"""Tables owned by notifications: the outbox, in-app notifications, addresses that bounce, and
each person's choices about which mail they get (immediately, in a daily digest, or not at all)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base, checked, new_id, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class DeliveryMode(StrEnum):
    IMMEDIATE = "immediate"
    DIGEST = "digest"
    OFF = "off"


class NotificationKind(StrEnum):
    """What an in-app notification (and a mail preference) is about; market.inbox.texts words each."""

    MATCH_PROPOSED = "match.proposed"
    MATCH_CONNECTED = "match.connected"
    MATCH_REMINDER = "match.reminder"
    MATCH_STALLED = "match.stalled"
    MATCH_EXPIRED = "match.expired"
    MATCH_PAUSED = "match.paused"
    MATCH_OUTCOME = "match.outcome"
    MATCH_REOPENED = "match.reopened"
    MESSAGE_NEW = "message.new"
    APPLICATION_RECEIVED = "application.received"
    APPLICATION_ACCEPTED = "application.accepted"
    APPLICATION_DECLINED = "application.declined"
    VETTING_APPROVED = "vetting.approved"
    VETTING_REJECTED = "vetting.rejected"
    SERVICE_SUGGESTED = "service.suggested"
    POST_REJECTED = "post.rejected"
    NEED_CONFIRM = "need.confirm"
    NEED_CLOSED = "need.closed"
    ACCOUNT_SECURITY = "account.security"


# The same values as plain strings (StrEnum members equal them); the CHECK constraints below
# were written out in migration 0001.
OUTBOX_STATUSES = tuple(s.value for s in OutboxStatus)
DELIVERY_MODES = tuple(m.value for m in DeliveryMode)


class OutboxItem(Base):
    """Work to do after a transaction commits (a mail, a re-match); written in that transaction."""

    __tablename__ = "outbox"
    __table_args__ = (
        # The relay's sweep asks for "pending and due, oldest first" every few seconds.
        Index("ix_outbox_status_available_at", "status", "available_at"),
        # The hourly redaction of mail copies asks for "finished, not yet redacted, oldest
        # first"; redacted rows leave this index, so it stays as small as the last 30 days.
        Index(
            "ix_outbox_unredacted",
            "status",
            "done_at",
            postgresql_where=text("redacted_at IS NULL"),
            sqlite_where=text("redacted_at IS NULL"),
        ),
        CheckConstraint("status IN ('pending', 'done', 'failed')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    job: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[OutboxStatus] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Not before this time: set in the future for a delayed job or a retry after backoff.
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # When the mail's address, subject and bodies were blanked (30 days after it was finished,
    # or when its recipient deleted their account): see outbox.redact_mail_copies.
    redacted_at: Mapped[datetime | None] = mapped_column(default=None)


class Notification(Base):
    """An in-app notification for one user (match proposed, new message, ...)."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_read_at", "user_id", "read_at"),
        Index("ix_notifications_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # The users table belongs to market.accounts; it is referenced by name only so that this
    # package never imports feature code.
    user_id: Mapped[str] = mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[NotificationKind] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
    # Notifications with the same key collapse while unread: ten new messages in one
    # conversation are one "3 new messages" entry, not ten (see inapp.notify).
    group_key: Mapped[str | None] = mapped_column(String(100), default=None)


class FailingAddress(Base):
    """An address a mail server rejected permanently (5xx); non-essential mail to it is skipped."""

    __tablename__ = "mail_failures"

    address: Mapped[str] = mapped_column(String(320), primary_key=True)  # lowercased
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")


class NotificationPreference(Base):
    """How one person wants mail about one kind of notification: immediate, digest or off.

    Absent means the default (immediate). In-app notifications are always recorded; the choice
    is about mail. Kinds that cannot be switched off (matches, account security) never get a
    row (see notifications.preferences).
    """

    __tablename__ = "notification_preferences"
    __table_args__ = (
        CheckConstraint("mode IN ('immediate', 'digest', 'off')", name="mode"),
        # The digest asks "who wants a digest of anything?"
        Index("ix_notification_preferences_mode", "mode"),
    )

    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    mode: Mapped[DeliveryMode] = mapped_column(String(16), default=DeliveryMode.IMMEDIATE)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DigestState(Base):
    """A person's last digest: it covered notifications up to `covered_until`; the next one
    starts there."""

    __tablename__ = "notification_digests"

    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    covered_until: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


# Closed sets of values, also CHECK constraints (migration 0019 names them ck_<table>_<column>).
checked(Notification.__table__, kind=NotificationKind)
