"""Deleting an account that has no password (single sign-on): a one-time link by mail.

Such accounts cannot confirm with a password, so /account/delete mails a link; the link opens a
page with a button, and only the button (a POST with the CSRF token) deletes, so that mail
scanners which open links delete nothing. The API answers 202 and mails the same link.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from market.accounts import services, sessions
from market.accounts.models import AccountToken, ApiToken, OidcIdentity, User, WebSession
from market.db import make_sessionmaker, utcnow
from market.web import SESSION_COOKIE
from notifications.models import OutboxItem
from tests.conftest import token_from
from tests.factories import PASSWORD, Actor, make_user, post_body
from tests.pages import (
    browser,
    cookie_value,
    count,
    csrf,
    fetch,
    input_tag,
    set_cookie,
    submit,
    text_of,
    translated,
)
from tests.smtp import SmtpServer

ISSUER = "https://idp.example.org"
EN = {"Accept-Language": "en"}
BROKEN = "This link does not work"


# --- Arrange


async def make_passwordless(
    app: Any, client: httpx.AsyncClient, *, verified: bool = True, locale: str = "en"
) -> Actor:
    """A seeker as single sign-on creates one: no password, an identity at a provider."""
    actor = await make_user(app, client, "seeker", verified=verified, locale=locale)
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        await s.execute(update(User).where(User.id == actor.id).values(password_hash=None))
        s.add(OidcIdentity(user_id=actor.id, issuer=ISSUER, subject=f"sub-{actor.id}"))
    return actor


@asynccontextmanager
async def logged_in(app: Any, actor: Actor) -> AsyncIterator[httpx.AsyncClient]:
    """A browser with a session of `actor`, as the single sign-on callback leaves it."""
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        user = await s.get(User, actor.id)
        assert user is not None
        secret = await sessions.start_web_session(s, app.state.settings, user, "test")
    async with browser(app, headers=EN) as c:
        c.cookies.set(SESSION_COOKIE, secret)
        yield c


async def is_logged_in(c: httpx.AsyncClient) -> bool:
    r = await c.get("/account")
    assert r.status_code in (200, 303), r.text
    return r.status_code == 200


async def ask_for_link(c: httpx.AsyncClient, mailbox: SmtpServer, actor: Actor) -> str:
    """Press "Send me the link" on /account/delete; the token from the mail."""
    before = len(mailbox.to(actor.email))
    r = await submit(c, "/account/delete")
    assert r.status_code == 303 and r.headers["location"] == "/account/delete/sent", r.text
    mails = await mailbox.wait_for(actor.email, count=before + 1)
    return token_from(mails[-1].text)


async def post_of(client: httpx.AsyncClient, actor: Actor) -> str:
    r = await client.post("/api/v1/posts", headers=actor.headers, json=post_body())
    assert r.status_code == 201, r.text
    post_id: str = r.json()["id"]
    return post_id


async def assert_intact(app: Any, client: httpx.AsyncClient, actor: Actor, post_id: str) -> None:
    user = await fetch(app, User, actor.id)
    assert user.deleted_at is None and user.is_active and user.email == actor.email
    assert (await client.get("/api/v1/me", headers=actor.headers)).status_code == 200
    assert (await client.get(f"/api/v1/posts/{post_id}")).status_code == 200
    assert await count(app, OidcIdentity, OidcIdentity.user_id == actor.id) == 1


async def assert_deleted(app: Any, client: httpx.AsyncClient, actor: Actor, post_id: str) -> None:
    user = await fetch(app, User, actor.id)
    assert user.deleted_at is not None and not user.is_active
    assert user.email != actor.email and user.display_name == "" and user.languages == []
    # Single sign-on finds nothing to log into: the identity at the provider is gone.
    assert await count(app, OidcIdentity, OidcIdentity.user_id == actor.id) == 0
    assert await count(app, AccountToken, AccountToken.user_id == actor.id) == 0
    assert (
        await count(
            app, WebSession, WebSession.user_id == actor.id, WebSession.revoked_at.is_(None)
        )
        == 0
    )
    assert (
        await count(app, ApiToken, ApiToken.user_id == actor.id, ApiToken.revoked_at.is_(None)) == 0
    )
    assert (await client.get("/api/v1/me", headers=actor.headers)).status_code == 401
    r = await client.post("/api/v1/auth/token", json={"email": actor.email, "password": PASSWORD})
    assert r.status_code == 401
    assert (await client.get(f"/api/v1/posts/{post_id}")).status_code == 404  # closed


async def delete_tokens(app: Any, user_id: str) -> list[AccountToken]:
    async with make_sessionmaker(app.state.engine)() as s:
        rows = await s.execute(
            select(AccountToken).where(
                AccountToken.user_id == user_id, AccountToken.purpose == services.DELETE
            )
        )
        return list(rows.scalars())


def post_form(page: str, action: str) -> str:
    """The POST form to `action` (the language switcher is a GET form to the same page)."""
    found = re.search(
        rf'<form method="post" action="{re.escape(action)}"[^>]*>.*?</form>', page, re.S
    )
    assert found, f"no POST form for {action!r} in the page"
    return found.group(0)


def link_of(token: str) -> str:
    return f"http://testserver/account/delete/confirm?token={token}"


# --- The pages


async def test_the_link_is_mailed_opening_it_deletes_nothing_and_the_button_deletes(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    actor = await make_passwordless(app, client)
    post_id = await post_of(client, actor)
    async with logged_in(app, actor) as c, logged_in(app, actor) as other_device:
        page = await c.get("/account/delete")
        assert page.status_code == 200
        form = post_form(page.text, "/account/delete")
        assert 'name="password"' not in form  # nothing to ask for
        assert "Send me the link" in form and actor.email in form
        assert "we send you an email with a link" in text_of(form)

        r = await submit(c, "/account/delete")
        assert r.status_code == 303 and r.headers["location"] == "/account/delete/sent"
        sent = await c.get(r.headers["location"])
        assert sent.status_code == 200 and "Check your email" in sent.text
        assert "The link works for one hour." in sent.text

        (mail,) = await mailbox.wait_for(actor.email)
        assert mail.subject == "Delete your Anlauf account"
        token = token_from(mail.text)
        assert link_of(token) in mail.text
        assert f'href="{link_of(token)}"' in mail.html
        (stored,) = await delete_tokens(app, actor.id)
        assert stored.id != token  # only its digest is kept
        assert timedelta(minutes=59) < stored.expires_at - utcnow() <= timedelta(hours=1)
        # Asking is not deleting.
        assert await is_logged_in(c)
        await assert_intact(app, client, actor, post_id)

        # A mail scanner opens the link (twice, without cookies): it only sees a button.
        async with browser(app, headers=EN) as scanner:
            for _ in range(2):
                shown = await scanner.get(f"/account/delete/confirm?token={token}")
                assert shown.status_code == 200
                confirm = post_form(shown.text, "/account/delete/confirm")
                assert f'name="token" value="{token}"' in confirm
                assert "Delete my account now" in confirm and actor.email in confirm
        await assert_intact(app, client, actor, post_id)

        shown = await c.get(link_of(token))
        r = await c.post(
            "/account/delete/confirm", data={"csrf_token": csrf(shown.text), "token": token}
        )
        assert r.status_code == 303 and r.headers["location"] == "/goodbye"
        cleared = set_cookie(r, SESSION_COOKIE)
        assert cleared is not None and cookie_value(cleared) == ""
        assert (await c.get("/goodbye")).status_code == 200
        assert not await is_logged_in(c)
        assert not await is_logged_in(other_device)
    await assert_deleted(app, client, actor, post_id)

    # The link worked once: using it again shows the error page.
    async with browser(app, headers=EN) as c:
        again = await c.get(f"/account/delete/confirm?token={token}")
        assert again.status_code == 400 and BROKEN in again.text
        assert 'method="post" action="/account/delete/confirm"' not in again.text
        form_token = csrf((await c.get("/login")).text)
        r = await c.post("/account/delete/confirm", data={"csrf_token": form_token, "token": token})
        assert r.status_code == 400 and BROKEN in r.text


async def test_a_used_link_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    actor = await make_passwordless(app, client)
    post_id = await post_of(client, actor)
    async with logged_in(app, actor) as c:
        token = await ask_for_link(c, mailbox, actor)
        async with make_sessionmaker(app.state.engine)() as s, s.begin():
            await s.execute(
                update(AccountToken)
                .where(AccountToken.user_id == actor.id)
                .values(used_at=utcnow())
            )
        page = await c.get(f"/account/delete/confirm?token={token}")
        assert page.status_code == 400 and BROKEN in page.text
        r = await c.post(
            "/account/delete/confirm", data={"csrf_token": csrf(page.text), "token": token}
        )
        assert r.status_code == 400 and BROKEN in r.text
        assert await is_logged_in(c)
    await assert_intact(app, client, actor, post_id)


async def test_an_expired_link_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    actor = await make_passwordless(app, client)
    post_id = await post_of(client, actor)
    async with logged_in(app, actor) as c:
        token = await ask_for_link(c, mailbox, actor)
        page = await c.get(f"/account/delete/confirm?token={token}")
        assert page.status_code == 200
        async with make_sessionmaker(app.state.engine)() as s, s.begin():
            await s.execute(
                update(AccountToken)
                .where(AccountToken.user_id == actor.id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        # The page was opened in time, the button pressed too late.
        r = await c.post(
            "/account/delete/confirm", data={"csrf_token": csrf(page.text), "token": token}
        )
        assert r.status_code == 400 and BROKEN in r.text
        assert "older than one hour" in text_of(r.text)
        late = await c.get(f"/account/delete/confirm?token={token}")
        assert late.status_code == 400 and BROKEN in late.text
        assert await is_logged_in(c)
    await assert_intact(app, client, actor, post_id)
    (stored,) = await delete_tokens(app, actor.id)
    assert stored.used_at is None


async def test_garbled_and_foreign_links_are_refused(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    actor = await make_passwordless(app, client, verified=False)
    post_id = await post_of(client, actor)
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        user = await s.get(User, actor.id)
        assert user is not None
        await services.send_verification(s, app.state.settings, user)
    (mail,) = await mailbox.wait_for(actor.email)
    verify_token = token_from(mail.text)  # a real token, but for another purpose
    async with browser(app, headers=EN) as c:
        page = await c.get("/account/delete/confirm")
        assert page.status_code == 400 and BROKEN in page.text
        form_token = csrf((await c.get("/login")).text)
        for token in ("garbage-that-is-long-enough", "x" * 300, verify_token, ""):
            shown = await c.get("/account/delete/confirm", params={"token": token})
            assert shown.status_code == 400 and BROKEN in shown.text, token
            r = await c.post(
                "/account/delete/confirm", data={"csrf_token": form_token, "token": token}
            )
            assert r.status_code == 400 and BROKEN in r.text, token
    await assert_intact(app, client, actor, post_id)
    user = await fetch(app, User, actor.id)
    assert user.email_verified_at is None  # the verify token was not used up either


async def test_a_password_set_later_ends_the_link(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    actor = await make_passwordless(app, client)
    post_id = await post_of(client, actor)
    async with logged_in(app, actor) as c:
        token = await ask_for_link(c, mailbox, actor)
    # "Forgot your password?" gives the account a password: from now on it confirms with it.
    async with browser(app, headers=EN) as c:
        await submit(c, "/forgot-password", {"email": actor.email})
        mails = await mailbox.wait_for(actor.email, count=2)
        reset = token_from(mails[-1].text)
        r = await submit(
            c,
            f"/reset-password?token={reset}",
            {
                "token": reset,
                "password": "a brand new passphrase",
                "password_confirm": "a brand new passphrase",
            },
            action="/reset-password",
        )
        assert r.status_code == 303, r.text
        page = await c.get(f"/account/delete/confirm?token={token}")
        assert page.status_code == 400 and BROKEN in page.text
    user = await fetch(app, User, actor.id)
    assert user.deleted_at is None and user.password_hash is not None
    assert (await client.get(f"/api/v1/posts/{post_id}")).status_code == 200


async def test_an_unconfirmed_address_is_confirmed_first(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    actor = await make_passwordless(app, client, verified=False)
    async with logged_in(app, actor) as c:
        page = await c.get("/account/delete")
        assert page.status_code == 200
        assert "first you must confirm your email address" in text_of(page.text)
        r = await submit(c, "/account/delete")
        assert r.status_code == 303
        assert r.headers["location"] == "/account/delete/sent?reason=verify"
        sent = await c.get(r.headers["location"])
        assert "confirm your address" in text_of(sent.text)
    (mail,) = await mailbox.wait_for(actor.email)
    assert "/verify-email?token=" in mail.text and "/account/delete" not in mail.text
    assert await delete_tokens(app, actor.id) == []

    r = await client.request("DELETE", "/api/v1/me", headers=actor.headers, json={})
    assert r.status_code == 202 and r.json() == {"status": "verification_sent"}
    await mailbox.wait_for(actor.email, count=2)
    assert await delete_tokens(app, actor.id) == []


async def test_the_pages_speak_the_readers_language(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    actor = await make_passwordless(app, client, locale="ar")
    async with logged_in(app, actor) as c:
        for lang in ("de", "ar"):
            page = await c.get(f"/account/delete?lang={lang}")
            assert translated("Send me the link", lang) in page.text
            assert "Send me the link" not in page.text
        token = await ask_for_link(c, mailbox, actor)
        shown = await c.get(f"/account/delete/confirm?token={token}&lang=ar")
        assert translated("Delete my account now", "ar") in shown.text
    (mail,) = mailbox.to(actor.email)
    assert mail.subject == translated("Delete your Anlauf account", "ar")
    # The mail names the button of the page in the same words.
    assert translated("Delete my account now", "ar") in mail.text


# --- CSRF


async def test_the_new_forms_need_the_csrf_token(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    actor = await make_passwordless(app, client)
    post_id = await post_of(client, actor)
    async with logged_in(app, actor) as c:
        page = await c.get("/account/delete")
        assert 'name="csrf_token"' in post_form(page.text, "/account/delete")
        assert (await c.post("/account/delete", data={})).status_code == 403
        assert (await c.post("/account/delete", data={"csrf_token": "forged"})).status_code == 403
        assert await count(app, OutboxItem) == 0
        assert await delete_tokens(app, actor.id) == []

        token = await ask_for_link(c, mailbox, actor)
        shown = await c.get(f"/account/delete/confirm?token={token}")
        assert 'name="csrf_token"' in post_form(shown.text, "/account/delete/confirm")
        for bad in ({}, {"csrf_token": "forged"}):
            r = await c.post("/account/delete/confirm", data={**bad, "token": token})
            assert r.status_code == 403
    # Another site's form has the token but not its cookie.
    async with browser(app) as stranger:
        r = await stranger.post(
            "/account/delete/confirm", data={"csrf_token": csrf(shown.text), "token": token}
        )
        assert r.status_code == 403
    await assert_intact(app, client, actor, post_id)
    (stored,) = await delete_tokens(app, actor.id)
    assert stored.used_at is None


# --- The API


async def test_the_api_answers_202_and_mails_the_link(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    actor = await make_passwordless(app, client)
    post_id = await post_of(client, actor)
    bodies: list[dict[str, Any]] = [
        {"json": {}},
        {"content": b""},
        # A password cannot be checked against an account without one: still a link by mail.
        {"json": {"password": "any words at all"}},
    ]
    for body in bodies:
        r = await client.request("DELETE", "/api/v1/me", headers=actor.headers, **body)
        assert r.status_code == 202, r.text
        assert r.json() == {"status": "confirmation_sent"}
    mails = await mailbox.wait_for(actor.email, count=3)
    assert len(await delete_tokens(app, actor.id)) == 3
    await assert_intact(app, client, actor, post_id)
    bad = await client.request(
        "DELETE", "/api/v1/me", headers=actor.headers, json={"password": "x", "other": 1}
    )
    assert bad.status_code == 422
    # Any of the links deletes, through the page with its button.
    token = token_from(mails[0].text)
    async with browser(app, headers=EN) as c:
        r = await submit(
            c,
            f"/account/delete/confirm?token={token}",
            {"token": token},
            action="/account/delete/confirm",
        )
        assert r.status_code == 303 and r.headers["location"] == "/goodbye"
    await assert_deleted(app, client, actor, post_id)


async def test_the_mail_is_rate_limited(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    actor = await make_passwordless(app, client)
    app.state.limiter.enabled = True
    await app.state.limiter.reset()
    try:
        statuses = [
            (
                await client.request("DELETE", "/api/v1/me", headers=actor.headers, json={})
            ).status_code
            for _ in range(11)
        ]
        assert statuses == [202] * 10 + [429]
        async with logged_in(app, actor) as c:
            r = await submit(c, "/account/delete")
            assert r.status_code == 429
    finally:
        app.state.limiter.enabled = False
        await app.state.limiter.reset()
    assert len(await delete_tokens(app, actor.id)) == 10


async def test_an_account_with_a_password_still_needs_it(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    actor = await make_user(app, client, "seeker", locale="en")
    post_id = await post_of(client, actor)
    r = await client.request(
        "DELETE", "/api/v1/me", headers=actor.headers, json={"password": "not my password"}
    )
    assert r.status_code == 403
    r = await client.request("DELETE", "/api/v1/me", headers=actor.headers, json={})
    assert r.status_code == 422
    async with browser(app, actor, headers=EN) as c:
        page = await c.get("/account/delete")
        assert 'type="password"' in input_tag(page.text, "password")
        assert "Send me the link" not in page.text
        r = await submit(c, "/account/delete", {"password": "not my password"})
        assert r.status_code == 422
        r = await submit(c, "/account/delete", {})
        assert r.status_code == 422
    assert await count(app, OutboxItem) == 0
    assert await delete_tokens(app, actor.id) == []
    assert (await client.get(f"/api/v1/posts/{post_id}")).status_code == 200
    r = await client.request(
        "DELETE", "/api/v1/me", headers=actor.headers, json={"password": PASSWORD}
    )
    assert r.status_code == 204
    assert (await client.get(f"/api/v1/posts/{post_id}")).status_code == 404
