"""The directory in Chromium at 360 px, in German and Arabic (issue 16, "Done when").

A newcomer finds a counselling centre that speaks Arabic, open now, near a place; a caseworker
suggests it to a person from their request; an organisation adds a service that a coordinator
publishes. Labels are read from the catalogs, so nothing is hard-coded per language.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from market import forms
from market.i18n import use_locale
from tests.e2e.conftest import PHONE
from tests.e2e.test_register_post_find import check_html_lang, field, t
from tests.factories import PASSWORD, make_user, post_body
from tests.market.directory.test_directory_api import ALL_WEEK, _published, _regions

NAMES = {"de": "Beratungsstelle Al-Amal", "ar": "مركز الأمل للاستشارات"}


async def _login(page: Any, locale: str, email: str) -> None:
    await page.goto(f"/login?lang={locale}")
    await field(page, t(locale, "Email address")).fill(email)
    await field(page, t(locale, "Password")).fill(PASSWORD)
    await page.get_by_role("button", name=t(locale, "Log in"), exact=True).click()
    # Signed in: the notifications bell shows in the top bar (log out is behind the phone menu).
    await expect(page.locator("header a.bell")).to_be_visible()


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_find_refer_and_publish_on_a_phone(
    browser: Any, live_server: str, app: Any, client: Any, shots: Any, locale: str
) -> None:
    await _regions(app)
    org = await make_user(app, client, "organisation", locale=locale)
    coordinator = await make_user(app, client, "coordinator", locale=locale)
    seeker = await make_user(app, client, "seeker", locale=locale)
    name = NAMES[locale]
    centre = await _published(
        client, org, coordinator, name=name, opening_hours=ALL_WEEK, languages=["ar", "de"]
    )
    await _published(
        client, org, coordinator, name="Kleiderkammer Nord", languages=["de"], topics=["goods"],
        description="Kleidung.", opening_hours=[],
    )  # fmt: skip
    need = (await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())).json()

    ctx = await browser.new_context(base_url=live_server, viewport=PHONE)
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    try:
        # 1. A newcomer: Arabic spoken, open now, near Leipzig.
        await page.goto(f"/events?lang={locale}")  # any page: the menu leads there
        await page.locator("details.menu > summary").click()  # the phone menu, no script
        await (
            page.get_by_role("navigation")
            .get_by_role("link", name=t(locale, "Help nearby"))
            .click()
        )
        await check_html_lang(page, locale)
        with use_locale(locale):
            arabic = forms.language_label("ar")
        await field(page, t(locale, "Language spoken there")).select_option(label=arabic)
        await field(page, t(locale, "Near: city or postcode")).fill("Leipzig")
        await page.get_by_label(t(locale, "Open now")).check()
        await shots.take(page, "search-form")
        await page.get_by_role("button", name=t(locale, "Search"), exact=True).click()
        results = page.get_by_role("main").get_by_role("listitem")
        await expect(results).to_have_count(1)
        await expect(results.first).to_contain_text(name)
        await expect(results.first).to_contain_text(t(locale, "Open now"))
        await shots.take(page, "found")
        await page.get_by_role("link", name=name).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(name)
        await expect(page.locator('a[href^="tel:"]')).to_have_count(1)
        await expect(page.locator('a[href^="mailto:"]')).to_have_count(1)
        await shots.take(page, "service")
        await page.get_by_role("link", name=t(locale, "Print this page")).click()
        await shots.take(page, "print")
        await page.emulate_media(media="print")
        await expect(page.locator("header.top")).to_be_hidden()
        await page.emulate_media(media="screen")

        # 2. A caseworker (a member of an approved organisation) suggests it to the person.
        await _login(page, locale, org.email)
        await page.goto(f"/posts/{need['id']}")
        await page.get_by_role("link", name=t(locale, "Suggest a service to this person")).click()
        await field(page, t(locale, "Language spoken there")).select_option(label=arabic)
        await page.get_by_role("button", name=t(locale, "Search"), exact=True).click()
        await shots.take(page, "suggest-choose")
        await page.get_by_role(
            "button", name=t(locale, "Suggest this service to the person")
        ).click()
        await expect(page.get_by_role("status").first).to_contain_text(
            t(locale, "The person gets a message with this service.")
        )
        await _log_out(page, locale)
        await _login(page, locale, seeker.email)
        await page.goto("/notifications")
        await expect(page.get_by_role("main")).to_contain_text(name)
        await page.goto("/my/suggestions")
        await expect(page.get_by_role("link", name=name)).to_be_visible()
        await shots.take(page, "suggested")
        await _log_out(page, locale)

        # 3. The organisation adds a service; the coordinator publishes it.
        await _login(page, locale, org.email)
        await page.goto("/services/new")
        new_name = "Sprachcafé Lindenau" if locale == "de" else "مقهى اللغة"
        await field(page, t(locale, "Name")).fill(new_name)
        await field(page, t(locale, "Topic")).select_option("language-tandem")
        await (
            page.get_by_role("group", name=t(locale, "Languages spoken there"))
            .get_by_label(arabic, exact=True)
            .check()
        )
        await field(page, t(locale, "Address (street, postcode, city)")).fill(
            "Lützner Straße 30, Leipzig"
        )
        await page.locator('input[name="open_2"]').fill("16:00")
        await page.locator('input[name="close_2"]').fill("09:00")  # before it opens: refused
        await page.get_by_role("button", name=t(locale, "Save")).click()
        await expect(page.locator("#f-name")).to_have_value(new_name)
        await shots.take(page, "form-error")
        await page.locator('input[name="close_2"]').fill("18:00")
        await page.get_by_role("button", name=t(locale, "Save")).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(new_name)
        new_url = re.sub(r"\?.*$", "", page.url)
        await _log_out(page, locale)
        await _login(page, locale, coordinator.email)
        await page.goto("/review/directory")
        await shots.take(page, "review")
        item = page.get_by_role("listitem").filter(has_text=new_name)
        await item.get_by_role("button", name=t(locale, "Publish")).click()
        await expect(page.get_by_role("status").first).to_contain_text(
            t(locale, "Your decision is saved.")
        )
        await _log_out(page, locale)
        await page.goto(new_url)
        await expect(page.get_by_role("heading", level=1)).to_have_text(new_name)
        await shots.take(page, "published")
        assert centre["id"]
    finally:
        await ctx.close()


async def _log_out(page: Any, locale: str) -> None:
    """Log out as a person does: on a phone the button is behind the menu."""
    menu = page.locator("details.menu > summary")
    if await menu.is_visible():
        await menu.click()
    await page.get_by_role("button", name=t(locale, "Log out")).click()
