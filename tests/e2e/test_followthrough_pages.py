"""In Chromium, German and Arabic, desktop and phone: the follow-through pages (the "did you
meet?" card on /notifications, the question and "look for someone else" on a match, the decline
reasons in the unmatched report and the waiting queue, what the vetting page says is kept of a
police certificate) pass axe-core, work without JavaScript, and answering by the card works."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from playwright.async_api import expect

from market.db import make_sessionmaker, utcnow
from market.matches import followthrough
from tests.e2e.a11y import violations
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_csp import Console, log_in
from tests.factories import make_user, post_body


async def _post(client: httpx.AsyncClient, who: Any, **body: Any) -> str:
    r = await client.post("/api/v1/posts", headers=who.headers, json=post_body(**body))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _only_match(client: httpx.AsyncClient, who: Any) -> str:
    r = await client.get("/api/v1/matches", headers=who.headers)
    (m,) = [m for m in r.json()["items"] if m["status"] == "proposed"]
    return str(m["id"])


async def _rule(app: Any, rule: Any, days: float) -> None:
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        await rule(s, app.state.settings, utcnow() + timedelta(days=days))


async def test_follow_through_pages_pass_axe(
    browser: Any, live_server: str, client: httpx.AsyncClient, app: Any, shots: Any
) -> None:
    seeker = await make_user(app, client, "seeker", locale="de")
    volunteer = await make_user(app, client, "volunteer", approved=True, locale="de")
    coordinator = await make_user(app, client, "coordinator", locale="de")
    # A connected pair, asked "did you meet?"; the volunteer said "not yet".
    await _post(client, volunteer, kind="offer", title="Ich begleite Sie zum Amt")
    await _post(client, seeker, title="Begleitung zum Jobcenter")
    match_id = await _only_match(client, seeker)
    for who in (seeker, volunteer):
        r = await client.post(f"/api/v1/matches/{match_id}/accept", headers=who.headers)
        assert r.status_code == 200
    await _rule(app, followthrough.ask_outcome, 7.1)
    r = await client.post(
        f"/api/v1/matches/{match_id}/outcome", headers=volunteer.headers, json={"met": False}
    )
    assert r.status_code == 200
    # A need whose only match was declined (too far): in the unmatched report.
    far = await make_user(app, client, "volunteer", approved=True)
    await _post(client, far, kind="offer", category="digital", title="Hilfe am Handy")
    lonely = await make_user(app, client, "seeker")
    await _post(client, lonely, category="digital", title="Hilfe mit dem Handy")
    r = await client.post(
        f"/api/v1/matches/{await _only_match(client, far)}/decline",
        headers=far.headers,
        json={"reason": "too_far"},
    )
    assert r.status_code == 200
    # A need declined once (language), then proposed again and waiting 5 days.
    first = await make_user(app, client, "volunteer", approved=True)
    await _post(client, first, kind="offer", category="health", title="Begleitung zum Arzt")
    waiting = await make_user(app, client, "seeker")
    await _post(client, waiting, category="health", title="Ich brauche Begleitung zum Arzt")
    r = await client.post(
        f"/api/v1/matches/{await _only_match(client, first)}/decline",
        headers=first.headers,
        json={"reason": "language"},
    )
    assert r.status_code == 200
    second = await make_user(app, client, "volunteer", approved=True)
    await _post(client, second, kind="offer", category="health", title="Ich gehe mit zum Arzt")
    await _rule(app, followthrough.flag_stalled, 5.1)
    # A volunteer whose police certificate was recorded with its dates.
    certified = await make_user(app, client, "volunteer")
    today = utcnow().date()
    r = await client.post(
        f"/api/v1/review/volunteers/{certified.id}",
        headers=coordinator.headers,
        json={
            "decision": "approve",
            "checks": {"identity": True, "interview": True, "code_of_conduct": True},
            "police_certificate_until": str(today + timedelta(days=700)),
            "police_certificate_issued_on": str(today - timedelta(days=12)),
        },
    )
    assert r.status_code == 200, r.text

    for locale, viewport in (("de", DESKTOP), ("ar", PHONE), ("ar", DESKTOP), ("de", PHONE)):
        size = "phone" if viewport is PHONE else "desktop"
        ctx = await browser.new_context(base_url=live_server, viewport=viewport, locale=locale)
        page = await ctx.new_page()
        console = Console(page)
        await log_in(page, seeker.email)
        await page.goto(f"/notifications?lang={locale}")
        await expect(page.locator(f"#met-{match_id} form")).to_have_count(2)
        assert await violations(page) == [], (locale, size, "notifications")
        await shots.take(page, f"notifications-{locale}-{size}")
        await page.goto(f"/matches/{match_id}?lang={locale}")
        await expect(page.locator("#met form")).to_have_count(2)
        await expect(page.locator("#reopen form")).to_have_count(1)
        assert await violations(page) == [], (locale, size, "match")
        await shots.take(page, f"match-{locale}-{size}")
        assert not console.violations(), console.violations()
        await ctx.close()

        ctx = await browser.new_context(base_url=live_server, viewport=viewport, locale=locale)
        page = await ctx.new_page()
        await log_in(page, coordinator.email)
        for path, name, marker in (
            (f"/review/unmatched?lang={locale}", "unmatched", "#h-declines"),
            (f"/review/waiting?lang={locale}", "waiting", ".decline-reasons"),
            (f"/review/volunteers/{certified.id}?lang={locale}", "vetting", "#h-kept"),
        ):
            await page.goto(path)
            await expect(page.locator(marker)).to_have_count(1)
            assert await violations(page) == [], (locale, size, name)
            await shots.take(page, f"{name}-{locale}-{size}")
        await ctx.close()

    # Answering by the card, without JavaScript: recorded, and the card is gone.
    ctx = await browser.new_context(base_url=live_server, java_script_enabled=False)
    page = await ctx.new_page()
    await log_in(page, seeker.email)
    await page.goto("/notifications?lang=de")
    await page.locator(f"#met-{match_id} form").last.locator("button").click()
    await page.wait_for_load_state()
    await expect(page.locator(f"#met-{match_id}")).to_have_count(0)
    await ctx.close()
    seen = (await client.get(f"/api/v1/matches/{match_id}", headers=seeker.headers)).json()
    assert seen["outcome"]["mine"]["met"] is False
