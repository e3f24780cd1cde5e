"""Regional runs as outbox jobs (market.matches.runs): asking answers at once, the job does the
work and reports progress, the outcome is shown, and only the run's region may see it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from market.accounts.models import CoordinatorRegion
from market.app import create_app
from market.db import make_sessionmaker
from market.matches import regional, runs
from market.matches.models import Match
from market.settings import Settings
from notifications.models import OutboxItem
from tests.factories import Actor, make_user
from tests.market.matches.test_match_pages import finished_run_page
from tests.market.matches.test_regional_api import LEIPZIG, _quiet_post, _region
from tests.pages import browser

RUN = "/api/v1/review/matching-run"


async def finished_run(
    client: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> dict[str, Any]:
    """Poll a regional run (market.matches.runs) until its job has finished."""
    for _ in range(600):
        r = await client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("done", "failed"):
            return dict(r.json())
        await asyncio.sleep(0.05)
    raise AssertionError(f"the run at {url} did not finish: {r.text}")


def asyncly(headers: dict[str, str]) -> dict[str, str]:
    """The API answers as in release 1 unless asked for a job (RFC 7240)."""
    return {**headers, "Prefer": "respond-async"}


async def _coordinator_of(app: Any, client: httpx.AsyncClient, region_id: str) -> Actor:
    person = await make_user(app, client, "coordinator")
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        s.add(CoordinatorRegion(user_id=person.id, region_id=region_id))
    return person


async def _city(
    app: Any, client: httpx.AsyncClient, pairs: int = 2
) -> tuple[str, Actor, list[str]]:
    """Leipzig with `pairs` fitting offers and needs, and its coordinator."""
    region = await _region(app, "leipzig", *LEIPZIG)
    coordinator = await _coordinator_of(app, client, region)
    needs = []
    for _ in range(pairs):
        volunteer = await make_user(app, client, "volunteer", approved=True)
        seeker = await make_user(app, client, "seeker")
        await _quiet_post(app, volunteer, "offer", region)
        needs.append(await _quiet_post(app, seeker, "need", region))
    return region, coordinator, needs


async def _matches(app: Any) -> int:
    async with make_sessionmaker(app.state.engine)() as s:
        return int((await s.execute(select(func.count()).select_from(Match))).scalar_one())


async def test_confirming_answers_at_once_and_twice_proposes_once(
    client: httpx.AsyncClient, app: Any
) -> None:
    _, coordinator, _ = await _city(app, client)
    plan = (await client.get(f"{RUN}?region=leipzig", headers=coordinator.headers)).json()
    body = {"region": "leipzig", "plan_id": plan["plan_id"]}
    # Two confirmations at once, as a double click would send them: one run.
    first, second = await asyncio.gather(
        client.post(RUN, headers=asyncly(coordinator.headers), json=body),
        client.post(RUN, headers=asyncly(coordinator.headers), json=body),
    )
    assert first.status_code == second.status_code == 202, (first.text, second.text)
    assert first.json()["run_id"] == second.json()["run_id"]
    assert first.json()["url"] == f"{RUN}/{first.json()['run_id']}"
    run = await finished_run(client, first.json()["url"], coordinator.headers)
    assert run["status"] == "done" and run["region"] == "leipzig" and run["problem"] is None
    assert run["result"]["created"] == 2 and len(run["result"]["match_ids"]) == 2
    # The same plan confirmed again later: the same run, nothing proposed twice.
    again = await client.post(RUN, headers=asyncly(coordinator.headers), json=body)
    assert again.status_code == 202 and again.json() == {**first.json(), "status": "done"}
    await asyncio.sleep(0.3)
    assert await _matches(app) == 2
    async with make_sessionmaker(app.state.engine)() as s:
        jobs = (await s.scalars(select(OutboxItem).where(OutboxItem.job == runs.CONFIRM_JOB))).all()
    assert [j.status for j in jobs] == ["done"]


async def test_a_changed_plan_ends_in_the_documented_conflict(
    client: httpx.AsyncClient, app: Any
) -> None:
    region, coordinator, _ = await _city(app, client)
    plan = (await client.get(f"{RUN}?region=leipzig", headers=coordinator.headers)).json()
    # A new need and offer arrive between the preview and the confirmation.
    await _quiet_post(
        app, await make_user(app, client, "volunteer", approved=True), "offer", region
    )
    await _quiet_post(app, await make_user(app, client, "seeker"), "need", region)
    asked = await client.post(
        RUN,
        headers=asyncly(coordinator.headers),
        json={"region": "leipzig", "plan_id": plan["plan_id"]},
    )
    assert asked.status_code == 202
    run = await finished_run(client, asked.json()["url"], coordinator.headers)
    assert run["status"] == "failed" and run["result"] is None
    assert run["problem"]["status"] == 409 and "changed" in run["problem"]["detail"]
    assert await _matches(app) == 0


async def test_another_regions_coordinator_gets_404_for_the_run(
    client: httpx.AsyncClient, app: Any
) -> None:
    _, coordinator, _ = await _city(app, client)
    halle = await _coordinator_of(app, client, await _region(app, "halle", 51.48, 11.97))
    everywhere = await make_user(app, client, "coordinator")
    seeker = await make_user(app, client, "seeker")
    plan = (await client.get(f"{RUN}?region=leipzig", headers=coordinator.headers)).json()
    asked = await client.post(
        RUN,
        headers=asyncly(coordinator.headers),
        json={"region": "leipzig", "plan_id": plan["plan_id"]},
    )
    url, run_id = asked.json()["url"], asked.json()["run_id"]
    await finished_run(client, url, coordinator.headers)
    assert (await client.get(url, headers=halle.headers)).status_code == 404
    assert (await client.get(url, headers=seeker.headers)).status_code == 403
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=everywhere.headers)).status_code == 200
    # A confirmation run is not an unmatched run, and an id that is no run is none.
    assert (
        await client.get(f"/api/v1/review/unmatched/{run_id}", headers=coordinator.headers)
    ).status_code == 404
    assert (await client.get(f"{RUN}/{'x' * 200}", headers=coordinator.headers)).status_code == 404
    async with browser(app, halle) as c:
        assert (await c.get(f"/review/runs/{run_id}")).status_code == 404
    async with browser(app, coordinator) as c:
        assert (await c.get(f"/review/runs/{run_id}")).status_code == 200


async def test_the_run_page_refreshes_itself_until_the_job_is_done(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch, is_postgres: bool
) -> None:
    _, coordinator, _ = await _city(app, client)
    release = asyncio.Event()
    real_plan = regional.plan

    async def held_plan(*args: Any, **kwargs: Any) -> regional.Plan:
        found = await real_plan(*args, **kwargs)
        if kwargs.get("progress") is not None:  # the job's, not the preview's
            await release.wait()
        return found

    monkeypatch.setattr(regional, "plan", held_plan)
    async with browser(app, coordinator) as c:
        page = await c.get("/review/matching?region=leipzig&lang=en")
        plan_id = page.text.split('name="plan_id" value="')[1].split('"')[0]
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        r = await c.post(
            "/review/matching", data={"csrf_token": csrf, "region": "leipzig", "plan_id": plan_id}
        )
        assert r.status_code == 303
        url = r.headers["location"] + "?lang=en"
        for _ in range(200):
            waiting = await c.get(url)
            # PostgreSQL shows the job's steps as it reports them (SQLite: "waiting to start").
            if not is_postgres or "Choosing the best pairs" in waiting.text:
                break
            await asyncio.sleep(0.05)
        assert waiting.status_code == 200
        assert '<meta http-equiv="refresh" content="2">' in waiting.text
        assert (
            "Choosing the best pairs" in waiting.text
            if is_postgres
            else "Waiting to start." in waiting.text
        )
        assert await _matches(app) == 0
        release.set()
        done = await finished_run_page(c, url)
        assert "Matches made: 2" in done and "refresh" not in done
    assert await _matches(app) == 2


async def test_unmatched_view_runs_as_a_job_and_is_kept_a_few_minutes(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "SYNC_UNMATCHED_NEEDS", 0)  # as if Leipzig were a big city
    region, coordinator, _ = await _city(app, client, pairs=1)
    lonely = await _quiet_post(
        app, await make_user(app, client, "seeker"), "need", region, languages=["ti"]
    )
    halle = await _coordinator_of(app, client, await _region(app, "halle", 51.48, 11.97))
    asked = await client.get(
        "/api/v1/review/unmatched?region=leipzig", headers=asyncly(coordinator.headers)
    )
    assert asked.status_code == 202 and asked.json()["url"].startswith("/api/v1/review/unmatched/")
    # Asking again while it works joins the same run.
    again = await client.get(
        "/api/v1/review/unmatched?region=leipzig", headers=asyncly(coordinator.headers)
    )
    assert again.status_code in (200, 202)
    if again.status_code == 202:
        assert again.json()["run_id"] == asked.json()["run_id"]
    assert (await client.get(asked.json()["url"], headers=halle.headers)).status_code == 404
    run = await finished_run(client, asked.json()["url"], coordinator.headers)
    assert run["status"] == "done"
    assert [(i["need"]["id"], i["cause"]) for i in run["result"]["items"]] == [(lonely, "language")]
    # Within a few minutes the stored result answers at once, in the documented shape.
    stored = await client.get(
        "/api/v1/review/unmatched?region=leipzig", headers=asyncly(coordinator.headers)
    )
    assert stored.status_code == 200
    assert stored.json()["items"] == run["result"]["items"] and stored.json()["computed_at"]
    async with make_sessionmaker(app.state.engine)() as s:
        assert (await s.scalar(select(func.count()).select_from(runs.RegionalRun))) == 1
    async with browser(app, coordinator) as c:
        page = await c.get("/review/unmatched?region=leipzig&lang=en")
        assert page.status_code == 200 and f'href="/posts/{lonely}"' in page.text
        assert "refresh" not in page.text


async def test_coordinators_asking_at_once_start_one_unmatched_run(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "SYNC_UNMATCHED_NEEDS", 0)
    region, coordinator, _ = await _city(app, client, pairs=1)
    second = await _coordinator_of(app, client, region)
    url = "/api/v1/review/unmatched?region=leipzig"
    asked = await asyncio.gather(
        *(client.get(url, headers=asyncly(p.headers)) for p in (coordinator, second) * 3)
    )
    # Each answer is the one run: pending (202), or done already and shown (200).
    assert {a.status_code for a in asked} <= {200, 202}, [a.text for a in asked]
    pending = [a.json() for a in asked if a.status_code == 202]
    assert pending and len({a["run_id"] for a in pending}) == 1
    run = await finished_run(client, pending[0]["url"], coordinator.headers)
    assert run["status"] == "done"
    async with make_sessionmaker(app.state.engine)() as s:
        stored = (await s.scalars(select(runs.RegionalRun))).all()
        jobs = await s.scalar(select(func.count()).where(OutboxItem.job == runs.UNMATCHED_JOB))
    assert len(stored) == 1 and jobs == 1
    # Finished, the run lets go of its claim on the region: the next run may start.
    assert stored[0].dedupe_key is None


async def test_a_stuck_unmatched_run_gives_way_after_the_pending_window(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "SYNC_UNMATCHED_NEEDS", 0)
    region, coordinator, _ = await _city(app, client, pairs=1)
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        # A run whose job was lost: queued, holding the region's key, 11 minutes old.
        stuck = runs.RegionalRun(
            kind=runs.UNMATCHED,
            region_id=region,
            dedupe_key=runs._pending_key(runs.UNMATCHED, region),
            created_at=runs.utcnow() - runs.UNMATCHED_PENDING - timedelta(minutes=1),
        )
        s.add(stuck)
    asked = await client.get(
        "/api/v1/review/unmatched?region=leipzig", headers=asyncly(coordinator.headers)
    )
    assert asked.status_code == 202 and asked.json()["run_id"] != stuck.id
    run = await finished_run(client, asked.json()["url"], coordinator.headers)
    assert run["status"] == "done"
    async with make_sessionmaker(app.state.engine)() as s:
        old = await s.get(runs.RegionalRun, stuck.id)
    assert old is not None and old.status == "queued" and old.dedupe_key is None


async def test_the_unmatched_page_waits_with_a_refresh(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "SYNC_UNMATCHED_NEEDS", 0)
    region, coordinator, _ = await _city(app, client, pairs=1)
    lonely = await _quiet_post(
        app, await make_user(app, client, "seeker"), "need", region, languages=["ti"]
    )
    release = asyncio.Event()
    real = regional.unmatched

    async def held(*args: Any, **kwargs: Any) -> list[regional.Unmatched]:
        await release.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(regional, "unmatched", held)
    async with browser(app, coordinator) as c:
        first = await c.get("/review/unmatched?region=leipzig&lang=en")
        assert first.status_code == 200
        assert (
            '<meta http-equiv="refresh" content="2">' in first.text
            and f"/posts/{lonely}" not in first.text
        )
        release.set()
        done = await finished_run_page(c, "/review/unmatched?region=leipzig&lang=en")
        assert f'href="/posts/{lonely}"' in done and "No offer in this language" in done


@pytest.fixture
async def arq_app(settings: Settings, app: Any) -> AsyncIterator[Any]:
    """A second web app on the same database whose relay hands jobs to arq (Redis)."""
    redis_url = os.environ.get("ANLAUF_TEST_REDIS_URL")
    if not redis_url or not settings.database_url.startswith("postgresql"):
        pytest.skip("the arq worker runs with PostgreSQL and Redis")
    application = create_app(settings.model_copy(update={"redis_url": redis_url}))
    async with application.router.lifespan_context(application):
        yield application


async def test_a_real_arq_worker_runs_the_confirmation(
    client: httpx.AsyncClient, app: Any, arq_app: Any, settings: Settings, tmp_path: Path
) -> None:
    from tests.notifications.procs import Workers, worker_env

    _, coordinator, _ = await _city(app, client)
    # Only the worker may run the job: the in-process relay of the plain app stops sweeping.
    await app.state.relay.stop()
    env = worker_env(
        database_url=settings.database_url,
        redis_url=os.environ["ANLAUF_TEST_REDIS_URL"],
        smtp_url=str(settings.smtp_url),
        folder=tmp_path,
    )
    transport = httpx.ASGITransport(app=arq_app)
    with Workers(tmp_path, env) as workers:
        workers.spawn()
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
            plan = (await web.get(f"{RUN}?region=leipzig", headers=coordinator.headers)).json()
            asked = await web.post(
                RUN,
                headers=asyncly(coordinator.headers),
                json={"region": "leipzig", "plan_id": plan["plan_id"]},
            )
            assert asked.status_code == 202
            run = await finished_run(web, asked.json()["url"], coordinator.headers)
        log = workers[0].tail(400)
    assert run["status"] == "done" and run["result"]["created"] == 2, log
    assert runs.CONFIRM_JOB in log
    assert await _matches(app) == 2


async def test_the_api_answers_as_in_release_1_unless_asked_for_a_job(
    client: httpx.AsyncClient, app: Any
) -> None:
    """Release-1 additions stay as they are: without `Prefer: respond-async` confirming answers
    200 with the created matches (409 when stale) and the unmatched view 200 with its items."""
    _, coordinator, _ = await _city(app, client)
    plan = (await client.get(f"{RUN}?region=leipzig", headers=coordinator.headers)).json()
    stale = await client.post(
        RUN, headers=coordinator.headers, json={"region": "leipzig", "plan_id": "0000"}
    )
    assert stale.status_code == 409
    applied = await client.post(
        RUN, headers=coordinator.headers, json={"region": "leipzig", "plan_id": plan["plan_id"]}
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["created"] == 2 and len(applied.json()["match_ids"]) == 2
    assert await _matches(app) == 2
    view = await client.get("/api/v1/review/unmatched?region=leipzig", headers=coordinator.headers)
    assert view.status_code == 200 and "items" in view.json()
