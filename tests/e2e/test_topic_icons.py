"""Topic icons where topics are listed (issue 14): the topic links above the search results and
the topic tag of every post card on the search page and the home page carry the topic's icon
next to its name. The icon is drawn (a mask filled with the text colour, loaded from /static/),
hidden from screen readers, and the name stays. axe finds nothing; screenshots de + ar, phone and
desktop."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.a11y import violations
from tests.e2e.conftest import DESKTOP, PHONE
from tests.factories import make_user, post_body

# An icon is drawn when its mask image loaded and it has a size; an empty span has neither.
DRAWN = """el => {
  const s = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  const mask = s.maskImage || s.webkitMaskImage;
  return r.width > 8 && r.height > 8 && mask.includes('/static/vendor/lucide/');
}"""


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_topics_are_listed_with_their_icons(
    browser: Any, live_server: str, app: Any, client: Any, shots: Any, locale: str
) -> None:
    author = await make_user(app, client, "seeker")
    r = await client.post(
        "/api/v1/posts",
        headers=author.headers,
        json=post_body(category="accompaniment-doctor", title="Begleitung zur Hausärztin"),
    )
    assert r.status_code == 201, r.text
    failed: list[str] = []
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        context = await browser.new_context(base_url=live_server, viewport=viewport)
        context.set_default_timeout(10_000)
        context.on("response", lambda resp: failed.append(resp.url) if resp.status >= 400 else None)
        try:
            page = await context.new_page()
            for address in (f"/posts?lang={locale}", f"/?lang={locale}"):
                assert (await page.goto(address)).status == 200
                await page.wait_for_load_state("networkidle")
                await shots.take(
                    page, f"{name}-{locale}-{'search' if 'posts' in address else 'home'}"
                )
                tag = page.locator("ul.list > li .tag:has(.topic-icon)").first
                icon = tag.locator(".topic-icon")
                assert await icon.get_attribute("aria-hidden") == "true"
                assert "ic-stethoscope" in (await icon.get_attribute("class") or "")
                assert await icon.evaluate(DRAWN), address
                assert (await tag.inner_text()).strip()  # the name stays next to the icon
                assert await violations(page) == []
            await page.goto(f"/posts?lang={locale}")
            chips = page.locator(".topic-chips a")
            assert await chips.nth(0).locator(".topic-icon").count() == 0  # "All topics"
            for i in range(1, await chips.count()):
                chip = chips.nth(i)
                assert await chip.locator(".topic-icon").evaluate(DRAWN)
                assert (await chip.inner_text()).strip()
        finally:
            await context.close()
    assert failed == []
