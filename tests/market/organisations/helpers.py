"""Arranging organisations, postings and applications for these tests."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.db import make_sessionmaker
from market.organisations.models import OrganisationMember
from notifications.models import Notification
from tests.factories import Actor, make_user, post_body


async def posting(
    client: httpx.AsyncClient, member: Actor, *, seats: int = 2, **overrides: Any
) -> dict[str, Any]:
    """A mentor programme: a need with seats, posted by an organisation member."""
    fields: dict[str, Any] = {
        "category": "mentoring",
        "title": "Lotsen für neu angekommene Familien",
        "body": "Sie begleiten eine Familie ein halbes Jahr lang.",
        "seats": seats,
    }
    body = post_body(**(fields | overrides))
    r = await client.post("/api/v1/posts", headers=member.headers, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def apply(
    client: httpx.AsyncClient, volunteer: Actor, post_id: str, message: str = "Ich helfe gern."
) -> httpx.Response:
    return await client.post(
        f"/api/v1/posts/{post_id}/applications",
        headers=volunteer.headers,
        json={"message": message},
    )


async def volunteer(app: Any, client: httpx.AsyncClient, **kw: Any) -> Actor:
    kw.setdefault("approved", True)
    return await make_user(app, client, "volunteer", **kw)


async def add_member(
    app: Any, client: httpx.AsyncClient, org_id: str, role: str = "member"
) -> Actor:
    """Another organisation account, added to an existing organisation."""
    actor = await make_user(app, client, "organisation")
    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        own = (
            await session.execute(
                select(OrganisationMember).where(OrganisationMember.user_id == actor.id)
            )
        ).scalar_one()
        await session.delete(own)  # the factory's own organisation stays behind, unused
        session.add(OrganisationMember(organisation_id=org_id, user_id=actor.id, role=role))
    actor.organisation_id = org_id
    return actor


async def notifications_of(
    session: AsyncSession, user_id: str, kind: str | None = None
) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user_id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    session.expire_all()
    return list((await session.execute(stmt.order_by(Notification.created_at))).scalars())
