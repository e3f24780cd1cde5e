"""The directory's pages: search without JavaScript, a service page with its links, the print
view, the form that keeps what was typed, review by form, suggesting a service from a match."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx

from market.directory.models import Entry
from tests.factories import make_user, post_body
from tests.market.directory.test_directory_api import ALL_WEEK, _published, _regions, service_body
from tests.pages import (
    browser,
    checked_of,
    count,
    error_of,
    html_lang,
    running_app,
    submit,
    value_of,
)


async def test_search_and_service_page(
    client: httpx.AsyncClient, app: Any, monkeypatch: Any
) -> None:
    await _regions(app)
    org = await make_user(app, client, "organisation")
    coord = await make_user(app, client, "coordinator")
    arabic = await _published(client, org, coord, opening_hours=ALL_WEEK)
    await _published(
        client, org, coord, name="Kleiderkammer Süd", languages=["de"], topics=["goods"],
        description="Kleidung.", opening_hours=[],
    )  # fmt: skip
    monkeypatch.setattr(
        "market.directory.api.utcnow", lambda: datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    )
    async with browser(app) as anonymous:
        page = await anonymous.get(
            "/services?language=ar&place=Leipzig&radius_km=10&open_now=true&topic=accompaniment"
        )
        assert page.status_code == 200
        assert f"/services/{arabic['id']}" in page.text and "Kleiderkammer" not in page.text
        # The form keeps the search.
        assert value_of(page.text, "place") == "Leipzig"
        assert checked_of(page.text, "open_now") == ["true"]
        bad = await anonymous.get("/services?topic=astrology&place=Atlantis")
        assert bad.status_code == 422 and error_of(bad.text, "topic")

        detail = await anonymous.get(f"/services/{arabic['id']}")
        assert detail.status_code == 200
        assert 'href="tel:+49341123456"' in detail.text
        assert 'href="mailto:beratung@example.org"' in detail.text
        assert "openstreetmap.org/directions" not in detail.text  # no routing link by default
        assert "Montag" in detail.text  # opening hours in the reader's locale (German)
        printed = await anonymous.get(f"/services/{arabic['id']}/print")
        assert printed.status_code == 200 and "directory.css" in printed.text
        arabic_page = await anonymous.get(f"/services/{arabic['id']}?lang=ar")
        assert html_lang(arabic_page.text) == ("ar", "rtl")
        assert "الاثنين" in arabic_page.text
        csv = await anonymous.get("/services.csv")
        assert csv.status_code == 200 and csv.text.startswith("name,organisation,topics")

    routed = app.state.settings.model_copy(
        update={"routing_url": "https://www.openstreetmap.org/directions?to={lat}%2C{lon}"}
    )
    async with running_app(routed) as other, browser(other) as anonymous:
        detail = await anonymous.get(f"/services/{arabic['id']}")
        assert "https://www.openstreetmap.org/directions?to=51.339700%2C12.373100" in detail.text


async def test_form_keeps_what_was_typed_then_review_publishes(
    client: httpx.AsyncClient, app: Any
) -> None:
    await _regions(app)
    org = await make_user(app, client, "organisation")
    coord = await make_user(app, client, "coordinator")
    typed = {
        "name": "Nähcafé Lindenau",
        "topic": "leisure",
        "languages": ["ar", "de"],
        "address": "Nirgendwo 1, Atlantis",
        "description": "Gemeinsam nähen.",
        "open_1": "18:00",
        "close_1": "09:00",
    }
    async with browser(app, org) as member:
        r = await submit(member, "/services/new", typed)
        assert r.status_code == 422
        assert value_of(r.text, "name") == "Nähcafé Lindenau"
        assert sorted(checked_of(r.text, "languages")) == ["ar", "de"]
        assert error_of(r.text, "hours_1")
        assert await count(app, Entry) == 0
        r = await submit(member, "/services/new", typed | {"close_1": "20:00"})
        assert r.status_code == 422 and error_of(r.text, "address")
        assert value_of(r.text, "address") == "Nirgendwo 1, Atlantis"
        r = await submit(
            member,
            "/services/new",
            typed | {"close_1": "20:00", "address": "Lützner Straße 30, Leipzig"},
        )
        assert r.status_code == 303, r.text
        service_url = r.headers["location"].split("?")[0]
    async with browser(app) as anonymous:
        assert (await anonymous.get(service_url)).status_code == 404
    async with browser(app, coord) as staff:
        queue = await staff.get("/review/directory")
        assert service_url in queue.text
        entry_id = service_url.rsplit("/", 1)[1]
        r = await submit(
            staff,
            "/review/directory",
            {"entry_id": entry_id, "kind": "service", "decision": "publish"},
        )
        assert r.status_code == 303
    async with browser(app) as anonymous:
        assert (await anonymous.get(service_url)).status_code == 200


async def test_volunteer_suggests_a_service_from_the_match(
    client: httpx.AsyncClient, app: Any
) -> None:
    await _regions(app)
    org = await make_user(app, client, "organisation")
    coord = await make_user(app, client, "coordinator")
    service = await _published(client, org, coord)
    seeker = await make_user(app, client, "seeker")
    volunteer = await make_user(app, client, "volunteer", approved=True)
    await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    await client.post("/api/v1/posts", headers=volunteer.headers, json=post_body(kind="offer"))
    (match,) = (await client.get("/api/v1/matches", headers=volunteer.headers)).json()["items"]
    async with browser(app, volunteer) as helper:
        page = await helper.get(f"/matches/{match['id']}")
        link = f"/services?match_id={match['id']}"
        assert link in page.text.replace("&amp;", "&")
        r = await submit(
            helper,
            link,
            {"match_id": match["id"]},
            action=f"/services/{service['id']}/suggest",
        )
        assert r.status_code == 303
    async with browser(app, seeker) as person:
        page = await person.get("/my/suggestions")
        assert f"/services/{service['id']}" in page.text
        notes = await person.get("/notifications")
        assert service["name"] in notes.text
    # The seeker's own match page offers no such form (they are the one told).
    async with browser(app, seeker) as person:
        page = await person.get(f"/matches/{match['id']}")
        assert f"/services?match_id={match['id']}" not in page.text


async def test_events_page_and_ics_link(client: httpx.AsyncClient, app: Any) -> None:
    from tests.market.directory.test_directory_api import event_body

    await _regions(app)
    coord = await make_user(app, client, "coordinator")
    event = (await client.post("/api/v1/events", headers=coord.headers, json=event_body())).json()
    async with browser(app) as anonymous:
        page = await anonymous.get("/events")
        assert f"/events/{event['id']}" in page.text
        detail = await anonymous.get(f"/events/{event['id']}")
        assert f"/events/{event['id']}.ics" in detail.text
        bad = await anonymous.get("/events?from=gestern")
        assert bad.status_code == 422 and error_of(bad.text, "from")
        assert re.search(r"BEGIN:VEVENT", (await anonymous.get(f"/events/{event['id']}.ics")).text)
    assert service_body()["name"]


async def test_pending_entry_pages_and_api_alike(client: httpx.AsyncClient, app: Any) -> None:
    """A pending service: its organisation and Leipzig's coordinator see it; Halle's
    coordinator and everyone else get 404, on the page as in the API."""
    from tests.market.directory.test_directory_api import _regional_coordinator

    regions = await _regions(app)
    org = await make_user(app, client, "organisation")
    leipzig = await _regional_coordinator(app, client, regions["leipzig"])
    halle = await _regional_coordinator(app, client, regions["halle"])
    seeker = await make_user(app, client, "seeker")
    service = (
        await client.post("/api/v1/services", headers=org.headers, json=service_body())
    ).json()
    for who, want in ((org, 200), (leipzig, 200), (halle, 404), (seeker, 404), (None, 404)):
        headers = who.headers if who else {}
        api = await client.get(f"/api/v1/services/{service['id']}", headers=headers)
        async with browser(app, who) as c:
            page = await c.get(f"/services/{service['id']}")
            edit = await c.get(f"/services/{service['id']}/edit")
        assert (api.status_code, page.status_code) == (want, want), (who, api.status_code)
        if who is not None:
            assert edit.status_code == want
    async with browser(app, halle) as c:
        assert f"/services/{service['id']}" not in (await c.get("/review/directory")).text
    async with browser(app, leipzig) as c:
        assert f"/services/{service['id']}" in (await c.get("/review/directory")).text
    async with browser(app, seeker) as c:
        assert (await c.get("/review/directory")).status_code == 403


async def test_edit_forms_and_confirming_without_the_mail(
    client: httpx.AsyncClient, app: Any
) -> None:
    from tests.market.directory.test_directory_api import event_body

    await _regions(app)
    org = await make_user(app, client, "organisation")
    coord = await make_user(app, client, "coordinator")
    service = await _published(client, org, coord)
    event = (await client.post("/api/v1/events", headers=coord.headers, json=event_body())).json()
    async with browser(app, org) as member:
        page = await member.get(f"/services/{service['id']}/edit")
        assert value_of(page.text, "open_0") == "09:00" and value_of(page.text, "name")
        r = await submit(
            member,
            f"/services/{service['id']}/edit",
            {
                "name": "Migrationsberatung Ost (neu)",
                "topic": "accompaniment-authorities",
                "languages": ["ar", "de", "fa"],
                "address": service["address"],
                "open_4": "10:00",
                "close_4": "14:00",
            },
        )
        assert r.status_code == 303, r.text
        # A member confirms from the service page, without the mail's link.
        page = await member.get(f"/services/{service['id']}/confirm")
        assert page.status_code == 200
        r = await submit(member, f"/services/{service['id']}/confirm", {})
        assert r.status_code == 303
        # The city's event is not theirs to change.
        assert (await member.get(f"/events/{event['id']}/edit")).status_code == 403
    changed = (await client.get(f"/api/v1/services/{service['id']}")).json()
    assert changed["name"] == "Migrationsberatung Ost (neu)"
    assert changed["languages"] == ["ar", "de", "fa"]
    assert changed["opening_hours"] == [{"weekday": 4, "start": "10:00", "end": "14:00"}]
    assert changed["phone"] is None  # emptied in the form: removed
    assert changed["confirmed_at"] > service["confirmed_at"]
    async with browser(app, coord) as staff:
        page = await staff.get(f"/events/{event['id']}/edit")
        starts = value_of(page.text, "starts_at")
        r = await submit(
            staff,
            f"/events/{event['id']}/edit",
            {
                "name": event["name"],
                "topic": "leisure",
                "languages": ["de"],
                "address": event["address"],
                "starts_at": starts,
                "ends_at": starts,  # not after the start: refused, kept
            },
        )
        assert r.status_code == 422 and error_of(r.text, "ends_at")
        assert value_of(r.text, "starts_at") == starts
