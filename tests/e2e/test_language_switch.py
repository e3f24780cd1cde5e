"""The language buttons in the footer keep the page the visitor is on, with its query:
a search stays, and a verification or reset link keeps its token."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from market.i18n import gettext, locale_label, use_locale
from tests.conftest import token_from


def t(locale: str, message: str) -> str:
    with use_locale(locale):
        return gettext(message)


async def test_switching_language_keeps_the_search(page: Any, live_server: str) -> None:
    await page.goto("/posts?q=Tandem&lang=de")
    await page.get_by_role("button", name=locale_label("ar"), exact=True).click()
    await expect(page.locator("html")).to_have_attribute("lang", "ar")
    await expect(page.locator("#f-q")).to_have_value("Tandem", timeout=500)
    await expect(page).to_have_url(re.compile(r"q=Tandem"), timeout=500)


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
