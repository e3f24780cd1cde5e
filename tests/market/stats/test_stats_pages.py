"""The statistics page: the same figures as the API, a chart with a table for each, the form
without JavaScript, the CSV download, bad dates said at the field, and the right direction."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx

from market.accounts.models import CoordinatorRegion
from market.db import make_sessionmaker
from tests.factories import make_user
from tests.market.stats.test_stats_api import _query, build_world, expected
from tests.pages import browser


async def test_page_shows_the_figures_with_charts_and_tables(
    client: httpx.AsyncClient, app: Any
) -> None:
    world = await build_world(app)
    coordinator = await make_user(app, client, "coordinator", locale="de")
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        s.add(CoordinatorRegion(user_id=coordinator.id, region_id=world.regions["leipzig"]))
    want = expected(world, {"leipzig"})["total"]
    query = _query(world)
    async with browser(app, coordinator) as b:
        r = await b.get("/review/stats", params={**query, "lang": "de"})
        assert r.status_code == 200, r.text
        text = r.text
        # Five charts, each an SVG image named by its heading, each with a table.
        assert text.count('<svg class="chart"') == 5
        assert text.count("<table") == 5
        for heading in re.findall(r'<svg class="chart"[^>]*aria-labelledby="([^"]+)"', text):
            assert f'id="{heading}"' in text
        # The figures cards hold the figures the API counts.
        assert f'<span class="stat-value">{want["needs"]["created"]}</span>' in text
        assert f'<span class="stat-value">{want["needs"]["waiting"]}</span>' in text
        # Only the coordinator's region is offered and shown.
        assert 'value="leipzig"' in text and 'value="halle"' not in text
        assert "Halle" not in text
        # The CSV link keeps the period; the CSV is the API's.
        link = re.search(r'href="(/review/stats\.csv\?[^"]+)"', text)
        assert link, text
        csv_answer = await b.get(link.group(1).replace("&amp;", "&"))
        assert csv_answer.status_code == 200
        rows = list(csv.DictReader(io.StringIO(csv_answer.text)))
        assert rows[0]["needs_created"] == str(want["needs"]["created"])
        assert rows[0]["matches_connected"] == str(want["matches"]["connected"])

        # Arabic: the page and the charts run right to left.
        r = await b.get("/review/stats", params={**query, "lang": "ar"})
        assert 'dir="rtl"' in r.text
        assert r.text.count('direction="rtl"') >= 5

        # Another region: 404 as in the API; a bad date: said next to the field, 422.
        assert (await b.get("/review/stats?region=halle")).status_code == 404
        r = await b.get("/review/stats", params={"from": "2027-02-30", "lang": "en"})
        assert r.status_code == 422
        assert 'id="e-from"' in r.text and "2027-01-31" in r.text


async def test_only_staff(client: httpx.AsyncClient, app: Any) -> None:
    async with browser(app) as b:
        r = await b.get("/review/stats")
        assert r.status_code in (302, 303) and "/login" in r.headers["location"]
    seeker = await make_user(app, client, "seeker")
    async with browser(app, seeker) as b:
        assert (await b.get("/review/stats")).status_code == 403
        assert (await b.get("/review/stats.csv")).status_code == 403
        assert (await b.get("/review/map")).status_code == 403
        assert (await b.get("/review/map.json")).status_code == 403
