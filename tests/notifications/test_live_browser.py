"""In Chromium: the header badge and the notification list update without a reload.

market/static/notifications.js listens to /notifications/stream; the page itself works without
it (see test_inbox_pages.py). Skipped when Debian's Chromium is not installed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import PASSWORD
from tests.market.conversations.helpers import connected_match, write
from tests.notifications.test_live import serve

CHROMIUM = os.environ.get("ANLAUF_CHROMIUM", "/usr/bin/chromium")

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]


async def test_badge_and_list_update_live(client: httpx.AsyncClient, app: Any) -> None:
    from playwright.async_api import async_playwright, expect

    vol, seeker, _match_id, cid = await connected_match(client, app, seeker_locale="en")
    async with serve(app) as base, async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = await browser.new_context(base_url=base)
            context.set_default_timeout(15_000)
            page = await context.new_page()
            await page.goto("/login?lang=en")
            await page.fill("input[name=email]", seeker.email)
            await page.fill("input[name=password]", PASSWORD)
            await page.locator("main form button[type=submit]").first.click()
            await page.wait_for_load_state()
            await page.goto("/notifications")
            badge = page.locator('header a[href="/notifications"] .badge')
            await expect(badge).to_have_text("2")

            # Wait until the stream is open, then a message arrives: no reload needed.
            await page.wait_for_function(
                "() => document.documentElement.getAttribute('data-live') === 'on'"
            )
            assert (await write(client, vol, cid, "Hallo, wie geht's?")).status_code == 201
            await expect(badge).to_have_text("3")
            # The count in words is a hidden span beside the badge (a span may not be labelled).
            label = page.locator('header a[href="/notifications"] .badge-label')
            await expect(label).to_have_text("3 unread")
            await expect(badge).to_have_attribute("aria-hidden", "true")
            first = page.locator("#notification-list li").first
            await expect(first).to_contain_text("New message from Vera Volunteer")
            await expect(page.locator("#live-news")).to_be_visible()

            # Marked read elsewhere: the badge goes away here.
            r = await client.post("/api/v1/notifications/read-all", headers=seeker.headers)
            assert r.status_code == 200
            await expect(badge).to_have_count(0)
            await context.close()
        finally:
            await browser.close()
