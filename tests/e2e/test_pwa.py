"""The installable app in Chromium (issue 14): the manifest is parsed and the service worker
takes control; offline, the person's own matches page still shows from the last visit while a
page never seen shows the offline page; after logout the kept pages are gone."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from market.i18n import gettext, use_locale
from tests.e2e.conftest import PHONE
from tests.factories import PASSWORD, make_user


def t(locale: str, message: str) -> str:
    with use_locale(locale):
        return gettext(message)


async def test_app_installs_and_keeps_own_matches_offline(
    browser: Any, app: Any, client: Any, live_server: str, shots: Any
) -> None:
    user = await make_user(app, client, "seeker", locale="de")
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
        heading = await page.locator("h1").inner_text()

        await ctx.set_offline(True)
        await page.goto("/my/matches")
        await expect(page.locator("h1")).to_have_text(heading)
        await shots.take(page, "offline-matches")
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
                        if (new URL(r.url).pathname === '/my/matches') n++;
                    }
                }
                return n;
            }"""
        )
        assert kept == 0
    finally:
        await ctx.close()
