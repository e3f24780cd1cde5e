"""In Chromium: the search page's map shows published services as a layer of their own (a
green marker whose popup links to the service's page), beside the posts, without breaking
the Content-Security-Policy; German and Arabic, desktop and phone."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from market.db import make_sessionmaker
from market.directory.models import Entry
from tests.e2e.conftest import PHONE
from tests.e2e.test_csp import Console
from tests.e2e.test_map import TileServer, settings, tile_server  # noqa: F401 (fixtures)


async def test_services_layer_on_the_search_map(
    app: Any,
    context: Any,
    browser: Any,
    live_server: str,
    make_post: Any,
    tile_server: TileServer,  # noqa: F811
    shots: Any,
) -> None:
    await make_post("Begleitung zum Jobcenter")
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        entry = Entry(
            kind="service",
            status="published",
            name="Tafel Leipzig-Mitte",
            address="Markt 1, Leipzig",
            lat=51.3397,
            lon=12.3731,
        )
        s.add(entry)
        await s.flush()
        entry_id = entry.id
    page = await context.new_page()
    console = Console(page)
    await page.goto("/posts")
    await expect(page.locator(".map-section path.map-post")).to_have_count(1)
    await expect(page.locator(".map-section path.map-service")).to_have_count(1)
    await expect(page.locator(".leaflet-control-layers")).to_have_count(1)
    await page.locator(".map-section path.map-service").click(force=True)
    link = page.locator(".leaflet-popup-content a")
    await expect(link).to_have_text("Tafel Leipzig-Mitte")
    assert await link.get_attribute("href") == f"/services/{entry_id}"
    assert not console.violations(), console.violations()
    await shots.take(page, "services-map-desktop-en")

    for locale in ("de", "ar"):
        for name, viewport in (("desktop", {"width": 1280, "height": 900}), ("phone", PHONE)):
            ctx = await browser.new_context(base_url=live_server, viewport=viewport, locale=locale)
            p = await ctx.new_page()
            await p.goto(f"/posts?lang={locale}")
            await expect(p.locator(".map-section path.map-service")).to_have_count(1)
            await p.locator(".map-section path.map-service").click(force=True)
            await expect(p.locator(".leaflet-popup-content a")).to_have_count(1)
            await shots.take(p, f"services-map-{name}-{locale}")
            await ctx.close()
