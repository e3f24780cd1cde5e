"""Notification kinds, account-token purposes and audit actions are closed sets (migration 0019):
notify() refuses an unknown kind before anything is written, and the database refuses one that
gets past the code (a CHECK constraint on PostgreSQL, a trigger of the same name on SQLite)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from notifications.inapp import notify
from notifications.models import Notification
from tests.factories import make_user


async def test_notify_refuses_an_unknown_kind_and_writes_nothing(
    app: Any, client: httpx.AsyncClient
) -> None:
    user = await make_user(app, client, "seeker")
    async with app.state.sessionmaker() as session:
        with pytest.raises(ValueError, match=r"match\.propsed"):
            await notify(session, user_id=user.id, kind="match.propsed", data={})
        count = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.user_id == user.id)
        )
        assert count == 0
        note = await notify(session, user_id=user.id, kind="match.proposed", data={})
        assert note.kind == "match.proposed"
        await session.rollback()


@pytest.mark.parametrize(
    ("table", "column", "statement"),
    [
        (
            "notifications",
            "kind",
            "INSERT INTO notifications (id, user_id, kind, data, created_at) "
            "VALUES ('n1', :user_id, :value, '{}', CURRENT_TIMESTAMP)",
        ),
        (
            "account_tokens",
            "purpose",
            "INSERT INTO account_tokens (id, user_id, purpose, email, expires_at, created_at) "
            "VALUES ('t1', :user_id, :value, 'a@example.org', CURRENT_TIMESTAMP, "
            "CURRENT_TIMESTAMP)",
        ),
        (
            "audit_log",
            "action",
            "INSERT INTO audit_log (id, actor_id, action, object_type, created_at) "
            "VALUES ('a1', :user_id, :value, 'user', CURRENT_TIMESTAMP)",
        ),
    ],
)
async def test_the_database_refuses_a_value_outside_the_set(
    app: Any, client: httpx.AsyncClient, table: str, column: str, statement: str
) -> None:
    user = await make_user(app, client, "seeker")
    async with app.state.sessionmaker() as session:
        with pytest.raises(IntegrityError, match=rf"(?<![a-z_])ck_{table}_{column}\b"):
            await session.execute(text(statement), {"user_id": user.id, "value": "bogus"})
        await session.rollback()
