"""The calm phone layout (issue 14), in Chromium: on a 360 px phone one top bar (brand,
language, bell, menu) and the sections behind a menu that opens without JavaScript, the current
section marked; on a desktop the sections in a row. After login the person's own matches page.

Screenshots (desktop and phone, German and Arabic) also go to ANLAUF_SHOTS_DIR when set.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from market.i18n import gettext, use_locale
from tests.e2e.a11y import violations
from tests.e2e.conftest import DESKTOP, PHONE
from tests.factories import PASSWORD, make_user


def t(locale: str, message: str) -> str:
    with use_locale(locale):
        return gettext(message)


async def log_in(page: Any, locale: str, email: str) -> None:
    await page.goto(f"/login?lang={locale}")
    await page.locator("#main input[name=email]").fill(email)
    await page.locator("#main input[name=password]").fill(PASSWORD)
    await page.locator("#main button[type=submit]").first.click()


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_phone_header_is_one_bar_with_a_menu(
    browser: Any, app: Any, client: Any, live_server: str, shots: Any, locale: str
) -> None:
    user = await make_user(app, client, "seeker", locale=locale)
    ctx = await browser.new_context(base_url=live_server, viewport=PHONE, is_mobile=True)
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    try:
        await log_in(page, locale, user.email)
        # After login: the person's own page, not the public home.
        await expect(page).to_have_url(re.compile(r"/my/matches$"))
        header = page.locator("header.top")
        box = await header.bounding_box()
        assert box is not None and box["height"] <= 80, box  # one row, not 3 to 5
        menu = page.locator("details.menu")
        await expect(menu.locator("nav")).to_be_hidden()
        await shots.take(page, "phone-closed")
        await menu.locator("summary").click()  # a <details>: no script needed
        nav = menu.locator("nav")
        await expect(nav).to_be_visible()
        current = nav.locator('a[aria-current="page"]')
        await expect(current).to_have_count(1)
        await expect(current).to_have_text(t(locale, "My matches"))
        await page.wait_for_load_state("networkidle")  # the menu's icons, fetched on opening
        await shots.take(page, "phone-open")
        assert await violations(page) == []
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1
        # "Messages" opens the conversations.
        await nav.get_by_role("link", name=t(locale, "Messages"), exact=True).click()
        await expect(page).to_have_url(re.compile(r"/conversations$"))
        # Desktop: the sections in a row, the menu button gone.
        await page.set_viewport_size(DESKTOP)
        await expect(page.locator("nav.nav-wide")).to_be_visible()
        await expect(page.locator("details.menu")).to_be_hidden()
        wide_current = page.locator('nav.nav-wide a[aria-current="page"]')
        await expect(wide_current).to_have_text(t(locale, "Messages"))
        await shots.take(page, "desktop")
        assert await violations(page) == []
    finally:
        await ctx.close()


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_visitor_sees_the_menu_on_the_phone(
    browser: Any, live_server: str, shots: Any, locale: str
) -> None:
    # Without JavaScript: the menu is a <details>, which opens by itself.
    ctx = await browser.new_context(
        base_url=live_server, viewport=PHONE, java_script_enabled=False, is_mobile=True
    )
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    try:
        await page.goto(f"/posts?lang={locale}")
        await page.locator("details.menu summary").click()
        nav = page.locator("details.menu nav")
        await expect(nav.locator('a[aria-current="page"]')).to_have_text(t(locale, "Browse"))
        await expect(nav.get_by_role("link", name=t(locale, "Sign up"))).to_be_visible()
        await shots.take(page, "visitor-phone")
        await page.set_viewport_size(DESKTOP)
        await shots.take(page, "visitor-desktop")
    finally:
        await ctx.close()


async def screens(page: Any) -> float:
    """Page height in 640 px phone screens at 360 px width (layout, not timing)."""
    height = await page.evaluate("document.documentElement.scrollHeight")
    return float(height) / 640


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_seeker_posts_a_need_in_two_screens(
    browser: Any, app: Any, client: Any, live_server: str, shots: Any, locale: str
) -> None:
    user = await make_user(app, client, "seeker", locale=locale)
    ctx = await browser.new_context(base_url=live_server, viewport=PHONE, is_mobile=True)
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    try:
        await log_in(page, locale, user.email)
        await page.goto("/posts/new")
        await shots.take(page, "post-form-phone")
        measured = await screens(page)
        # Posting ends at the button; the footer below it is not part of the task.
        button = await page.locator("#main form button[type=submit]").bounding_box()
        assert button is not None
        to_button = (button["y"] + button["height"]) / 640
        print(f"new-post form, seeker, {locale}: {measured:.2f} screens, {to_button:.2f} to send")
        # The 57 language boxes wait behind "More languages".
        await expect(page.locator("details.more input[name=languages]").first).to_be_hidden()
        await expect(page.locator("input[name=country]")).to_be_hidden()
        police = t(
            locale,
            "For homework help and childcare, volunteers need a police certificate (Führungszeugnis).",
        )
        await expect(page.get_by_text(police)).to_have_count(0)
        assert to_button <= 2, (to_button, measured)
    finally:
        await ctx.close()


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_sign_up_fits_two_screens_without_organisation_fields(
    browser: Any, live_server: str, shots: Any, locale: str
) -> None:
    ctx = await browser.new_context(
        base_url=live_server, viewport=PHONE, java_script_enabled=False, is_mobile=True
    )
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    try:
        await page.goto(f"/register?lang={locale}")
        await shots.take(page, "register-phone")
        await expect(page.locator("input[name=org_name]")).to_be_hidden()
        button = await page.locator("#main form button[type=submit]").bounding_box()
        assert button is not None
        to_button = (button["y"] + button["height"]) / 640
        print(f"sign-up, {locale}: {await screens(page):.2f} screens, {to_button:.2f} to send")
        # Organisations open their part without JavaScript.
        org = page.locator("details.more", has=page.locator("input[name=org_name]"))
        await org.locator("summary").click()
        await expect(page.locator("input[name=org_name]")).to_be_visible()
        assert to_button <= 2, to_button
    finally:
        await ctx.close()
