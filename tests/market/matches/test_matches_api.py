"""The match lifecycle through the JSON API (API.md, Matching rules and Matches)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from tests.factories import Actor, make_user, post_body
from tests.smtp import SmtpServer

CHECKS = {"identity": True, "interview": True, "code_of_conduct": True}


async def offer(client: httpx.AsyncClient, volunteer: Actor, **kw: Any) -> dict[str, Any]:
    body = post_body(kind="offer", title="Ich begleite Sie zum Amt", **kw)
    r = await client.post("/api/v1/posts", headers=volunteer.headers, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def need(client: httpx.AsyncClient, seeker: Actor, **kw: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body(**kw))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def matches_of(client: httpx.AsyncClient, actor: Actor) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/matches", headers=actor.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def test_match_is_proposed_and_connected(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker", locale="ar")
    o = await offer(client, volunteer)
    n = await need(client, seeker, location={"lat": 51.35, "lon": 12.38})

    (m,) = await matches_of(client, seeker)
    assert m["status"] == "proposed" and m["my_response"] == "pending"
    assert m["offer"]["id"] == o["id"] and m["need"]["id"] == n["id"]
    assert 0 <= m["score"] <= 1
    assert m["distance_km"] is not None and 0 < m["distance_km"] < 2
    assert m["reasons"] and all(isinstance(r, str) for r in m["reasons"])
    assert "email" not in m["partner"] and "conversation_id" not in m
    assert m["offer"]["location"]["approximate"] is True  # the partner's place stays coarse

    # Both parties are told, in the app and by mail.
    await mailbox.wait_for(volunteer.email)
    await mailbox.wait_for(seeker.email)
    (vm,) = await matches_of(client, volunteer)
    assert vm["id"] == m["id"]

    r = await client.post(f"/api/v1/matches/{m['id']}/accept", headers=seeker.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "proposed" and r.json()["my_response"] == "accepted"
    assert "email" not in r.json()["partner"]
    again = await client.post(f"/api/v1/matches/{m['id']}/accept", headers=seeker.headers)
    assert again.status_code == 409

    r = await client.post(
        f"/api/v1/matches/{m['id']}/accept", headers=volunteer.headers, content=b""
    )
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "connected"
    assert body["partner"]["email"] == seeker.email
    assert body["conversation_id"]
    seen_by_seeker = (await client.get(f"/api/v1/matches/{m['id']}", headers=seeker.headers)).json()
    assert seen_by_seeker["partner"]["email"] == volunteer.email
    assert seen_by_seeker["conversation_id"] == body["conversation_id"]
    await mailbox.wait_for(seeker.email, count=2)
    await mailbox.wait_for(volunteer.email, count=2)


async def test_declined_pair_is_never_proposed_again(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker")
    o = await offer(client, volunteer)
    n = await need(client, seeker)
    (m,) = await matches_of(client, seeker)
    r = await client.post(f"/api/v1/matches/{m['id']}/decline", headers=seeker.headers)
    assert r.status_code == 200 and r.json()["status"] == "declined"
    assert (
        await client.post(f"/api/v1/matches/{m['id']}/accept", headers=volunteer.headers)
    ).status_code == 409
    # Editing either post would make the pair fit again: it stays declined.
    await client.patch(
        f"/api/v1/posts/{n['id']}", headers=seeker.headers, json={"title": "Neuer Titel bitte"}
    )
    await client.patch(
        f"/api/v1/posts/{o['id']}", headers=volunteer.headers, json={"radius_km": 20}
    )
    statuses = [x["status"] for x in await matches_of(client, seeker)]
    assert statuses == ["declined"]


async def test_only_parties_see_and_answer(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker")
    stranger = await make_user(app, client, "seeker")
    coordinator = await make_user(app, client, "coordinator")
    await offer(client, volunteer)
    n = await need(client, seeker)
    (m,) = await matches_of(client, seeker)
    for url in (
        f"/api/v1/matches/{m['id']}",
        f"/api/v1/matches/{m['id']}/accept",
        f"/api/v1/matches/{m['id']}/decline",
    ):
        method = "GET" if url.endswith(m["id"]) else "POST"
        assert (await client.request(method, url, headers=stranger.headers)).status_code == 404
        assert (await client.request(method, url)).status_code == 401
    assert await matches_of(client, stranger) == []
    assert (
        await client.get(f"/api/v1/posts/{n['id']}/matches", headers=stranger.headers)
    ).status_code == 403
    listed = (
        await client.get(f"/api/v1/posts/{n['id']}/matches", headers=coordinator.headers)
    ).json()
    assert [x["id"] for x in listed["items"]] == [m["id"]]
    own = (await client.get(f"/api/v1/posts/{n['id']}/matches", headers=seeker.headers)).json()
    assert own["items"][0]["my_response"] == "pending"
    assert (await client.get("/api/v1/matches/unknown", headers=seeker.headers)).status_code == 404


async def test_match_waits_for_vetting_and_certificate(client: httpx.AsyncClient, app: Any) -> None:
    coordinator = await make_user(app, client, "coordinator")
    volunteer = await make_user(app, client, "volunteer")
    seeker = await make_user(app, client, "seeker")
    await offer(client, volunteer, category="education")
    await need(client, seeker, category="education-homework")  # requires a police certificate
    assert await matches_of(client, seeker) == []
    url = f"/api/v1/review/volunteers/{volunteer.id}"
    approve = {
        "decision": "approve",
        "checks": CHECKS,
        "police_certificate_until": None,
        "note": "",
    }
    assert (await client.post(url, headers=coordinator.headers, json=approve)).status_code == 200
    assert await matches_of(client, seeker) == []  # approved, but no certificate yet
    expired = (date.today() - timedelta(days=1)).isoformat()
    await client.post(
        url, headers=coordinator.headers, json={**approve, "police_certificate_until": expired}
    )
    assert await matches_of(client, seeker) == []
    valid = date.today().isoformat()  # valid today
    await client.post(
        url, headers=coordinator.headers, json={**approve, "police_certificate_until": valid}
    )
    (m,) = await matches_of(client, seeker)
    assert m["status"] == "proposed"


async def test_category_language_and_distance_rules(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker")
    await offer(client, volunteer, category="accompaniment", languages=["fa", "de"], radius_km=5)
    await need(
        client, seeker, category="accompaniment-doctor", languages=["fa"]
    )  # subcategory: fits
    await need(client, seeker, category="language-tandem", languages=["fa"])  # other category
    await need(client, seeker, category="accompaniment", languages=["ti"])  # no shared language
    await need(
        client,
        seeker,
        category="accompaniment",
        languages=["de"],
        location={"lat": 51.3397 + 0.054, "lon": 12.3731},
    )  # ~6 km
    await need(
        client,
        seeker,
        category="accompaniment",
        languages=["de"],
        location={"lat": 51.3397 + 0.040, "lon": 12.3731},
    )  # ~4.4 km
    found = await matches_of(client, seeker)
    titles = sorted(
        (m["need"]["category"], m["need"]["languages"][0], round(m["distance_km"])) for m in found
    )
    # A proposed match tells whole kilometres, at least 1 (API.md, Release 2): 0 km reads 1.
    assert titles == [("accompaniment", "de", 4), ("accompaniment-doctor", "fa", 1)]


async def test_remote_pairs_match_without_distance(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker")
    await offer(
        client,
        volunteer,
        category="digital",
        mode="either",
        location={"lat": 48.137, "lon": 11.575},
    )
    await need(client, seeker, category="digital", mode="remote", location=None)
    (m,) = await matches_of(client, seeker)
    assert m["distance_km"] is None


async def test_withdrawn_when_post_closes(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker")
    await offer(client, volunteer)
    n = await need(client, seeker)
    (m,) = await matches_of(client, seeker)
    assert (
        await client.post(f"/api/v1/posts/{n['id']}/close", headers=seeker.headers)
    ).status_code == 200
    (after,) = await matches_of(client, volunteer)
    assert after["status"] == "closed"
    assert (
        await client.post(f"/api/v1/matches/{m['id']}/accept", headers=volunteer.headers)
    ).status_code == 409
    # The matched partner may still look at the closed post; others may not.
    assert (
        await client.get(f"/api/v1/posts/{n['id']}", headers=volunteer.headers)
    ).status_code == 200
    stranger = await make_user(app, client, "seeker")
    assert (
        await client.get(f"/api/v1/posts/{n['id']}", headers=stranger.headers)
    ).status_code == 404


async def test_withdrawn_when_approval_revoked(client: httpx.AsyncClient, app: Any) -> None:
    coordinator = await make_user(app, client, "coordinator")
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker")
    await offer(client, volunteer)
    await need(client, seeker)
    assert [m["status"] for m in await matches_of(client, seeker)] == ["proposed"]
    r = await client.post(
        f"/api/v1/review/volunteers/{volunteer.id}",
        headers=coordinator.headers,
        json={
            "decision": "reject",
            "checks": CHECKS,
            "police_certificate_until": None,
            "note": "revoked",
        },
    )
    assert r.status_code == 200
    assert [m["status"] for m in await matches_of(client, seeker)] == ["closed"]


async def test_edit_withdraws_a_match_that_no_longer_fits(
    client: httpx.AsyncClient, app: Any
) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker")
    await offer(client, volunteer, languages=["ar"])
    n = await need(client, seeker, languages=["ar"])
    assert len(await matches_of(client, seeker)) == 1
    await client.patch(
        f"/api/v1/posts/{n['id']}", headers=seeker.headers, json={"languages": ["uk"]}
    )
    assert [m["status"] for m in await matches_of(client, seeker)] == ["closed"]


async def test_need_goes_to_best_few_and_cap_is_respected(
    client: httpx.AsyncClient, app: Any
) -> None:
    volunteers = [await make_user(app, client, "volunteer", approved=True) for _ in range(5)]
    for i, v in enumerate(volunteers):
        await offer(client, v, location={"lat": 51.3397 + 0.005 * i, "lon": 12.3731})
    seeker = await make_user(app, client, "seeker")
    await need(client, seeker)
    found = await matches_of(client, seeker)
    assert len(found) == 3  # the best few first, not everyone
    # The three nearest (0, 0.6 and 1.1 km away; whole km until connected, so compared as a set).
    assert {m["offer"]["author"]["id"] for m in found} == {v.id for v in volunteers[:3]}

    # A volunteer receives no more than their cap of open matches (default 5).
    busy = await make_user(app, client, "volunteer", approved=True)
    await offer(client, busy, location={"lat": 52.0, "lon": 12.0}, radius_km=50)
    seekers = [await make_user(app, client, "seeker") for _ in range(7)]
    for s in seekers:
        await need(client, s, location={"lat": 52.0, "lon": 12.0})
    assert len(await matches_of(client, busy)) == 5


async def test_weekly_availability_counts(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker", locale="en")
    evenings = [{"weekday": 1, "start": "17:00", "end": "20:00"}]
    await offer(client, volunteer, availability=evenings)
    n = await need(client, seeker, availability=[{"weekday": 1, "start": "18:00", "end": "21:00"}])
    assert n["availability"] == [{"weekday": 1, "start": "18:00", "end": "21:00"}]
    r = await client.get("/api/v1/matches", headers={**seeker.headers, "Accept-Language": "en"})
    (m,) = r.json()["items"]
    assert "free at the same times" in m["reasons"]
    german = await client.get(
        "/api/v1/matches", headers={**seeker.headers, "Accept-Language": "de"}
    )
    assert "zu den gleichen Zeiten frei" in german.json()["items"][0]["reasons"]
    bad = await client.post(
        "/api/v1/posts",
        headers=seeker.headers,
        json=post_body(availability=[{"weekday": 7, "start": "18:00", "end": "17:00"}]),
    )
    assert bad.status_code == 422
    assert {"availability.0.weekday", "availability.0"} <= {
        e["field"] for e in bad.json()["errors"]
    } or bad.json()["errors"][0]["field"].startswith("availability.0")
