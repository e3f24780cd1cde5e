"""Accounts through the JSON API (API.md, Accounts), with mail through a real SMTP server."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from market.accounts.models import ApiToken, User
from tests.conftest import token_from
from tests.factories import PASSWORD, login, make_user, post_body
from tests.smtp import SmtpServer

NEW_PASSWORD = "another long passphrase"


def register_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "email": "amira@example.org",
        "password": "a long enough password",
        "display_name": "Amira",
        "role": "seeker",
        "locale": "ar",
        "languages": ["ar", {"code": "de", "level": "basic"}],
    }
    body.update(overrides)
    return body


async def user_count(session: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(User))).scalar_one())


async def test_register_verify_and_me(client: httpx.AsyncClient, mailbox: SmtpServer) -> None:
    r = await client.post("/api/v1/auth/register", json=register_body())
    assert r.status_code == 202
    assert r.json() == {"status": "verification_sent"}

    (mail,) = await mailbox.wait_for("amira@example.org")
    assert mail.message.is_multipart()
    assert 'dir="rtl"' in mail.html  # the recipient chose Arabic
    token = token_from(mail.text)
    assert "http://testserver/verify-email?token=" in mail.text

    access = await login(client, "amira@example.org", "a long enough password")
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 200
    body = me.json()
    assert body["email_verified"] is False
    assert body["role"] == "seeker"
    assert body["locale"] == "ar"
    assert body["languages"] == [
        {"code": "ar", "level": "fluent"},
        {"code": "de", "level": "basic"},
    ]
    assert body["vetting"] is None and body["organisation"] is None

    r = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert r.status_code == 200
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {access}"})
    assert me.json()["email_verified"] is True

    # A verification link works once.
    again = await client.post("/api/v1/auth/verify-email", json={"token": token})
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "token"


async def test_register_same_answer_for_taken_address(
    client: httpx.AsyncClient, mailbox: SmtpServer, session: Any
) -> None:
    first = await client.post("/api/v1/auth/register", json=register_body())
    await mailbox.wait_for("amira@example.org")
    second = await client.post(
        "/api/v1/auth/register",
        json=register_body(password="a different password!", display_name="Intruder"),
    )
    assert second.status_code == first.status_code == 202
    assert second.json() == first.json()
    mails = await mailbox.wait_for("amira@example.org", count=2)
    assert "token=" not in mails[1].text  # no new verification link: a notice instead
    # The account is unchanged: the first password still works, the second does not.
    await login(client, "amira@example.org", "a long enough password")
    r = await client.post(
        "/api/v1/auth/token",
        json={"email": "amira@example.org", "password": "a different password!"},
    )
    assert r.status_code == 401
    user = (await session.execute(select(User))).scalar_one()
    assert user.display_name == "Amira"


async def test_password_is_hashed_with_argon2id(client: httpx.AsyncClient, session: Any) -> None:
    await client.post("/api/v1/auth/register", json=register_body())
    user = (await session.execute(select(User))).scalar_one()
    assert user.password_hash.startswith("$argon2id$")
    params = dict(p.split("=") for p in user.password_hash.split("$")[3].split(","))
    assert int(params["m"]) >= 19 * 1024
    assert int(params["t"]) >= 2


async def test_register_rejects_bad_input_and_stores_nothing(
    client: httpx.AsyncClient, session: Any, mailbox: SmtpServer
) -> None:
    cases = [
        (register_body(password="short"), "password"),
        (register_body(password="x" * 257), "password"),
        (register_body(email="not-an-address"), "email"),
        (register_body(role="coordinator"), "role"),
        (register_body(locale="xx"), "locale"),
        (register_body(languages=["zz-notalang"]), "languages.0.code"),
        (register_body(languages=[{"code": "ar", "level": "expert"}]), "languages.0.level"),
        (register_body(display_name=""), "display_name"),
        (register_body(role="organisation"), "organisation.name"),
        (register_body(organisation={"name": "Verein"}), "organisation"),
    ]
    for body, field in cases:
        r = await client.post("/api/v1/auth/register", json=body)
        assert r.status_code == 422, (field, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == 422
        assert {"type", "title", "detail", "errors"} <= problem.keys()
        assert field in [e["field"] for e in problem["errors"]], (field, problem)
    missing = await client.post("/api/v1/auth/register", json={"email": "a@example.org"})
    assert missing.status_code == 422
    assert {"password", "display_name", "role"} <= {e["field"] for e in missing.json()["errors"]}
    assert await user_count(session) == 0
    assert mailbox.messages == []


async def test_malformed_bodies(client: httpx.AsyncClient, session: Any) -> None:
    url = "/api/v1/auth/register"
    r = await client.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.post(url, content=b"email=a", headers={"content-type": "text/plain"})
    assert r.status_code == 415
    big = register_body(display_name="x" * (65 * 1024))
    r = await client.post(url, json=big)
    assert r.status_code == 413
    r = await client.post(url, json=["a list"])
    assert r.status_code == 422
    assert await user_count(session) == 0


async def test_organisation_registration(client: httpx.AsyncClient, mailbox: SmtpServer) -> None:
    body = register_body(
        email="verein@example.org",
        role="organisation",
        organisation={"name": "Willkommen e.V.", "website": "willkommen.example.org"},
    )
    assert (await client.post("/api/v1/auth/register", json=body)).status_code == 202
    token = await login(client, "verein@example.org", "a long enough password")
    me = (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert me["organisation"]["name"] == "Willkommen e.V."
    assert me["organisation"]["status"] == "pending"
    url = f"/api/v1/organisations/{me['organisation']['id']}"
    # Its members read it while it is pending; anyone else only once it is approved.
    org = await client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert org.json()["website"] == "https://willkommen.example.org"
    assert (await client.get(url)).status_code == 404


async def test_volunteer_has_pending_vetting(client: httpx.AsyncClient) -> None:
    body = register_body(email="vol@example.org", role="volunteer")
    await client.post("/api/v1/auth/register", json=body)
    token = await login(client, "vol@example.org", "a long enough password")
    me = (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert me["vetting"] == {"status": "pending"}


async def test_token_wrong_credentials(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client)
    wrong = await client.post(
        "/api/v1/auth/token", json={"email": seeker.email, "password": "wrong password!!"}
    )
    unknown = await client.post(
        "/api/v1/auth/token", json={"email": "nobody@example.org", "password": "wrong password!!"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    ok = await client.post("/api/v1/auth/token", json={"email": seeker.email, "password": PASSWORD})
    body = ok.json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0 and body["access_token"]


async def test_me_requires_authentication(client: httpx.AsyncClient) -> None:
    for method, url in [
        ("GET", "/api/v1/me"),
        ("PATCH", "/api/v1/me"),
        ("DELETE", "/api/v1/me"),
        ("GET", "/api/v1/me/export"),
        ("GET", "/api/v1/me/posts"),
    ]:
        r = await client.request(method, url, json={})
        assert r.status_code == 401, url
        assert r.headers["content-type"].startswith("application/problem+json")
        bad = await client.request(method, url, headers={"Authorization": "Bearer nonsense"})
        assert bad.status_code == 401


async def test_patch_me(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client)
    r = await client.patch(
        "/api/v1/me",
        headers=seeker.headers,
        json={
            "display_name": "Dana",
            "locale": "uk",
            "languages": [{"code": "uk", "level": "native"}],
        },
    )
    assert r.status_code == 200
    assert r.json()["display_name"] == "Dana"
    assert r.json()["locale"] == "uk"
    assert r.json()["languages"] == [{"code": "uk", "level": "native"}]
    bad = await client.patch(
        "/api/v1/me", headers=seeker.headers, json={"display_name": "Eve", "locale": "xx"}
    )
    assert bad.status_code == 422
    me = (await client.get("/api/v1/me", headers=seeker.headers)).json()
    assert me["display_name"] == "Dana"  # nothing changed by the rejected request


async def test_password_reset_through_mail(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer, session: Any
) -> None:
    seeker = await make_user(app, client, locale="uk")
    r = await client.post("/api/v1/auth/password-reset", json={"email": seeker.email})
    unknown = await client.post("/api/v1/auth/password-reset", json={"email": "nobody@example.org"})
    assert r.status_code == unknown.status_code == 202
    assert r.json() == unknown.json()
    (mail,) = await mailbox.wait_for(seeker.email)
    token = token_from(mail.text)
    assert "http://testserver/reset-password?token=" in mail.text

    done = await client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "password": NEW_PASSWORD}
    )
    assert done.status_code == 200
    # The old API token was revoked with the password change.
    assert (await client.get("/api/v1/me", headers=seeker.headers)).status_code == 401
    await login(client, seeker.email, NEW_PASSWORD)
    old = await client.post(
        "/api/v1/auth/token", json={"email": seeker.email, "password": PASSWORD}
    )
    assert old.status_code == 401
    reuse = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "password": "yet another password"},
    )
    assert reuse.status_code == 422
    # An unknown address is told that it has no account (the same work as a reset link).
    (nobody,) = await mailbox.wait_for("nobody@example.org")
    assert "token=" not in nobody.text and "http://testserver/register" in nobody.text


async def test_rate_limit_on_login(client: httpx.AsyncClient, app: Any) -> None:
    app.state.limiter.enabled = True
    await app.state.limiter.reset()
    try:
        seeker = await make_user(app, client)
        statuses = []
        for _ in range(11):
            r = await client.post(
                "/api/v1/auth/token", json={"email": seeker.email, "password": "wrong password!!"}
            )
            statuses.append(r.status_code)
        assert statuses[:9] == [401] * 9  # make_user's own login counted as the first try
        assert statuses[-1] == 429
        assert int(r.headers["Retry-After"]) > 0
        # Even the right password is refused while limited.
        r = await client.post(
            "/api/v1/auth/token", json={"email": seeker.email, "password": PASSWORD}
        )
        assert r.status_code == 429
    finally:
        app.state.limiter.enabled = False
        await app.state.limiter.reset()


async def test_delete_account(client: httpx.AsyncClient, app: Any, session: Any) -> None:
    seeker = await make_user(app, client)
    created = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    assert created.status_code == 201
    wrong = await client.request(
        "DELETE", "/api/v1/me", headers=seeker.headers, json={"password": "not my password"}
    )
    assert wrong.status_code == 403
    r = await client.request(
        "DELETE", "/api/v1/me", headers=seeker.headers, json={"password": PASSWORD}
    )
    assert r.status_code == 204
    assert (await client.get("/api/v1/me", headers=seeker.headers)).status_code == 401
    relogin = await client.post(
        "/api/v1/auth/token", json={"email": seeker.email, "password": PASSWORD}
    )
    assert relogin.status_code == 401
    post = await client.get(f"/api/v1/posts/{created.json()['id']}")
    assert post.status_code == 404  # closed, and no longer public
    user = await session.get(User, seeker.id)
    assert user.email != seeker.email and user.display_name == "" and user.password_hash is None
    tokens = (
        await session.execute(select(ApiToken).where(ApiToken.user_id == seeker.id))
    ).scalars()
    assert all(t.revoked_at is not None for t in tokens)


async def test_export(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client)
    await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    r = await client.get("/api/v1/me/export", headers=seeker.headers)
    assert r.status_code == 200
    data = r.json()
    assert data["profile"]["email"] == seeker.email
    assert len(data["posts"]) == 1
    assert data["posts"][0]["location"]["approximate"] is False  # the owner sees exact data
    assert {"matches", "messages", "notifications"} <= data.keys()
