"""The search page on a 360 px phone, in German and Arabic (issue 14): the
topic links are above the results, the count is said, and the first result starts in the first
screen; a word in another language finds the doctor posts; axe finds nothing. Screenshots, phone
and desktop."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.a11y import violations
from tests.e2e.conftest import DESKTOP, PHONE
from tests.factories import make_user, post_body

WORDS = {"de": "Arzt", "ar": "طبيب"}
COUNT = {"de": "2 Ergebnisse", "ar": "نتيجتان"}


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_search_page_on_a_phone(
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
    # Not about the doctor: not found.
    author = await make_user(app, client, "seeker")
    await client.post(
        "/api/v1/posts", headers=author.headers, json=post_body(category="goods", title="Sofa")
    )

    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        # Script on only for measuring (Playwright's evaluate needs it); the page has none of
        # its own that it needs: the topic links are plain links.
        context = await browser.new_context(base_url=live_server, viewport=viewport)
        context.set_default_timeout(10_000)
        try:
            page = await context.new_page()
            response = await page.goto(f"/posts?q={WORDS[locale]}&lang={locale}")
            assert response.status == 200
            await shots.take(page, f"{name}-{locale}")
            assert await page.locator("html").get_attribute("dir") == (
                "rtl" if locale == "ar" else "ltr"
            )
            assert await page.locator(".result-count").inner_text() == COUNT[locale]
            results = page.locator("ul.list > li")
            assert await results.count() == 2
            # The topic links come before the results, the named topic first after "all".
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
            # The topic links work without script.
            await chips.nth(1).click()
            assert "category=accompaniment-doctor" in page.url
            assert await page.locator("ul.list > li").count() == 2
            assert await violations(page) == []
        finally:
            await context.close()
