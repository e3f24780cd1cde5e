"""Language first, in Chromium: the language button is in the first screen of a 360 px phone,
one tap opens the languages named in themselves, and it all works without JavaScript. A German
post read in Arabic shows the machine translation with its label while the translation server
runs, and the original when it is stopped.

Screenshots (desktop and phone, German and Arabic) also go to ANLAUF_SHOTS_DIR when set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from market.i18n import gettext, locale_label, use_locale
from market.settings import Settings
from market.translation import service
from tests.e2e.conftest import DESKTOP, PHONE, Shots
from tests.translate_server import TranslateServer

TITLE = "Begleitung zum Jobcenter"


def t(locale: str, message: str) -> str:
    with use_locale(locale):
        return gettext(message)


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
async def fresh_translation_state() -> AsyncIterator[None]:
    service.reset()
    yield
    await service.settled()
    service.reset()


async def phone_without_js(browser: Any, live_server: str, locale: str = "de-DE") -> Any:
    return await browser.new_context(
        base_url=live_server,
        viewport=PHONE,
        java_script_enabled=False,
        locale=locale,
        is_mobile=True,
        has_touch=True,
    )


@pytest.mark.parametrize("path", ["/", "/posts", "/login", "/register"])
async def test_the_language_button_is_in_the_first_phone_screen(
    browser: Any, live_server: str, path: str, shots: Shots
) -> None:
    ctx = await phone_without_js(browser, live_server)
    page = await ctx.new_page()
    await page.goto(path)
    button = page.locator("a.lang-button")
    box = await button.bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
    assert box["height"] >= 44  # a finger's size
    await shots.take(page, "phone-de")
    await button.click()  # one tap to the list
    await expect(page.get_by_role("heading", level=1)).to_have_text(t("de", "Choose your language"))
    await shots.take(page, "languages-phone-de")
    await page.get_by_role("link", name=locale_label("ar"), exact=True).click()
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    assert page.url.split("?")[0].endswith(path)
    await shots.take(page, "phone-ar")
    await ctx.close()


async def test_a_first_visit_in_pashto_is_offered_the_languages(
    browser: Any, live_server: str, shots: Shots
) -> None:
    ctx = await phone_without_js(browser, live_server, locale="ps-AF")
    page = await ctx.new_page()
    await page.goto("/")
    chooser = page.locator("aside.chooser")
    await expect(chooser).to_be_visible()
    await shots.take(page, "chooser-phone")
    await chooser.get_by_role("link", name=locale_label("fa"), exact=True).click()
    await expect(page.locator("html")).to_have_attribute("lang", "fa")
    await expect(page.locator("aside.chooser")).to_have_count(0)
    await page.goto("/posts")  # remembered
    await expect(page.locator("html")).to_have_attribute("lang", "fa")
    await ctx.close()


async def test_a_german_post_read_in_arabic_is_translated_then_original_when_stopped(
    browser: Any,
    live_server: str,
    make_post: Any,
    translate_server: TranslateServer,
    app: Any,
    shots: Shots,
) -> None:
    post_id = await make_post(TITLE, "Ich brauche Hilfe beim Termin im Jobcenter am Montag.")
    await app.state.relay.drain()  # the language detection job
    for viewport, name in ((PHONE, "phone"), (DESKTOP, "desktop")):
        ctx = await browser.new_context(base_url=live_server, viewport=viewport)
        page = await ctx.new_page()
        await page.goto(f"/posts/{post_id}?lang=ar")
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"[ar] {TITLE}")
        await expect(page.get_by_text(t("ar", "Machine-translated"), exact=False)).to_be_visible()
        original = page.locator("details.original")
        await original.locator("summary").click()
        await expect(original.get_by_text(TITLE, exact=True)).to_be_visible()
        await shots.take(page, f"post-{name}-ar")
        await page.goto(f"/posts/{post_id}?lang=de")
        await shots.take(page, f"post-{name}-de")
        await page.goto("/posts?lang=ar")
        await shots.take(page, f"list-{name}-ar")
        await ctx.close()

    translate_server.stop()
    translate_server.mode = "stopped"
    await service.settled()
    ctx = await browser.new_context(base_url=live_server, viewport=PHONE)
    page = await ctx.new_page()
    other = await make_post("Deutschkurs gesucht", "Ich suche einen Deutschkurs am Abend.")
    await page.goto(f"/posts/{other}?lang=ar")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Deutschkurs gesucht")
    await expect(page.locator("details.original")).to_have_count(0)
    await shots.take(page, "post-phone-ar-server-stopped")
    await ctx.close()


async def test_a_message_is_translated_for_its_reader_and_names_keep_their_direction(
    browser: Any, live_server: str, client: Any, app: Any, shots: Shots
) -> None:
    from tests.factories import PASSWORD
    from tests.market.conversations.helpers import connected_match, write

    volunteer, seeker, match_id, conversation_id = await connected_match(
        client, app, seeker_locale="ar"
    )
    from sqlalchemy import update

    from market.accounts.models import User
    from market.db import make_sessionmaker

    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        await session.execute(
            update(User).where(User.id == seeker.id).values(display_name="Ahmad R.")
        )
    r = await write(client, volunteer, conversation_id, "Ich warte am Eingang vom Jobcenter.")
    assert r.status_code == 201
    for viewport, name in ((PHONE, "phone"), (DESKTOP, "desktop")):
        ctx = await browser.new_context(base_url=live_server, viewport=viewport)
        page = await ctx.new_page()
        await page.goto("/login?lang=ar")
        await page.fill("input[name=email]", seeker.email)
        await page.fill("input[name=password]", PASSWORD)
        await page.locator("main form button[type=submit]").click()
        await page.goto(f"/matches/{match_id}#messages")
        # The phone menu and the wide navigation each hold the account link.
        await expect(page.locator("a[href='/account'] bdi")).to_have_text(["Ahmad R.", "Ahmad R."])
        message = page.locator("ol.thread li.msg").last
        await expect(message).to_contain_text("[ar] Ich warte am Eingang vom Jobcenter.")
        await expect(message.locator("details.original summary")).to_contain_text(
            t("ar", "Machine-translated")
        )
        await shots.take(page, f"conversation-{name}-ar")
        await ctx.close()


def _contrast(a: str, b: str) -> float:
    def luminance(rgb: str) -> float:
        parts = [int(x) / 255 for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
        lin = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in parts]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


async def test_the_focus_ring_stands_out_at_least_3_to_1(page: Any, live_server: str) -> None:
    await page.goto("/posts?lang=de")
    for selector, background_of in (("main a", "html"), ("header a.lang-button", "header.top")):
        target = page.locator(selector).first
        await target.focus()
        await page.keyboard.press("Shift+Tab")
        await page.keyboard.press("Tab")  # focused by keyboard: :focus-visible applies
        ring = await target.evaluate("e => getComputedStyle(e).outlineColor")
        style = await target.evaluate("e => getComputedStyle(e).outlineStyle")
        background = await page.locator(background_of).evaluate(
            "e => getComputedStyle(e).backgroundColor"
        )
        assert style == "solid", selector
        assert _contrast(ring, background) >= 3.0, (selector, ring, background)
