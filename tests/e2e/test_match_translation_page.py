"""A match page read in Arabic when both posts are German (issue 14): the partner's post shows its
machine translation with the label, the original opens with one click (no script needed), and
axe finds nothing; at 360 and 1280 px, Arabic and German (German: the originals). Screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from market.settings import Settings
from market.translation import service
from tests.e2e.a11y import violations
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_phone_layout import log_in
from tests.market.conversations.helpers import connected_match
from tests.market.translation.test_machine_translation import lang_of, wait_for
from tests.translate_server import TranslateServer

OFFER = "Ich begleite Sie zum Amt"


@pytest.fixture
def translate_server() -> Iterator[TranslateServer]:
    server = TranslateServer().start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings: Settings, translate_server: TranslateServer) -> Settings:
    return settings.model_copy(update={"translate_url": translate_server.url})


@pytest.mark.parametrize("locale", ["ar", "de"])
async def test_a_match_page_in_the_readers_language(
    browser: Any, live_server: str, app: Any, client: Any, shots: Any, locale: str
) -> None:
    service.reset()
    _volunteer, seeker, match_id, _conversation = await connected_match(
        client, app, seeker_locale=locale
    )
    r = await client.get(f"/api/v1/matches/{match_id}", headers=seeker.headers)
    offer_id = r.json()["offer"]["id"]
    assert await wait_for(lambda: lang_of(app, offer_id)) == "de"
    try:
        for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            context = await browser.new_context(base_url=live_server, viewport=viewport)
            context.set_default_timeout(10_000)
            try:
                page = await context.new_page()
                await log_in(page, locale, seeker.email)
                await page.wait_for_url("**/my/**")
                response = await page.goto(f"/matches/{match_id}?lang={locale}")
                assert response.status == 200
                heading = (await page.locator("h1").inner_text()).strip()
                if locale == "ar":
                    assert heading == f"[ar] {OFFER}"
                    assert await page.locator("p.translated").count() == 1
                    original = page.locator("details.original")
                    assert not await original.locator("strong").is_visible()
                    await original.locator("summary").click()
                    assert await original.locator("strong").inner_text() == OFFER
                else:
                    assert heading == OFFER
                    assert await page.locator("p.translated").count() == 0
                await shots.take(page, f"{name}-{locale}")
                assert await violations(page) == []
            finally:
                await context.close()
    finally:
        await service.settled()
        service.reset()
