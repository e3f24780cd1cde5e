"""A service's description in the reader's language, where ANLAUF_TRANSLATE_URL is set (the
"Reach everyone" translation, market.translation); the original stays one click away, and a
server that is down never fails the page or the API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from market.settings import Settings
from market.translation import service
from tests.factories import make_user
from tests.market.directory.test_directory_api import _published, _regions
from tests.pages import browser
from tests.translate_server import TranslateServer


@pytest.fixture
def translate_server() -> Iterator[TranslateServer]:
    server = TranslateServer().start()
    yield server
    if server.mode != "stopped":
        server.stop()


@pytest.fixture
def settings(settings: Settings, translate_server: TranslateServer) -> Settings:
    return settings.model_copy(update={"translate_url": translate_server.url})


@pytest.fixture(autouse=True)
async def fresh_state() -> AsyncIterator[None]:
    service.reset()
    yield
    await service.settled()
    service.reset()


async def test_description_translated_for_the_reader(
    client: httpx.AsyncClient, app: Any, translate_server: TranslateServer
) -> None:
    await _regions(app)
    org = await make_user(app, client, "organisation")
    coord = await make_user(app, client, "coordinator")
    entry = await _published(client, org, coord)
    url = f"/api/v1/services/{entry['id']}"

    r = await client.get(url, headers={"Accept-Language": "ar"})
    assert r.json()["translation"] == {"lang": "ar", "description": f"[ar] {entry['description']}"}
    listed = await client.get("/api/v1/services", headers={"Accept-Language": "uk"})
    assert listed.json()["items"][0]["translation"]["description"].startswith("[uk] ")

    async with browser(app) as anonymous:
        page = await anonymous.get(f"/services/{entry['id']}?lang=fa")
    assert f"[fa] {entry['description']}" in page.text
    assert 'class="original"' in page.text and entry["description"] in page.text

    translate_server.stop()
    service.reset()
    r = await client.get(url, headers={"Accept-Language": "en"})
    assert r.status_code == 200 and r.json()["translation"] is None
