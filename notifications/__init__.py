"""Outbox, email rendering and delivery, in-app notifications.

Imports only the foundation (market.db, market.settings, market.i18n). Importing the package
registers the `send_mail` job, so the in-process runner and the arq worker both know it.
"""

from notifications import jobs as _jobs  # noqa: F401  (registers send_mail)
from notifications.inapp import mark_read, notify, unread_count
from notifications.mail import queue_mail, render_mail
from notifications.models import FailingAddress, Notification, OutboxItem
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
    "FailingAddress",
    "JobContext",
    "JobFunc",
    "Notification",
    "OutboxItem",
    "Relay",
    "RetryPolicy",
    "claim",
    "enqueue",
    "mark_read",
    "notify",
    "pop_outbox_ids",
    "queue_mail",
    "register_job",
    "render_mail",
    "unread_count",
]
