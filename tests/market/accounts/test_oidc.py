"""Sign in with OpenID Connect against a real provider: node's oidc-provider on loopback.

The provider (tests/oidc/provider.mjs) logs in the account named by the authorization request's
login_hint without a form, so the whole redirect dance runs over HTTP: the app through httpx's
ASGI transport (one client = one browser's cookies for the app), the provider over real HTTP
(a fresh client per sign-in, so every sign-in starts without a provider session).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import oidc
from market.accounts.models import OidcIdentity, User
from market.settings import Settings
from tests.conftest import token_from
from tests.factories import PASSWORD, make_user
from tests.smtp import SmtpServer, free_port

OIDC_DIR = Path(__file__).resolve().parents[2] / "oidc"
NAME = "test-idp"
LABEL = "Stadt Test"
CLIENT_ID = "anlauf-test"
CLIENT_SECRET = "a-client-secret-for-tests"
APP = "http://testserver"
CALLBACK = f"{APP}/login/oidc/{NAME}/callback"


@pytest.fixture(scope="session")
def oidc_issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start tests/oidc/provider.mjs on a free loopback port; its issuer URL."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the OIDC tests run node's oidc-provider)")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.skip("tests/oidc/node_modules is missing: run `npm ci --prefix tests/oidc`")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("oidc") / "provider.log"
    env = {
        **os.environ,
        "NODE_ENV": "test",
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URIS": CALLBACK,
    }
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [node, str(OIDC_DIR / "provider.mjs")],
            cwd=OIDC_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the OIDC provider exited:\n{log_path.read_text()}")
            try:
                r = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1)
                if r.status_code == 200 and r.json()["issuer"] == issuer:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the OIDC provider did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield issuer
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def settings(settings: Settings, oidc_issuer: str) -> Settings:
    """The suite's settings plus our provider; conftest's app, client and session use them."""
    providers = [
        {
            "name": NAME,
            "label": LABEL,
            "issuer": oidc_issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
    ]
    return settings.model_copy(update={"oidc_providers": json.dumps(providers)})


# --- Driving the browser


def provider_account(issuer: str, sub: str, **claims: Any) -> None:
    """Add or change an account at the test provider."""
    r = httpx.put(f"{issuer}/__test__/accounts/{sub}", json=claims, timeout=5)
    assert r.status_code == 204, r.text


async def start(client: httpx.AsyncClient, issuer: str, **query: str) -> str:
    """Click "Sign in with ...": the provider's authorization URL."""
    r = await client.get(f"/login/oidc/{NAME}", params=query)
    assert r.status_code == 302, r.text
    location = r.headers["location"]
    assert location.startswith(f"{issuer}/auth?")
    return location


async def at_provider(authorize_url: str, login_hint: str) -> str:
    """Follow the provider's redirects until it sends the browser back: the callback URL."""
    url = f"{authorize_url}&{urlencode({'login_hint': login_hint})}"
    async with httpx.AsyncClient(timeout=10) as browser:
        for _ in range(10):
            r = await browser.get(url)
            assert r.status_code in (302, 303), r.text
            url = urljoin(url, r.headers["location"])
            if url.startswith(f"{APP}/"):
                return url
    raise AssertionError("the provider never redirected back")


async def sign_in(
    client: httpx.AsyncClient, issuer: str, login_hint: str, **query: str
) -> httpx.Response:
    """The whole dance; the app's answer to the callback."""
    callback = await at_provider(await start(client, issuer, **query), login_hint)
    assert callback.startswith(CALLBACK + "?")
    return await client.get(callback)


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def with_param(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | params
    return urlunsplit(parts._replace(query=urlencode(query)))


async def identities(session: AsyncSession) -> list[OidcIdentity]:
    stmt = select(OidcIdentity).execution_options(populate_existing=True)
    return list((await session.execute(stmt)).scalars())


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(User.email == email).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def complete_signup(
    client: httpx.AsyncClient, role: str = "volunteer", name: str = "Alice", locale: str = "en"
) -> httpx.Response:
    form = await client.get("/login/oidc/signup")
    assert form.status_code == 200, form.text
    return await client.post(
        "/login/oidc/signup",
        data={"csrf_token": csrf_of(form), "role": role, "display_name": name, "locale": locale},
    )


# --- Tests


async def test_login_page_offers_configured_providers(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    assert f'href="/login/oidc/{NAME}"' in page.text
    assert LABEL in page.text
    page = await client.get("/register")
    assert f'href="/login/oidc/{NAME}"' in page.text


async def test_new_user_signs_up_and_is_logged_in(
    client: httpx.AsyncClient, session: AsyncSession, oidc_issuer: str, mailbox: SmtpServer
) -> None:
    provider_account(
        oidc_issuer, "alice", email="Alice@Example.org", email_verified=True, name="Alice Example"
    )
    r = await sign_in(client, oidc_issuer, "alice")
    assert r.status_code == 303
    assert r.headers["location"] == "/login/oidc/signup"
    assert "anlauf_session" not in client.cookies  # not logged in before the questions

    form = await client.get("/login/oidc/signup")
    assert 'value="Alice Example"' in form.text  # prefilled from the provider's claims
    assert "alice@example.org" in form.text
    r = await client.post(
        "/login/oidc/signup",
        data={
            "csrf_token": csrf_of(form),
            "role": "volunteer",
            "display_name": "Alice",
            "locale": "en",
        },
    )
    assert r.status_code == 303, r.text
    assert client.cookies.get("anlauf_session")
    account = await client.get("/account")
    assert account.status_code == 200
    assert "Alice" in account.text

    user = await user_by_email(session, "alice@example.org")
    assert user is not None
    assert user.role == "volunteer" and user.vetting_status == "pending"
    assert user.locale == "en"
    assert user.email_verified_at is not None  # the provider said email_verified: true
    assert user.password_hash is None
    (identity,) = await identities(session)
    assert (identity.issuer, identity.subject, identity.user_id) == (oidc_issuer, "alice", user.id)
    assert identity.note is None


async def test_signup_form_is_checked(client: httpx.AsyncClient, oidc_issuer: str) -> None:
    provider_account(oidc_issuer, "alice", email="alice@example.org", email_verified=True)
    await sign_in(client, oidc_issuer, "alice")
    r = await complete_signup(client, role="coordinator")
    assert r.status_code == 422
    assert "anlauf_session" not in client.cookies
    no_csrf = await client.post(
        "/login/oidc/signup", data={"role": "seeker", "display_name": "A", "locale": "de"}
    )
    assert no_csrf.status_code == 403


async def test_unverified_provider_email_stays_unverified(
    client: httpx.AsyncClient, session: AsyncSession, oidc_issuer: str, mailbox: SmtpServer
) -> None:
    provider_account(oidc_issuer, "bob", email="bob@example.org", email_verified=False, name="Bob")
    await sign_in(client, oidc_issuer, "bob")
    r = await complete_signup(client, role="seeker", name="Bob")
    assert r.status_code == 303
    user = await user_by_email(session, "bob@example.org")
    assert user is not None and user.role == "seeker"
    assert user.email_verified_at is None
    (mail,) = await mailbox.wait_for("bob@example.org")
    assert "/verify-email?token=" in mail.text


async def test_second_login_finds_the_user_by_issuer_and_subject(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, oidc_issuer: str
) -> None:
    provider_account(oidc_issuer, "carol", email="carol@example.org", email_verified=True)
    await sign_in(client, oidc_issuer, "carol")
    await complete_signup(client, name="Carol")
    user = await user_by_email(session, "carol@example.org")
    assert user is not None

    # The email at the provider changes; a new browser signs in.
    provider_account(oidc_issuer, "carol", email="carol.new@example.org", email_verified=True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=APP) as other:
        r = await sign_in(other, oidc_issuer, "carol", next="/account")
        assert r.status_code == 303
        assert r.headers["location"] == "/account"
        assert other.cookies.get("anlauf_session")
        account = await other.get("/account")
        assert account.status_code == 200
        assert "carol@example.org" in account.text
    assert await user_by_email(session, "carol.new@example.org") is None
    assert len(await identities(session)) == 1


async def test_tampered_state_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, oidc_issuer: str
) -> None:
    provider_account(oidc_issuer, "alice", email="alice@example.org", email_verified=True)
    callback = await at_provider(await start(client, oidc_issuer), "alice")
    r = await client.get(
        with_param(callback, state="x" + parse_qs(urlsplit(callback).query)["state"][0])
    )
    assert r.status_code == 400
    assert "anlauf_session" not in client.cookies
    assert (await client.get("/account")).status_code in (302, 303)
    # A callback without the browser's state cookie is refused too.
    client.cookies.clear()
    r = await client.get(callback)
    assert r.status_code == 400
    assert "anlauf_session" not in client.cookies
    assert await identities(session) == []


async def test_wrong_nonce_is_refused(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    oidc_issuer: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider_account(oidc_issuer, "alice", email="alice@example.org", email_verified=True)
    authorize = await start(client, oidc_issuer)
    # Someone who could write the cookie (it is signed: here the test uses the key) swaps the
    # nonce; state and PKCE still match, so only the ID token's nonce check can catch it.
    state = oidc.unpack(settings, client.cookies.get("anlauf_oidc"), "auth")
    assert state is not None
    forged = oidc.pack(settings, state | {"n": "another-nonce"})
    client.cookies.set("anlauf_oidc", forged, domain="testserver.local", path="/login/oidc")
    callback = await at_provider(authorize, "alice")
    with caplog.at_level(logging.WARNING, logger="market.accounts.oidc"):
        r = await client.get(callback)
    assert r.status_code == 400
    assert "nonce" in caplog.text
    assert "anlauf_session" not in client.cookies
    assert await identities(session) == []


async def test_replayed_callback_is_refused(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, oidc_issuer: str
) -> None:
    provider_account(oidc_issuer, "alice", email="alice@example.org", email_verified=True)
    await sign_in(client, oidc_issuer, "alice")
    await complete_signup(client)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=APP) as browser:
        authorize = await start(browser, oidc_issuer)
        old_cookie = browser.cookies.get("anlauf_oidc")
        callback = await at_provider(authorize, "alice")
        assert (await browser.get(callback)).status_code == 303  # logged in
        assert browser.cookies.get("anlauf_oidc") is None  # the handshake cookie is gone

    # Replayed later with the old cookie: the code was used, the provider refuses it.
    async with httpx.AsyncClient(transport=transport, base_url=APP) as attacker:
        attacker.cookies.set(
            "anlauf_oidc", old_cookie, domain="testserver.local", path="/login/oidc"
        )
        r = await attacker.get(callback)
        assert r.status_code == 400
        assert "anlauf_session" not in attacker.cookies
    # The same code under another login's state: the state does not match.
    async with httpx.AsyncClient(transport=transport, base_url=APP) as attacker:
        await start(attacker, oidc_issuer)
        r = await attacker.get(callback)
        assert r.status_code == 400
        assert "anlauf_session" not in attacker.cookies


async def test_existing_account_is_linked_only_after_the_mailed_link(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    oidc_issuer: str,
    mailbox: SmtpServer,
) -> None:
    owner = await make_user(app, client, "seeker")
    # The provider even says the address is verified: still no link without proof.
    provider_account(oidc_issuer, "dora", email=owner.email, email_verified=True, name="Dora")
    r = await sign_in(client, oidc_issuer, "dora")
    assert r.status_code == 303
    assert r.headers["location"] == "/login/oidc/link/sent"
    assert "anlauf_session" not in client.cookies
    sent = await client.get("/login/oidc/link/sent")
    assert sent.status_code == 200
    (identity,) = await identities(session)
    assert identity.user_id == owner.id and oidc.is_pending(identity)

    # Signing in again neither logs in nor links; it sends a fresh link.
    r = await sign_in(client, oidc_issuer, "dora")
    assert r.headers["location"] == "/login/oidc/link/sent"
    assert "anlauf_session" not in client.cookies
    first, second = await mailbox.wait_for(owner.email, count=2)
    assert LABEL in second.text
    old_token, token = token_from(first.text), token_from(second.text)
    assert f"{APP}/login/oidc/link?token=" in second.text

    # The earlier link died with the second one.
    r = await client.get("/login/oidc/link", params={"token": old_token})
    assert r.status_code == 400
    # The link in another browser (say, the owner's, while an attacker signed in) does nothing.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=APP) as other:
        r = await other.get("/login/oidc/link", params={"token": token})
        assert r.status_code == 400
        assert "anlauf_session" not in other.cookies
    (identity,) = await identities(session)
    assert oidc.is_pending(identity)

    # In the browser that signed in at the provider, the link links and logs in.
    r = await client.get("/login/oidc/link", params={"token": token})
    assert r.status_code == 303, r.text
    assert client.cookies.get("anlauf_session")
    assert (await client.get("/account")).status_code == 200
    (identity,) = await identities(session)
    assert identity.user_id == owner.id and identity.note is None
    # Single use.
    r = await client.get("/login/oidc/link", params={"token": token})
    assert r.status_code == 400

    # From now on the provider logs in straight away.
    async with httpx.AsyncClient(transport=transport, base_url=APP) as later:
        r = await sign_in(later, oidc_issuer, "dora")
        # Without a next, the person's own page (issue 14), not the public home.
        assert r.status_code == 303 and r.headers["location"] == "/my/matches"
        assert later.cookies.get("anlauf_session")


async def test_existing_account_is_linked_after_a_password_login(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, oidc_issuer: str
) -> None:
    owner = await make_user(app, client, "volunteer")
    provider_account(oidc_issuer, "erik", email=owner.email, email_verified=False)
    await sign_in(client, oidc_issuer, "erik")

    r = await client.get("/login/oidc/link/confirm")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")
    login_page = await client.get(r.headers["location"])
    r = await client.post(
        "/login",
        data={
            "csrf_token": csrf_of(login_page),
            "email": owner.email,
            "password": PASSWORD,
            "next": "/login/oidc/link/confirm",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/login/oidc/link/confirm"
    confirm = await client.get("/login/oidc/link/confirm")
    assert confirm.status_code == 200
    assert (await identities(session))[0].note is not None  # not before the button
    r = await client.post("/login/oidc/link/confirm", data={"csrf_token": csrf_of(confirm)})
    assert r.status_code == 303
    (identity,) = await identities(session)
    assert identity.user_id == owner.id and identity.note is None


async def test_disabled_account_cannot_log_in(
    app: Any, client: httpx.AsyncClient, session: AsyncSession, oidc_issuer: str
) -> None:
    provider_account(oidc_issuer, "alice", email="alice@example.org", email_verified=True)
    await sign_in(client, oidc_issuer, "alice")
    await complete_signup(client)
    user = await user_by_email(session, "alice@example.org")
    assert user is not None
    user.is_active = False
    await session.commit()

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=APP) as browser:
        r = await sign_in(browser, oidc_issuer, "alice")
        assert r.status_code == 403
        assert "anlauf_session" not in browser.cookies


async def test_unknown_provider_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/login/oidc/nobody")).status_code == 404
    assert (await client.get("/login/oidc/nobody/callback?code=x&state=y")).status_code == 404


def test_provider_settings_are_checked_at_startup() -> None:
    good = {
        "name": "kc",
        "label": "Stadt",
        "issuer": "https://id.example/realms/a",
        "client_id": "c",
    }
    assert Settings(oidc_providers=json.dumps([good])).oidc_provider_list[0].scopes == (
        "openid email profile"
    )
    cases = {
        "{": "not valid JSON",
        json.dumps(good): "JSON list",
        json.dumps([{**good, "client_id": ""}]): "client_id",
        json.dumps([good, good]): "taken",
        json.dumps([{**good, "name": "signup"}]): "taken",
        json.dumps([{**good, "scopes": "email"}]): "openid",
        json.dumps([{**good, "secret": "typo"}]): "secret",
    }
    for raw, words in cases.items():
        with pytest.raises(ValueError, match=words):
            Settings(oidc_providers=raw)
    with pytest.raises(ValueError, match="https"):
        Settings(
            env="production",
            secret_key="k",
            oidc_providers=json.dumps([{**good, "issuer": "http://id.example"}]),
        )


def test_email_and_its_verification_come_from_one_source() -> None:
    issuer = "https://id.example"
    # Only the userinfo has the email: both from there.
    person = oidc._person(
        issuer,
        {"sub": "s1"},
        {"sub": "s1", "email": "A@Example.org", "email_verified": True, "name": "A"},
    )
    assert (person.email, person.email_verified, person.name) == ("a@example.org", True, "A")
    # The ID token's email without email_verified is not made verified by the userinfo's flag.
    person = oidc._person(
        issuer,
        {"sub": "s1", "email": "a@example.org"},
        {"sub": "s1", "email": "b@example.org", "email_verified": True},
    )
    assert (person.email, person.email_verified) == ("a@example.org", False)
    assert oidc._person(issuer, {"sub": "s1", "email": "nonsense"}, {}).email is None
    assert oidc._person(issuer, {"sub": "s1", "locale": "de-AT"}, {}).locale == "de"
