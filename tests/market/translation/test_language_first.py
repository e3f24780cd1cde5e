"""Language first: negotiation with fallbacks, the language page, the button at the top of every
page, the first-visit chooser, names isolated from the page direction, the favicon, and error
texts in the reader's language."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from market import errors, i18n
from tests.factories import make_user
from tests.pages import browser, translated


@pytest.mark.parametrize(
    ("header", "locale", "named"),
    [
        ("prs", "fa", True),  # Dari reads Persian
        ("fa-AF,en;q=0.5", "fa", True),
        ("ps,ar;q=0.8", "ar", True),  # Pashto: the reader's next choice
        ("ur,en;q=0.5", "en", True),
        ("ps", "de", False),  # nothing we have: German, with the chooser
        ("ru", "ru", True),  # Russian has its own catalogue (until tonight: Ukrainian)
        ("ru-RU,uk;q=0.5", "ru", True),
        ("be", "uk", False),  # Belarusian: Ukrainian offered, with the chooser
        ("tr-TR", "tr", True),
        ("be,en;q=0.8", "en", True),  # a listed language beats our guess
        ("ku,de;q=0.1", "de", True),
        ("de;q=0,ar", "ar", True),
        ("en-US", "en", True),
        ("", "de", False),
    ],
)
def test_negotiation_falls_back_sensibly(header: str, locale: str, named: bool) -> None:
    assert i18n.negotiate_detail(header) == (locale, named)
    assert i18n.negotiate(header) == locale


def test_adding_a_catalogue_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(i18n, "LOCALES", (*i18n.LOCALES, "ru"))
    assert i18n.negotiate_detail("ru") == ("ru", True)


def test_the_chooser_is_for_first_visits_that_name_no_page_language() -> None:
    assert i18n.needs_chooser(None, "ps")
    assert i18n.needs_chooser(None, "be")
    assert not i18n.needs_chooser(None, "ru")
    assert not i18n.needs_chooser("de", "ps")  # chosen before: remembered in the cookie
    assert not i18n.needs_chooser(None, "ar")
    assert not i18n.needs_chooser(None, None)  # no header at all: a script, not a browser


async def test_every_page_has_the_language_button_at_the_top(client: httpx.AsyncClient) -> None:
    for path in ("/", "/posts?q=Amt", "/login", "/no-such-page"):
        page = (await client.get(path, headers={"Accept-Language": "ar"})).text
        header = page[page.index("<header") : page.index("</header>")]
        button = re.search(r'<a class="lang-button" href="([^"]+)"', header)
        assert button, path
        assert "العربية" in header[header.index('class="lang-button"') :]
        target = button.group(1).replace("&amp;", "&")
        listing = await client.get(target, headers={"Accept-Language": "ar"})
        assert listing.status_code == 200
        # Each language named in itself, each a plain link back to the same page.
        for code in i18n.LOCALES:
            assert f'lang="{code}"' in listing.text
            assert i18n.locale_label(code) in listing.text
        back = re.search(r'<a href="([^"]+)" lang="fa"', listing.text)
        assert back
        chosen = await client.get(back.group(1).replace("&amp;", "&"))
        assert '<html lang="fa" dir="rtl">' in chosen.text
        assert "anlauf_lang=fa" in chosen.headers.get("set-cookie", "")
        client.cookies.clear()
    # The search survives the round trip.
    page = (await client.get("/language?next=/posts%3Fq%3DAmt%26lang%3Dde")).text
    assert 'href="/posts?q=Amt&amp;lang=uk"' in page


async def test_the_language_page_only_sends_people_to_this_site(client: httpx.AsyncClient) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        page = (await client.get("/language", params={"next": target})).text
        links = re.findall(r'<a href="([^"]+)" lang="', page)
        assert len(links) == len(i18n.LOCALES)
        assert all(link.startswith("/?lang=") for link in links), links


async def test_a_first_visit_in_an_unknown_language_is_offered_the_choice(
    client: httpx.AsyncClient,
) -> None:
    chooser = translated("Which language do you want to read?", "de")
    page = (await client.get("/posts?q=Arzt", headers={"Accept-Language": "ps"})).text
    assert chooser in page
    assert 'href="/posts?q=Arzt&amp;lang=ar"' in page  # the page stays, its search too
    page = (await client.get("/", headers={"Accept-Language": "be"})).text
    assert (
        '<html lang="uk"' in page
        and translated("Which language do you want to read?", "uk") in page
    )
    page = (await client.get("/", headers={"Accept-Language": "ar"})).text
    assert translated("Which language do you want to read?", "ar") not in page
    # Once chosen, the cookie remembers it and the banner is gone.
    await client.get("/?lang=de")
    page = (await client.get("/", headers={"Accept-Language": "ps"})).text
    assert chooser not in page


async def test_the_users_own_name_keeps_its_direction(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client, "seeker", name="Ahmad R.", locale="ar")
    async with browser(app, seeker) as c:
        page = (await c.get("/?lang=ar")).text
    # The account link (in the phone menu and in the wide navigation) holds the name isolated.
    links = re.findall(r'<a href="/account"[^>]*>(.*?)</a>', page, re.S)
    assert links and all(re.search(r"<bdi>Ahmad R\.</bdi>\s*$", link) for link in links), links


async def test_the_favicon_is_served(client: httpx.AsyncClient) -> None:
    r = await client.get("/favicon.ico")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/x-icon"
    assert r.content[:4] == b"\x00\x00\x01\x00"  # an ICO file


@pytest.mark.parametrize("locale", [code for code in i18n.LOCALES if code != "en"])
def test_the_default_error_texts_are_translated(locale: str) -> None:
    defaults = [
        errors.Forbidden().detail,
        errors.NotFound().detail,
        errors.Unauthorized().detail,
        errors.BadRequest().detail,
        errors.PayloadTooLarge().detail,
        errors.UnsupportedMediaType().detail,
    ]
    for text in defaults:
        assert translated(text, locale) != text, (locale, text)


async def test_the_403_page_speaks_the_readers_language(
    app: Any, client: httpx.AsyncClient
) -> None:
    seeker = await make_user(app, client, "seeker")
    async with browser(app, seeker) as c:
        page = await c.get("/review?lang=uk")
    assert page.status_code == 403
    assert "You may not do this." not in page.text
    assert translated("You may not do this.", "uk") in page.text


def test_titles_in_right_to_left_sentences_are_isolated_and_quoted_the_local_way() -> None:
    message = "A new match for your post “%(title)s”"
    with i18n.use_locale("fa"):
        sentence = i18n.gettext(message, title="Hilfe beim Amt")
        assert "«\u2068Hilfe beim Amt\u2069»" in sentence  # Persian quotes, isolated title
        assert str(i18n.quoted("Hilfe")) == "«<bdi>Hilfe</bdi>»"
    with i18n.use_locale("de"):
        assert "„Hilfe beim Amt“" in i18n.gettext(message, title="Hilfe beim Amt")
        assert str(i18n.quoted("<b>")) == "„<bdi>&lt;b&gt;</bdi>“"
