"""The city's console in Chromium, in German and Arabic, at desktop and phone width: a
coordinator handles a report end to end and takes a post down and up; an admin creates a
region and a coordinator, suspends a person (whose login is then refused), edits the
accessibility statement, and a visitor sends feedback that arrives by mail."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from market.i18n import gettext, use_locale
from market.posts.models import Post, Region
from market.vetting.models import Report
from tests.e2e.a11y import violations
from tests.factories import PASSWORD, make_user, post_body
from tests.pages import fetch

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def t(locale: str, message: str, **variables: Any) -> str:
    with use_locale(locale):
        return gettext(message, **variables)


def field(page: Any, label: str) -> Any:
    return page.get_by_label(re.compile(rf"^\s*{re.escape(label)}(\s*\*)?\s*$"))


async def log_in(page: Any, locale: str, email: str) -> None:
    await page.goto(f"/login?lang={locale}")
    await field(page, t(locale, "Email address")).fill(email)
    await field(page, t(locale, "Password")).fill(PASSWORD)
    await page.get_by_role("button", name=t(locale, "Log in"), exact=True).click()


async def both_widths(page: Any, shots: Any, name: str) -> None:
    """Screenshots at desktop and phone width, each checked by axe-core (WCAG 2.1 AA)."""
    await shots.take(page, f"{name}-desktop")
    assert await violations(page) == [], name
    await page.set_viewport_size(PHONE)
    await shots.take(page, f"{name}-phone")
    assert await violations(page) == [], name
    # Nothing wider than the phone: no sideways scrolling.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"] + 1, (name, width)
    await page.set_viewport_size(DESKTOP)


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_a_coordinator_moderates(
    page: Any, app: Any, client: Any, live_server: str, shots: Any, locale: str
) -> None:
    coordinator = await make_user(app, client, "coordinator", locale=locale)
    author = await make_user(app, client, "seeker", name="Karl")
    reporter = await make_user(app, client, "seeker", name="Rita")
    r = await client.post(
        "/api/v1/posts",
        headers=author.headers,
        json=post_body(title="Verkaufe Kurse", body="Ruf mich an: 0176 1234567"),
    )
    post_id = r.json()["id"]
    r = await client.post(
        "/api/v1/reports",
        headers=reporter.headers,
        json={"target_type": "post", "target_id": post_id, "reason": "Werbung und Telefonnummer"},
    )
    report_id = r.json()["id"]

    await log_in(page, locale, coordinator.email)
    await page.goto("/review/reports")
    await expect(page.get_by_text("Ruf mich an: 0176 1234567")).to_be_visible()
    await both_widths(page, shots, "reports")
    await page.get_by_role("button", name=t(locale, "Resolve: I took action")).click()
    await expect(page.get_by_text(t(locale, "The report is closed."))).to_be_visible()
    assert (await fetch(app, Report, report_id)).status == "resolved"

    await page.goto(f"/posts/{post_id}")
    await field(page, t(locale, "Why take it down? The author sees this.")).select_option(
        "commercial"
    )
    await both_widths(page, shots, "post-moderation")
    await page.get_by_role("button", name=t(locale, "Take the post down")).click()
    await expect(
        page.get_by_text(t(locale, "The post is taken down. The author is told why."))
    ).to_be_visible()
    assert (await fetch(app, Post, post_id)).status == "rejected"
    await page.get_by_role("button", name=t(locale, "Publish again")).click()
    await expect(page.get_by_text(t(locale, "The post is published again."))).to_be_visible()
    assert (await fetch(app, Post, post_id)).status == "published"


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_an_admin_administers(
    page: Any,
    browser: Any,
    app: Any,
    client: Any,
    live_server: str,
    mailbox: Any,
    shots: Any,
    locale: str,
) -> None:
    app.state.settings.operator_email = "barrierefrei@stadt.example.org"
    admin = await make_user(app, client, "admin", locale=locale)
    person = await make_user(app, client, "volunteer", name="Vera")
    await log_in(page, locale, admin.email)

    # A region.
    await page.goto("/admin/regions")
    await field(page, t(locale, "Name")).fill("Leipzig")
    await field(page, t(locale, "Short name (small letters, digits and -)")).fill("leipzig")
    await field(page, t(locale, "Centre: latitude (for example 51.34)")).fill("51.34")
    await field(page, t(locale, "Centre: longitude (for example 12.37)")).fill("12.37")
    await field(page, t(locale, "Radius in km")).fill("20")
    await page.get_by_role("button", name=t(locale, "Add region")).click()
    await expect(page.get_by_text(t(locale, "The region is saved."))).to_be_visible()
    await both_widths(page, shots, "regions")

    # A coordinator, then their region.
    await page.goto("/admin/coordinators")
    await field(page, t(locale, "Email address")).fill(f"nora.{locale}@example.org")
    await field(page, t(locale, "Name (for a new account)")).fill("Nora")
    await page.get_by_role("button", name=t(locale, "Add coordinator")).click()
    await expect(
        page.get_by_text(
            t(
                locale,
                "The coordinator account is made. The person gets a mail to choose a password.",
            )
        )
    ).to_be_visible()
    await page.get_by_label("Leipzig").check()
    await page.get_by_role("button", name=t(locale, "Save regions")).click()
    await expect(page.get_by_text(t(locale, "The regions are saved."))).to_be_visible()
    await both_widths(page, shots, "coordinators")
    await mailbox.wait_for(f"nora.{locale}@example.org")
    assert [r.slug for r in [await _region(app)]] == ["leipzig"]

    # Suspend a person; their login is refused.
    await page.goto(f"/admin/users?q={person.email}")
    await page.get_by_role("link", name="Vera").click()
    await both_widths(page, shots, "account")
    await page.get_by_role("button", name=t(locale, "Suspend the account")).click()
    await expect(
        page.get_by_text(
            t(
                locale,
                "The account is suspended. The person cannot log in and their posts are hidden.",
            )
        )
    ).to_be_visible()
    other = await browser.new_context(base_url=live_server, viewport=DESKTOP)
    theirs = await other.new_page()
    await log_in(theirs, locale, person.email)
    await expect(theirs).to_have_url(re.compile(r"/login"))
    await expect(theirs.locator(".alert, .error").first).to_be_visible()
    await shots.take(theirs, "login-refused")
    await other.close()

    # Edit the accessibility statement; a visitor sends feedback.
    await page.goto(f"/admin/legal/accessibility/{locale}")
    box = field(page, t(locale, "Text"))
    await box.fill("Erklärung der Stadt.\n\nMehr: [Stadt](https://stadt.example.org)")
    await both_widths(page, shots, "legal-edit")
    await page.get_by_role("button", name=t(locale, "Save"), exact=True).click()
    await expect(page.get_by_text(t(locale, "The text is saved."))).to_be_visible()
    await page.goto(f"/?lang={locale}")
    await page.get_by_role("link", name=t(locale, "Accessibility statement")).click()
    await expect(page.get_by_text("Erklärung der Stadt.")).to_be_visible()
    await field(page, t(locale, "Your message")).fill("Die Karte geht nicht mit der Tastatur.")
    await page.get_by_role("button", name=t(locale, "Send"), exact=True).click()
    await expect(
        page.get_by_text(t(locale, "Thank you. Your message is sent to the people who run Anlauf."))
    ).to_be_visible()
    await both_widths(page, shots, "accessibility")
    await mailbox.wait_for("barrierefrei@stadt.example.org", containing="Tastatur")
    await page.goto("/admin/audit")
    await expect(page.get_by_text("user.suspended")).to_be_visible()
    await both_widths(page, shots, "audit")


async def _region(app: Any) -> Region:
    from sqlalchemy import select

    from market.db import make_sessionmaker

    async with make_sessionmaker(app.state.engine)() as s:
        return (await s.scalars(select(Region))).one()


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_time_slots_on_the_post_form(
    page: Any, app: Any, client: Any, live_server: str, shots: Any, locale: str
) -> None:
    seeker = await make_user(app, client, "seeker", locale=locale)
    await log_in(page, locale, seeker.email)
    await page.goto("/posts/new")
    # A seeker's form keeps the time slots under "How and when? (optional)" (issue 14's short form).
    await page.locator("summary", has_text=t(locale, "How and when? (optional)")).click()
    day = page.locator("#f-slot_0_day")
    await day.select_option("1")
    await page.locator("#f-slot_0_start").fill("10:00")
    await page.locator("#f-slot_0_end").fill("09:00")
    await page.get_by_role("button", name=t(locale, "Post it")).click()
    await expect(
        page.get_by_text(t(locale, "The end time must be after the start time."))
    ).to_be_visible()
    await expect(page.locator("#f-slot_0_start")).to_have_value("10:00")
    await both_widths(page, shots, "slots-error")
    await page.set_viewport_size(PHONE)
    await page.locator("fieldset.slots").screenshot(path=str(shots.folder / "slots-phone.png"))
    if shots.extra is not None:  # the rows alone, readable at phone width
        await page.locator("fieldset.slots").screenshot(
            path=str(shots.extra / f"{shots.prefix}-slots-only-phone.png")
        )


@pytest.mark.parametrize("locale", ["de", "ar"])
async def test_renewing_and_reporting_pages(
    page: Any, app: Any, client: Any, live_server: str, shots: Any, locale: str
) -> None:
    author = await make_user(app, client, "seeker", name="Karl")
    reader = await make_user(app, client, "volunteer", locale=locale)
    r = await client.post("/api/v1/posts", headers=author.headers, json=post_body())
    post_id = r.json()["id"]
    # The renew link without its token: a page in the reader's language, not a 422.
    await page.goto(f"/posts/{post_id}/renew?lang={locale}")
    await expect(
        page.get_by_role("link", name=t(locale, "Log in"), exact=True).last
    ).to_be_visible()
    await both_widths(page, shots, "renew-without-link")
    await log_in(page, locale, reader.email)
    await page.goto(f"/posts/{post_id}")
    await page.get_by_role("link", name=t(locale, "Report this post")).click()
    await field(page, t(locale, "What is wrong?")).fill("Das ist Werbung.")
    await both_widths(page, shots, "report-post")
    await page.get_by_role("button", name=t(locale, "Send report")).click()
    await expect(
        page.get_by_text(t(locale, "Thank you. The coordinators will look at it."))
    ).to_be_visible()
