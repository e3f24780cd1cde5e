"""Passwords that are easy to guess are refused with 422 on the password field (API.md Release 2,
Accounts and personal data): one of the 100,000 most common breached passwords, or one that holds
the email's local part or the display name. Every way to set a password is tried: register
(API and page), reset confirm (API and page), change (page) and the invitation signup (API)."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from market.accounts.models import User
from market.security import BREACHED_PASSWORDS, breached_passwords, is_breached
from market.validation import BREACHED_PASSWORD, PERSONAL_PASSWORD
from tests.conftest import token_from
from tests.factories import PASSWORD, login, make_user
from tests.pages import browser, error_of, submit
from tests.smtp import SmtpServer

# Common passwords that pass the 12-character rule, as an attacker would try them first.
BREACHED = ["password1234", "PASSWORD1234", "qwerty123456", "1q2w3e4r5t6y"]


def register_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "email": "leyla.yilmaz@example.org",
        "password": "a long enough password",
        "display_name": "Leyla Yilmaz",
        "role": "seeker",
        "locale": "en",
    }
    body.update(overrides)
    return body


def password_error(r: httpx.Response, field: str = "password") -> str:
    assert r.status_code == 422, r.text
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert field in errors, errors
    return errors[field]


async def stored_users(app: Any) -> int:
    from tests.pages import count

    return await count(app, User)


def test_the_list_holds_the_100000_most_common_passwords() -> None:
    with gzip.open(BREACHED_PASSWORDS, "rt", encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    assert len(lines) == 100_000
    assert lines[:3] == ["123456", "password", "12345678"]  # most common first
    assert breached_passwords() is breached_passwords()  # read once, then kept
    assert is_breached("password1234") and is_breached("Password1234")
    assert not is_breached(PASSWORD) and not is_breached("a long enough password")


@pytest.mark.parametrize("password", BREACHED)
async def test_register_refuses_a_breached_password(
    client: httpx.AsyncClient, app: Any, password: str
) -> None:
    r = await client.post("/api/v1/auth/register", json=register_body(password=password))
    assert password_error(r) == BREACHED_PASSWORD
    assert await stored_users(app) == 0


@pytest.mark.parametrize(
    "password",
    [
        "LEYLA.YILMAZ-forever",  # the whole local part, in other letters' case
        "my name is leyla yilmaz",  # the whole display name
        "yilmaz-and-the-sea-77",  # one word of the name (and of the local part)
    ],
)
async def test_register_refuses_a_password_with_the_name_or_address(
    client: httpx.AsyncClient, app: Any, password: str
) -> None:
    r = await client.post("/api/v1/auth/register", json=register_body(password=password))
    assert password_error(r) == PERSONAL_PASSWORD
    assert await stored_users(app) == 0


async def test_short_parts_of_a_name_do_not_count(client: httpx.AsyncClient, app: Any) -> None:
    # "Li" and "Bo" are shorter than 3 characters: a password may hold them.
    body = register_body(email="bo@example.org", display_name="Li", password="libo lights the lamp")
    r = await client.post("/api/v1/auth/register", json=body)
    assert r.status_code == 202, r.text
    assert await stored_users(app) == 1


async def test_the_register_page_shows_the_message_at_the_password(app: Any) -> None:
    form = {
        "email": "leyla.yilmaz@example.org",
        "display_name": "Leyla Yilmaz",
        "role": "seeker",
        "locale": "en",
    }
    async with browser(app, headers={"Accept-Language": "en"}) as c:
        r = await submit(c, "/register", {**form, "password": "password1234"})
        assert r.status_code == 422
        assert error_of(r.text, "password") == BREACHED_PASSWORD
        r = await submit(c, "/register", {**form, "password": "Yilmaz family garden"})
        assert r.status_code == 422
        assert error_of(r.text, "password") == PERSONAL_PASSWORD
        assert "Yilmaz family garden" not in r.text  # a password is never shown back
    assert await stored_users(app) == 0


async def reset_token(client: httpx.AsyncClient, mailbox: SmtpServer, email: str) -> str:
    r = await client.post("/api/v1/auth/password-reset", json={"email": email})
    assert r.status_code == 202
    (mail,) = await mailbox.wait_for(email)
    return token_from(mail.text)


async def test_reset_confirm_refuses_weak_passwords_and_keeps_the_link(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    user = await make_user(app, client, "seeker", name="Hamid Karimi")
    token = await reset_token(client, mailbox, user.email)
    url = "/api/v1/auth/password-reset/confirm"
    r = await client.post(url, json={"token": token, "password": "qwerty123456"})
    assert password_error(r) == BREACHED_PASSWORD
    r = await client.post(url, json={"token": token, "password": "karimi in the rain"})
    assert password_error(r) == PERSONAL_PASSWORD
    local = user.email.split("@")[0]  # "seeker7"
    r = await client.post(url, json={"token": token, "password": f"x-{local}-x-secret"})
    assert password_error(r) == PERSONAL_PASSWORD
    # The refusals changed nothing: the old password works, and the link still does.
    await login(client, user.email, PASSWORD)
    r = await client.post(url, json={"token": token, "password": "a fine new passphrase"})
    assert r.status_code == 200, r.text
    await login(client, user.email, "a fine new passphrase")


async def test_the_reset_page_refuses_a_breached_password(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    user = await make_user(app, client, "seeker")
    token = await reset_token(client, mailbox, user.email)
    async with browser(app, headers={"Accept-Language": "en"}) as c:
        r = await submit(
            c,
            f"/reset-password?token={token}",
            {"token": token, "password": "password1234", "password_confirm": "password1234"},
            action="/reset-password",
        )
        assert r.status_code == 422
        assert error_of(r.text, "password") == BREACHED_PASSWORD
    await login(client, user.email, PASSWORD)


async def test_changing_the_password_refuses_weak_ones(client: httpx.AsyncClient, app: Any) -> None:
    user = await make_user(app, client, "volunteer", name="Olena Kovalenko", locale="en")
    async with browser(app, user, headers={"Accept-Language": "en"}) as c:
        for new, message in (
            ("1q2w3e4r5t6y", BREACHED_PASSWORD),
            ("olena kovalenko 1990", PERSONAL_PASSWORD),
        ):
            r = await submit(
                c,
                "/account",
                {"current_password": PASSWORD, "new_password": new, "new_password_confirm": new},
                action="/account/password",
            )
            assert r.status_code == 422, new
            assert error_of(r.text, "new_password") == message
    await login(client, user.email, PASSWORD)


async def test_invitation_signup_refuses_weak_passwords(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    owner = await make_user(app, client, "organisation")
    email = "mariam.team@example.org"
    r = await client.post(
        f"/api/v1/organisations/{owner.organisation_id}/invitations",
        headers=owner.headers,
        json={"email": email, "role": "member"},
    )
    assert r.status_code == 201, r.text
    (mail,) = await mailbox.wait_for(email)
    token = token_from(mail.text)
    url = "/api/v1/organisations/invitations/signup"
    body = {"token": token, "display_name": "Lena"}
    r = await client.post(url, json={**body, "password": "password1234"})
    assert password_error(r) == BREACHED_PASSWORD
    # The address comes from the invitation, not from the request.
    r = await client.post(url, json={**body, "password": "MARIAM by the river"})
    assert password_error(r) == PERSONAL_PASSWORD
    r = await client.post(url, json={**body, "password": "the river runs north"})
    assert r.status_code == 201, r.text
    async with app.state.sessionmaker() as s:
        assert (await s.execute(select(User.email).where(User.email == email))).scalar_one()
