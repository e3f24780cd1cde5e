"""Outbox, email rendering and delivery, in-app notifications.

Imports only the foundation (market.db, market.settings, market.i18n). Importing the package
registers the `send_mail` job, so the in-process runner and the arq worker both know it.
"""

from notifications import jobs as _jobs  # noqa: F401  (registers send_mail)
from notifications.inapp import mark_all_read, mark_group_read, mark_read, notify, unread_count
from notifications.live import Broker, make_broker
from notifications.mail import queue_mail, render_mail
from notifications.models import (
    DigestState,
    FailingAddress,
    Notification,
    NotificationPreference,
    OutboxItem,
)
from notifications.outbox import (
    JOBS,
    JobContext,
    JobFunc,
    Relay,
    RetryPolicy,
    claim,
    enqueue,
    pop_outbox_ids,
    register_job,
)

__all__ = [
    "JOBS",
    "Broker",
    "DigestState",
    "FailingAddress",
    "JobContext",
    "JobFunc",
    "Notification",
    "NotificationPreference",
    "OutboxItem",
    "Relay",
    "RetryPolicy",
    "claim",
    "enqueue",
    "make_broker",
    "mark_all_read",
    "mark_group_read",
    "mark_read",
    "notify",
    "pop_outbox_ids",
    "queue_mail",
    "register_job",
    "render_mail",
    "unread_count",
]
