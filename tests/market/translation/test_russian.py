"""Russian as a page language: Russian readers get the Russian catalogue (no longer Ukrainian as
the nearest guess), pages say lang="ru", plurals take Russian's three forms, and a person who
chooses Russian at sign-up gets their mail in Russian.

The texts are written out here rather than read through the catalogue, so a catalogue that lost
its translations (or a language switched off again) fails these tests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from market import i18n
from tests.factories import make_user
from tests.pages import browser, html_lang, submit, translated
from tests.smtp import SmtpServer


@pytest.mark.parametrize("header", ["ru", "ru-RU,ru;q=0.9", "ru,uk;q=0.8", "be,ru;q=0.5"])
def test_russian_readers_get_russian(header: str) -> None:
    assert i18n.negotiate_detail(header) == ("ru", True)


async def test_the_start_page_in_russian(client: httpx.AsyncClient) -> None:
    page = (await client.get("/", headers={"Accept-Language": "ru-RU,ru;q=0.9"})).text
    assert html_lang(page) == ("ru", "ltr")
    assert "Anlauf: помощь от людей в вашем городе" in page
    assert "Я могу помочь" in page and "Мне нужна помощь" in page
    # Russian was named, so no "which language?" banner and no Ukrainian.
    assert translated("Which language do you want to read?", "ru") not in page
    assert translated("I can help", "uk") not in page


async def test_the_language_page_names_russian_in_russian(client: httpx.AsyncClient) -> None:
    page = (await client.get("/language", headers={"Accept-Language": "de"})).text
    assert 'lang="ru"' in page and i18n.locale_label("ru") in page
    chosen = await client.get("/?lang=ru")
    assert html_lang(chosen.text)[0] == "ru"
    assert "anlauf_lang=ru" in chosen.headers.get("set-cookie", "")


def test_russian_plurals_have_three_forms() -> None:
    with i18n.use_locale("ru"):
        texts = [
            i18n.ngettext("%(num)d new message", "%(num)d new messages", n) for n in (1, 3, 5, 21)
        ]
    assert texts == [
        "1 новое сообщение",
        "3 новых сообщения",
        "5 новых сообщений",
        "21 новое сообщение",
    ]


async def test_signing_up_in_russian_sends_the_mail_in_russian(
    app: Any, mailbox: SmtpServer
) -> None:
    email = "olga@example.org"
    async with browser(app, headers={"Accept-Language": "ru"}) as c:
        form = await c.get("/register")
        assert "Зарегистрироваться" in form.text
        r = await submit(
            c,
            "/register",
            {
                "role": "volunteer",
                "display_name": "Ольга",
                "email": email,
                "password": "длинный секретный пароль",
                "locale": "ru",
                "language_1": "ru",
                "level_1": "native",
                "language_2": "",
                "level_2": "fluent",
                "language_3": "",
                "level_3": "fluent",
                "org_name": "",
                "org_website": "",
            },
        )
        assert r.status_code == 303, r.text
    (mail,) = await mailbox.wait_for(email)
    assert "Добро пожаловать в Anlauf!" in mail.text
    assert "/verify-email?token=" in mail.text


@pytest.mark.parametrize("locale", ["ru", "tr"])
async def test_the_api_takes_russian_and_turkish_as_locale(
    app: Any, client: httpx.AsyncClient, locale: str
) -> None:
    person = await make_user(app, client, "seeker")
    r = await client.patch("/api/v1/me", json={"locale": locale}, headers=person.headers)
    assert r.status_code == 200, r.text
    assert (await client.get("/api/v1/me", headers=person.headers)).json()["locale"] == locale
    r = await client.patch("/api/v1/me", json={"locale": "ku"}, headers=person.headers)
    assert r.status_code == 422  # a language without a catalogue is still refused
