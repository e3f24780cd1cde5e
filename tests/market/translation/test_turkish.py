"""Turkish as a page language: Turkish readers get the Turkish catalogue (before, "tr" fell
through to German), pages say lang="tr", plurals take Turkish's two forms (the noun stays
singular after a number: "5 yeni mesaj"), and a person who chooses Turkish at sign-up gets their
mail in Turkish.

The texts are written out here rather than read through the catalogue, so a catalogue that lost
its translations (or a language switched off again) fails these tests."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from market import i18n
from tests.pages import browser, html_lang, submit, translated
from tests.smtp import SmtpServer


@pytest.mark.parametrize("header", ["tr", "tr-TR,tr;q=0.9", "tr,de;q=0.1", "ps,tr;q=0.5"])
def test_turkish_readers_get_turkish(header: str) -> None:
    assert i18n.negotiate_detail(header) == ("tr", True)


async def test_the_start_page_in_turkish(client: httpx.AsyncClient) -> None:
    response = await client.get("/", headers={"Accept-Language": "tr-TR,tr;q=0.9"})
    page = response.text
    assert html_lang(page) == ("tr", "ltr")
    assert response.headers["content-language"] == "tr"
    assert "Anlauf: şehrinizdeki insanlardan yardım" in page
    assert "Yardım edebilirim" in page and "Yardıma ihtiyacım var" in page
    # Turkish was named, so no "which language?" banner and no German.
    assert translated("Which language do you want to read?", "tr") not in page
    assert translated("I can help", "de") not in page


async def test_the_language_page_names_turkish_in_turkish(client: httpx.AsyncClient) -> None:
    page = (await client.get("/language", headers={"Accept-Language": "de"})).text
    assert 'lang="tr"' in page and "Türkçe" in page
    chosen = await client.get("/?lang=tr")
    assert html_lang(chosen.text)[0] == "tr"
    assert "anlauf_lang=tr" in chosen.headers.get("set-cookie", "")


def test_turkish_plurals_have_two_forms() -> None:
    with i18n.use_locale("tr"):
        texts = [i18n.ngettext("%(num)d new message", "%(num)d new messages", n) for n in (1, 5)]
        waiting = i18n.ngettext("waiting %(num)d day", "waiting %(num)d days", 3)
    assert texts == ["1 yeni mesaj", "5 yeni mesaj"]
    assert waiting == "3 gündür bekliyor"


async def test_signing_up_in_turkish_sends_the_mail_in_turkish(
    app: Any, mailbox: SmtpServer
) -> None:
    email = "ayse@example.org"
    async with browser(app, headers={"Accept-Language": "tr"}) as c:
        form = await c.get("/register")
        assert "Kaydol" in form.text
        r = await submit(
            c,
            "/register",
            {
                "role": "volunteer",
                "display_name": "Ayşe",
                "email": email,
                "password": "uzun ve gizli bir şifre",
                "locale": "tr",
                "language_1": "tr",
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
    assert "Anlauf'a hoş geldiniz!" in mail.text
    assert "/verify-email?token=" in mail.text
