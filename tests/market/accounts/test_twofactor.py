"""Two-factor sign-in (TOTP, RFC 6238) as API.md Release 2, Accounts, describes it.

The codes are computed here with pyotp from the secret the set-up page shows, as an
authenticator app would. Codes of the previous, current and next time step are all valid
(clock drift), so a test gets three codes without waiting: it starts early in a step.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pyotp
from sqlalchemy import select

from market.accounts import twofactor
from market.accounts.models import RecoveryCode, TwoFactor, User
from market.db import make_sessionmaker
from market.settings import Settings
from tests.factories import PASSWORD, Actor, make_user
from tests.market.accounts.test_oidc import (  # noqa: F401  (oidc_issuer is a fixture)
    CLIENT_ID,
    CLIENT_SECRET,
    LABEL,
    NAME,
    complete_signup,
    oidc_issuer,
    provider_account,
)
from tests.market.accounts.test_oidc import sign_in as sso_sign_in
from tests.pages import browser, error_of, login, running_app, submit, text_of

STEP = 30


def fresh_step() -> int:
    """The current time step, after waiting for a new one if this one ends within 12 s, so
    that the codes of steps s-1, s and s+1 stay valid while the test runs."""
    left = STEP - time.time() % STEP
    if left < 12:
        time.sleep(left + 0.2)
    return int(time.time() // STEP)


def code(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


async def enable(app: Any, user_id: str, step: int) -> tuple[str, list[str]]:
    """Switch 2FA on straight through the service (confirmed with the code of step-1)."""
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        user = await s.get(User, user_id)
        assert user is not None
        enrolment = await twofactor.begin(s, app.state.settings, user)
        codes = await twofactor.confirm(
            s, app.state.settings, user, code(enrolment.secret, step - 1)
        )
    return enrolment.secret, codes


async def token(client: httpx.AsyncClient, actor: Actor, otp: str | None = None) -> httpx.Response:
    body: dict[str, str] = {"email": actor.email, "password": PASSWORD}
    if otp is not None:
        body["otp"] = otp
    return await client.post("/api/v1/auth/token", json=body)


@asynccontextmanager
async def app_with(
    settings: Settings, **changes: Any
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    async with running_app(settings.model_copy(update=changes)) as other:
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield other, c


# --- Setting it up on the settings page


async def test_enable_on_the_settings_page(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client)
    step = fresh_step()
    async with browser(app, seeker) as b:
        page = (await b.get("/account")).text
        assert 'href="/account/two-factor"' in page
        r = await submit(b, "/account/two-factor", action="/account/two-factor/begin")
        assert r.status_code == 303
        page = (await b.get("/account/two-factor")).text
        # The QR code is drawn on the server: an inline SVG, no script of its own.
        assert "<svg" in page and not re.search(r"<script(?![^>]*\ssrc=)", page)
        shown = re.search(r"<code>([A-Z2-7 ]{32,})</code>", page)
        assert shown, page
        secret = shown.group(1).replace(" ", "")
        assert len(secret) == 32

        # Not in force before it is confirmed.
        assert not await _enabled(app, seeker.id)
        wrong = code(secret, step + 5)
        r = await submit(
            b, "/account/two-factor", {"code": wrong}, action="/account/two-factor/confirm"
        )
        assert r.status_code == 422
        assert error_of(r.text, "code")
        assert not await _enabled(app, seeker.id)

        r = await submit(
            b,
            "/account/two-factor",
            {"code": code(secret, step)},
            action="/account/two-factor/confirm",
        )
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-store"
        codes = re.findall(r"<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>", r.text)
        assert len(codes) == 10 and len(set(codes)) == 10
        assert await _enabled(app, seeker.id)
        # Shown once: the page does not show them again.
        again = (await b.get("/account/two-factor")).text
        assert not any(c in again for c in codes)

    # A dump of the database holds neither the secret nor the recovery codes.
    async with make_sessionmaker(app.state.engine)() as s:
        factor = await s.get(TwoFactor, seeker.id)
        assert factor is not None and secret not in factor.secret_encrypted
        hashes = set((await s.execute(select(RecoveryCode.code_hash))).scalars())
        assert len(hashes) == 10
        for c in codes:
            for plain in (c, c.replace("-", "")):
                assert plain not in hashes
                assert hashlib.sha256(plain.encode()).hexdigest() not in hashes


async def test_setup_page_needs_login_and_csrf(app: Any, client: httpx.AsyncClient) -> None:
    r = await client.get("/account/two-factor")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    seeker = await make_user(app, client)
    async with browser(app, seeker) as b:
        r = await b.post("/account/two-factor/begin", data={})
        assert r.status_code == 403
        assert await _factor(app, seeker.id) is None


# --- Signing in on pages


async def test_login_page_asks_for_the_code(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client)
    step = fresh_step()
    secret, _ = await enable(app, seeker.id, step)
    async with browser(app) as b:
        r = await login(b, seeker.email, next_url="/account")
        assert r.status_code == 303
        assert r.headers["location"] == "/login/two-factor"
        assert not b.cookies.get("anlauf_session")  # no session before the code
        assert (await b.get("/account")).status_code == 303

        r = await submit(b, "/login/two-factor", {"code": code(secret, step + 7)})
        assert r.status_code == 422
        assert error_of(r.text, "code")
        assert not b.cookies.get("anlauf_session")

        r = await submit(b, "/login/two-factor", {"code": code(secret, step)})
        assert r.status_code == 303
        assert r.headers["location"] == "/account"
        assert (await b.get("/account")).status_code == 200

    # The same code again, in another browser: refused (one use per time step).
    async with browser(app) as b:
        await login(b, seeker.email)
        r = await submit(b, "/login/two-factor", {"code": code(secret, step)})
        assert r.status_code == 422
        assert not b.cookies.get("anlauf_session")
        # The code of the next step works.
        r = await submit(b, "/login/two-factor", {"code": code(secret, step + 1)})
        assert r.status_code == 303


async def test_second_step_without_the_first(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client)
    step = fresh_step()
    secret, _ = await enable(app, seeker.id, step)
    async with browser(app) as b:
        r = await b.get("/login/two-factor")
        assert r.status_code == 303 and r.headers["location"].startswith("/login?")
        # A forged "passed the password" cookie does not count.
        b.cookies.set("anlauf_2fa", json.dumps({"u": seeker.id, "n": "/"}), path="/login")
        r = await b.get("/login/two-factor")
        assert r.status_code == 303
        page = await b.get("/login")
        r = await b.post(
            "/login/two-factor",
            data={
                "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1),
                "code": code(secret, step),
            },  # type: ignore[union-attr]
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/login?")
        assert not b.cookies.get("anlauf_session")


async def test_recovery_code_works_once(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client)
    step = fresh_step()
    _, codes = await enable(app, seeker.id, step)
    async with browser(app) as b:
        await login(b, seeker.email)
        r = await submit(b, "/login/two-factor", {"code": codes[3].upper().replace("-", " ")})
        assert r.status_code == 303
    async with browser(app) as b:
        await login(b, seeker.email)
        r = await submit(b, "/login/two-factor", {"code": codes[3]})
        assert r.status_code == 422
    # Through the API too: another code once, then never again.
    assert (await token(client, seeker, codes[4])).status_code == 200
    assert (await token(client, seeker, codes[4])).status_code == 401
    assert (await token(client, seeker, codes[3])).status_code == 401
    async with make_sessionmaker(app.state.engine)() as s:
        assert await twofactor.recovery_codes_left(s, seeker.id) == 8


async def test_new_recovery_codes_replace_the_old(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client)
    step = fresh_step()
    secret, old = await enable(app, seeker.id, step)
    async with browser(app) as b:
        await login(b, seeker.email)
        await submit(b, "/login/two-factor", {"code": code(secret, step)})
        r = await submit(
            b,
            "/account/two-factor",
            {"code": code(secret, step + 1)},
            action="/account/two-factor/recovery-codes",
        )
        assert r.status_code == 200
        new = re.findall(r"<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>", r.text)
        assert len(new) == 10 and not set(new) & set(old)
    assert (await token(client, seeker, old[0])).status_code == 401
    assert (await token(client, seeker, new[0])).status_code == 200


async def test_disable_with_password_or_code(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client)
    step = fresh_step()
    secret, _ = await enable(app, seeker.id, step)
    async with browser(app) as b:
        await login(b, seeker.email)
        await submit(b, "/login/two-factor", {"code": code(secret, step)})
        r = await submit(
            b,
            "/account/two-factor",
            {"password": "not my password"},
            action="/account/two-factor/disable",
        )
        assert r.status_code == 422
        assert await _enabled(app, seeker.id)
        r = await submit(b, "/account/two-factor", {}, action="/account/two-factor/disable")
        assert r.status_code == 422
        assert await _enabled(app, seeker.id)
        r = await submit(
            b, "/account/two-factor", {"password": PASSWORD}, action="/account/two-factor/disable"
        )
        assert r.status_code == 303
        assert not await _enabled(app, seeker.id)
    # Off: the password alone signs in again.
    assert (await token(client, seeker)).status_code == 200

    # Through the API, with a current code.
    step = fresh_step()
    secret, _ = await enable(app, seeker.id, step)
    bearer = {
        "Authorization": f"Bearer {(await token(client, seeker, code(secret, step))).json()['access_token']}"
    }
    r = await client.request(
        "DELETE", "/api/v1/me/two-factor", headers=bearer, json={"code": code(secret, step)}
    )
    assert r.status_code == 422  # used already
    r = await client.request(
        "DELETE", "/api/v1/me/two-factor", headers=bearer, json={"code": code(secret, step + 1)}
    )
    assert r.status_code == 204
    assert (await client.get("/api/v1/me/two-factor", headers=bearer)).json() == {
        "enabled": False,
        "recovery_codes_left": 0,
    }


# --- The API


async def test_token_needs_otp(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client)
    step = fresh_step()
    secret, _ = await enable(app, seeker.id, step)
    r = await token(client, seeker)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "otp_required" in r.json()["detail"]
    r = await token(client, seeker, code(secret, step + 7))
    assert r.status_code == 401 and "otp_required" in r.json()["detail"]
    r = await token(client, seeker, "not a code at all \u0000")
    assert r.status_code in (400, 401, 422)
    # A wrong password says nothing about the second factor.
    r = await client.post(
        "/api/v1/auth/token",
        json={"email": seeker.email, "password": "wrong password", "otp": "123456"},
    )
    assert r.status_code == 401 and "otp" not in r.json()["detail"]

    r = await token(client, seeker, code(secret, step))
    assert r.status_code == 200
    me = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.status_code == 200
    # Replay of the same code: refused.
    r = await token(client, seeker, code(secret, step))
    assert r.status_code == 401 and "otp_required" in r.json()["detail"]


async def test_concurrent_uses_of_one_code(app: Any, client: httpx.AsyncClient) -> None:
    import asyncio

    seeker = await make_user(app, client)
    step = fresh_step()
    secret, _ = await enable(app, seeker.id, step)
    answers = await asyncio.gather(*(token(client, seeker, code(secret, step)) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 401, 401, 401]


async def test_enable_through_the_api(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client)
    step = fresh_step()
    assert (await client.get("/api/v1/me/two-factor", headers=seeker.headers)).json()[
        "enabled"
    ] is False
    r = await client.post("/api/v1/me/two-factor", headers=seeker.headers)
    assert r.status_code == 201
    secret = r.json()["secret"]
    assert r.json()["otpauth_uri"].startswith("otpauth://totp/Anlauf:")
    r = await client.post(
        "/api/v1/me/two-factor/confirm",
        headers=seeker.headers,
        json={"code": code(secret, step + 9)},
    )
    assert r.status_code == 422
    r = await client.post(
        "/api/v1/me/two-factor/confirm", headers=seeker.headers, json={"code": code(secret, step)}
    )
    assert r.status_code == 200
    assert len(r.json()["recovery_codes"]) == 10
    # On already: setting up again needs switching off first.
    assert (await client.post("/api/v1/me/two-factor", headers=seeker.headers)).status_code == 409
    assert (await token(client, seeker)).status_code == 401
    assert (await token(client, seeker, code(secret, step + 1))).status_code == 200


# --- Rate limits


async def test_wrong_codes_are_rate_limited(
    settings: Settings, app: Any, client: httpx.AsyncClient
) -> None:
    seeker = await make_user(app, client)
    step = fresh_step()
    secret, _ = await enable(app, seeker.id, step)
    async with app_with(settings, rate_limit_enabled=True) as (limited, _):
        await limited.state.limiter.reset()
        async with browser(limited) as b:
            await login(b, seeker.email)
            for _ in range(10):
                r = await submit(b, "/login/two-factor", {"code": code(secret, step + 9)})
                assert r.status_code == 422
            r = await submit(b, "/login/two-factor", {"code": code(secret, step)})
            assert r.status_code == 429
            assert int(r.headers["retry-after"]) > 0
            assert not b.cookies.get("anlauf_session")
        # Per IP too: 11 tries so far; another account 10 more, a third 9 more (30 from this
        # address, none of these two at its own limit), and the next try is refused.
        others = [await make_user(app, client) for _ in range(2)]
        secrets_ = [(await enable(app, o.id, step))[0] for o in others]
        async with browser(limited) as b:
            for o, s, tries in zip(others, secrets_, (10, 9), strict=True):
                await login(b, o.email)
                for _ in range(tries):
                    r = await submit(b, "/login/two-factor", {"code": code(s, step + 9)})
                    assert r.status_code == 422
            r = await submit(b, "/login/two-factor", {"code": code(secrets_[1], step)})
            assert r.status_code == 429
        await limited.state.limiter.reset()


# --- Staff must have it when ANLAUF_STAFF_2FA=required


async def test_staff_required_mode(settings: Settings, app: Any, client: httpx.AsyncClient) -> None:
    coordinator = await make_user(app, client, role="coordinator")
    admin = await make_user(app, client, role="admin")
    seeker = await make_user(app, client)
    # Optional (the default): staff work without it.
    assert (
        await client.get("/api/v1/review/posts", headers=coordinator.headers)
    ).status_code == 200

    async with app_with(settings, staff_2fa="required") as (strict, c):
        for staff in (coordinator, admin):
            for path in (
                "/api/v1/review/posts",
                "/api/v1/review/reports",
                "/api/v1/review/unmatched",
            ):
                r = await c.get(path, headers=staff.headers)
                assert r.status_code == 403, (path, r.text)
                assert "two-factor" in r.json()["detail"]
            r = await c.post(
                "/api/v1/review/posts/nonexistent",
                headers=staff.headers,
                json={"decision": "publish"},
            )
            assert r.status_code == 403
        # Everyone else is not concerned.
        assert (await c.get("/api/v1/me", headers=seeker.headers)).status_code == 200
        assert (await c.get("/api/v1/review/posts", headers=seeker.headers)).status_code == 403

        async with browser(strict, coordinator) as b:
            for path in ("/review", "/review/posts", "/review/matching"):
                r = await b.get(path)
                assert r.status_code == 303, path
                assert r.headers["location"].startswith("/account/two-factor")
            page = await b.get("/account/two-factor")
            assert page.status_code == 200
            assert "alert" in page.text
            # Setting up is open to them; afterwards the review pages answer.
            step = fresh_step()
            await submit(b, "/account/two-factor", action="/account/two-factor/begin")
            shown = re.search(
                r"<code>([A-Z2-7 ]{32,})</code>", (await b.get("/account/two-factor")).text
            )
            assert shown
            secret = shown.group(1).replace(" ", "")
            r = await submit(
                b,
                "/account/two-factor",
                {"code": code(secret, step)},
                action="/account/two-factor/confirm",
            )
            assert r.status_code == 200
            assert (await b.get("/review")).status_code == 200
            assert (await b.get("/review/posts")).status_code == 200
        assert (await c.get("/api/v1/review/posts", headers=coordinator.headers)).status_code == 200
        assert (await c.get("/api/v1/review/posts", headers=admin.headers)).status_code == 403


# --- Single sign-on: the second step after the provider


async def test_single_sign_on_then_the_code(
    settings: Settings,
    app: Any,
    oidc_issuer: str,  # noqa: F811
) -> None:
    providers = [
        {
            "name": NAME,
            "label": LABEL,
            "issuer": oidc_issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
    ]
    provider_account(oidc_issuer, "dora", email="dora@example.org", email_verified=True)
    async with app_with(settings, oidc_providers=json.dumps(providers)) as (sso_app, c):
        await sso_sign_in(c, oidc_issuer, "dora")
        r = await complete_signup(c, name="Dora")
        assert r.status_code == 303
        async with make_sessionmaker(sso_app.state.engine)() as s:
            user_id = (
                await s.execute(select(User.id).where(User.email == "dora@example.org"))
            ).scalar_one()
        step = fresh_step()
        secret, _ = await enable(sso_app, user_id, step)
        async with browser(sso_app) as b:
            r = await sso_sign_in(b, oidc_issuer, "dora", next="/account")
            assert r.status_code == 303
            assert r.headers["location"] == "/login/two-factor"
            assert not b.cookies.get("anlauf_session")
            r = await submit(b, "/login/two-factor", {"code": code(secret, step)})
            assert r.status_code == 303 and r.headers["location"] == "/account"
            assert "dora@example.org" in text_of((await b.get("/account")).text)


async def _factor(app: Any, user_id: str) -> TwoFactor | None:
    async with make_sessionmaker(app.state.engine)() as s:
        return await s.get(TwoFactor, user_id)


async def _enabled(app: Any, user_id: str) -> bool:
    async with make_sessionmaker(app.state.engine)() as s:
        return await twofactor.is_enabled(s, user_id)


async def test_staff_without_the_required_factor_have_no_staff_powers_anywhere(
    settings: Settings, app: Any, client: httpx.AsyncClient
) -> None:
    """ANLAUF_STAFF_2FA=required is not only for /review: a coordinator without a second factor
    must not read a region's private conversation (page or API) or a post's exact place either."""
    from tests.market.conversations.helpers import connected_match, write

    vol, seeker, _match_id, cid = await connected_match(client, app)
    assert (await write(client, vol, cid, "Meine Nummer ist 0170 1234567")).status_code == 201
    coordinator = await make_user(app, client, role="coordinator")
    need = (await client.get("/api/v1/me/posts", headers=seeker.headers)).json()["items"][0]
    messages = f"/api/v1/conversations/{cid}/messages"

    async with app_with(settings, staff_2fa="required") as (strict, c):
        assert (await c.get(messages, headers=coordinator.headers)).status_code == 404
        post = (await c.get(f"/api/v1/posts/{need['id']}", headers=coordinator.headers)).json()
        assert post["location"]["approximate"] is True
        async with browser(strict, coordinator) as b:
            assert (await b.get(f"/conversations/{cid}")).status_code == 404

        await enable(strict, coordinator.id, fresh_step())
        r = await c.get(messages, headers=coordinator.headers)
        assert r.status_code == 200, r.text
        assert [m["body"] for m in r.json()["items"]] == ["Meine Nummer ist 0170 1234567"]
        post = (await c.get(f"/api/v1/posts/{need['id']}", headers=coordinator.headers)).json()
        assert post["location"]["approximate"] is False
