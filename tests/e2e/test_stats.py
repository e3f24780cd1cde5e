"""In Chromium: the statistics page and the maps for a coordinator, German and Arabic, desktop
and phone: axe-core finds no violation, the charts are there, and printing leaves out the
navigation and the form."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import expect

from tests.e2e.a11y import violations
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_csp import Console, log_in
from tests.e2e.test_map import TileServer, settings, tile_server  # noqa: F401 (fixtures)
from tests.factories import make_user


async def test_statistics_and_maps_pass_axe(
    browser: Any,
    live_server: str,
    make_post: Any,
    client: httpx.AsyncClient,
    app: Any,
    tile_server: TileServer,  # noqa: F811
    shots: Any,
) -> None:
    await make_post("Begleitung zum Jobcenter")
    await make_post("Hilfe bei der Wohnungssuche")
    coordinator = await make_user(app, client, "coordinator", locale="de")
    for locale, viewport in (("de", DESKTOP), ("ar", PHONE), ("ar", DESKTOP), ("de", PHONE)):
        ctx = await browser.new_context(base_url=live_server, viewport=viewport, locale=locale)
        page = await ctx.new_page()
        console = Console(page)
        await log_in(page, coordinator.email)
        size = "phone" if viewport is PHONE else "desktop"

        await page.goto(f"/review/stats?lang={locale}")
        await expect(page.locator("svg.chart")).to_have_count(5)
        assert await violations(page) == [], (locale, size, "stats")
        await shots.take(page, f"stats-{locale}-{size}")
        await page.emulate_media(media="print")
        await expect(page.locator("header.top")).to_be_hidden()
        await expect(page.locator("form.stats-form")).to_be_hidden()
        await expect(page.locator("svg.chart").first).to_be_visible()
        await page.emulate_media(media="screen")

        await page.goto(f"/review/map?lang={locale}")
        await expect(page.locator(".map-section path.map-post")).to_have_count(2)
        assert await violations(page) == [], (locale, size, "waiting map")

        await page.goto(f"/posts?lang={locale}")
        await expect(page.locator(".map-section path.map-post")).to_have_count(2)
        assert await violations(page) == [], (locale, size, "search map")
        assert not console.violations(), console.violations()
        await ctx.close()
