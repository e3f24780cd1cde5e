"""The directory from the command line, as an operator runs it (separate processes):
`anlauf tick --at` past a service's confirmation date takes it out of search, and
`anlauf directory import` reports each bad row with its line and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from market.db import utcnow
from tests.anlauf_cli import run_anlauf
from tests.factories import make_user
from tests.market.directory.test_directory_api import _published, _regions
from tests.smtp import SmtpServer


async def test_tick_past_the_confirmation_date_takes_a_service_out_of_search(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    await _regions(app)
    org = await make_user(app, client, "organisation", locale="en")
    coord = await make_user(app, client, "coordinator")
    service = await _published(client, org, coord)
    settings = app.state.settings
    await app.state.relay.stop()  # only the tick's process delivers

    asked = (utcnow() + timedelta(days=181)).isoformat()
    code, out, err = await run_anlauf(settings, "tick", "--at", asked)
    assert code == 0, err
    assert "directory_confirmations_asked: 1" in out
    await mailbox.wait_for(org.email, containing="/confirm?token=", timeout=15)
    assert [s["id"] for s in (await client.get("/api/v1/services")).json()["items"]] == [
        service["id"]
    ]

    lapsed = (utcnow() + timedelta(days=211)).isoformat()
    code, out, err = await run_anlauf(settings, "tick", "--at", lapsed)
    assert code == 0, err
    assert "directory_services_archived: 1" in out
    assert (await client.get("/api/v1/services")).json()["items"] == []


async def test_directory_import_reports_rows(
    client: httpx.AsyncClient, app: Any, tmp_path: Path
) -> None:
    await _regions(app)
    catalogue = tmp_path / "leipzig.csv"
    catalogue.write_text(
        "name,organisation,topics,languages,description,address,lat,lon,opening_hours,"
        "phone,email,website\n"
        'Tafel Ost,Stadt Leipzig,goods,de;ar,,"Markt 1, 04109 Leipzig",51.34,12.37,'
        "0 09:00-12:00,,,\n"
        'Falsch,Stadt Leipzig,goods,de,,"Markt 1, 04109 Leipzig",north,12.37,,,,\n',
        encoding="utf-8",
    )
    code, out, err = await run_anlauf(app.state.settings, "directory", "import", str(catalogue))
    assert code == 1
    assert f"{catalogue}:3: lat:" in err
    assert "Imported 1 services" in out
    (item,) = (await client.get("/api/v1/services")).json()["items"]
    assert item["name"] == "Tafel Ost" and item["languages"] == ["de", "ar"]
    assert item["opening_hours"] == [{"weekday": 0, "start": "09:00", "end": "12:00"}]
