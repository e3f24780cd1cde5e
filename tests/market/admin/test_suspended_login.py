"""A suspended account's login says it is suspended, in the page's language, but only after
the right password: a wrong one reads like any wrong password, so a guesser learns nothing."""

from __future__ import annotations

from typing import Any

import httpx

from market.accounts.models import User
from market.db import make_sessionmaker, utcnow
from tests.factories import PASSWORD, make_user
from tests.pages import browser, login, text_of

SUSPENDED_EN = "This account is suspended."
SUSPENDED_DE = "Dieses Konto ist gesperrt."
WRONG_EN = "The email address or the password is not correct."


async def _suspend(app: Any, user_id: str) -> None:
    async with make_sessionmaker(app.state.engine)() as s:
        user = await s.get(User, user_id)
        assert user is not None
        user.suspended_at, user.is_active = utcnow(), False
        await s.commit()


async def test_suspended_login_says_so_only_after_the_right_password(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    await _suspend(app, seeker.id)

    async with browser(app, headers={"Accept-Language": "en"}) as c:
        right = await login(c, seeker.email)
        wrong = await login(c, seeker.email, "not-the-password-1234")
    assert right.status_code == wrong.status_code == 422
    assert SUSPENDED_EN in text_of(right.text)
    assert SUSPENDED_EN not in text_of(wrong.text) and WRONG_EN in text_of(wrong.text)

    async with browser(app, headers={"Accept-Language": "de"}) as c:
        r = await login(c, seeker.email)
    assert r.status_code == 422 and SUSPENDED_DE in text_of(r.text)

    # The API keeps its 401 and says the same, again only after the right password.
    r = await client.post("/api/v1/auth/token", json={"email": seeker.email, "password": PASSWORD})
    assert r.status_code == 401 and SUSPENDED_EN in r.json()["detail"]
    r = await client.post(
        "/api/v1/auth/token", json={"email": seeker.email, "password": "not-the-password-1234"}
    )
    assert r.status_code == 401 and SUSPENDED_EN not in r.json()["detail"]


async def test_a_deactivated_but_not_suspended_account_reads_wrong_password(
    client: httpx.AsyncClient, app: Any
) -> None:
    """Only a suspension is named; other inactive accounts stay 'wrong email or password'."""
    seeker = await make_user(app, client, "seeker")
    async with make_sessionmaker(app.state.engine)() as s:
        user = await s.get(User, seeker.id)
        assert user is not None
        user.is_active = False
        await s.commit()
    async with browser(app, headers={"Accept-Language": "en"}) as c:
        r = await login(c, seeker.email)
    assert r.status_code == 422 and WRONG_EN in text_of(r.text)
    assert SUSPENDED_EN not in text_of(r.text)
