"""API tokens: list, revoke, log out (API.md Release 2, Accounts); sessions and tokens on /account."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from market.accounts.models import ApiToken, WebSession
from market.db import utcnow
from market.security import digest
from tests.factories import login, make_user
from tests.pages import browser, form_of, submit


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_list_shows_public_ids_and_use(
    app: Any, client: httpx.AsyncClient, session: Any
) -> None:
    seeker = await make_user(app, client)
    second = await login(client, seeker.email)
    r = await client.get("/api/v1/me/tokens", headers=seeker.headers)
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == 2
    assert all(set(item) == {"id", "created_at", "last_used_at"} for item in items)
    rows = (await session.execute(select(ApiToken))).scalars().all()
    # The id is the public one: neither the secret nor the stored hash.
    assert {i["id"] for i in items} == {row.public_id for row in rows}
    for secret in (seeker.token, second):
        assert all(i["id"] not in (secret, digest(secret)) for i in items)
    used = {row.public_id: row.last_used_at for row in rows if row.id == digest(seeker.token)}
    (used_id,) = used
    by_id = {i["id"]: i for i in items}
    assert by_id[used_id]["last_used_at"] is not None
    others = [i for i in items if i["id"] != used_id]
    assert others[0]["last_used_at"] is None


async def test_last_used_is_written_at_most_once_a_minute(
    app: Any, client: httpx.AsyncClient, session: Any
) -> None:
    seeker = await make_user(app, client)
    await client.get("/api/v1/me", headers=seeker.headers)
    row = await session.get(ApiToken, digest(seeker.token))
    first = row.last_used_at
    assert first is not None
    await client.get("/api/v1/me", headers=seeker.headers)
    await session.refresh(row)
    assert row.last_used_at == first  # within the minute: no write
    # Pretend the last use was two minutes ago: the next request writes again.
    earlier = utcnow() - timedelta(minutes=2)
    await session.execute(
        update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=earlier)
    )
    await session.commit()
    await client.get("/api/v1/me", headers=seeker.headers)
    await session.refresh(row)
    assert row.last_used_at is not None and row.last_used_at > earlier + timedelta(minutes=1)


async def test_revoke_one_token(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client)
    other = await login(client, seeker.email)
    items = (await client.get("/api/v1/me/tokens", headers=seeker.headers)).json()["items"]
    mine = await _public_id(app, other)
    assert mine in {i["id"] for i in items}
    r = await client.delete(f"/api/v1/me/tokens/{mine}", headers=seeker.headers)
    assert r.status_code == 204
    assert (await client.get("/api/v1/me", headers=bearer(other))).status_code == 401
    assert (await client.get("/api/v1/me", headers=seeker.headers)).status_code == 200
    left = (await client.get("/api/v1/me/tokens", headers=seeker.headers)).json()["items"]
    assert mine not in {i["id"] for i in left}
    # Twice: there is nothing left to revoke.
    r = await client.delete(f"/api/v1/me/tokens/{mine}", headers=seeker.headers)
    assert r.status_code == 404


async def test_someone_elses_token_cannot_be_revoked(app: Any, client: httpx.AsyncClient) -> None:
    alice = await make_user(app, client)
    mallory = await make_user(app, client)
    target = await _public_id(app, alice.token)
    r = await client.delete(f"/api/v1/me/tokens/{target}", headers=mallory.headers)
    assert r.status_code == 404
    assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 200
    # Hostile ids: the hash of the secret, nonsense, very long.
    for bad in (digest(alice.token), "x" * 500, alice.token):
        r = await client.delete(f"/api/v1/me/tokens/{bad}", headers=mallory.headers)
        assert r.status_code == 404
    r = await client.delete("/api/v1/me/tokens/%00", headers=mallory.headers)
    assert r.status_code in (400, 404)
    assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 200
    r = await client.delete(f"/api/v1/me/tokens/{target}")
    assert r.status_code == 401


async def test_logout_revokes_the_calling_token_only(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client)
    other = await login(client, seeker.email)
    r = await client.post("/api/v1/auth/logout", headers=seeker.headers)
    assert r.status_code == 204
    r = await client.get("/api/v1/me", headers=seeker.headers)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (await client.get("/api/v1/me", headers=bearer(other))).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=seeker.headers)).status_code == 401
    assert (await client.post("/api/v1/auth/logout")).status_code == 401


async def test_concurrent_logouts_of_one_token(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client)
    answers = await asyncio.gather(
        *(client.post("/api/v1/auth/logout", headers=seeker.headers) for _ in range(3))
    )
    assert {a.status_code for a in answers} <= {204, 401}
    assert (await client.get("/api/v1/me", headers=seeker.headers)).status_code == 401


async def test_settings_page_lists_and_revokes(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client)
    token_id = await _public_id(app, seeker.token)
    async with browser(app, seeker) as phone, browser(app, seeker) as laptop:
        page = (await laptop.get("/account")).text
        assert f"/account/tokens/{token_id}/revoke" in page
        assert seeker.token not in page and digest(seeker.token) not in page
        sessions = await _sessions(app, seeker.id)
        assert len(sessions) == 2
        for s in sessions:
            assert f"/account/sessions/{s.public_id}/end" in page
            assert s.id not in page  # the hash is never shown
        # A form without the CSRF token changes nothing.
        r = await laptop.post(f"/account/tokens/{token_id}/revoke", data={})
        assert r.status_code == 403
        assert (await client.get("/api/v1/me", headers=seeker.headers)).status_code == 200

        r = await submit(laptop, "/account", action=f"/account/tokens/{token_id}/revoke")
        assert r.status_code == 303
        assert (await client.get("/api/v1/me", headers=seeker.headers)).status_code == 401

        # Sign the phone out from the laptop.
        phone_session = await _session_of(app, phone)
        r = await submit(laptop, "/account", action=f"/account/sessions/{phone_session}/end")
        assert r.status_code == 303
        assert (await phone.get("/account")).status_code == 303  # sent to log in
        assert (await laptop.get("/account")).status_code == 200

        # Someone else's session cannot be ended from here.
        other = await make_user(app, client)
        async with browser(app, other) as theirs:
            their_session = await _session_of(app, theirs)
            r = await submit(laptop, "/account", action=f"/account/sessions/{their_session}/end")
            assert r.status_code == 404
            assert (await theirs.get("/account")).status_code == 200

        # Ending the session in use logs this browser out.
        own = await _session_of(app, laptop)
        form = form_of((await laptop.get("/account")).text, f"/account/sessions/{own}/end")
        assert "csrf_token" in form
        r = await submit(laptop, "/account", action=f"/account/sessions/{own}/end")
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert (await laptop.get("/account")).status_code == 303


async def _public_id(app: Any, secret: str) -> str:
    from market.db import make_sessionmaker

    async with make_sessionmaker(app.state.engine)() as s:
        row = await s.get(ApiToken, digest(secret))
        assert row is not None
        return row.public_id


async def _sessions(app: Any, user_id: str) -> list[WebSession]:
    from market.db import make_sessionmaker

    async with make_sessionmaker(app.state.engine)() as s:
        stmt = select(WebSession).where(
            WebSession.user_id == user_id, WebSession.revoked_at.is_(None)
        )
        return list((await s.execute(stmt)).scalars())


async def _session_of(app: Any, client: httpx.AsyncClient) -> str:
    from market.db import make_sessionmaker

    secret = client.cookies.get("anlauf_session")
    assert secret
    async with make_sessionmaker(app.state.engine)() as s:
        row = await s.get(WebSession, digest(secret))
        assert row is not None
        return row.public_id
