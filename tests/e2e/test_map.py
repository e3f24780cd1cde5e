"""In Chromium: the map on the search page and the coordinators' map of waiting needs load their
tiles from the tile server of ANLAUF_MAP_TILES_URL (here a small one on loopback), show a marker
per post, break no Content-Security-Policy rule, and stay out of the way without JavaScript."""

from __future__ import annotations

import asyncio
import http.server
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from market.settings import Settings
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_csp import Console, log_in
from tests.factories import make_user
from tests.smtp import free_port


def _png() -> bytes:
    """A 1x1 light grey PNG, made here: every tile is this one image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1x1, 8-bit greyscale
    pixels = zlib.compress(b"\x00\xdd")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PNG = _png()


@dataclass
class TileServer:
    url: str
    hits: list[str] = field(default_factory=list)


@pytest.fixture
def tile_server() -> Iterator[TileServer]:
    port = free_port()
    tiles = TileServer(f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            tiles.hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tiles
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(settings: Settings, tile_server: TileServer) -> Settings:
    return settings.model_copy(update={"map_tiles_url": tile_server.url})


async def test_search_page_map_loads_tiles_and_markers(
    context: Any,
    browser: Any,
    live_server: str,
    make_post: Any,
    tile_server: TileServer,
    shots: Any,
) -> None:
    first = await make_post("Begleitung zum Jobcenter")
    await make_post("Hilfe bei der Wohnungssuche")
    page = await context.new_page()
    console = Console(page)
    r = await page.goto("/posts")
    assert r is not None
    assert (
        "127.0.0.1:" + tile_server.url.split(":")[2].split("/")[0]
        in (r.headers["content-security-policy"])
    )
    section = page.locator(".map-section")
    await expect(section).to_be_visible()
    await expect(page.locator(".map-section path.map-post")).to_have_count(2)
    await expect(page.locator(".map-section img.leaflet-tile-loaded").first).to_be_visible()
    assert tile_server.hits, "no tile was asked of the tile server"
    await expect(page.locator(".leaflet-control-attribution")).to_contain_text("OpenStreetMap")
    # A marker opens a link to its post (its title as text).
    await page.locator(".map-section path.map-post").first.click(force=True)
    popup = page.locator(".leaflet-popup-content a")
    await expect(popup).to_have_count(1)
    assert (await popup.get_attribute("href") or "").startswith("/posts/")
    assert not console.violations(), console.violations()
    await shots.take(page, "search-map-desktop")

    # Moving the map asks for the posts in view, in a box widened to a grid: two small moves
    # ask for the very same address, so the page cache answers the second.
    asked: list[str] = []
    page.on("request", lambda req: asked.append(req.url) if "/api/v1/map?" in req.url else None)
    await page.keyboard.press("Escape")
    area = await section.locator(".leaflet-container").bounding_box()
    assert area is not None
    x, y = area["x"] + area["width"] / 2, area["y"] + area["height"] / 2
    for _ in range(2):
        before = len(asked)
        await page.mouse.move(x, y)
        await page.mouse.down()
        await page.mouse.move(x + 6, y + 4, steps=3)
        await page.mouse.up()
        for _ in range(100):
            if len(asked) > before:
                break
            await asyncio.sleep(0.05)
    boxes = [url.split("bbox=")[1] for url in asked]
    assert len(boxes) == 2 and boxes[0] == boxes[1], boxes
    west, south, east, north = (float(v) for v in boxes[0].split(","))
    assert west < east and south < north

    for locale in ("de", "ar"):
        phone = await browser.new_context(base_url=live_server, viewport=PHONE, locale=locale)
        p = await phone.new_page()
        await p.goto(f"/posts?lang={locale}")
        await expect(p.locator(".map-section path.map-post")).to_have_count(2)
        await shots.take(p, f"search-map-phone-{locale}")
        await phone.close()

    # Without JavaScript the list is the page; the map section stays hidden.
    plain = await browser.new_context(
        base_url=live_server, viewport=DESKTOP, java_script_enabled=False
    )
    p = await plain.new_page()
    await p.goto("/posts")
    await expect(p.locator(".map-section")).to_be_hidden()
    await expect(p.locator(f"a[href='/posts/{first}']").first).to_be_visible()
    await plain.close()


async def test_coordinators_see_waiting_needs_on_their_map(
    context: Any,
    browser: Any,
    live_server: str,
    make_post: Any,
    client: httpx.AsyncClient,
    app: Any,
    tile_server: TileServer,
    shots: Any,
) -> None:
    await make_post("Begleitung zum Jobcenter")
    coordinator = await make_user(app, client, "coordinator", locale="de")
    for locale, viewport in (("de", DESKTOP), ("ar", PHONE)):
        ctx = await browser.new_context(base_url=live_server, viewport=viewport, locale=locale)
        page = await ctx.new_page()
        console = Console(page)
        await log_in(page, coordinator.email)
        await page.goto(f"/review/map?lang={locale}")
        await expect(page.locator(".map-section path.map-post")).to_have_count(1)
        await expect(page.locator(".map-section img.leaflet-tile-loaded").first).to_be_visible()
        # The list holds the same need for readers without the map.
        await expect(page.locator("main .list .post")).to_have_count(1)
        assert not console.violations(), console.violations()
        await shots.take(page, f"waiting-map-{locale}")
        await ctx.close()
