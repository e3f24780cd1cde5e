"""In Chromium: the Content-Security-Policy blocks nothing on the main pages (no inline script or
style is left for it to refuse) and the scripted features still work under it (the live
notification badge). Screenshots of the pages whose styles moved to anlauf.css."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import expect

from market.settings import Settings
from tests.e2e.conftest import DESKTOP, PHONE
from tests.factories import PASSWORD, make_user
from tests.market.conversations.helpers import connected_match, write

# Chromium reports a refused script, style, frame or connection on the console like this.
VIOLATION_WORDS = ("Content Security Policy", "Refused to")


class Console:
    def __init__(self, page: Any) -> None:
        self.messages: list[str] = []
        page.on("console", lambda m: self.messages.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.messages.append(f"pageerror: {e}"))

    def violations(self) -> list[str]:
        return [m for m in self.messages if any(w in m for w in VIOLATION_WORDS)]


async def log_in(page: Any, email: str) -> None:
    await page.goto("/login")
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", PASSWORD)
    await page.locator("main form button[type=submit]").first.click()
    await page.wait_for_load_state()


async def test_no_csp_violation_and_the_badge_still_updates(
    context: Any, live_server: str, client: httpx.AsyncClient, app: Any, settings: Settings
) -> None:
    vol, seeker, match_id, cid = await connected_match(client, app, seeker_locale="en")
    coordinator = await make_user(app, client, "coordinator", locale="en")
    anonymous = await context.new_page()
    console = Console(anonymous)
    for path in ("/", "/posts", "/login", "/register", "/forgot-password"):
        r = await anonymous.goto(path)
        assert r is not None and "frame-ancestors 'none'" in r.headers["content-security-policy"]
    await anonymous.close()

    page = await context.new_page()
    seeker_console = Console(page)
    await log_in(page, seeker.email)
    for path in (
        "/",
        "/posts",
        "/posts/new",
        "/my/posts",
        "/my/matches",
        f"/matches/{match_id}",
        f"/conversations/{cid}",
        "/account",
        "/notifications",
    ):
        r = await page.goto(path)
        assert r is not None and r.status == 200, path
    # The script loaded under the policy: the stream opens and the badge follows new messages.
    badge = page.locator('header a[href="/notifications"] .badge')
    before = int(await badge.text_content() or "0")
    await page.wait_for_function("() => document.documentElement.dataset.live === 'on'")
    assert (await write(client, vol, cid, "Hallo, bis morgen!")).status_code == 201
    await expect(badge).to_have_text(str(before + 1))

    staff = await context.browser.new_context(base_url=live_server, viewport=DESKTOP)
    staff_page = await staff.new_page()
    staff_console = Console(staff_page)
    await log_in(staff_page, coordinator.email)
    r = await staff_page.goto("/review")
    assert r is not None and r.status == 200
    await staff.close()

    found = console.violations() + seeker_console.violations() + staff_console.violations()
    assert found == []


async def test_screenshots_of_the_restyled_pages(
    context: Any, live_server: str, client: httpx.AsyncClient, app: Any, shots: Any
) -> None:
    """The fit bar of a match and the notification list, after their inline styles moved."""
    _vol, seeker, match_id, _cid = await connected_match(client, app, seeker_locale="en")
    for locale in ("de", "ar"):
        for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
            ctx = await context.browser.new_context(base_url=live_server, viewport=viewport)
            page = await ctx.new_page()
            await log_in(page, seeker.email)
            await page.goto(f"/matches/{match_id}?lang={locale}")
            bar = page.locator(".fit-bar > span").first
            if await bar.count():
                width = await bar.evaluate("el => el.getBoundingClientRect().width")
                assert width > 0  # the width now comes from anlauf.css
            await shots.take(page, f"match-{locale}-{name}")
            await page.goto(f"/notifications?lang={locale}")
            await shots.take(page, f"notifications-{locale}-{name}")
            await ctx.close()
