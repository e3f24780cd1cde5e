"""Published services on the search page's map: GET /api/v1/services.geojson gives their own
points (public places), only published ones, in a bbox when asked; the search page points its
map at it, the coordinators' waiting map does not."""

from __future__ import annotations

from typing import Any

import httpx

from market.db import make_sessionmaker
from market.directory.models import Entry
from tests.factories import make_user
from tests.pages import browser


async def _entries(app: Any) -> dict[str, str]:
    rows = {
        "Tafel Mitte": {"kind": "service", "status": "published", "lat": 52.52, "lon": 13.40},
        "Beratung Ost": {"kind": "service", "status": "published", "lat": 52.50, "lon": 13.60},
        "Noch geprüft": {"kind": "service", "status": "pending_review", "lat": 52.51, "lon": 13.41},
        "Fest im Park": {"kind": "event", "status": "published", "lat": 52.53, "lon": 13.42},
    }
    ids = {}
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        for name, values in rows.items():
            entry = Entry(name=name, address=f"{name}straße 1", **values)
            s.add(entry)
            await s.flush()
            ids[name] = entry.id
    return ids


async def test_published_services_as_geojson(client: httpx.AsyncClient, app: Any) -> None:
    ids = await _entries(app)
    r = await client.get("/api/v1/services.geojson")
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["type"] == "FeatureCollection"
    by_name = {f["properties"]["name"]: f for f in data["features"]}
    assert sorted(by_name) == ["Beratung Ost", "Tafel Mitte"]
    tafel = by_name["Tafel Mitte"]
    assert tafel["geometry"] == {"type": "Point", "coordinates": [13.40, 52.52]}
    assert tafel["properties"]["url"] == f"/services/{ids['Tafel Mitte']}"
    assert tafel["properties"]["kind"] == "service"

    r = await client.get("/api/v1/services.geojson?bbox=13.3,52.4,13.5,52.6")
    assert [f["properties"]["name"] for f in r.json()["features"]] == ["Tafel Mitte"]
    for bad in ("13,52,14", "a,b,c,d", "14,52,13,53", "13,95,14,96"):
        r = await client.get(f"/api/v1/services.geojson?bbox={bad}")
        assert r.status_code == 422, bad


async def test_the_search_page_map_has_the_services_layer(
    client: httpx.AsyncClient, app: Any
) -> None:
    r = await client.get("/posts")
    assert r.status_code == 200
    assert 'data-services="/api/v1/services.geojson"' in r.text
    coordinator = await make_user(app, client, "coordinator")
    async with browser(app, coordinator) as c:
        page = await c.get("/review/waiting")
    assert page.status_code == 200
    assert "data-services" not in page.text
