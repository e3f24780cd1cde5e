"""notifications.tell: the one way a feature tells a person in the app and by mail.

A verified, active account gets both (the mail in their language, greeting them by name); an
unverified one only the notification; a suspended or deleted one nothing at all."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from market.accounts.models import User
from market.db import utcnow
from notifications.models import Notification, OutboxItem
from notifications.tell import tell
from tests.factories import make_user


async def _counts(session: Any, user_id: str, address: str) -> tuple[int, list[dict[str, Any]]]:
    notes = await session.scalar(
        select(func.count()).select_from(Notification).where(Notification.user_id == user_id)
    )
    mails = [
        item.payload
        for item in await session.scalars(select(OutboxItem).where(OutboxItem.job == "send_mail"))
        if item.payload.get("to") == address
    ]
    return int(notes or 0), mails


async def _tell(session: Any, settings: Any, person: User | None) -> bool:
    return await tell(
        session,
        settings,
        person,
        kind="match.proposed",
        data={"match_id": "m1"},
        template="match_proposed",
        context={"link": "https://example.org/matches/m1"},
        essential=True,
    )


async def test_a_verified_person_is_told_in_the_app_and_by_mail_in_their_language(
    app: Any, client: httpx.AsyncClient
) -> None:
    actor = await make_user(app, client, "seeker", locale="ar", name="Samira")
    async with app.state.sessionmaker() as session:
        person = await session.get(User, actor.id)
        assert await _tell(session, app.state.settings, person)
        notes, mails = await _counts(session, person.id, person.email)
        assert notes == 1
        assert len(mails) == 1
        assert mails[0]["locale"] == "ar"
        assert "Samira" in mails[0]["text"]


async def test_an_unverified_person_gets_the_notification_but_no_mail(
    app: Any, client: httpx.AsyncClient
) -> None:
    actor = await make_user(app, client, "seeker", verified=False)
    async with app.state.sessionmaker() as session:
        person = await session.get(User, actor.id)
        assert await _tell(session, app.state.settings, person)
        assert await _counts(session, person.id, person.email) == (1, [])


async def test_a_suspended_or_deleted_person_or_nobody_is_not_told(
    app: Any, client: httpx.AsyncClient
) -> None:
    suspended = await make_user(app, client, "seeker")
    deleted = await make_user(app, client, "volunteer")
    async with app.state.sessionmaker() as session:
        first = await session.get(User, suspended.id)
        first.is_active = False
        second = await session.get(User, deleted.id)
        second.deleted_at = utcnow()
        for person in (first, second):
            assert not await _tell(session, app.state.settings, person)
            assert await _counts(session, person.id, person.email) == (0, [])
        assert not await _tell(session, app.state.settings, None)
