"""A suspended account cannot sign in through OpenID Connect either (the real provider of
tests/market/accounts/test_oidc.py), and can again once the suspension ends."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.factories import make_user
from tests.market.accounts.test_oidc import (  # noqa: F401  (fixtures)
    APP,
    complete_signup,
    oidc_issuer,
    provider_account,
    settings,
    sign_in,
    user_by_email,
)
from tests.pages import browser, csrf


async def test_a_suspended_account_cannot_sign_in_with_oidc(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    oidc_issuer: str,  # noqa: F811
) -> None:
    provider_account(oidc_issuer, "dora", email="dora@example.org", email_verified=True)
    await sign_in(client, oidc_issuer, "dora")
    await complete_signup(client)
    dora = await user_by_email(session, "dora@example.org")
    assert dora is not None
    admin = await make_user(app, client, "admin")
    async with browser(app, admin) as c:
        page = await c.get(f"/admin/users/{dora.id}")
        r = await c.post(f"/admin/users/{dora.id}/suspend", data={"csrf_token": csrf(page.text)})
        assert r.status_code == 303
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=APP) as other:
        r = await sign_in(other, oidc_issuer, "dora")
        assert r.status_code == 403
        assert "anlauf_session" not in other.cookies
    async with browser(app, admin) as c:
        page = await c.get(f"/admin/users/{dora.id}")
        r = await c.post(f"/admin/users/{dora.id}/unsuspend", data={"csrf_token": csrf(page.text)})
        assert r.status_code == 303
    async with httpx.AsyncClient(transport=transport, base_url=APP) as other:
        r = await sign_in(other, oidc_issuer, "dora")
        assert r.status_code == 303
        assert other.cookies.get("anlauf_session")
