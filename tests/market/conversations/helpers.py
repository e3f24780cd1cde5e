"""Arranging conversations for these tests: a connected match, messages, forms.

A browser session of one's own is `tests.pages.browser`.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select, update

from market.conversations.models import Participant
from market.db import make_sessionmaker
from notifications.models import Notification
from tests.factories import Actor, make_user, post_body


async def connected_match(
    client: httpx.AsyncClient,
    app: Any,
    *,
    volunteer_locale: str = "de",
    seeker_locale: str = "de",
    category: str = "accompaniment-authorities",
) -> tuple[Actor, Actor, str, str]:
    """A volunteer and a seeker who both said yes: (volunteer, seeker, match id, conversation id)."""
    volunteer = await make_user(
        app, client, "volunteer", approved=True, name="Vera Volunteer", locale=volunteer_locale
    )
    seeker = await make_user(app, client, "seeker", name="Samir Seeker", locale=seeker_locale)
    r = await client.post(
        "/api/v1/posts",
        headers=volunteer.headers,
        json=post_body(kind="offer", title="Ich begleite Sie zum Amt", category=category),
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/posts",
        headers=seeker.headers,
        json=post_body(
            title="Hilfe beim Jobcenter", location={"lat": 51.35, "lon": 12.38}, category=category
        ),
    )
    assert r.status_code == 201, r.text
    (match,) = (await client.get("/api/v1/matches", headers=seeker.headers)).json()["items"]
    for actor in (seeker, volunteer):
        r = await client.post(f"/api/v1/matches/{match['id']}/accept", headers=actor.headers)
        assert r.status_code == 200, r.text
    conversation_id = r.json()["conversation_id"]
    assert conversation_id
    await app.state.relay.drain()  # the match mails are out
    return volunteer, seeker, str(match["id"]), str(conversation_id)


async def write(
    client: httpx.AsyncClient, actor: Actor, conversation_id: str, body: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        headers=actor.headers,
        json={"body": body},
    )


async def notes_of(app: Any, user_id: str, kind: str | None = None) -> list[Notification]:
    async with make_sessionmaker(app.state.engine)() as session:
        stmt = select(Notification).where(Notification.user_id == user_id)
        if kind:
            stmt = stmt.where(Notification.kind == kind)
        return list(await session.scalars(stmt.order_by(Notification.created_at)))


async def age_last_mail(app: Any, conversation_id: str, user_id: str, minutes: int) -> None:
    """Pretend the last "new message" mail to this participant went out `minutes` ago."""
    from datetime import timedelta

    from market.db import utcnow

    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        await session.execute(
            update(Participant)
            .where(Participant.conversation_id == conversation_id, Participant.user_id == user_id)
            .values(last_mailed_at=utcnow() - timedelta(minutes=minutes))
        )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


async def post_form(
    c: httpx.AsyncClient, page_url: str, action: str, **data: str
) -> httpx.Response:
    """Submit a form the way a browser does: with the CSRF token of the page it is on."""
    page = await c.get(page_url)
    assert page.status_code in (200, 422), page.text
    return await c.post(action, data={"csrf_token": csrf_of(page.text), **data})
