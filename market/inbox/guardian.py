"""Whose notifications are whose: each person reads and marks only their own.

The one place for the inbox's rule; the notification pages, the live stream and the JSON API
only ask (tests/market/test_guardian_rule.py). Conversations have their own guardian
(market.conversations.guardian).
"""

from __future__ import annotations

from sqlalchemy import Select

from notifications.models import Notification


def notifications(user_id: str, stmt: Select[Notification]) -> Select[Notification]:
    """Narrow a select of notifications to those of `user_id` (the signed-in caller)."""
    return stmt.where(Notification.user_id == user_id)
