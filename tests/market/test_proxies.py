"""X-Forwarded-For is believed only from ANLAUF_TRUSTED_PROXIES (API.md Release 2, Accounts and
personal data), so a client cannot dodge the per-IP rate limit by making up addresses; `anlauf
serve` keeps uvicorn from believing the header on its own; ANLAUF_OIDC_PROVIDERS takes scopes
as a list too."""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from market import cli
from market.settings import Settings
from market.web import client_ip
from tests.pages import running_app


def request_from(peer: str, settings: Settings, *forwarded: str) -> Request:
    class App:
        class state:  # stands in for app.state
            pass

    App.state.settings = settings  # type: ignore[attr-defined]
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/auth/token",
        "headers": headers,
        "client": (peer, 50000),
        "app": App,
    }
    return Request(scope)


def trusting(proxies: str) -> Settings:
    return Settings(env="test", trusted_proxies=proxies)


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    settings = trusting("")
    assert client_ip(request_from("127.0.0.1", settings, "203.0.113.9")) == "127.0.0.1"
    assert client_ip(request_from("10.0.0.2", settings, "203.0.113.9")) == "10.0.0.2"


def test_from_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client() -> None:
    settings = trusting("10.0.0.0/8, 127.0.0.1")
    # The client wrote "1.2.3.4" itself; the proxies appended what they saw.
    req = request_from("10.0.0.2", settings, "1.2.3.4, 198.51.100.7, 10.0.0.9")
    assert client_ip(req) == "198.51.100.7"
    # Several header lines are one list.
    req = request_from("127.0.0.1", settings, "1.2.3.4", "198.51.100.7")
    assert client_ip(req) == "198.51.100.7"
    # Only proxies in the chain: the leftmost of them.
    assert client_ip(request_from("10.0.0.2", settings, "10.0.0.3, 10.0.0.9")) == "10.0.0.3"
    # No header: the proxy itself.
    assert client_ip(request_from("10.0.0.2", settings)) == "10.0.0.2"
    # Garbage where the client should be: the last trusted hop is all that is known.
    assert client_ip(request_from("10.0.0.2", settings, "1.2.3.4, <script>")) == "10.0.0.2"
    # An untrusted peer's header is not read at all, whatever it says.
    assert client_ip(request_from("192.0.2.1", settings, "10.0.0.5")) == "192.0.2.1"


def test_a_wrong_trusted_proxies_setting_stops_startup() -> None:
    with pytest.raises(ValueError, match="ANLAUF_TRUSTED_PROXIES"):
        trusting("10.0.0.0/8, proxy.example.org")


async def login_tries(app: Any, n: int, forwarded: Any) -> list[int]:
    """n failed logins, each for another account, each with another X-Forwarded-For."""
    statuses = []
    transport = httpx.ASGITransport(app=app)  # the peer is 127.0.0.1
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        for i in range(n):
            r = await c.post(
                "/api/v1/auth/token",
                json={"email": f"guess{i}@example.org", "password": "wrong password!!"},
                headers={"X-Forwarded-For": forwarded(i)},
            )
            statuses.append(r.status_code)
    return statuses


def rotating(i: int) -> str:
    return f"198.51.{i // 250}.{i % 250 + 1}"


async def test_rotating_the_header_does_not_bypass_the_login_limit(
    app: Any, settings: Settings
) -> None:
    # The loopback peer is not a trusted proxy (the default): every try counts for 127.0.0.1.
    limited = settings.model_copy(update={"rate_limit_enabled": True})
    async with running_app(limited) as application:
        await application.state.limiter.reset()
        statuses = await login_tries(application, 35, rotating)
    assert statuses[:30] == [401] * 30
    assert statuses[30:] == [429] * 5


async def test_behind_a_trusted_proxy_each_client_has_its_own_limit(
    app: Any, settings: Settings
) -> None:
    limited = settings.model_copy(
        update={"rate_limit_enabled": True, "trusted_proxies": "127.0.0.1"}
    )
    async with running_app(limited) as application:
        await application.state.limiter.reset()
        # 35 different clients behind the proxy: none reaches the per-IP limit.
        assert set(await login_tries(application, 35, rotating)) == {401}
        # One client behind it, whatever it prepends itself, is one address.
        statuses = await login_tries(application, 35, lambda i: f"{rotating(i)}, 203.0.113.50")
        assert 429 in statuses


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [
        ("", {"proxy_headers": False, "forwarded_allow_ips": None}),
        (
            "10.0.0.0/8,127.0.0.1",
            {"proxy_headers": True, "forwarded_allow_ips": "10.0.0.0/8,127.0.0.1/32"},
        ),
    ],
)
def test_serve_lets_uvicorn_believe_only_the_trusted_proxies(
    monkeypatch: pytest.MonkeyPatch, database_url: str, trusted: str, expected: dict[str, Any]
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    settings = Settings(env="test", database_url=database_url, trusted_proxies=trusted)
    args = argparse.Namespace(host="127.0.0.1", port=8000, demo=False)
    assert cli.cmd_serve(args, settings) == 0
    assert {k: seen[k] for k in expected} == expected


def test_oidc_scopes_may_be_a_json_list() -> None:
    provider = {
        "name": "keycloak",
        "label": "Stadt Leipzig",
        "issuer": "https://login.example.org/realms/city",
        "client_id": "anlauf",
    }
    settings = Settings(
        env="test", oidc_providers=json.dumps([{**provider, "scopes": ["openid", "email"]}])
    )
    assert settings.oidc_provider_list[0].scopes == "openid email"
    # The rules for the string form hold for the list too.
    with pytest.raises(ValueError, match="scopes must include openid"):
        Settings(env="test", oidc_providers=json.dumps([{**provider, "scopes": ["email"]}]))
    with pytest.raises(ValueError, match="scopes"):
        Settings(env="test", oidc_providers=json.dumps([{**provider, "scopes": [1, 2]}]))
