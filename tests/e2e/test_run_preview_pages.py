"""In Chromium: the page a coordinator sees while a big city's matching-run preview is worked
out by its job (market.matches.runs.PREVIEW_JOB), then the plan: German and Arabic, desktop and
phone; axe-core finds no violation, the waiting page reloads itself without JavaScript."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from market.matches import regional, runs
from tests.e2e.a11y import violations
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_csp import log_in
from tests.market.matches.test_regional_jobs import _city


async def test_the_preview_waits_then_shows_the_plan(
    browser: Any,
    live_server: str,
    client: httpx.AsyncClient,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
    shots: Any,
) -> None:
    monkeypatch.setattr(runs, "SYNC_PREVIEW_POSTS", 0)  # as if Leipzig were a big city
    _, coordinator, _ = await _city(app, client)
    release = asyncio.Event()
    real_plan = regional.plan

    async def held_plan(*args: Any, **kwargs: Any) -> regional.Plan:
        await release.wait()
        return await real_plan(*args, **kwargs)

    monkeypatch.setattr(regional, "plan", held_plan)
    # Everyone logs in first: on SQLite the job holds the one write lock while it works.
    pages = []
    for locale, viewport in (("de", DESKTOP), ("ar", PHONE), ("ar", DESKTOP), ("de", PHONE)):
        ctx = await browser.new_context(
            base_url=live_server, viewport=viewport, locale=locale, java_script_enabled=False
        )
        page = await ctx.new_page()
        await log_in(page, coordinator.email)
        pages.append((locale, viewport, ctx, page))
    for locale, viewport, ctx, page in pages:
        size = "phone" if viewport is PHONE else "desktop"
        await page.goto(f"/review/matching?region=leipzig&lang={locale}")
        await expect(page.locator("meta[http-equiv=refresh]")).to_have_count(1)
        await expect(page.locator("progress")).to_have_count(1)
        await expect(page.locator("input[name=plan_id]")).to_have_count(0)
        await shots.take(page, f"waiting-{locale}-{size}")
        await ctx.close()
    release.set()
    for locale, viewport in (("de", DESKTOP), ("ar", PHONE)):
        ctx = await browser.new_context(base_url=live_server, viewport=viewport, locale=locale)
        page = await ctx.new_page()
        await log_in(page, coordinator.email)
        size = "phone" if viewport is PHONE else "desktop"
        for _ in range(100):
            await page.goto(f"/review/matching?region=leipzig&lang={locale}")
            if await page.locator("input[name=plan_id]").count():
                break
            await asyncio.sleep(0.1)
        await expect(page.locator("meta[http-equiv=refresh]")).to_have_count(0)
        await expect(page.locator("li.pair-item")).to_have_count(2)
        assert await violations(page) == [], (locale, size, "plan")
        await shots.take(page, f"plan-{locale}-{size}")
        await ctx.close()
