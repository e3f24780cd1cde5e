"""The map's credit line follows the tile server: ANLAUF_MAP_ATTRIBUTION, OpenStreetMap's by
default, goes to the search page's map (escaped in the attribute, Leaflet shows it)."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from tests.pages import running_app

OSM = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'


def _attribution(page: str) -> str:
    found = re.search(r'data-attribution="([^"]*)"', page)
    assert found, "the search page has no map"
    return html.unescape(found.group(1))


async def _search_page(app: Any) -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.get("/posts")
    assert r.status_code == 200
    return r.text


async def test_default_attribution_is_openstreetmaps(app: Any) -> None:
    assert _attribution(await _search_page(app)) == OSM


async def test_attribution_follows_the_setting(app: Any) -> None:
    credit = '&copy; <a href="https://tiles.example.org/">Stadtkarte</a> "Mitte"'
    settings = app.state.settings.model_copy(
        update={
            "map_tiles_url": "https://tiles.example.org/{z}/{x}/{y}.png",
            "map_attribution": credit,
        }
    )
    async with running_app(settings) as other:
        page = await _search_page(other)
    assert _attribution(page) == credit
    assert 'data-tiles="https://tiles.example.org/{z}/{x}/{y}.png"' in page
