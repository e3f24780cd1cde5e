"""In Chromium: a volunteer applies to a mentor programme and a member of the organisation accepts.

Uses the live server of tests/e2e/conftest.py. Buttons and links are found by their German text,
read from the same gettext catalogs the pages use.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from market.i18n import gettext, use_locale
from tests.e2e.conftest import (  # noqa: F401  (fixtures)
    CHROMIUM,
    browser,
    context,
    live_port,
    live_server,
    page,
    settings,
    shots,
)
from tests.factories import PASSWORD, Actor, make_user
from tests.market.organisations.helpers import add_member, posting
from tests.smtp import SmtpServer

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]


def t(message: str, **variables: Any) -> str:
    with use_locale("de"):
        return gettext(message, **variables)


async def log_in(pg: Any, actor: Actor) -> None:
    await pg.goto("/login?lang=de")
    await pg.locator("#f-email").fill(actor.email)
    await pg.locator("#f-password").fill(PASSWORD)
    await pg.get_by_role("button", name=t("Log in"), exact=True).click()
    await expect(pg.get_by_role("button", name=t("Log out"))).to_be_visible()


async def test_apply_and_accept_in_the_browser(
    page: Any,  # noqa: F811  (the fixture imported above)
    context: Any,  # noqa: F811
    client: httpx.AsyncClient,
    app: Any,
    mailbox: SmtpServer,
    shots: Any,  # noqa: F811
) -> None:
    owner = await make_user(app, client, "organisation")
    colleague = await add_member(app, client, owner.organisation_id)
    helper = await make_user(app, client, "volunteer", approved=True, name="Dilnoza")
    post = await posting(client, owner, title="Familienlotsen", seats=1)

    # The volunteer finds the programme on the organisation's page and applies.
    await log_in(page, helper)
    await page.goto(f"/organisations/{owner.organisation_id}")
    await expect(page.get_by_role("heading", name="Familienlotsen")).to_be_visible()
    await page.get_by_role("link", name=t("Apply"), exact=True).click()
    await expect(page).to_have_url(re.compile(rf"/posts/{post['id']}/apply$"))
    await page.get_by_label(t("A few words to the organisation")).fill("Ich habe abends Zeit.")
    await shots.take(page, "apply")
    await page.get_by_role("button", name=t("Send the application")).click()
    await expect(page).to_have_url(re.compile(r"/my/applications"))
    await expect(page.get_by_role("main")).to_contain_text(t("Waiting for an answer"))
    await shots.take(page, "applied")

    # A member of the organisation accepts with a message, from the dashboard.
    await mailbox.wait_for(colleague.email)
    member_page = await context.browser.new_page(base_url=page.url.split("/my/")[0])
    await log_in(member_page, colleague)
    await member_page.goto(f"/organisations/{owner.organisation_id}/dashboard")
    card = member_page.locator(".post", has_text="Dilnoza").last
    await card.get_by_label(t("Message to the volunteer (optional)")).fill("Willkommen im Team!")
    await shots.take(member_page, "dashboard")
    await card.get_by_role("button", name=t("Accept"), exact=True).click()
    await expect(member_page.get_by_role("status").first).to_contain_text(
        t("The application is accepted. You can now write to the volunteer.")
    )
    await expect(member_page.get_by_role("main")).to_contain_text(
        t("%(filled)d of %(total)d places filled", filled=1, total=1)
    )
    await shots.take(member_page, "accepted")
    await member_page.close()

    # The volunteer is told by mail, and sees the answer and the way to write.
    (mail,) = await mailbox.wait_for(helper.email)
    assert "Willkommen im Team!" in mail.text
    await page.reload()
    await expect(page.get_by_role("main")).to_contain_text(t("Accepted"))
    await expect(page.get_by_role("main")).to_contain_text("Willkommen im Team!")
    await expect(page.get_by_role("link", name=t("Write to the organisation"))).to_be_visible()
    await shots.take(page, "my-applications")
