"""The installable app in Chromium (issue 14): the manifest is parsed and the service worker
takes control; offline, a person with a match still reads their matches list, the match itself
and its conversation (opened only through the list: the worker keeps what the list links to),
while a page never seen shows the offline page; after logout the kept pages are gone."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from playwright.async_api import expect

from market.i18n import gettext, use_locale
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE
from tests.factories import PASSWORD
from tests.market.conversations.helpers import connected_match, write


def t(locale: str, message: str) -> str:
    with use_locale(locale):
        return gettext(message)


async def wait_kept(page: Any, paths: list[str]) -> None:
    """Waits until the worker's page cache holds every path (the Cache API is async only)."""
    for _ in range(100):
        held = await page.evaluate(
            """async () => {
                const cache = await caches.open('anlauf-pages');
                return (await cache.keys()).map((r) => new URL(r.url).pathname);
            }"""
        )
        if all(p in held for p in paths):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not kept: {sorted(set(paths) - set(held))}")


async def test_chromium_would_install_the_app(
    browser: Any, live_server: str, tmp_path: Any
) -> None:
    """Chromium's own verdict (DevTools' installability check), in a profile on disk: a test's
    usual browser context is incognito, where Chromium never offers to install."""
    ctx = await browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        base_url=live_server,
        viewport=PHONE,
        is_mobile=True,
    )
    try:
        page = await ctx.new_page()
        await page.goto("/?lang=ar")
        cdp = await ctx.new_cdp_session(page)
        verdict = await cdp.send("Page.getInstallabilityErrors")
        assert verdict["installabilityErrors"] == [], verdict
    finally:
        await ctx.close()


async def test_app_installs_and_keeps_own_matches_offline(
    browser: Any, app: Any, client: Any, live_server: str, shots: Any
) -> None:
    volunteer, user, match_id, conversation_id = await connected_match(client, app)
    r = await write(client, volunteer, conversation_id, "Dienstag um 10 Uhr am Jobcenter?")
    assert r.status_code == 201, r.text
    ctx = await browser.new_context(base_url=live_server, viewport=PHONE, is_mobile=True)
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    try:
        await page.goto("/login?lang=de")
        await page.locator("#main input[name=email]").fill(user.email)
        await page.locator("#main input[name=password]").fill(PASSWORD)
        await page.locator("#main button[type=submit]").first.click()
        await expect(page).to_have_url(re.compile(r"/my/matches$"))

        # Install criteria: a manifest the browser parses, a worker that controls the page.
        manifest = await page.evaluate(
            """async () => {
                const link = document.querySelector('link[rel=manifest]');
                const r = await fetch(link.href);
                return await r.json();
            }"""
        )
        assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
        await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        await page.reload()  # the first page load is not yet controlled
        assert await page.evaluate("!!navigator.serviceWorker.controller")
        cdp = await ctx.new_cdp_session(page)
        manifest_seen = await cdp.send("Page.getAppManifest")
        assert manifest_seen.get("errors", []) == [], manifest_seen["errors"]
        heading = await page.locator("h1").inner_text()
        await expect(page.locator(f"a[href='/matches/{match_id}']").first).to_be_visible()
        # The list's match and conversation are kept without being opened (a few requests).
        await wait_kept(page, [f"/matches/{match_id}"])
        await page.goto("/conversations")
        await wait_kept(page, ["/conversations", f"/matches/{match_id}"])

        await ctx.set_offline(True)
        await page.goto("/my/matches")
        await expect(page.locator("h1")).to_have_text(heading)
        await shots.take(page, "offline-matches")
        # The match, never opened on this phone, reads as it did online: its post and the
        # other person's message.
        await page.goto(f"/matches/{match_id}")
        await expect(page.locator("main")).to_contain_text("Ich begleite Sie zum Amt")
        await expect(page.locator("main")).to_contain_text("Dienstag um 10 Uhr am Jobcenter?")
        await expect(page.locator("h1")).not_to_have_text(t("de", "You are offline"))
        await shots.take(page, "offline-match")
        # The conversations list, and from it the conversation (on its match page).
        await page.goto("/conversations")
        await page.locator(f"main a[href^='/matches/{match_id}']").first.click()
        await expect(page).to_have_url(re.compile(f"/matches/{match_id}#messages$"))
        await expect(page.locator("main")).to_contain_text("Dienstag um 10 Uhr am Jobcenter?")
        await page.goto("/posts?q=never-seen")
        await expect(page.locator("h1")).to_have_text(t("de", "You are offline"))
        await shots.take(page, "offline-page")

        # Back online, log out: the worker forgets the person's pages.
        await ctx.set_offline(False)
        await page.goto("/my/matches")
        await page.locator("details.menu summary").click()
        await page.locator("details.menu form[action='/logout'] button").click()
        await expect(page).to_have_url(re.compile(r"/$"))
        kept = await page.evaluate(
            """async () => {
                const names = await caches.keys();
                let n = 0;
                for (const name of names) {
                    const c = await caches.open(name);
                    for (const r of await c.keys()) {
                        const path = new URL(r.url).pathname;
                        if (path === '/my/matches' || path.startsWith('/matches/')) n++;
                    }
                }
                return n;
            }"""
        )
        assert kept == 0
    finally:
        await ctx.close()
