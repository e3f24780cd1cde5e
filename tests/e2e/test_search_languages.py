"""The search page on a 360 px phone in Persian, Ukrainian, Russian and Turkish (issue 14; German
and Arabic are in test_search.py): the word for "doctor" in the page's language finds the doctor
posts, the topic links are above the results, the count is said, the first result starts in the
first screen, nothing scrolls sideways; axe finds nothing. Screenshots, phone and desktop."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.a11y import violations
from tests.e2e.conftest import DESKTOP, PHONE
from tests.factories import make_user, post_body

WORDS = {"fa": "پزشک", "uk": "лікар", "ru": "врач", "tr": "doktor"}


@pytest.mark.parametrize("locale", sorted(WORDS))
async def test_search_page_on_a_phone_in_more_languages(
    browser: Any, live_server: str, app: Any, client: Any, shots: Any, locale: str
) -> None:
    for title in ("Begleitung zur Hausärztin", "Wer kommt mit zum Kinderarzt?"):
        author = await make_user(app, client, "seeker")
        r = await client.post(
            "/api/v1/posts",
            headers=author.headers,
            json=post_body(category="accompaniment-doctor", title=title, body="Bitte."),
        )
        assert r.status_code == 201, r.text
    author = await make_user(app, client, "seeker")
    await client.post(
        "/api/v1/posts", headers=author.headers, json=post_body(category="goods", title="Sofa")
    )

    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        context = await browser.new_context(base_url=live_server, viewport=viewport)
        context.set_default_timeout(10_000)
        try:
            page = await context.new_page()
            response = await page.goto(f"/posts?q={WORDS[locale]}&lang={locale}")
            assert response.status == 200
            await shots.take(page, f"{name}-{locale}")
            assert await page.locator("html").get_attribute("lang") == locale
            assert await page.locator("html").get_attribute("dir") == (
                "rtl" if locale == "fa" else "ltr"
            )
            count = await page.locator(".result-count").inner_text()
            assert re.search(r"[2۲]", count), count
            results = page.locator("ul.list > li")
            assert await results.count() == 2
            chips = page.locator(".topic-chips a")
            assert "category=accompaniment-doctor" in (await chips.nth(1).get_attribute("href"))
            chips_box = await page.locator(".topic-chips").bounding_box()
            first = await results.first.bounding_box()
            assert chips_box is not None and first is not None
            assert chips_box["y"] < first["y"]
            if name == "phone":
                assert first["y"] < 640, f"first result starts at {first['y']} px"
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= PHONE["width"]
            assert await violations(page) == []
        finally:
            await context.close()
