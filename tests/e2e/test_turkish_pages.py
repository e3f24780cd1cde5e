"""The pages in Turkish on a small phone and on a desktop: Turkish glues suffixes onto words
("Gönüllülerden", "kontrolünüz"), so nothing may scroll sideways, each form control keeps its
label, the page says lang="tr" (so the browser capitalises i as İ), and axe finds nothing on the
start page and the new-post form.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.a11y import violations
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_pages_phone_width import AUDIT_JS, problems_of
from tests.factories import PASSWORD, make_user

TITLE = "Başvuru formu için yardım"


@pytest.mark.parametrize("width", ["phone", "desktop"])
async def test_turkish_pages_fit_the_screen(
    browser: Any, live_server: str, app: Any, client: Any, make_post: Any, shots: Any, width: str
) -> None:
    post_id = await make_post(
        TITLE, body="Jobcenter formu için yardıma ihtiyacım var.", locale="tr"
    )
    writer = await make_user(app, client, "seeker", locale="tr")
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
            response = await page.goto(f"{path}?lang=tr")
            assert response is not None and response.status == 200, (name, response)
            assert await page.locator("html").get_attribute("lang") == "tr", name
            problems += problems_of(name, await page.evaluate(AUDIT_JS), "tr")
            await shots.take(page, f"{width}-{name}")
            if name == "home":
                await expect(page.get_by_role("heading", level=1)).to_have_text(
                    "Anlauf: şehrinizdeki insanlardan yardım"
                )
                problems += [f"home: axe {v}" for v in await violations(page)]

        await page.goto("/login?lang=tr")
        await page.locator("#f-email").fill(writer.email)
        await page.locator("#f-password").fill(PASSWORD)
        await page.get_by_role("button", name="Giriş yap", exact=True).click()
        # On a phone the logout button sits in the closed menu: attached, not visible.
        await expect(
            page.get_by_role("button", name="Çıkış yap", include_hidden=True).first
        ).to_be_attached()
        await page.goto("/posts/new")
        problems += problems_of("new post", await page.evaluate(AUDIT_JS), "tr")
        problems += [f"new post: axe {v}" for v in await violations(page)]
        await shots.take(page, f"{width}-new-post")
        await page.get_by_role("button", name="Yayınla", exact=True).click()
        await expect(page.get_by_role("alert")).to_contain_text("Lütfen işaretli alanları")
        problems += problems_of("new post with errors", await page.evaluate(AUDIT_JS), "tr")
        await shots.take(page, f"{width}-new-post-errors")
    finally:
        await context.close()
    assert not problems, "\n".join(problems)
