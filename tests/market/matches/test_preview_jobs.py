"""The preview of a city's matching run as an outbox job (market.matches.runs.PREVIEW_JOB): the
page answers at once with a page that reloads itself, the job works the plan out and stores it,
the stored plan is shown and confirmed, a plan that went stale is dropped, and a job that fails
is tried again without making anything twice. A small region is still previewed in the request
(tests/market/matches/test_regional_jobs.py)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from market.db import make_sessionmaker
from market.matches import regional, runs
from market.settings import Settings
from notifications.models import OutboxItem
from tests.factories import make_user
from tests.market.matches.test_match_pages import finished_run_page
from tests.market.matches.test_regional_api import _quiet_post
from tests.market.matches.test_regional_jobs import _city, _matches, arq_app  # noqa: F401
from tests.pages import browser

PAGE = "/review/matching?region=leipzig&lang=en"
REFRESH = '<meta http-equiv="refresh" content="2">'


def _field(html: str, name: str) -> str:
    return html.split(f'name="{name}" value="')[1].split('"')[0]


async def _count(app: Any, *conditions: Any, model: Any = runs.RegionalRun) -> int:
    async with make_sessionmaker(app.state.engine)() as s:
        stmt = select(func.count()).select_from(model).where(*conditions)
        return int((await s.execute(stmt)).scalar_one())


@pytest.fixture
def big_city(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if Leipzig were too big to preview in a request.
    monkeypatch.setattr(runs, "SYNC_PREVIEW_POSTS", 0)


async def test_a_big_citys_preview_is_a_job_and_its_plan_is_confirmed(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch, big_city: None
) -> None:
    _, coordinator, _ = await _city(app, client)
    release = asyncio.Event()
    real_plan = regional.plan

    async def held_plan(*args: Any, **kwargs: Any) -> regional.Plan:
        await release.wait()
        return await real_plan(*args, **kwargs)

    monkeypatch.setattr(regional, "plan", held_plan)
    async with browser(app, coordinator) as c:
        first = await c.get(PAGE)
        # The request did not wait for the plan: it answers with a page that reloads itself
        # and leaves a job in the outbox.
        assert first.status_code == 200
        assert REFRESH in first.text and 'name="plan_id"' not in first.text
        assert "Waiting to start." in first.text or "Working on it." in first.text
        assert await _count(app, OutboxItem.job == runs.PREVIEW_JOB, model=OutboxItem) == 1
        # Looking again while it works joins the same run.
        again = await c.get(PAGE)
        assert REFRESH in again.text
        assert await _count(app, runs.RegionalRun.kind == runs.PREVIEW) == 1
        release.set()
        shown = await finished_run_page(c, PAGE)
        assert "Create these 2 matches" in shown and REFRESH not in shown
        assert await _matches(app) == 0  # a preview makes nothing
        r = await c.post(
            "/review/matching",
            data={
                "csrf_token": _field(shown, "csrf_token"),
                "region": "leipzig",
                "plan_id": _field(shown, "plan_id"),
            },
        )
        assert r.status_code == 303
        done = await finished_run_page(c, r.headers["location"] + "?lang=en")
        assert "Matches made: 2" in done
    assert await _matches(app) == 2
    # The stored preview is done with: the next look works out a new plan.
    assert await _count(app, runs.RegionalRun.kind == runs.PREVIEW) == 0


async def test_a_stale_stored_preview_is_dropped_when_its_confirmation_fails(
    client: httpx.AsyncClient, app: Any, big_city: None
) -> None:
    region, coordinator, _ = await _city(app, client, pairs=1)
    async with browser(app, coordinator) as c:
        await c.get(PAGE)
        shown = await finished_run_page(c, PAGE)
        assert "Create this match" in shown
        # Posts change after the preview was worked out: another fitting pair.
        volunteer = await make_user(app, client, "volunteer", approved=True)
        seeker = await make_user(app, client, "seeker")
        await _quiet_post(app, volunteer, "offer", region)
        await _quiet_post(app, seeker, "need", region)
        # Within its few minutes the stored (now stale) plan is still what the page shows.
        assert "Create this match" in (await c.get(PAGE)).text
        r = await c.post(
            "/review/matching",
            data={
                "csrf_token": _field(shown, "csrf_token"),
                "region": "leipzig",
                "plan_id": _field(shown, "plan_id"),
            },
        )
        failed = await finished_run_page(c, r.headers["location"] + "?lang=en")
        assert "Posts changed since you looked" in failed
        assert await _matches(app) == 0
        # The stale plan is gone: the next look works out the new one.
        assert await _count(app, runs.RegionalRun.kind == runs.PREVIEW) == 0
        await c.get(PAGE)
        fresh = await finished_run_page(c, PAGE)
        assert "Create these 2 matches" in fresh


async def test_failed_jobs_are_tried_again_and_make_each_match_once(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch, big_city: None
) -> None:
    _, coordinator, _ = await _city(app, client)
    real_plan, real_apply = regional.plan, regional.apply
    failures = {"plan": 1, "apply": 1}

    async def failing_plan(*args: Any, **kwargs: Any) -> regional.Plan:
        found = await real_plan(*args, **kwargs)
        if failures["plan"]:
            failures["plan"] -= 1
            raise RuntimeError("the worker died while working out the preview")
        return found

    async def failing_apply(*args: Any, **kwargs: Any) -> Any:
        # The matches are written, then the job dies: its transaction must take them back.
        made = await real_apply(*args, **kwargs)
        if failures["apply"]:
            failures["apply"] -= 1
            raise RuntimeError("the worker died after writing the matches")
        return made

    monkeypatch.setattr(regional, "plan", failing_plan)
    monkeypatch.setattr(regional, "apply", failing_apply)
    async with browser(app, coordinator) as c:
        await c.get(PAGE)
        shown = await finished_run_page(c, PAGE)
        assert failures["plan"] == 0 and "Create these 2 matches" in shown
        r = await c.post(
            "/review/matching",
            data={
                "csrf_token": _field(shown, "csrf_token"),
                "region": "leipzig",
                "plan_id": _field(shown, "plan_id"),
            },
        )
        done = await finished_run_page(c, r.headers["location"] + "?lang=en")
        assert failures["apply"] == 0 and "Matches made: 2" in done
    assert await _matches(app) == 2
    assert await _count(app, runs.RegionalRun.kind == runs.PREVIEW) == 0


async def test_a_real_arq_worker_works_out_the_preview(
    client: httpx.AsyncClient,
    app: Any,
    arq_app: Any,  # noqa: F811
    settings: Settings,
    tmp_path: Path,
    big_city: None,
) -> None:
    from tests.notifications.procs import Workers, worker_env

    _, coordinator, _ = await _city(app, client)
    await app.state.relay.stop()  # only the worker may run the job
    env = worker_env(
        database_url=settings.database_url,
        redis_url=os.environ["ANLAUF_TEST_REDIS_URL"],
        smtp_url=str(settings.smtp_url),
        folder=tmp_path,
    )
    with Workers(tmp_path, env) as workers:
        workers.spawn()
        async with browser(arq_app, coordinator) as c:
            first = await c.get(PAGE)
            assert REFRESH in first.text
            shown = await finished_run_page(c, PAGE)
        log = workers[0].tail(400)
    assert "Create these 2 matches" in shown, log
    assert runs.PREVIEW_JOB in log
