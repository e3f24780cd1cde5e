"""Pages on a small phone (360×740), in German and in Arabic, and without JavaScript.

On each page: nothing scrolls sideways, every visible form control has a label, and there is
exactly one <h1>.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from market.i18n import gettext, use_locale
from tests.e2e.conftest import PHONE
from tests.factories import PASSWORD, make_user

TITLES = {"de": "Hilfe beim Ausfüllen von Formularen", "ar": "مساعدة في ملء الاستمارات"}

# What a page shows wrongly on a phone, as data so one run reports every page at once.
AUDIT_JS = """
() => {
  // A mobile browser widens window.innerWidth to fit content that is too wide (it zooms out),
  // so the layout viewport (clientWidth) is the width to compare with.
  const width = Math.min(window.innerWidth, document.documentElement.clientWidth);
  const unlabelled = Array.from(document.querySelectorAll('input, select, textarea'))
    .filter(el => el.type !== 'hidden')
    .filter(el => !(el.labels && el.labels.length)
                  && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map(el => el.outerHTML.slice(0, 160));
  const wide = [];
  if (document.documentElement.scrollWidth > width) {
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width && (r.right > width + 1 || r.left < -1)) {
        wide.push(`${el.tagName.toLowerCase()}.${el.className} ${Math.round(r.left)}..${Math.round(r.right)}`);
      }
    }
  }
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: width,
    h1: document.querySelectorAll('h1').length,
    unlabelled,
    wide: wide.slice(0, 10),
    lang: document.documentElement.lang,
    dir: document.documentElement.dir,
  };
}
"""


def t(locale: str, message: str) -> str:
    with use_locale(locale):
        return gettext(message)


def problems_of(name: str, audit: dict[str, Any], locale: str) -> list[str]:
    found = []
    if audit["scrollWidth"] > audit["innerWidth"]:
        found.append(
            f"{name}: scrolls sideways ({audit['scrollWidth']} > {audit['innerWidth']} px); "
            f"too wide: {audit['wide']}"
        )
    if audit["unlabelled"]:
        found.append(f"{name}: form controls without a label: {audit['unlabelled']}")
    if audit["h1"] != 1:
        found.append(f"{name}: {audit['h1']} <h1> elements, expected exactly one")
    want_dir = "rtl" if locale == "ar" else "ltr"
    if (audit["lang"], audit["dir"]) != (locale, want_dir):
        found.append(f"{name}: <html lang={audit['lang']} dir={audit['dir']}>")
    return found


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_pages_fit_a_phone(
    browser: Any, live_server: str, app: Any, client: Any, make_post: Any, shots: Any, locale: str
) -> None:
    post_id = await make_post(TITLES[locale], locale=locale)
    writer = await make_user(app, client, "seeker", locale=locale)
    context = await browser.new_context(
        base_url=live_server, viewport=PHONE, is_mobile=True, has_touch=True
    )
    try:
        page = await context.new_page()
        problems: list[str] = []
        pages = {
            "home": "/",
            "browse": "/posts",
            "register": "/register",
            "login": "/login",
            "detail": f"/posts/{post_id}",
        }
        for name, path in pages.items():
            response = await page.goto(f"{path}?lang={locale}")
            assert response is not None and response.status == 200, (name, response)
            problems += problems_of(name, await page.evaluate(AUDIT_JS), locale)
            await shots.take(page, name)

        # The longest form: a new post, once logged in.
        await page.goto(f"/login?lang={locale}")
        await page.locator("#f-email").fill(writer.email)
        await page.locator("#f-password").fill(PASSWORD)
        await page.get_by_role("button", name=t(locale, "Log in"), exact=True).click()
        # On a phone the log-out button waits in the closed menu (issue 14).
        await expect(page.locator("header form[action='/logout']").first).to_be_attached()
        await page.goto("/posts/new")
        problems += problems_of("new post", await page.evaluate(AUDIT_JS), locale)
        await shots.take(page, "new-post")
        # ... and the form again with every error shown.
        await page.get_by_role("button", name=t(locale, "Post it")).click()
        await expect(page.get_by_role("alert")).to_be_visible()
        problems += problems_of("new post with errors", await page.evaluate(AUDIT_JS), locale)
        await shots.take(page, "new-post-errors")
    finally:
        await context.close()
    assert not problems, "\n".join(problems)


async def test_browse_and_open_a_post_without_javascript(
    browser: Any, live_server: str, make_post: Any, shots: Any
) -> None:
    await make_post("Begleitung zur Ausländerbehörde", name="Amal")
    await make_post("Wohnungssuche in Leipzig")
    context = await browser.new_context(
        base_url=live_server, viewport=PHONE, java_script_enabled=False
    )
    try:
        page = await context.new_page()
        await page.goto("/?lang=de")
        await page.locator("details.menu summary").click()  # the phone menu, no script
        await page.get_by_role("navigation").get_by_role("link", name=t("de", "Browse")).click()
        await expect(page).to_have_url(re.compile(r"/posts$"))
        await page.locator("#f-q").fill("Ausländerbehörde")
        await page.get_by_role("button", name=t("de", "Search"), exact=True).click()
        await expect(page).to_have_url(re.compile(r"/posts\?.*q=Ausl"))
        # The results (not the topic links). Both posts are in the category the word names
        # (issue 14's vocabulary), so both are found; the one with the word is among them.
        results = page.locator("main ul.list > li")
        await expect(results).to_have_count(2)
        await expect(results.filter(has_text="Begleitung zur Ausländerbehörde")).to_have_count(1)
        await shots.take(page, "results-no-js")
        await page.get_by_role("link", name="Begleitung zur Ausländerbehörde").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Begleitung zur Ausländerbehörde"
        )
        await expect(page.get_by_role("main")).to_contain_text("Amal")
        await shots.take(page, "detail-no-js")
    finally:
        await context.close()
