"""Security headers (API.md Release 2, Pages): every HTML response carries a CSP without inline
script and with frame-ancestors 'none' (only the organisation widget may be framed), nosniff and
a Referrer-Policy; production adds HSTS; pages and API answers for a signed-in caller are not
cached. The templates hold no inline script, event handler or style attribute for the CSP to
block."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from market.settings import Settings
from tests.factories import make_user
from tests.pages import browser, running_app

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def directives(csp: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in csp.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def assert_page_headers(r: httpx.Response, *, framable: bool = False) -> None:
    h = r.headers
    assert h["x-content-type-options"] == "nosniff", r.url
    assert h["referrer-policy"] in ("strict-origin-when-cross-origin", "no-referrer"), r.url
    assert "camera=()" in h["permissions-policy"], r.url
    csp = directives(h["content-security-policy"])
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts is not None and "'unsafe-inline'" not in scripts, csp
    assert "'unsafe-eval'" not in scripts, csp
    if framable:
        assert csp["frame-ancestors"] == ["*"], csp
        assert "x-frame-options" not in h
    else:
        assert csp["frame-ancestors"] == ["'none'"], (r.url, csp)
        assert h["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in h  # not in development or test


PUBLIC_PAGES = ["/", "/login", "/register", "/posts", "/forgot-password", "/no-such-page"]


async def test_public_pages_carry_the_headers(client: httpx.AsyncClient) -> None:
    for path in PUBLIC_PAGES:
        r = await client.get(path)
        assert r.headers["content-type"].startswith("text/html"), path
        assert_page_headers(r)
        # Nothing personal on them: they may be cached.
        assert "no-store" not in r.headers.get("cache-control", ""), path


async def test_a_form_error_page_carries_the_headers(app: Any) -> None:
    async with browser(app) as c:
        r = await c.post("/login", data={"email": "x"})  # no CSRF token: 403 page
        assert r.status_code == 403
        assert_page_headers(r)


async def test_signed_in_pages_are_not_stored(client: httpx.AsyncClient, app: Any) -> None:
    user = await make_user(app, client, "volunteer", approved=True)
    async with browser(app, user) as c:
        for path in ("/", "/account", "/my/posts", "/my/matches", "/notifications", "/posts"):
            r = await c.get(path)
            assert r.status_code == 200, path
            assert_page_headers(r)
            assert r.headers["cache-control"] == "no-store", path
        # Static files stay cacheable, signed in or not.
        r = await c.get("/static/anlauf.css")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "no-store" not in r.headers.get("cache-control", "")


async def test_api_answers_with_personal_data_are_not_stored(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await make_user(app, client, "seeker")
    for path in ("/api/v1/me", "/api/v1/me/export", "/api/v1/notifications"):
        r = await client.get(path, headers=user.headers)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["cache-control"] == "no-store", path
        assert r.headers["x-content-type-options"] == "nosniff"
    anonymous = await client.get("/api/v1/posts")
    assert anonymous.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in anonymous.headers.get("cache-control", "")


async def test_only_the_widget_may_be_framed(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    r = await client.get(f"/organisations/{owner.organisation_id}/widget")
    assert r.status_code == 200
    assert_page_headers(r, framable=True)
    page = await client.get(f"/organisations/{owner.organisation_id}")
    assert page.status_code == 200
    assert_page_headers(page)


@pytest.mark.parametrize("env", ["development", "production"])
async def test_hsts_only_in_production(app: Any, settings: Settings, env: str) -> None:
    async with running_app(settings.model_copy(update={"env": env})) as application:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            for path in ("/", "/api/v1/posts", "/static/anlauf.css"):
                r = await c.get(path)
                hsts = r.headers.get("strict-transport-security")
                if env == "production":
                    assert hsts is not None and "max-age=63072000" in hsts, path
                else:
                    assert hsts is None, path


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=[^>]*>", re.I)
STYLE_ATTR = re.compile(r"<[a-z][^>]*\sstyle\s*=[^>]*>", re.I)
JS_URL = re.compile(r"javascript:", re.I)


def test_templates_hold_no_inline_script_handler_or_style() -> None:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = path.relative_to(TEMPLATES).as_posix()
        if name.startswith("email/"):
            continue  # mail, not pages: mail clients need inline styles
        source = path.read_text(encoding="utf-8")
        for rule in (INLINE_SCRIPT, HANDLER, JS_URL) + (
            () if name == "organisations/widget.html" else (STYLE_ATTR,)
        ):
            found += [f"{name}: {m.group(0).strip()}" for m in rule.finditer(source)]
        if name != "organisations/widget.html":
            # The only inline styles: our stylesheets, allowed by their hashes (market/styles.py).
            styles = re.findall(r"<style.*?</style>", source, re.DOTALL)
            assert source.count("<style") == len(styles), name
            assert all(
                re.fullmatch(r'<style>\{\{ inline_css\(("[a-z]+\.css")?\) \}\}</style>', s)
                for s in styles
            ), (name, styles)
    assert found == []
