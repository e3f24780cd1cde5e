"""The new-post form's topic tiles and language filter (issue 14), in Chromium on a 360 px phone.

A seeker signs up and posts a need in de, ar, fa, uk, ru and tr, each page within two phone
screens up to its send button, choosing the topic from the icon tiles (a subtopic appears
behind its topic). The tiles are real radio buttons: arrow keys choose, the focus ring is
visible, the chosen tile is marked by more than colour, nothing needs JavaScript. "More
languages" gets a filter field with JavaScript and stays a plain list without it.

Screenshots go to ANLAUF_SHOTS_DIR when set.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from market import forms, languages
from market.i18n import gettext, use_locale
from market.posts import taxonomy
from tests.conftest import token_from
from tests.e2e.a11y import violations
from tests.e2e.conftest import DESKTOP, PHONE
from tests.factories import PASSWORD, make_user

SCREEN = 640  # px of a phone screen at 360 px width, as tests/e2e/test_phone_layout.py counts

JOURNEY = {
    "de": ("Samira", "Begleitung zum Arzt", "de"),
    "ar": ("سميرة", "مرافقة إلى الطبيب", "ar"),
    "fa": ("سمیرا", "همراهی به دکتر", "fa"),
    "uk": ("Олена", "Супровід до лікаря", "uk"),
    "ru": ("Ольга", "Сопровождение к врачу", "ru"),
    "tr": ("Ayşe", "Doktora refakat", "tr"),
}


def t(locale: str, message: str, **variables: Any) -> str:
    with use_locale(locale):
        return gettext(message, **variables)


def field(page: Any, label: str) -> Any:
    """The form control labelled exactly `label` (a required field's label ends in " *")."""
    return page.get_by_label(re.compile(rf"^\s*{re.escape(label)}(\s*\*)?\s*$"))


async def to_button(page: Any) -> float:
    """Phone screens from the top of the page to the bottom of the form's send button."""
    box = await page.locator("#main form button[type=submit]").bounding_box()
    assert box is not None
    scrolled = await page.evaluate("window.scrollY")
    return float(box["y"] + scrolled + box["height"]) / SCREEN


async def log_in(page: Any, locale: str, email: str, password: str = PASSWORD) -> None:
    await page.goto(f"/login?lang={locale}")
    await page.locator("#main input[name=email]").fill(email)
    await page.locator("#main input[name=password]").fill(password)
    await page.locator("#main button[type=submit]").first.click()
    await expect(page).to_have_url(re.compile(r"/my/matches$"))


def topic_tile(page: Any, locale: str, slug: str) -> Any:
    """The radio button of a topic, found by its translated name."""
    name = t(locale, taxonomy.BY_SLUG[slug].name)
    return page.locator("fieldset.topics").get_by_role("radio", name=name, exact=True)


@pytest.mark.parametrize("locale", list(JOURNEY))
async def test_a_seeker_signs_up_and_posts_a_need_in_two_screens_each(
    browser: Any, live_server: str, mailbox: Any, shots: Any, locale: str
) -> None:
    name, title, language = JOURNEY[locale]
    email = f"journey.{locale}@example.org"
    password = "ein langes Passwort 2024"
    ctx = await browser.new_context(base_url=live_server, viewport=PHONE, is_mobile=True)
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    try:
        # Sign up.
        await page.goto(f"/register?lang={locale}")
        await field(page, t(locale, "I am looking for help")).check()
        await field(page, t(locale, "Your name")).fill(name)
        await field(page, t(locale, "Email address")).fill(email)
        await field(page, t(locale, "Password")).fill(password)
        await field(page, t(locale, "Language %(num)d", num=1)).select_option(language)
        sign_up = await to_button(page)
        await shots.take(page, "register")
        await page.get_by_role("button", name=t(locale, "Sign up"), exact=True).click()
        await expect(page).to_have_url(re.compile(r"/register/sent$"))
        [mail] = await mailbox.wait_for(email)
        await page.goto(f"/verify-email?token={token_from(mail.text)}")
        confirm = page.get_by_role("button", name=t(locale, "Confirm email address"))
        if await confirm.count():
            await confirm.click()
        await log_in(page, locale, email, password)

        # Post a need: the topic from the tiles, its subtopic behind it.
        await page.goto("/posts/new")
        await expect(page.locator("fieldset.topics legend")).to_contain_text(
            t(locale, "What do you need help with?")
        )
        doctor = topic_tile(page, locale, "accompaniment-doctor")
        await expect(doctor).to_be_hidden()
        post_form = await to_button(page)
        await shots.take(page, "post-form")
        await topic_tile(page, locale, "accompaniment").check()
        await expect(doctor).to_be_visible()
        await doctor.check()
        await expect(topic_tile(page, locale, "accompaniment")).not_to_be_checked()
        await expect(doctor).to_be_visible()  # the chosen subtopic keeps its row open
        await field(page, t(locale, "Title")).fill(title)
        with use_locale(locale):
            own = forms.language_label(language)
        languages = page.get_by_role("group", name=t(locale, "Languages you can use"))
        await expect(languages.get_by_label(own, exact=True)).to_be_checked()  # from sign-up
        await field(page, t(locale, "City")).fill("Leipzig")
        await shots.take(page, "post-form-filled")
        print(f"{locale}: sign-up {sign_up:.2f}, new post {post_form:.2f} screens to the button")
        # The bound, in all six languages: sign-up and the post form, two screens each.
        assert sign_up <= 2, sign_up
        assert post_form <= 2, post_form
        assert await violations(page) == []
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1
        await page.get_by_role("button", name=t(locale, "Post it")).click()
        await expect(page).to_have_url(re.compile(r"/posts/[^/?]+\?msg="))
        await expect(page.get_by_role("heading", level=1)).to_have_text(title)
        await expect(page.locator("main")).to_contain_text(
            t(locale, taxonomy.BY_SLUG["accompaniment-doctor"].name)
        )
        await shots.take(page, "posted")
        if locale in ("de", "ar"):
            await page.goto("/posts/new")
            await page.set_viewport_size(DESKTOP)
            await shots.take(page, "post-form-desktop")
    finally:
        await ctx.close()


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_topic_tiles_work_by_keyboard(
    browser: Any, app: Any, client: Any, live_server: str, shots: Any, locale: str
) -> None:
    user = await make_user(app, client, "seeker", locale=locale)
    ctx = await browser.new_context(base_url=live_server, viewport=PHONE, is_mobile=True)
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    try:
        await log_in(page, locale, user.email)
        await page.goto("/posts/new")
        # Space chooses the focused tile; arrows move and choose, like any radio group.
        first = topic_tile(page, locale, "accompaniment")
        await first.focus()
        await page.keyboard.press("Space")
        await expect(first).to_be_checked()
        ring = await page.evaluate(
            """() => {
                const label = document.querySelector('label[for="' + document.activeElement.id + '"]');
                const s = getComputedStyle(label);
                return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.borderTopWidth];
            }"""
        )
        # The dark ring of the other fields (--ink, about 16:1 on white), and the chosen tile
        # has a thicker border, not only another colour.
        assert ring == ["solid", "3px", "rgb(27, 31, 36)", "3px"], ring
        # The subtopics follow their topic in the arrow order.
        await page.keyboard.press("ArrowDown")
        second = topic_tile(page, locale, "accompaniment-authorities")
        await expect(second).to_be_checked()
        await expect(second).to_be_focused()
        await shots.take(page, "keyboard")
        assert await violations(page) == []
    finally:
        await ctx.close()


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_the_form_works_without_javascript(
    browser: Any, app: Any, client: Any, live_server: str, shots: Any, locale: str
) -> None:
    user = await make_user(app, client, "seeker", locale=locale)
    ctx = await browser.new_context(
        base_url=live_server, viewport=PHONE, is_mobile=True, java_script_enabled=False
    )
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    try:
        await log_in(page, locale, user.email)
        await page.goto("/posts/new")
        await topic_tile(page, locale, "accompaniment").check()
        await topic_tile(page, locale, "accompaniment-authorities").check()
        # Sent with a missing title: the chosen subtopic comes back ticked, its row open.
        await field(page, t(locale, "City")).fill("Leipzig")
        await page.get_by_role("button", name=t(locale, "Post it")).click()
        await expect(page.locator("#e-title")).to_be_visible()
        await expect(topic_tile(page, locale, "accompaniment-authorities")).to_be_checked()
        await expect(topic_tile(page, locale, "accompaniment-authorities")).to_be_visible()
        # Without a script the language filter stays away and every box is there.
        await expect(page.locator("[data-lang-filter]")).to_be_hidden()
        await page.locator("summary", has_text=t(locale, "More languages")).click()
        boxes = page.locator("#more-languages input[name=languages]")
        await expect(boxes.first).to_be_visible()
        assert await boxes.count() > 40
        await shots.take(page, "no-script")
    finally:
        await ctx.close()


async def test_a_topic_is_needed_and_the_error_shows_at_the_tiles(
    browser: Any, app: Any, client: Any, live_server: str, shots: Any
) -> None:
    user = await make_user(app, client, "seeker", locale="ar")
    ctx = await browser.new_context(base_url=live_server, viewport=PHONE, is_mobile=True)
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    try:
        await log_in(page, "ar", user.email)
        await page.goto("/posts/new")
        await field(page, t("ar", "Title")).fill("مرافقة")
        await field(page, t("ar", "City")).fill("Leipzig")
        await page.get_by_role("button", name=t("ar", "Post it")).click()
        error = page.locator("fieldset.topics #e-category")
        await expect(error).to_have_text(t("ar", "Please choose a category from the list."))
        group = page.get_by_role("group", name=t("ar", "What do you need help with?"))
        await expect(group).to_have_attribute("aria-describedby", "e-category")
        await expect(field(page, t("ar", "Title"))).to_have_value("مرافقة")
        await shots.take(page, "topic-error")
        assert await violations(page) == []
    finally:
        await ctx.close()


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_more_languages_filter_by_any_name_or_code(
    browser: Any, app: Any, client: Any, live_server: str, shots: Any, locale: str
) -> None:
    user = await make_user(app, client, "seeker", locale=locale)
    ctx = await browser.new_context(base_url=live_server, viewport=PHONE, is_mobile=True)
    ctx.set_default_timeout(10_000)
    page = await ctx.new_page()
    try:
        await log_in(page, locale, user.email)
        await page.goto("/posts/new")
        await page.locator("summary", has_text=t(locale, "More languages")).click()
        search = field(page, t(locale, "Find a language"))
        await expect(search).to_be_visible()
        listed = page.locator("#more-languages label:visible")
        everything = await listed.count()
        with use_locale(locale):
            tigrinya = forms.language_label("ti")
            persian = forms.language_label("fa")
        # By its own name, by its name in the page language, by its code, ignoring case.
        for typed, wanted in (("ትግርኛ", tigrinya), ("FA", persian)):
            await search.fill(typed)
            await expect(listed.filter(has_text=wanted)).to_have_count(1)
            assert await listed.count() < everything
        with use_locale(locale):
            ui_name = languages.name("fa")
        await search.fill(ui_name[:4])
        await expect(listed.filter(has_text=persian)).to_have_count(1)
        # A ticked box stays when the filter moves on; Enter does not send the form.
        await listed.filter(has_text=persian).locator("input").check()
        await search.fill("zzzz")
        await expect(listed).to_have_count(1)
        await expect(page.locator("[data-lang-none]")).to_have_text(t(locale, "No language found."))
        await search.press("Enter")
        await expect(page).to_have_url(re.compile(r"/posts/new$"))
        await shots.take(page, "filtered")
        await search.fill("")
        await expect(listed).to_have_count(everything)
        assert await violations(page) == []
    finally:
        await ctx.close()
