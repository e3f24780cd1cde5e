"""Races end as if the requests came one after the other (API.md, Release 2, Hostile input,
races and outages).

Each test releases its requests at the same instant (asyncio.gather over the app) and then
looks into the database: how many rows, notifications and mails each race left behind. The
same tests run on PostgreSQL (row locks) and SQLite (the write lock taken at BEGIN).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from market.accounts.models import User
from market.app import create_app
from market.conversations.models import Conversation
from market.db import for_writing, make_sessionmaker
from market.matches.models import Match
from market.organisations.models import Application
from market.posts.models import Post
from market.settings import Settings
from notifications.models import Notification, OutboxItem
from tests.factories import Actor, make_user, post_body
from tests.market.organisations.helpers import add_member, apply, posting, volunteer
from tests.market.server import ServerThread

PAIRS = 20


async def _mails(app: Any, template: str) -> Counter[str]:
    """How many mails of `template` were queued for each address."""
    async with make_sessionmaker(app.state.engine)() as session:
        items = (await session.scalars(select(OutboxItem))).all()
    return Counter(str(i.payload["to"]) for i in items if i.payload.get("template") == template)


async def _notes(app: Any, kind: str) -> Counter[str]:
    async with make_sessionmaker(app.state.engine)() as session:
        rows = (
            await session.execute(select(Notification.user_id).where(Notification.kind == kind))
        ).scalars()
        return Counter(rows)


async def _pair(client: httpx.AsyncClient, app: Any, i: int) -> tuple[Actor, Actor, str]:
    """A volunteer and a seeker whose posts match each other only (each pair in a town of its
    own, some 30 km from the next)."""
    place = {"lat": 48.0 + 0.3 * i, "lon": 10.0}
    vol = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker")
    r = await client.post(
        "/api/v1/posts",
        headers=vol.headers,
        json=post_body(kind="offer", title="Ich begleite Sie zum Amt", location=place),
    )
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body(location=place))
    assert r.status_code == 201, r.text
    (match,) = (await client.get("/api/v1/matches", headers=seeker.headers)).json()["items"]
    return vol, seeker, str(match["id"])


async def test_both_parties_accepting_at_once_connect_every_match_once(
    client: httpx.AsyncClient, app: Any
) -> None:
    pairs = [await _pair(client, app, i) for i in range(PAIRS)]
    await app.state.relay.drain()

    answers = await asyncio.gather(
        *(
            client.post(f"/api/v1/matches/{match_id}/accept", headers=actor.headers)
            for vol, seeker, match_id in pairs
            for actor in (vol, seeker)
        )
    )
    assert [r.status_code for r in answers] == [200] * (2 * PAIRS), [r.text for r in answers]
    await app.state.relay.drain()

    match_ids = [m for _, _, m in pairs]
    async with make_sessionmaker(app.state.engine)() as session:
        rows = await session.execute(select(Match.id, Match.status).where(Match.id.in_(match_ids)))
        statuses = dict(rows.all())
        conversations = Counter(
            (
                await session.execute(
                    select(Conversation.match_id).where(Conversation.match_id.in_(match_ids))
                )
            ).scalars()
        )
    assert statuses == dict.fromkeys(match_ids, "connected")
    assert conversations == Counter(match_ids)  # one conversation each
    people = [a for vol, seeker, _ in pairs for a in (vol, seeker)]
    assert await _notes(app, "match.connected") == Counter(a.id for a in people)
    assert await _mails(app, "match_connected") == Counter(a.email for a in people)
    # Each side's answer is kept: nobody's "yes" was lost to the other's.
    for vol, seeker, match_id in pairs:
        for actor in (vol, seeker):
            seen = (await client.get(f"/api/v1/matches/{match_id}", headers=actor.headers)).json()
            assert seen["status"] == "connected" and seen["my_response"] == "accepted"


async def test_one_party_accepting_twice_at_once_answers_once(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, seeker, match_id = await _pair(client, app, 0)
    answers = await asyncio.gather(
        *(client.post(f"/api/v1/matches/{match_id}/accept", headers=seeker.headers) for _ in "ab")
    )
    assert sorted(r.status_code for r in answers) == [200, 409]
    r = await client.post(f"/api/v1/matches/{match_id}/accept", headers=vol.headers)
    assert r.status_code == 200 and r.json()["status"] == "connected"


async def test_accept_and_decline_at_once_end_in_one_state(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, seeker, match_id = await _pair(client, app, 0)
    accept, decline = await asyncio.gather(
        client.post(f"/api/v1/matches/{match_id}/accept", headers=vol.headers),
        client.post(f"/api/v1/matches/{match_id}/decline", headers=seeker.headers),
    )
    assert accept.status_code in (200, 409) and decline.status_code == 200
    async with make_sessionmaker(app.state.engine)() as session:
        match = await session.get(Match, match_id)
        assert match is not None and match.status == "declined"
        n = await session.scalar(select(func.count()).where(Conversation.match_id == match_id))
    assert n == 0


async def test_the_same_address_registered_at_once_answers_202_each_time(
    client: httpx.AsyncClient, app: Any
) -> None:
    addresses = [f"twice{i}@example.org" for i in range(5)]

    def body(email: str) -> dict[str, Any]:
        return {
            "email": email,
            "password": "a long and unusual pass phrase",
            "display_name": "Zweimal",
            "role": "seeker",
            "locale": "de",
            "languages": ["de"],
        }

    answers = await asyncio.gather(
        *(client.post("/api/v1/auth/register", json=body(e)) for e in addresses for _ in "ab")
    )
    assert [r.status_code for r in answers] == [202] * 10, [r.text for r in answers]
    assert all(r.json() == {"status": "verification_sent"} for r in answers)
    async with make_sessionmaker(app.state.engine)() as session:
        accounts = Counter(
            (await session.execute(select(User.email).where(User.email.in_(addresses)))).scalars()
        )
    assert accounts == Counter(addresses)  # one account each
    # As if one came after the other: a verification mail, and one "already registered".
    assert await _mails(app, "verify_email") == Counter(addresses)
    assert await _mails(app, "already_registered") == Counter(addresses)


async def test_applying_twice_at_once_answers_201_then_409(
    client: httpx.AsyncClient, app: Any
) -> None:
    member = await make_user(app, client, "organisation")
    post = await posting(client, member, seats=20)
    volunteers = [await volunteer(app, client) for _ in range(5)]
    answers = await asyncio.gather(
        *(apply(client, v, post["id"]) for v in volunteers for _ in "ab")
    )
    codes = [r.status_code for r in answers]
    for i in range(len(volunteers)):
        assert sorted(codes[2 * i : 2 * i + 2]) == [201, 409], [r.text for r in answers]
    async with make_sessionmaker(app.state.engine)() as session:
        rows = Counter(
            (
                await session.execute(
                    select(Application.volunteer_id).where(Application.post_id == post["id"])
                )
            ).scalars()
        )
    assert rows == Counter(v.id for v in volunteers)
    assert await _notes(app, "application.received") == Counter({member.id: len(volunteers)})


async def test_one_application_decided_twice_at_once_notifies_once(
    client: httpx.AsyncClient, app: Any
) -> None:
    member = await make_user(app, client, "organisation")
    assert member.organisation_id
    other = await add_member(app, client, member.organisation_id)
    post = await posting(client, member, seats=3)
    vol = await volunteer(app, client)
    r = await apply(client, vol, post["id"])
    assert r.status_code == 201, r.text
    application_id = r.json()["id"]

    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/applications/{application_id}",
                headers=m.headers,
                json={"decision": "accept"},
            )
            for m in (member, other)
        )
    )
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    await app.state.relay.drain()
    assert await _notes(app, "application.accepted") == Counter({vol.id: 1})
    assert await _mails(app, "application_accepted") == Counter({vol.email: 1})
    async with make_sessionmaker(app.state.engine)() as session:
        n = await session.scalar(
            select(func.count()).where(Conversation.application_id == application_id)
        )
    assert n == 1


async def test_five_accepts_at_once_on_a_one_seat_posting_accept_one(
    client: httpx.AsyncClient, app: Any
) -> None:
    member = await make_user(app, client, "organisation")
    post = await posting(client, member, seats=1)
    volunteers = [await volunteer(app, client) for _ in range(5)]
    ids = []
    for v in volunteers:
        r = await apply(client, v, post["id"])
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])

    answers = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/applications/{a}", headers=member.headers, json={"decision": "accept"}
            )
            for a in ids
        )
    )
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409, 409]
    async with make_sessionmaker(app.state.engine)() as session:
        statuses = Counter(
            (
                await session.execute(
                    select(Application.status).where(Application.post_id == post["id"])
                )
            ).scalars()
        )
        closed = await session.get(Post, post["id"])
    assert statuses["accepted"] == 1
    assert closed is not None and closed.status == "closed"
    # Only the one accepted volunteer hears "accepted"; the others are told the posting filled.
    assert sum((await _notes(app, "application.accepted")).values()) == 1


async def test_through_a_real_server_each_request_on_its_own_connection(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    """The same races as a client sees them: uvicorn on loopback, every request on a connection
    of its own, released together."""
    pairs = [await _pair(client, app, i) for i in range(10)]
    register = {
        "email": "server-twice@example.org",
        "password": "a long and unusual pass phrase",
        "display_name": "Zweimal",
        "role": "seeker",
        "locale": "de",
        "languages": ["de"],
    }
    with ServerThread(create_app(settings)) as server:
        limits = httpx.Limits(max_keepalive_connections=0)  # a fresh connection per request
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as remote:
            requests = [
                remote.post(f"/api/v1/matches/{match_id}/accept", headers=actor.headers)
                for vol, seeker, match_id in pairs
                for actor in (vol, seeker)
            ]
            requests += [remote.post("/api/v1/auth/register", json=register) for _ in "abc"]
            answers = await asyncio.gather(*requests)
    assert [r.status_code for r in answers] == [200] * 20 + [202] * 3, [r.text for r in answers]
    async with make_sessionmaker(app.state.engine)() as session:
        rows = await session.execute(
            select(Match.status, func.count())
            .where(Match.id.in_([m for *_, m in pairs]))
            .group_by(Match.status)
        )
        assert dict(rows.all()) == {"connected": 10}
        n = await session.scalar(
            select(func.count()).where(User.email == "server-twice@example.org")
        )
    assert n == 1
    assert await _mails(app, "already_registered") == Counter({"server-twice@example.org": 2})
    people = [a for vol, seeker, _ in pairs for a in (vol, seeker)]
    assert await _notes(app, "match.connected") == Counter(a.id for a in people)


async def test_on_sqlite_reading_requests_do_not_wait_for_a_writer(
    client: httpx.AsyncClient, app: Any, is_postgres: bool
) -> None:
    """Writing requests take SQLite's write lock at BEGIN; reading ones must not queue behind it
    (were they to wait, the busy timeout would end them in 503, not 200)."""
    if is_postgres:
        pytest.skip("SQLite's write lock only")
    seeker = await make_user(app, client, "seeker")
    assert (
        await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    ).status_code == 201
    async with for_writing(app.state.engine).connect() as writer:
        await writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held now
        r = await client.get("/api/v1/posts")
        page = await client.get("/posts")
        await writer.rollback()
    assert r.status_code == 200 and len(r.json()["items"]) == 1
    assert page.status_code == 200
