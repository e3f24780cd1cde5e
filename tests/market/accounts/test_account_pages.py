"""The account pages in a browser: sign up, email check, log in and out, sessions, password reset,
the account page, deletion, and the page language (Accept-Language, ?lang=, the cookie)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from market import i18n
from market.accounts.models import AccountToken, User, WebSession
from market.db import make_sessionmaker
from market.organisations.models import Organisation, OrganisationMember
from market.settings import Settings
from market.validation import FRIENDLY
from market.web import CSRF_COOKIE, LANG_COOKIE, SESSION_COOKIE
from notifications.models import OutboxItem
from tests.conftest import token_from
from tests.factories import PASSWORD, make_user, post_body
from tests.pages import (
    browser,
    checked_of,
    cookie_attributes,
    cookie_value,
    count,
    csrf,
    error_of,
    html_lang,
    input_tag,
    login,
    logout,
    running_app,
    selected_of,
    set_cookie,
    submit,
    text_of,
    translated,
    value_of,
    without_csrf,
)
from tests.smtp import SmtpServer

NEW_PASSWORD = "a brand new passphrase"
MSG_BAD_EMAIL = "Please enter a valid email address."
MSG_SHORT_PASSWORD = "Use at least 12 characters."


def registration(role: str, email: str, **overrides: str) -> dict[str, str]:
    data = {
        "role": role,
        "display_name": "Amira",
        "email": email,
        "password": "ein langes geheimes passwort",
        "locale": "ar",
        "language_1": "ar",
        "level_1": "native",
        "language_2": "de",
        "level_2": "basic",
        "language_3": "",
        "level_3": "fluent",
        "org_name": "",
        "org_website": "",
    }
    data.update(overrides)
    return data


async def user_by_email(app: Any, email: str) -> User | None:
    async with make_sessionmaker(app.state.engine)() as s:
        return (await s.execute(select(User).where(User.email == email))).scalar_one_or_none()


async def can_log_in(app: Any, email: str, password: str) -> bool:
    async with browser(app) as c:
        r = await login(c, email, password)
        assert r.status_code in (303, 422), r.text
        return r.status_code == 303


async def is_logged_in(c: httpx.AsyncClient) -> bool:
    r = await c.get("/account")
    if r.status_code == 303:
        assert r.headers["location"].startswith("/login")
        return False
    assert r.status_code == 200, r.text
    return True


# --- Signing up


@pytest.mark.parametrize("role", ["volunteer", "seeker", "organisation"])
async def test_sign_up_through_the_form(app: Any, mailbox: SmtpServer, role: str) -> None:
    email = f"new-{role}@example.org"
    extra = (
        {"org_name": "Nachbarschaftshilfe Ost", "org_website": "nachbarn.example.org"}
        if role == "organisation"
        else {}
    )
    async with browser(app) as c:
        page = await c.get(f"/register?role={role}")
        assert page.status_code == 200
        assert checked_of(page.text, "role") == [role]  # the link from the start page preselects
        r = await c.post(
            "/register",
            data={"csrf_token": csrf(page.text), **registration(role, email.upper(), **extra)},
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"] == "/register/sent"
        sent = await c.get(r.headers["location"] + "?lang=en")
        assert "Check your email" in sent.text

    (mail,) = await mailbox.wait_for(email)
    assert "/verify-email?token=" in mail.text
    user = await user_by_email(app, email)
    assert user is not None, "the address is stored in lower case"
    assert (user.role, user.display_name, user.locale) == (role, "Amira", "ar")
    assert [(lang.code, lang.level) for lang in user.languages] == [
        ("ar", "native"),
        ("de", "basic"),
    ]
    assert user.email_verified_at is None
    assert user.vetting_status == ("pending" if role == "volunteer" else None)
    assert user.password_hash and "ein langes" not in user.password_hash
    async with make_sessionmaker(app.state.engine)() as s:
        orgs = list(
            (
                await s.execute(
                    select(Organisation, OrganisationMember.role).join(
                        OrganisationMember, OrganisationMember.organisation_id == Organisation.id
                    )
                )
            ).all()
        )
    if role == "organisation":
        ((org, member_role),) = orgs
        assert (org.name, org.website, org.status, member_role) == (
            "Nachbarschaftshilfe Ost",
            "https://nachbarn.example.org",
            "pending",
            "owner",
        )
    else:
        assert orgs == []
    assert await can_log_in(app, email, "ein langes geheimes passwort")


async def test_a_taken_address_gets_the_same_answer(app: Any, mailbox: SmtpServer) -> None:
    email = "taken@example.org"
    answers = []
    for name in ("First Owner", "Somebody Else"):
        async with browser(app, headers={"Accept-Language": "en"}) as c:
            r = await submit(
                c, "/register", registration("seeker", email, display_name=name, locale="en")
            )
            assert r.status_code == 303, r.text
            sent = await c.get(r.headers["location"])
            answers.append(
                (r.status_code, r.headers["location"], r.text, sent.status_code, sent.text)
            )
    first, second = answers
    assert first[:3] == second[:3]
    assert first[3] == second[3] == 200
    assert without_csrf(first[4]) == without_csrf(second[4])  # nothing tells them apart

    mails = await mailbox.wait_for(email, count=2)
    (verify,) = [m for m in mails if "/verify-email?token=" in m.text]
    (already,) = [m for m in mails if m is not verify]
    assert "/verify-email?token=" in verify.text
    assert "token=" not in already.text  # the owner is told, nothing is changed
    assert "/forgot-password" in already.text
    assert await count(app, User) == 1
    user = await user_by_email(app, email)
    assert user is not None and user.display_name == "First Owner"


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_a_form_with_errors_is_shown_again_and_stores_nothing(
    app: Any, mailbox: SmtpServer, locale: str
) -> None:
    password = "Geheim-7x"  # too short
    async with browser(app, headers={"Accept-Language": locale}) as c:
        r = await submit(
            c,
            "/register",
            registration("volunteer", "amira@example", password=password, display_name="Amira"),
        )
    assert r.status_code == 422
    assert html_lang(r.text)[0] == locale
    page = r.text
    # What was typed is kept, except the password.
    assert value_of(page, "display_name") == "Amira"
    assert value_of(page, "email") == "amira@example"
    assert value_of(page, "password") == ""
    assert password not in page
    assert checked_of(page, "role") == ["volunteer"]
    assert selected_of(page, "language_1") == ["ar"] and selected_of(page, "level_1") == ["native"]
    assert selected_of(page, "language_2") == ["de"] and selected_of(page, "level_2") == ["basic"]
    # A message next to each wrong field, in the page language; none next to the right ones.
    assert translated(MSG_BAD_EMAIL, locale) != MSG_BAD_EMAIL
    assert error_of(page, "email") == translated(MSG_BAD_EMAIL, locale)
    assert error_of(page, "password") == translated(MSG_SHORT_PASSWORD, locale)
    assert error_of(page, "display_name") is None and error_of(page, "role") is None
    assert 'aria-invalid="true" aria-describedby="e-email"' in input_tag(page, "email")
    assert translated("Please check the marked fields.", locale) in text_of(page)

    assert await count(app, User) == 0
    assert await count(app, AccountToken) == 0
    assert await count(app, OutboxItem) == 0
    assert mailbox.messages == []


async def test_an_organisation_needs_its_name(app: Any) -> None:
    async with browser(app, headers={"Accept-Language": "en"}) as c:
        r = await submit(c, "/register", registration("organisation", "org@example.org"))
        assert r.status_code == 422
        assert error_of(r.text, "org_name") == translated("Please fill in this field.", "en")
        assert value_of(r.text, "email") == "org@example.org"
        assert await count(app, User) == 0
        # The organisation fields are for organisations only: a seeker's are left aside.
        r = await submit(
            c,
            "/register",
            registration("seeker", "seeker@example.org", org_name="Verein", org_website=""),
        )
        assert r.status_code == 303
    assert await count(app, User) == 1
    assert await count(app, Organisation) == 0


# --- CSRF


async def test_forms_without_the_right_csrf_token_are_refused(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    async with browser(app) as c:
        page = await c.get("/register")
        token = csrf(page.text)
        data = registration("seeker", "csrf@example.org")
        assert (await c.post("/register", data=data)).status_code == 403
        assert (
            await c.post("/register", data={**data, "csrf_token": "x" + token})
        ).status_code == 403
        assert (
            await c.post("/forgot-password", data={"email": "a@example.org"})
        ).status_code == 403
    # A token without its cookie (another site's form) is refused too.
    async with browser(app) as stranger:
        r = await stranger.post("/register", data={**data, "csrf_token": token})
        assert r.status_code == 403
    assert await count(app, User) == 0
    assert await count(app, OutboxItem) == 0

    user = await make_user(app, client, "seeker", name="Old Name")
    async with browser(app) as c:
        page = await c.get("/login")
        r = await c.post("/login", data={"email": user.email, "password": PASSWORD})
        assert r.status_code == 403
        r = await c.post(
            "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": "forged"}
        )
        assert r.status_code == 403
        assert set_cookie(r, SESSION_COOKIE) is None
    assert await count(app, WebSession) == 0

    # A token from before the login is worth nothing after it.
    async with browser(app) as c:
        before = csrf((await c.get("/login")).text)
        assert (await login(c, user.email)).status_code == 303
        r = await c.post("/account", data={"csrf_token": before, "display_name": "New Name"})
        assert r.status_code == 403

    async with browser(app, user) as c:
        bad = {"csrf_token": "forged"}
        r = await c.post("/account", data={**bad, "display_name": "New Name", "locale": "de"})
        assert r.status_code == 403
        r = await c.post(
            "/account/password",
            data={
                **bad,
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_confirm": NEW_PASSWORD,
            },
        )
        assert r.status_code == 403
        assert (
            await c.post("/account/delete", data={**bad, "password": PASSWORD})
        ).status_code == 403
        assert (await c.post("/logout", data={})).status_code == 403
        assert await is_logged_in(c)
    stored = await user_by_email(app, user.email)
    assert stored is not None and stored.display_name == "Old Name" and stored.deleted_at is None
    assert await can_log_in(app, user.email, PASSWORD)


# --- Logging in and out


async def test_login_sets_a_protected_session_cookie(client: httpx.AsyncClient, app: Any) -> None:
    user = await make_user(app, client, "seeker", locale="uk")
    async with browser(app, headers={"Accept-Language": "en"}) as c:
        r = await login(c, user.email, "wrong password here")
        assert r.status_code == 422
        assert translated("The email address or the password is not correct.", "en") in text_of(
            r.text
        )
        assert value_of(r.text, "email") == user.email and value_of(r.text, "password") == ""
        assert set_cookie(r, SESSION_COOKIE) is None

        r = await login(c, user.email, PASSWORD, next_url="/my/posts")
        assert r.status_code == 303 and r.headers["location"] == "/my/posts"
        header = set_cookie(r, SESSION_COOKIE)
        assert header is not None
        attrs = cookie_attributes(header)
        assert "httponly" in attrs
        assert attrs["samesite"].lower() == "lax"
        assert attrs["path"] == "/"
        assert "secure" not in attrs  # plain http in tests; production below
        assert len(cookie_value(header)) >= 32
        # The page language becomes the user's.
        lang = set_cookie(r, LANG_COOKIE)
        assert lang is not None and cookie_value(lang) == "uk"
        assert html_lang((await c.get("/account")).text) == ("uk", "ltr")
    # A next that leads elsewhere is not followed.
    async with browser(app) as c:
        r = await login(c, user.email, PASSWORD, next_url="//evil.example/")
        # (the person's own page instead, as after any login without a next)
        assert r.status_code == 303 and r.headers["location"] == "/my/matches"


async def test_cookies_are_secure_in_production(
    client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    user = await make_user(app, client, "seeker")
    production = settings.model_copy(update={"env": "production", "secret_key": "x" * 40})
    async with (
        running_app(production) as prod_app,
        browser(prod_app, base_url="https://testserver") as c,
    ):
        page = await c.get("/login")
        csrf_header = set_cookie(page, CSRF_COOKIE)
        assert csrf_header is not None
        assert {"secure", "httponly"} <= set(cookie_attributes(csrf_header))
        r = await login(c, user.email)
        assert r.status_code == 303, r.text
        header = set_cookie(r, SESSION_COOKIE)
        assert header is not None
        attrs = cookie_attributes(header)
        assert "secure" in attrs and "httponly" in attrs
        assert attrs["samesite"].lower() == "lax"
        assert await is_logged_in(c)


async def test_logout_ends_the_session_on_the_server(client: httpx.AsyncClient, app: Any) -> None:
    user = await make_user(app, client, "seeker")
    async with browser(app, user) as c:
        secret = c.cookies[SESSION_COOKIE]
        assert await is_logged_in(c)
        r = await logout(c)
        assert r.status_code == 303 and r.headers["location"] == "/"
        cleared = set_cookie(r, SESSION_COOKIE)
        assert cleared is not None and cookie_value(cleared) == ""
        assert not await is_logged_in(c)
    # Someone who kept the old cookie is not let in either.
    async with browser(app) as thief:
        thief.cookies.set(SESSION_COOKIE, secret)
        assert not await is_logged_in(thief)
        assert (await thief.get("/my/posts")).status_code == 303
    async with make_sessionmaker(app.state.engine)() as s:
        (web_session,) = (await s.execute(select(WebSession))).scalars()
        assert web_session.user_id == user.id and web_session.revoked_at is not None


async def test_a_password_change_ends_the_other_sessions(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await make_user(app, client, "seeker")
    async with browser(app, user) as a, browser(app, user) as b:
        assert await is_logged_in(a) and await is_logged_in(b)
        # A mistake changes nothing.
        r = await submit(
            a,
            "/account",
            {
                "current_password": "not my password",
                "new_password": NEW_PASSWORD,
                "new_password_confirm": NEW_PASSWORD,
            },
            action="/account/password",
        )
        assert r.status_code == 422
        assert error_of(r.text, "current_password")
        r = await submit(
            a,
            "/account",
            {
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_confirm": NEW_PASSWORD + "!",
            },
            action="/account/password",
        )
        assert r.status_code == 422
        assert error_of(r.text, "new_password_confirm")
        assert NEW_PASSWORD not in r.text
        assert await is_logged_in(b)

        r = await submit(
            a,
            "/account",
            {
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_confirm": NEW_PASSWORD,
            },
            action="/account/password",
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith("/account?msg=")
        done = await a.get(r.headers["location"] + "&lang=en")
        assert "Your password is changed." in done.text
        assert await is_logged_in(a)  # this browser stays logged in
        assert not await is_logged_in(b)  # the other one is logged out
    assert not await can_log_in(app, user.email, PASSWORD)
    assert await can_log_in(app, user.email, NEW_PASSWORD)


# --- A forgotten password


async def test_forgot_password_mail_and_reset(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    user = await make_user(app, client, "seeker")
    async with browser(app, user) as old_session:
        async with browser(app) as c:
            r = await submit(c, "/forgot-password", {"email": user.email.upper()})
            assert r.status_code == 303 and r.headers["location"] == "/forgot-password/sent"
            (mail,) = await mailbox.wait_for(user.email)
            token = token_from(mail.text)

            page = await c.get(f"/reset-password?token={token}")
            assert page.status_code == 200
            assert f'name="token" value="{token}"' in page.text
            # Two different passwords: shown again, nothing changed.
            r = await c.post(
                "/reset-password",
                data={
                    "csrf_token": csrf(page.text),
                    "token": token,
                    "password": NEW_PASSWORD,
                    "password_confirm": "something else entirely",
                },
            )
            assert r.status_code == 422
            assert error_of(r.text, "password_confirm")
            r = await c.post(
                "/reset-password",
                data={
                    "csrf_token": csrf(page.text),
                    "token": token,
                    "password": NEW_PASSWORD,
                    "password_confirm": NEW_PASSWORD,
                },
            )
            assert r.status_code == 303, r.text
            assert r.headers["location"].startswith("/login?msg=")
            # The link works once.
            r = await c.post(
                "/reset-password",
                data={
                    "csrf_token": csrf(page.text),
                    "token": token,
                    "password": "yet another passphrase",
                    "password_confirm": "yet another passphrase",
                },
            )
            assert r.status_code == 422
        assert not await is_logged_in(old_session)  # a reset ends every session
    assert await can_log_in(app, user.email, NEW_PASSWORD)
    assert not await can_log_in(app, user.email, PASSWORD)
    assert not await can_log_in(app, user.email, "yet another passphrase")


async def test_forgot_password_answers_the_same_for_unknown_addresses(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    user = await make_user(app, client, "seeker")
    answers = []
    for email in ("nobody@example.org", user.email):
        async with browser(app, headers={"Accept-Language": "en"}) as c:
            r = await submit(c, "/forgot-password", {"email": email})
            sent = await c.get(r.headers["location"])
            answers.append((r.status_code, r.headers["location"], r.text, without_csrf(sent.text)))
    assert answers[0] == answers[1]
    assert answers[0][0] == 303
    await mailbox.wait_for(user.email)
    # The unknown address gets a mail too (no account; sign up?), so both take the same work.
    (nobody,) = await mailbox.wait_for("nobody@example.org")
    assert "token=" not in nobody.text and "/register" in nobody.text
    # A wrong address is an error of the form, not a secret.
    async with browser(app, headers={"Accept-Language": "en"}) as c:
        r = await submit(c, "/forgot-password", {"email": "not an address"})
        assert r.status_code == 422
        assert error_of(r.text, "email") == MSG_BAD_EMAIL
        assert value_of(r.text, "email") == "not an address"


async def test_login_is_rate_limited(client: httpx.AsyncClient, app: Any) -> None:
    user = await make_user(app, client, "seeker")
    app.state.limiter.enabled = True
    await app.state.limiter.reset()
    try:
        async with browser(app, headers={"Accept-Language": "en"}) as c:
            statuses = [
                (await login(c, user.email, "wrong password here")).status_code for _ in range(10)
            ]
            assert statuses == [422] * 10
            r = await login(c, user.email, "wrong password here")
            assert r.status_code == 429
            assert "<h1>Too many attempts</h1>" in r.text
            assert 'name="password"' not in r.text
            # Even the right password waits.
            r = await login(c, user.email, PASSWORD)
            assert r.status_code == 429
            assert set_cookie(r, SESSION_COOKIE) is None
    finally:
        app.state.limiter.enabled = False
        await app.state.limiter.reset()
    assert await count(app, WebSession) == 0


# --- Confirming the address


async def test_the_verify_link_asks_first_and_the_button_confirms(
    app: Any, mailbox: SmtpServer
) -> None:
    email = "confirm@example.org"
    async with browser(app, headers={"Accept-Language": "en"}) as c:
        r = await submit(c, "/register", registration("seeker", email))
        assert r.status_code == 303
    (mail,) = await mailbox.wait_for(email)
    token = token_from(mail.text)

    async with browser(app, headers={"Accept-Language": "en"}) as c:
        # A mail scanner opening the link twice changes nothing.
        for _ in range(2):
            page = await c.get(f"/verify-email?token={token}")
            assert page.status_code == 200
            assert 'action="/verify-email"' in page.text
            assert f'name="token" value="{token}"' in page.text
            assert "Confirm email address" in page.text
        user = await user_by_email(app, email)
        assert user is not None and user.email_verified_at is None

        r = await c.post("/verify-email", data={"token": token})
        assert r.status_code == 403
        r = await c.post("/verify-email", data={"csrf_token": csrf(page.text), "token": token})
        assert r.status_code == 200
        assert "Email address confirmed" in r.text
        user = await user_by_email(app, email)
        assert user is not None and user.email_verified_at is not None

        r = await c.post("/verify-email", data={"csrf_token": csrf(page.text), "token": token})
        assert r.status_code == 400
        assert "This link does not work" in r.text


# --- The account page


async def test_the_account_page_changes_name_language_and_spoken_languages(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await make_user(app, client, "volunteer", name="Old Name", locale="de")
    async with browser(app, user) as c:
        page = await c.get("/account")
        assert page.status_code == 200
        assert value_of(page.text, "display_name") == "Old Name"
        assert selected_of(page.text, "locale") == ["de"]
        assert selected_of(page.text, "language_1") == ["de"]
        assert selected_of(page.text, "level_1") == ["fluent"]
        assert selected_of(page.text, "language_2") == ["ar"]
        assert selected_of(page.text, "level_2") == ["native"]

        r = await c.post(
            "/account",
            data={
                "csrf_token": csrf(page.text),
                "display_name": "  Neue Name  ",
                "locale": "fa",
                "language_1": "fa",
                "level_1": "native",
                "language_2": "",
                "level_2": "fluent",
                "language_3": "en",
                "level_3": "basic",
            },
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith("/account?msg=")
        lang = set_cookie(r, LANG_COOKIE)
        assert lang is not None and cookie_value(lang) == "fa"
        assert c.cookies[LANG_COOKIE] == "fa"

        page = await c.get(r.headers["location"])
        assert html_lang(page.text) == ("fa", "rtl")
        assert translated("Your changes are saved.", "fa") in text_of(page.text)
        assert value_of(page.text, "display_name") == "Neue Name"
        assert selected_of(page.text, "locale") == ["fa"]
        assert selected_of(page.text, "language_1") == ["fa"]
        assert selected_of(page.text, "level_1") == ["native"]
        assert selected_of(page.text, "language_2") == ["en"]
        assert selected_of(page.text, "level_2") == ["basic"]
        assert selected_of(page.text, "language_3") == []

    stored = await user_by_email(app, user.email)
    assert stored is not None
    assert (stored.display_name, stored.locale) == ("Neue Name", "fa")
    assert [(lang.code, lang.level) for lang in stored.languages] == [
        ("fa", "native"),
        ("en", "basic"),
    ]


async def test_a_wrong_account_form_is_shown_again_and_changes_nothing(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await make_user(app, client, "seeker", name="Old Name", locale="en")
    async with browser(app, user) as c:
        r = await submit(
            c,
            "/account",
            {
                "display_name": "",
                "locale": "xx",
                "language_1": "klingon",
                "level_1": "native",
            },
        )
        assert r.status_code == 422
        assert error_of(r.text, "display_name")
        assert error_of(r.text, "locale")
        assert error_of(r.text, "language_1") == "Please choose a language from the list."
        assert set_cookie(r, LANG_COOKIE) is None
    stored = await user_by_email(app, user.email)
    assert stored is not None and (stored.display_name, stored.locale) == ("Old Name", "en")
    assert [lang.code for lang in stored.languages] == ["de", "ar"]


async def test_a_blank_or_too_long_name_gets_a_message_for_a_text_field(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await make_user(app, client, "seeker", locale="en")
    async with browser(app, user) as c:
        r = await submit(c, "/account", {"display_name": "   ", "locale": "en"})
        assert r.status_code == 422
        assert error_of(r.text, "display_name") == FRIENDLY["missing"]
    async with browser(app, headers={"Accept-Language": "en"}) as c:
        r = await submit(
            c, "/register", registration("seeker", "long@example.org", display_name="x" * 81)
        )
        assert r.status_code == 422
        assert error_of(r.text, "display_name") == FRIENDLY["string_too_long"]


async def test_deleting_the_account_asks_for_the_password(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await make_user(app, client, "seeker", locale="en")
    r = await client.post("/api/v1/posts", headers=user.headers, json=post_body())
    assert r.status_code == 201
    post_id = r.json()["id"]
    async with browser(app, user) as c, browser(app, user) as other_device:
        page = await c.get("/account/delete")
        assert page.status_code == 200
        assert 'type="password"' in input_tag(page.text, "password")
        assert "This cannot be undone." in page.text
        for password in ("", "not my password"):
            r = await submit(c, "/account/delete", {"password": password})
            assert r.status_code == 422
            assert error_of(r.text, "password")
        assert await is_logged_in(c)
        assert (await client.get(f"/api/v1/posts/{post_id}")).status_code == 200

        r = await submit(c, "/account/delete", {"password": PASSWORD})
        assert r.status_code == 303 and r.headers["location"] == "/goodbye"
        cleared = set_cookie(r, SESSION_COOKIE)
        assert cleared is not None and cookie_value(cleared) == ""
        assert not await is_logged_in(c)
        assert not await is_logged_in(other_device)
    assert (await client.get(f"/api/v1/posts/{post_id}")).status_code == 404
    assert await user_by_email(app, user.email) is None
    assert not await can_log_in(app, user.email, PASSWORD)


async def test_account_pages_need_a_login(app: Any) -> None:
    async with browser(app) as c:
        for url in ("/account", "/account/delete", "/account/export"):
            r = await c.get(url)
            assert r.status_code == 303
            assert r.headers["location"] == f"/login?next={url}"


# --- The page language


@pytest.mark.parametrize(
    ("accept", "lang", "direction"),
    [
        ("ar", "ar", "rtl"),
        ("ar-SY,ar;q=0.9,en;q=0.5", "ar", "rtl"),
        ("fa-IR", "fa", "rtl"),
        ("uk-UA,uk;q=0.9", "uk", "ltr"),
        ("de-DE", "de", "ltr"),
        ("en-GB,en;q=0.8", "en", "ltr"),
        ("fr-FR,en;q=0.5", "en", "ltr"),
        ("tr-TR,tr;q=0.9", "tr", "ltr"),
    ],
)
async def test_the_page_language_comes_from_accept_language(
    app: Any, accept: str, lang: str, direction: str
) -> None:
    async with browser(app, headers={"Accept-Language": accept}) as c:
        r = await c.get("/login")
        assert r.status_code == 200
        assert html_lang(r.text) == (lang, direction)
        assert r.headers["content-language"] == lang
        assert f">{translated('Log in', lang)}</a>" in r.text
        assert set_cookie(r, LANG_COOKIE) is None  # only a choice is remembered


async def test_lang_switches_the_language_and_the_cookie_wins_afterwards(app: Any) -> None:
    async with browser(app, headers={"Accept-Language": "ar"}) as c:
        assert html_lang((await c.get("/")).text) == ("ar", "rtl")
        r = await c.get("/posts?lang=uk")
        assert html_lang(r.text) == ("uk", "ltr")
        header = set_cookie(r, LANG_COOKIE)
        assert header is not None and cookie_value(header) == "uk"
        assert cookie_attributes(header)["path"] == "/"
        # Later pages without ?lang= keep the choice, whatever the browser asks for.
        for url in ("/", "/login", "/register"):
            assert html_lang((await c.get(url)).text) == ("uk", "ltr")
        r = await c.get("/?lang=fa")
        assert html_lang(r.text) == ("fa", "rtl")
        assert html_lang((await c.get("/login")).text) == ("fa", "rtl")
        # An unknown choice is ignored.
        r = await c.get("/?lang=xx")
        assert html_lang(r.text) == ("fa", "rtl") and set_cookie(r, LANG_COOKIE) is None
        # The switcher on every page keeps the rest of the address.
        page = await c.get("/posts?q=Amt&kind=need")
        assert '<input type="hidden" name="q" value="Amt">' in page.text
        assert 'name="lang" value="de"' in page.text


# Core strings of each page and a message id that must be translated on it.
PAGES = {
    "/": ["Log in", "Sign up", "Browse", "I can help", "I need help"],
    "/posts": ["Log in", "Offers and requests", "Search"],
    "POST": ["Log in", "How do you get in touch?", "Languages"],
    "/login": ["Log in", "Forgot your password?", "Password"],
    "/register": ["Sign up", "Who are you?", "Your name"],
    "/forgot-password": ["Forgot your password?", "Send the link", "Email address"],
}


@pytest.mark.parametrize("locale", i18n.LOCALES)
async def test_every_page_in_every_language(
    client: httpx.AsyncClient, app: Any, locale: str
) -> None:
    seeker = await make_user(app, client, "seeker")
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    assert r.status_code == 201
    post_url = f"/posts/{r.json()['id']}"
    async with browser(app) as c:
        first = await c.get(f"/?lang={locale}")
        assert first.status_code == 200
        for url, messages in PAGES.items():
            r = await c.get(post_url if url == "POST" else url)
            assert r.status_code == 200, (url, r.text[:500])
            assert html_lang(r.text) == (locale, "rtl" if locale in ("ar", "fa") else "ltr")
            seen = text_of(r.text)
            for message in messages:
                words = translated(message, locale)
                if locale != "en":
                    assert words != message, f"{message!r} is not translated into {locale}"
                    assert f">{message}<" not in r.text, (url, message)
                assert words in seen, (url, locale, message)
            if locale != "en":
                login_link = f'<a href="/login">{translated("Log in", locale)}</a>'
                assert login_link in r.text and '<a href="/login">Log in</a>' not in r.text
