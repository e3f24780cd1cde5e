"""Rendering mails: languages, direction, escaping, all templates in all page languages."""

from __future__ import annotations

import io

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.support import NullTranslations, Translations

import notifications.mail as mail
from market.i18n import LOCALES
from notifications.mail import TEMPLATE_DIR, render_mail

CONTEXTS = {
    "verify_email": {"name": "Amira", "link": "http://anlauf.test/verify?token=abc"},
    "already_registered": {
        "name": "Amira",
        "login_link": "http://anlauf.test/login",
        "reset_link": "http://anlauf.test/forgot-password",
    },
    "reset_password": {"name": "Amira", "link": "http://anlauf.test/reset?token=xyz"},
    "delete_account": {"name": "Amira", "link": "http://anlauf.test/account/delete/confirm?t=1"},
}


def test_every_template_folder_is_complete() -> None:
    folders = {p.name for p in (TEMPLATE_DIR / "email").iterdir() if p.is_dir()}
    assert set(CONTEXTS) <= folders
    for name in folders:
        for part in ("subject.txt", "body.txt", "body.html"):
            assert (TEMPLATE_DIR / "email" / name / part).is_file(), (name, part)


@pytest.mark.parametrize("template", sorted(CONTEXTS))
@pytest.mark.parametrize("locale", LOCALES)
def test_renders_in_every_locale(template: str, locale: str) -> None:
    mail_ = render_mail(template, locale, CONTEXTS[template], base_url="http://anlauf.test/")
    assert mail_.subject and "\n" not in mail_.subject
    assert "Amira" in mail_.text and "Amira" in mail_.html
    assert f'<html lang="{locale}"' in mail_.html
    assert "Anlauf" in mail_.text and "Anlauf" in mail_.html
    assert "http://anlauf.test/" in mail_.text  # footer link from base_url
    for value in CONTEXTS[template].values():
        if value.startswith("http"):
            assert value in mail_.text
            assert f'href="{value}"' in mail_.html


def test_german_is_left_to_right_and_arabic_right_to_left() -> None:
    de = render_mail("verify_email", "de", CONTEXTS["verify_email"], base_url="http://x")
    ar = render_mail("verify_email", "ar", CONTEXTS["verify_email"], base_url="http://x")
    fa = render_mail("verify_email", "fa", CONTEXTS["verify_email"], base_url="http://x")
    assert '<html lang="de" dir="ltr">' in de.html
    assert '<html lang="ar" dir="rtl">' in ar.html
    assert '<html lang="fa" dir="rtl">' in fa.html
    assert "text-align:right" in ar.html and "text-align:left" in de.html


def test_unknown_locale_falls_back_to_default() -> None:
    out = render_mail("verify_email", "xx", CONTEXTS["verify_email"], base_url="http://x")
    assert out.locale == "de"
    assert '<html lang="de"' in out.html


def test_html_escapes_user_input_but_text_keeps_it() -> None:
    context = {"name": "<script>alert(1)</script> & Co", "link": "http://x/v?a=1&b=2"}
    out = render_mail("verify_email", "en", context, base_url="http://x")
    assert "<script>" not in out.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in out.html
    assert 'href="http://x/v?a=1&amp;b=2"' in out.html
    assert "<script>alert(1)</script> & Co" in out.text


def test_missing_context_variable_is_an_error() -> None:
    with pytest.raises(Exception, match="link"):
        render_mail("verify_email", "de", {"name": "A"}, base_url="http://x")


def _catalog(locale: str, messages: dict[str, str]) -> Translations:
    catalog = Catalog(locale=locale)
    for msgid, msgstr in messages.items():
        catalog.add(msgid, msgstr)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf)


def test_strings_go_through_the_i18n_catalogs(monkeypatch: pytest.MonkeyPatch) -> None:
    german = _catalog(
        "de",
        {
            "Please confirm your email address": "Bitte bestätige deine E-Mail-Adresse",
            "Hello %(name)s,": "Hallo %(name)s,",
            "Confirm email address": "E-Mail-Adresse bestätigen",
        },
    )
    arabic = _catalog("ar", {"Hello %(name)s,": "مرحبا %(name)s،"})

    def fake_translations(locale: str) -> NullTranslations:
        return {"de": german, "ar": arabic}.get(locale, NullTranslations())

    monkeypatch.setattr(mail, "translations", fake_translations)
    de = render_mail("verify_email", "de", {"name": "<Amira>", "link": "l"}, base_url="http://x")
    assert de.subject == "Bitte bestätige deine E-Mail-Adresse"
    assert "Hallo <Amira>," in de.text
    assert "Hallo &lt;Amira&gt;," in de.html  # translated text, variable still escaped
    assert "E-Mail-Adresse bestätigen" in de.html
    ar = render_mail("verify_email", "ar", {"name": "Amira", "link": "l"}, base_url="http://x")
    assert "مرحبا Amira،" in ar.text
    # The context variable did not leak into other renderings.
    en = render_mail("verify_email", "en", {"name": "Amira", "link": "l"}, base_url="http://x")
    assert "Hello Amira," in en.text
