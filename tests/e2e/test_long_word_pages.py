"""The pages in Russian and in Turkish on a small phone and on a desktop. Russian words are long
("Зарегистрироваться", "Пожаловаться"); Turkish glues suffixes onto words ("Gönüllülerden",
"kontrolünüz"). So nothing may scroll sideways, each form control keeps its label, the page says
lang="ru" or lang="tr" (so the browser capitalises a Turkish i as İ), and axe finds nothing on
the start page and the new-post form. One test for both: they differ only in their words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.a11y import violations
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_pages_phone_width import AUDIT_JS, problems_of
from tests.factories import PASSWORD, make_user


@dataclass(frozen=True)
class Words:
    title: str  # of the post
    body: str
    heading: str  # the start page's h1
    log_in: str
    log_out: str
    send: str  # the new-post form's button
    check: str  # the start of the form's error summary


WORDS = {
    "ru": Words(
        title="Помощь с заполнением анкет",
        body="Мне нужна помощь с анкетой для Jobcenter.",
        heading="Anlauf: помощь от людей в вашем городе",
        log_in="Войти",
        log_out="Выйти",
        send="Отправить",
        check="Пожалуйста, проверьте",
    ),
    "tr": Words(
        title="Başvuru formu için yardım",
        body="Jobcenter formu için yardıma ihtiyacım var.",
        heading="Anlauf: şehrinizdeki insanlardan yardım",
        log_in="Giriş yap",
        log_out="Çıkış yap",
        send="Yayınla",
        check="Lütfen işaretli alanları",
    ),
}


@pytest.mark.parametrize("width", ["phone", "desktop"])
@pytest.mark.parametrize("lang", ["ru", "tr"])
async def test_long_word_pages_fit_the_screen(
    browser: Any,
    live_server: str,
    app: Any,
    client: Any,
    make_post: Any,
    shots: Any,
    lang: str,
    width: str,
) -> None:
    words = WORDS[lang]
    post_id = await make_post(words.title, body=words.body, locale=lang)
    writer = await make_user(app, client, "seeker", locale=lang)
    viewport = PHONE if width == "phone" else DESKTOP
    context = await browser.new_context(
        base_url=live_server, viewport=viewport, is_mobile=width == "phone"
    )
    try:
        page = await context.new_page()
        problems: list[str] = []
        for name, path in {
            "home": "/",
            "browse": "/posts",
            "register": "/register",
            "login": "/login",
            "detail": f"/posts/{post_id}",
        }.items():
            response = await page.goto(f"{path}?lang={lang}")
            assert response is not None and response.status == 200, (name, response)
            assert await page.locator("html").get_attribute("lang") == lang, name
            problems += problems_of(name, await page.evaluate(AUDIT_JS), lang)
            await shots.take(page, f"{lang}-{width}-{name}")
            if name == "home":
                await expect(page.get_by_role("heading", level=1)).to_have_text(words.heading)
                problems += [f"home: axe {v}" for v in await violations(page)]

        await page.goto(f"/login?lang={lang}")
        await page.locator("#f-email").fill(writer.email)
        await page.locator("#f-password").fill(PASSWORD)
        await page.get_by_role("button", name=words.log_in, exact=True).click()
        # Logged in: the form sends the browser on; on a phone the logout button sits in the
        # closed menu (attached, not visible).
        await expect(page).not_to_have_url(re.compile(r"/login"))
        await expect(
            page.get_by_role("button", name=words.log_out, include_hidden=True).first
        ).to_be_attached()
        await page.goto("/posts/new")
        problems += problems_of("new post", await page.evaluate(AUDIT_JS), lang)
        problems += [f"new post: axe {v}" for v in await violations(page)]
        await shots.take(page, f"{lang}-{width}-new-post")
        await page.get_by_role("button", name=words.send, exact=True).click()
        await expect(page.get_by_role("alert")).to_contain_text(words.check)
        problems += problems_of("new post with errors", await page.evaluate(AUDIT_JS), lang)
        await shots.take(page, f"{lang}-{width}-new-post-errors")
    finally:
        await context.close()
    assert not problems, "\n".join(problems)
