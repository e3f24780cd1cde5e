"""axe-core (WCAG 2.1 A/AA and best practices) finds nothing on every page of the audit list
(tests/e2e/audit_pages.py) at 360 px in German and Arabic, and on the four pages of issue 14's
Lighthouse list (home, search, a post, the new-post form) at 1280 px too. Screenshots of each
(ANLAUF_SHOTS_DIR keeps them for a person to look at)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.a11y import violations
from tests.e2e.audit_pages import LOCALES, ONCE_PER_SUITE, arrange, with_lang
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_csp import log_in

pytestmark = ONCE_PER_SUITE

FOUR = ("home", "search", "post", "new-post")


async def test_no_axe_violation_on_any_audited_page(
    browser: Any, live_server: str, client: httpx.AsyncClient, app: Any, shots: Any
) -> None:
    world = await arrange(client, app)
    problems: list[str] = []
    seen = 0
    for viewport, size in ((PHONE, "360"), (DESKTOP, "1280")):
        for locale in LOCALES:
            for signed_in, pages in ((False, world.pages), (True, world.signed_in)):
                wanted = {n: p for n, p in pages.items() if size == "360" or n in FOUR}
                if not wanted:
                    continue
                ctx = await browser.new_context(
                    base_url=live_server, viewport=viewport, is_mobile=viewport is PHONE
                )
                ctx.set_default_timeout(10_000)
                try:
                    page = await ctx.new_page()
                    if signed_in:
                        await log_in(page, world.seeker.email)
                    for name, path in wanted.items():
                        response = await page.goto(with_lang(path, locale))
                        assert response is not None and response.status == 200, (name, locale)
                        assert await page.get_attribute("html", "lang") == locale
                        problems += [f"{name} {locale} {size}: {v}" for v in await violations(page)]
                        if name == "match" and size == "360":
                            # The two posts' cards stack on a phone (a form's .grid.two.pair
                            # rule once squeezed them into two 130 px columns).
                            columns = await page.evaluate(
                                "getComputedStyle(document.querySelector('main .grid.two.pair'))"
                                ".gridTemplateColumns.split(' ').length"
                            )
                            assert columns == 1, (locale, columns)
                        await shots.take(page, f"{name}-{locale}-{size}")
                        seen += 1
                finally:
                    await ctx.close()
    assert seen == 2 * (len(world.pages) + len(world.signed_in)) + 2 * len(FOUR)
    assert problems == []
