"""A visitor who uses only the keyboard reaches the search, submits it and opens a result."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from market.i18n import gettext, use_locale

FOCUSED_JS = """() => {
  const el = document.activeElement;
  const style = el ? getComputedStyle(el) : null;
  return el ? {
    tag: el.tagName.toLowerCase(), name: el.getAttribute('name'), href: el.getAttribute('href'),
    text: (el.innerText || '').trim(), outline: style.outlineStyle, outlineWidth: style.outlineWidth,
  } : null;
}"""


async def focused(page: Any) -> dict[str, Any]:
    info: dict[str, Any] = await page.evaluate(FOCUSED_JS)
    return info


async def tab_until(page: Any, wanted: Any, limit: int = 25) -> int:
    """Press Tab until `wanted(focused element)` holds; returns how many presses it took."""
    for presses in range(1, limit + 1):
        await page.keyboard.press("Tab")
        if wanted(await focused(page)):
            return presses
    raise AssertionError(f"not reached with {limit} Tab presses; last: {await focused(page)}")


async def test_search_with_the_keyboard_only(
    page: Any, live_server: str, make_post: Any, shots: Any
) -> None:
    post_id = await make_post("Deutsch lernen im Tandem")
    await make_post("Begleitung zum Arzt")
    await page.goto("/?lang=de")

    # The first stop is the skip link; it jumps over the header menu into the page.
    await page.keyboard.press("Tab")
    first = await focused(page)
    with use_locale("de"):
        assert first["text"] == gettext("Skip to content"), first
    await shots.take(page, "skip-link")
    await page.keyboard.press("Enter")

    presses = await tab_until(page, lambda el: el["tag"] == "input" and el["name"] == "q")
    assert presses <= 5, f"the search field took {presses} Tab presses after the skip link"
    field = await focused(page)
    assert field["outline"] != "none" and field["outlineWidth"] != "0px", field
    await page.keyboard.type("Tandem")
    await shots.take(page, "search-field-focused")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"/posts\?q=Tandem"))
    # The results, not the topic links above them.
    await expect(page.locator("main ul.list > li")).to_have_count(1)

    # On to the result and open it, still only with the keyboard.
    await tab_until(page, lambda el: el["tag"] == "a" and el["href"] == f"/posts/{post_id}", 40)
    await shots.take(page, "result-focused")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(rf"/posts/{post_id}$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Deutsch lernen im Tandem")
