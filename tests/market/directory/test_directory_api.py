"""The directory's API (API.md, Directory of services and events): writing and review, finding
help, bad input, events and iCalendar, referral, freshness, CSV round trip."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from market import maintenance
from market.db import make_sessionmaker, utcnow
from market.directory import transfer
from market.directory.models import Entry
from market.i18n import use_locale
from market.posts import taxonomy
from market.posts.models import Region
from tests.factories import Actor, make_user, post_body
from tests.pages import browser
from tests.smtp import SmtpServer

LEIPZIG = {"lat": 51.3397, "lon": 12.3731}
ALL_WEEK = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]


def service_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Migrationsberatung Ost",
        "topics": ["accompaniment-authorities"],
        "description": "Beratung zu Aufenthalt, Jobcenter und Familie.",
        "languages": ["ar", "de"],
        "address": "Eisenbahnstraße 66, 04315 Leipzig",
        "location": LEIPZIG,
        "opening_hours": [{"weekday": 0, "start": "09:00", "end": "12:00"}],
        "phone": "+49 341 123456",
        "email": "beratung@example.org",
        "website": "https://example.org/beratung",
    }
    body.update(overrides)
    return body


def event_body(**overrides: Any) -> dict[str, Any]:
    start = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    body = service_body(name="Frauencafé international", topics=["leisure"])
    del body["opening_hours"]
    body |= {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat()}
    body.update(overrides)
    return body


async def _regions(app: Any) -> dict[str, str]:
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        leipzig = Region(slug="leipzig", name="Leipzig", lat=51.34, lon=12.37, radius_km=25)
        halle = Region(slug="halle", name="Halle", lat=51.48, lon=11.97, radius_km=15)
        s.add_all([leipzig, halle])
        await s.flush()
        return {"leipzig": leipzig.id, "halle": halle.id}


async def _regional_coordinator(app: Any, client: httpx.AsyncClient, region_id: str) -> Actor:
    from market.accounts.models import CoordinatorRegion

    coordinator = await make_user(app, client, "coordinator")
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        s.add(CoordinatorRegion(user_id=coordinator.id, region_id=region_id))
    return coordinator


async def _published(
    client: httpx.AsyncClient, org: Actor, coord: Actor, **kw: Any
) -> dict[str, Any]:
    r = await client.post("/api/v1/services", headers=org.headers, json=service_body(**kw))
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/review/services/{r.json()['id']}",
        headers=coord.headers,
        json={"decision": "publish"},
    )
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def test_member_writes_coordinator_of_region_publishes(
    client: httpx.AsyncClient, app: Any
) -> None:
    regions = await _regions(app)
    org = await make_user(app, client, "organisation")
    halle_coord = await _regional_coordinator(app, client, regions["halle"])
    leipzig_coord = await _regional_coordinator(app, client, regions["leipzig"])
    seeker = await make_user(app, client, "seeker")

    r = await client.post("/api/v1/services", headers=org.headers, json=service_body())
    assert r.status_code == 201, r.text
    service = r.json()
    assert set(service) >= {
        "id", "name", "organisation", "topics", "description", "languages", "address",
        "location", "opening_hours", "phone", "email", "website", "status", "confirmed_at",
        "translation",
    }  # fmt: skip
    assert service["status"] == "pending_review"
    assert service["organisation"] == {
        "id": org.organisation_id,
        "name": service["organisation"]["name"],
    }
    assert service["location"] == LEIPZIG and service["translation"] is None
    sid = service["id"]

    # Pending: the organisation and Leipzig's coordinators see it; nobody else knows it.
    assert (await client.get(f"/api/v1/services/{sid}")).status_code == 404
    assert (await client.get(f"/api/v1/services/{sid}", headers=seeker.headers)).status_code == 404
    assert (
        await client.get(f"/api/v1/services/{sid}", headers=halle_coord.headers)
    ).status_code == 404
    assert (await client.get(f"/api/v1/services/{sid}", headers=org.headers)).status_code == 200
    assert (await client.get("/api/v1/services")).json()["items"] == []

    # The review queue: Leipzig's coordinator only; a seeker may never review.
    queue = await client.get(
        "/api/v1/review/services?status=pending_review", headers=leipzig_coord.headers
    )
    assert [s["id"] for s in queue.json()["items"]] == [sid]
    halle_queue = await client.get("/api/v1/review/services", headers=halle_coord.headers)
    assert halle_queue.json()["items"] == []
    assert (await client.get("/api/v1/review/services", headers=seeker.headers)).status_code == 403
    r = await client.post(
        f"/api/v1/review/services/{sid}", headers=halle_coord.headers, json={"decision": "publish"}
    )
    assert r.status_code == 404
    r = await client.post(
        f"/api/v1/review/services/{sid}",
        headers=leipzig_coord.headers,
        json={"decision": "publish"},
    )
    assert r.status_code == 200 and r.json()["status"] == "published"
    assert r.json()["confirmed_at"] is not None
    r = await client.post(
        f"/api/v1/review/services/{sid}", headers=leipzig_coord.headers, json={"decision": "reject"}
    )
    assert r.status_code == 409

    assert (await client.get(f"/api/v1/services/{sid}")).status_code == 200
    assert [s["id"] for s in (await client.get("/api/v1/services")).json()["items"]] == [sid]

    # Changing: the organisation yes, a seeker who sees it no (403).
    r = await client.patch(
        f"/api/v1/services/{sid}", headers=org.headers, json={"phone": "+49 341 999"}
    )
    assert r.status_code == 200 and r.json()["phone"] == "+49 341 999"
    r = await client.patch(f"/api/v1/services/{sid}", headers=seeker.headers, json={"phone": None})
    assert r.status_code == 403


async def test_who_may_write(client: httpx.AsyncClient, app: Any) -> None:
    await _regions(app)
    seeker = await make_user(app, client, "seeker")
    volunteer = await make_user(app, client, "volunteer", approved=True)
    pending_org = await make_user(app, client, "organisation", org_status="pending")
    coordinator = await make_user(app, client, "coordinator")
    assert (await client.post("/api/v1/services", json=service_body())).status_code == 401
    for who in (seeker, volunteer, pending_org):
        r = await client.post("/api/v1/services", headers=who.headers, json=service_body())
        assert r.status_code in (403, 422), (who.role, r.text)
    async with make_sessionmaker(app.state.engine)() as s:
        assert await s.scalar(select(func.count()).select_from(Entry)) == 0
    # A coordinator of the region publishes the city's own entry at once.
    r = await client.post("/api/v1/services", headers=coordinator.headers, json=service_body())
    assert r.status_code == 201 and r.json()["status"] == "published"
    assert r.json()["organisation"] is None


async def test_bad_input_names_the_field_and_stores_nothing(
    client: httpx.AsyncClient, app: Any
) -> None:
    await _regions(app)
    org = await make_user(app, client, "organisation")
    cases = [
        ({"opening_hours": [{"weekday": 1, "start": "14:00", "end": "09:00"}]}, "opening_hours.0"),
        ({"opening_hours": [{"weekday": 7, "start": "09:00", "end": "10:00"}]}, "opening_hours.0.weekday"),
        ({"topics": ["astrology"]}, "topics.0"),
        ({"languages": ["xx-nonsense"]}, "languages.0"),
        ({"address": "Nirgendwo 1, Atlantis", "location": None}, "address"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"phone": "call me"}, "phone"),
    ]  # fmt: skip
    for change, field in cases:
        r = await client.post("/api/v1/services", headers=org.headers, json=service_body(**change))
        assert r.status_code == 422, (change, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (change, r.json())
    r = await client.post(
        "/api/v1/events",
        headers=org.headers,
        json=event_body(ends_at=(utcnow() - timedelta(days=1)).isoformat()),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "ends_at"
    async with make_sessionmaker(app.state.engine)() as s:
        assert await s.scalar(select(func.count()).select_from(Entry)) == 0
    # An address with a city the gazetteer knows is placed without coordinates.
    r = await client.post(
        "/api/v1/services",
        headers=org.headers,
        json=service_body(address="Marktplatz 1, Halle (Saale)", location=None),
    )
    assert r.status_code == 201, r.text
    assert abs(r.json()["location"]["lat"] - 51.48) < 0.1


async def test_finding_help(client: httpx.AsyncClient, app: Any, monkeypatch: Any) -> None:
    await _regions(app)
    org = await make_user(app, client, "organisation")
    coord = await make_user(app, client, "coordinator")
    arabic = await _published(client, org, coord, opening_hours=ALL_WEEK)
    persian = await _published(
        client,
        org,
        coord,
        name="Sprachcafé Halle",
        description="Deutsch üben in der Gruppe.",
        topics=["language-tandem"],
        languages=["fa", "de"],
        address="Marktplatz 1, 06108 Halle",
        location={"lat": 51.4828, "lon": 11.9697},
        opening_hours=[],
    )

    async def ids(query: str) -> list[str]:
        r = await client.get(f"/api/v1/services?{query}")
        assert r.status_code == 200, r.text
        return [s["id"] for s in r.json()["items"]]

    assert await ids("language=ar") == [arabic["id"]]
    assert await ids("language=fa") == [persian["id"]]
    # A topic finds its subtopics.
    assert await ids("topic=language") == [persian["id"]]
    assert await ids("topic=accompaniment") == [arabic["id"]]
    assert await ids("q=jobcenter") == [arabic["id"]]
    # Words in any page language find a topic: its name in Ukrainian and in Arabic.
    for locale in ("uk", "ar"):
        with use_locale(locale):
            word = taxonomy.category_name("language-tandem").split()[0]
        assert await ids(f"q={word}") == [persian["id"]], (locale, word)
    # Near Leipzig's centre, 5 km: Halle (30 km) is out; 50 km: both, nearest first.
    assert await ids("lat=51.34&lon=12.37&radius_km=5") == [arabic["id"]]
    assert await ids("lat=51.34&lon=12.37&radius_km=50") == [arabic["id"], persian["id"]]
    assert await ids("place=Halle&radius_km=5") == [persian["id"]]
    r = await client.get("/api/v1/services?lat=51.34&lon=12.37&radius_km=50")
    assert r.json()["items"][0]["distance_km"] < r.json()["items"][1]["distance_km"]
    # Open now, in Berlin time: Monday 10:00 in Berlin is 09:00 UTC in winter.
    monday_ten = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    monkeypatch.setattr("market.directory.api.utcnow", lambda: monday_ten)
    assert await ids("open_now=true") == [arabic["id"]]
    r = await client.patch(
        f"/api/v1/services/{arabic['id']}",
        headers=org.headers,
        json={"opening_hours": [{"weekday": 0, "start": "10:00", "end": "10:30"}]},
    )
    assert r.status_code == 200
    # 09:10 UTC is 10:10 in Berlin: open (read as UTC wall time it would be closed).
    monkeypatch.setattr("market.directory.api.utcnow", lambda: monday_ten + timedelta(minutes=10))
    assert await ids("open_now=true") == [arabic["id"]]
    # 09:40 UTC is 10:40 in Berlin: closed again. In summer Berlin is UTC+2.
    monkeypatch.setattr("market.directory.api.utcnow", lambda: monday_ten + timedelta(minutes=40))
    assert await ids("open_now=true") == []
    july_monday = datetime(2027, 7, 5, 8, 15, tzinfo=UTC)  # 10:15 in Berlin
    monkeypatch.setattr("market.directory.api.utcnow", lambda: july_monday)
    assert await ids("open_now=true") == [arabic["id"]]
    # Unknown filters: 422 naming them.
    for query, field in (
        ("topic=astrology", "topic"),
        ("language=zz-zz", "language"),
        ("lat=1", "lon"),
    ):
        r = await client.get(f"/api/v1/services?{query}")
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == field
    # Pagination.
    r = await client.get("/api/v1/services?limit=1")
    assert len(r.json()["items"]) == 1 and r.json()["next_cursor"]
    r2 = await client.get(f"/api/v1/services?limit=1&cursor={r.json()['next_cursor']}")
    assert r2.json()["items"][0]["id"] != r.json()["items"][0]["id"]
    assert r2.json()["next_cursor"] is None


async def test_events_by_date_and_ics(client: httpx.AsyncClient, app: Any) -> None:
    await _regions(app)
    coord = await make_user(app, client, "coordinator")
    soon = (await client.post("/api/v1/events", headers=coord.headers, json=event_body())).json()
    later_start = (utcnow() + timedelta(days=40)).replace(microsecond=0)
    later = (
        await client.post(
            "/api/v1/events",
            headers=coord.headers,
            json=event_body(
                name="Jobmesse, Leipzig; für alle",
                topics=["work"],
                starts_at=later_start.isoformat(),
                ends_at=(later_start + timedelta(hours=5)).isoformat(),
            ),
        )
    ).json()
    assert soon["status"] == "published" and "opening_hours" not in soon
    assert {"starts_at", "ends_at"} <= set(soon)

    async def ids(query: str = "") -> list[str]:
        r = await client.get(f"/api/v1/events?{query}")
        assert r.status_code == 200, r.text
        return [e["id"] for e in r.json()["items"]]

    assert await ids() == [soon["id"], later["id"]]  # soonest first
    assert await ids("topic=work") == [later["id"]]
    day = (utcnow() + timedelta(days=20)).date().isoformat()
    assert await ids(f"from={day}") == [later["id"]]
    assert await ids(f"to={day}") == [soon["id"]]
    assert await ids(f"from={later_start.isoformat().replace('+00:00', 'Z')}") == [later["id"]]
    r = await client.get("/api/v1/events?from=tomorrow")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "from"
    assert (await client.get(f"/api/v1/events/{soon['id']}")).status_code == 200
    assert (await client.get(f"/api/v1/services/{soon['id']}")).status_code == 404

    # Past events leave the list by themselves.
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        entry = await s.get(Entry, soon["id"])
        assert entry is not None
        entry.starts_at = utcnow() - timedelta(hours=3)
        entry.ends_at = utcnow() - timedelta(hours=1)
    assert await ids() == [later["id"]]

    r = await client.get(f"/events/{later['id']}.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    body = r.content.decode()
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert "\n" not in body.replace("\r\n", "")
    assert "SUMMARY:Jobmesse\\, Leipzig\\; für alle" in body
    assert f"DTSTART:{later_start.strftime('%Y%m%dT%H%M%SZ')}" in body


async def test_referral_from_match_and_need(
    client: httpx.AsyncClient, app: Any, session: Any
) -> None:
    await _regions(app)
    coord = await make_user(app, client, "coordinator")
    org = await make_user(app, client, "organisation")
    service = await _published(client, org, coord)
    seeker = await make_user(app, client, "seeker")
    volunteer = await make_user(app, client, "volunteer", approved=True)
    stranger = await make_user(app, client, "volunteer", approved=True)
    need = (await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())).json()
    await client.post("/api/v1/posts", headers=volunteer.headers, json=post_body(kind="offer"))
    (match,) = (await client.get("/api/v1/matches", headers=volunteer.headers)).json()["items"]

    body = {"service_id": service["id"], "match_id": match["id"], "note": "Die helfen dir."}
    assert (
        await client.post("/api/v1/referrals", headers=stranger.headers, json=body)
    ).status_code == 404
    # The seeker is a party but on the need's side: they are the one told, not the teller.
    assert (
        await client.post("/api/v1/referrals", headers=seeker.headers, json=body)
    ).status_code == 403
    r = await client.post("/api/v1/referrals", headers=volunteer.headers, json=body)
    assert r.status_code == 201, r.text
    notes = (await client.get("/api/v1/notifications", headers=seeker.headers)).json()["items"]
    suggested = [n for n in notes if n["kind"] == "service.suggested"]
    assert len(suggested) == 1 and suggested[0]["data"]["service_id"] == service["id"]
    # From the need: coordinators and caseworkers (members of an approved organisation) yes,
    # a volunteer who is no party no.
    by_need = {"service_id": service["id"], "need_id": need["id"]}
    r = await client.post("/api/v1/referrals", headers=org.headers, json=by_need)
    assert r.status_code == 201
    assert (
        await client.post("/api/v1/referrals", headers=coord.headers, json=by_need)
    ).status_code == 201
    assert (
        await client.post("/api/v1/referrals", headers=stranger.headers, json=by_need)
    ).status_code == 403
    assert (
        await client.post(
            "/api/v1/referrals", headers=coord.headers, json={"service_id": service["id"]}
        )
    ).status_code == 422


async def test_freshness_asks_then_archives(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    await _regions(app)
    org = await make_user(app, client, "organisation", locale="en")
    coord = await make_user(app, client, "coordinator")
    service = await _published(client, org, coord)
    sm, settings = app.state.sessionmaker, app.state.settings

    day_179 = utcnow() + timedelta(days=179)
    assert (await maintenance.run(sm, settings, now=day_179))["directory_confirmations_asked"] == 0
    day_181 = utcnow() + timedelta(days=181)
    counts = await maintenance.run(sm, settings, now=day_181)
    assert counts["directory_confirmations_asked"] == 1
    assert counts["directory_services_archived"] == 0
    assert (await maintenance.run(sm, settings, now=day_181))["directory_confirmations_asked"] == 0
    (mail,) = await mailbox.wait_for(org.email, containing="/confirm?token=", timeout=15)
    link = re.search(r"http://testserver(/services/\S+/confirm\?token=\S+)", mail.text)
    assert link is not None
    # The coordinators see it about to lapse.
    async with browser(app, coord) as staff:
        page = await staff.get("/review/directory")
    assert f"/services/{service['id']}" in page.text.split('id="lapsing"')[-1]

    # 211 days: unconfirmed, archived, out of search; still there for its organisation.
    counts = await maintenance.run(sm, settings, now=utcnow() + timedelta(days=211))
    assert counts["directory_services_archived"] == 1
    assert (await client.get("/api/v1/services")).json()["items"] == []
    assert (await client.get(f"/api/v1/services/{service['id']}")).status_code == 404
    mine = await client.get(f"/api/v1/services/{service['id']}", headers=org.headers)
    assert mine.json()["status"] == "archived"

    # The link from the mail: a page with a button (the GET changes nothing), no login needed.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as anonymous:
        page = await anonymous.get(link.group(1))
        assert page.status_code == 200
        assert (await client.get("/api/v1/services")).json()["items"] == []
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        r = await anonymous.post(link.group(1), data={"csrf_token": csrf.group(1)})
        assert r.status_code == 303
        bad = await anonymous.get(f"/services/{service['id']}/confirm?token=forged")
        assert bad.status_code == 404
    (item,) = (await client.get("/api/v1/services")).json()["items"]
    assert item["status"] == "published" and item["confirmed_at"] > service["confirmed_at"]


async def _directory(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The published services as a list to compare: ids, dates and organisation ids aside
    (an import into another installation makes new ones)."""
    items = (await client.get("/api/v1/services")).json()["items"]
    found = [
        {k: v for k, v in s.items() if k not in ("id", "confirmed_at")}
        | {"organisation": s["organisation"]["name"]}
        for s in items
    ]
    return sorted(found, key=lambda s: str(s["name"]))


async def test_csv_round_trip_and_row_errors(client: httpx.AsyncClient, app: Any) -> None:
    await _regions(app)
    org = await make_user(app, client, "organisation")
    coord = await make_user(app, client, "coordinator")
    await _published(client, org, coord, opening_hours=ALL_WEEK[:2])
    await _published(
        client, org, coord, name='Tafel, "Süd"', description="Zeile 1\nZeile 2", phone=None
    )
    exported = await client.get("/api/v1/services.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines()[0] == ",".join(transfer.COLUMNS)
    before = await _directory(client)

    # Into an empty installation: the same directory.
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        for entry in (await s.scalars(select(Entry))).all():
            await s.delete(entry)
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        created, errors = await transfer.import_csv(s, exported.text)
    assert (created, errors) == (2, [])
    assert await _directory(client) == before
    assert (await client.get("/api/v1/services.csv")).text == exported.text

    # Each unreadable row is reported with its line and field; nothing is made from it.
    bad = (
        exported.text.splitlines()[0]
        + "\r\n"
        + "\r\n".join(
            [
                'Gut,Stadt,health,de,,"Markt 1, 04109 Leipzig",51.34,12.37,0 09:00-12:00,,,',
                'Schlecht,Stadt,astrology,de,,"Markt 1, 04109 Leipzig",51.34,12.37,,,,',
                'Zeiten,Stadt,health,de,,"Markt 1, 04109 Leipzig",51.34,12.37,1 18:00-09:00,,,',
                "Wohin,Stadt,health,de,,Atlantis,,,,,,",
                'Sprache,Stadt,health,klingon-x,,"Markt 1, 04109 Leipzig",51.34,12.37,,,,',
            ]
        )
    )
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        created, errors = await transfer.import_csv(s, bad)
    assert created == 1
    assert [(e.line, e.field) for e in errors] == [
        (3, "topics"),
        (4, "opening_hours"),
        (5, "address"),
        (6, "languages"),
    ]


async def test_a_members_event_waits_for_review(client: httpx.AsyncClient, app: Any) -> None:
    regions = await _regions(app)
    org = await make_user(app, client, "organisation")
    halle = await _regional_coordinator(app, client, regions["halle"])
    leipzig = await _regional_coordinator(app, client, regions["leipzig"])
    r = await client.post("/api/v1/events", headers=org.headers, json=event_body())
    assert r.status_code == 201 and r.json()["status"] == "pending_review"
    event = r.json()
    assert (await client.get("/api/v1/events")).json()["items"] == []
    assert (await client.get(f"/api/v1/events/{event['id']}")).status_code == 404
    assert (await client.get("/api/v1/review/events", headers=halle.headers)).json()["items"] == []
    queue = (await client.get("/api/v1/review/events", headers=leipzig.headers)).json()["items"]
    assert [e["id"] for e in queue] == [event["id"]]
    # The services queue holds services only, and the services route knows no event.
    assert (await client.get("/api/v1/review/services", headers=leipzig.headers)).json()[
        "items"
    ] == []
    r = await client.post(
        f"/api/v1/review/services/{event['id']}",
        headers=leipzig.headers,
        json={"decision": "publish"},
    )
    assert r.status_code == 404
    r = await client.post(
        f"/api/v1/review/events/{event['id']}", headers=leipzig.headers, json={"decision": "maybe"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "decision"
    r = await client.post(
        f"/api/v1/review/events/{event['id']}",
        headers=leipzig.headers,
        json={"decision": "publish"},
    )
    assert r.status_code == 200 and r.json()["status"] == "published"
    assert [e["id"] for e in (await client.get("/api/v1/events")).json()["items"]] == [event["id"]]
    # Its organisation moves it; opening hours are refused on an event.
    later = (utcnow() + timedelta(days=10)).replace(microsecond=0)
    r = await client.patch(
        f"/api/v1/events/{event['id']}",
        headers=org.headers,
        json={"starts_at": later.isoformat(), "ends_at": (later + timedelta(hours=1)).isoformat()},
    )
    assert r.status_code == 200 and r.json()["starts_at"] == later.isoformat()
    r = await client.patch(
        f"/api/v1/events/{event['id']}", headers=org.headers, json={"opening_hours": ALL_WEEK}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "opening_hours"
