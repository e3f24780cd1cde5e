"""The language buttons in the footer keep the page the visitor is on, with its query.

Known bug (templates/base.html): the language form submits only `lang`, so the rest of the
query string is lost: a search is emptied, and on the page a verification or reset link opens,
the token is dropped, so the link "does not work" any more after switching the language.
Remove the xfail markers once the footer form repeats the query as hidden inputs.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from market.i18n import gettext, locale_label, use_locale
from tests.conftest import token_from

BUG = "base.html: the language form drops the query string (search words, link tokens)"


def t(locale: str, message: str) -> str:
    with use_locale(locale):
        return gettext(message)


@pytest.mark.xfail(reason=BUG, strict=True, raises=AssertionError)
async def test_switching_language_keeps_the_search(page: Any, live_server: str) -> None:
    await page.goto("/posts?q=Tandem&lang=de")
    await page.get_by_role("button", name=locale_label("ar"), exact=True).click()
    await expect(page.locator("html")).to_have_attribute("lang", "ar")
    await expect(page.locator("#f-q")).to_have_value("Tandem", timeout=500)
    await expect(page).to_have_url(re.compile(r"q=Tandem"), timeout=500)


@pytest.mark.xfail(reason=BUG, strict=True, raises=AssertionError)
async def test_switching_language_keeps_the_verification_link(
    page: Any, live_server: str, client: Any, mailbox: Any
) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "nour@example.org",
            "password": "ein langes Passwort",
            "display_name": "Nour",
            "role": "seeker",
        },
    )
    assert response.status_code == 202, response.text
    [mail] = await mailbox.wait_for("nour@example.org")
    await page.goto(f"/verify-email?token={token_from(mail.text)}")
    await page.get_by_role("button", name=locale_label("ar"), exact=True).click()
    await expect(page.locator("html")).to_have_attribute("dir", "rtl")
    await page.get_by_role("button", name=t("ar", "Confirm email address")).click()
    heading = page.get_by_role("heading", level=1)
    await expect(heading).not_to_have_text(t("ar", "Confirm your email address"))
    await expect(heading).to_have_text(t("ar", "Email address confirmed"), timeout=500)
