"""The installable app (issue 14): the manifest, the root-scoped service worker, the offline
page, caches cleared on logout, and the calm header (menu, "you are here", Messages opening the
conversations, the landing page after login)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.factories import make_user
from tests.pages import browser, login, logout


async def test_manifest_names_the_app_and_its_icons(client: httpx.AsyncClient) -> None:
    r = await client.get("/manifest.webmanifest", headers={"Accept-Language": "ar"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/manifest+json")
    body = r.json()
    assert body["start_url"] == "/" and body["display"] == "standalone"
    assert body["theme_color"].startswith("#")
    sizes = {icon["sizes"]: icon["src"] for icon in body["icons"]}
    assert set(sizes) == {"192x192", "512x512"}
    for src in sizes.values():
        icon = await client.get(src)
        assert icon.status_code == 200 and icon.content.startswith(b"\x89PNG")
    page = (await client.get("/")).text
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page


async def test_service_worker_is_served_from_the_root_with_its_shell(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/sw.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["service-worker-allowed"] == "/"
    assert "__SHELL__" not in r.text
    shell = re.search(r"var SHELL = (\[.*?\]);", r.text)
    assert shell is not None and '"/offline"' in shell.group(1)
    for path in re.findall(r'"(/static/[^"]+)"', shell.group(1)):
        assert (await client.get(path)).status_code == 200, path
    offline = await client.get("/offline")
    assert offline.status_code == 200 and "offline" in offline.text.lower()


async def test_logout_clears_the_kept_pages(app: Any, client: httpx.AsyncClient) -> None:
    user = await make_user(app, client, "seeker")
    async with browser(app, user) as c:
        r = await logout(c)
        assert r.status_code == 303
        assert '"cache"' in r.headers["clear-site-data"]
        assert '"storage"' in r.headers["clear-site-data"]


async def test_offline_page_shows_no_one_signed_in(app: Any, client: httpx.AsyncClient) -> None:
    # The worker keeps this page for whoever uses the browser later.
    user = await make_user(app, client, "seeker")
    async with browser(app, user) as c:
        page = (await c.get("/offline")).text
        assert 'action="/logout"' not in page and 'href="/login"' in page


async def test_login_lands_on_the_own_dashboard_and_keeps_next(
    app: Any, client: httpx.AsyncClient
) -> None:
    seeker = await make_user(app, client, "seeker")
    async with browser(app) as c:
        r = await login(c, seeker.email)
        assert r.status_code == 303 and r.headers["location"] == "/my/matches"
    async with browser(app) as c:
        r = await login(c, seeker.email, next_url="/posts/new")
        assert r.status_code == 303 and r.headers["location"] == "/posts/new"


async def test_header_menu_marks_the_current_section(app: Any, client: httpx.AsyncClient) -> None:
    user = await make_user(app, client, "seeker")
    async with browser(app, user) as c:
        page = (await c.get("/my/posts")).text
        assert '<details class="menu">' in page
        # Messages opens the conversations; notifications keep their own bell.
        assert re.search(
            r'<a href="/conversations"[^>]*>(<span [^>]*aria-hidden[^>]*></span>)?[^<]+</a>', page
        )
        assert 'class="bell" href="/notifications"' in page
        current = re.findall(r'<a href="([^"]+)" aria-current="page"', page)
        assert current and set(current) == {"/my/posts"}
        # /posts/new is its own section, not "Browse".
        page = (await c.get("/posts/new")).text
        assert set(re.findall(r'<a href="([^"]+)" aria-current="page"', page)) == {"/posts/new"}


async def test_robots_txt_keeps_crawlers_to_the_public_pages(client: httpx.AsyncClient) -> None:
    r = await client.get("/robots.txt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    lines = r.text.splitlines()
    assert lines[0] == "User-agent: *" and lines[-1] == "Allow: /"
    for private in ("/my/", "/account", "/matches/", "/conversations", "/review", "/api/"):
        assert f"Disallow: {private}" in lines
    for public in ("/posts", "/posts/new", "/services", "/register", "/login"):
        assert f"Disallow: {public}" not in lines
