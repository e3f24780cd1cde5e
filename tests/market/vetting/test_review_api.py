"""Coordinators' queues through the JSON API (API.md, Review), and the access rules of every role."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from market.accounts.models import CoordinatorRegion
from market.db import make_sessionmaker
from market.posts.models import Region
from tests.factories import make_user, post_body

CHECKS_ALL = {"identity": True, "interview": True, "code_of_conduct": True}


def decision(kind: str = "approve", **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "decision": kind,
        "checks": CHECKS_ALL,
        "police_certificate_until": None,
        "note": "ok",
    }
    body.update(kw)
    return body


async def test_volunteer_queue_and_decisions(client: httpx.AsyncClient, app: Any) -> None:
    coordinator = await make_user(app, client, "coordinator")
    volunteer = await make_user(
        app, client, "volunteer", languages=(("fa", "native"), ("de", "basic"))
    )
    queue = await client.get(
        "/api/v1/review/volunteers?status=pending", headers=coordinator.headers
    )
    assert queue.status_code == 200
    (item,) = queue.json()["items"]
    assert item["user_id"] == volunteer.id and item["email"] == volunteer.email
    assert item["languages"][0] == {"code": "fa", "level": "native"}
    assert item["checks"]["identity"] is False and item["created_at"]

    offer = (
        await client.post("/api/v1/posts", headers=volunteer.headers, json=post_body(kind="offer"))
    ).json()
    url = f"/api/v1/review/volunteers/{volunteer.id}"
    # Approval needs the checklist.
    r = await client.post(
        url, headers=coordinator.headers, json=decision(checks={"identity": True})
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"].startswith("checks.")
    assert (await client.get("/api/v1/me", headers=volunteer.headers)).json()["vetting"][
        "status"
    ] == "pending"

    until = (date.today() + timedelta(days=365)).isoformat()
    r = await client.post(
        url, headers=coordinator.headers, json=decision(police_certificate_until=until)
    )
    assert r.status_code == 200, r.text
    assert r.json()["checks"]["police_certificate_until"] == until
    assert (await client.get("/api/v1/me", headers=volunteer.headers)).json()["vetting"][
        "status"
    ] == "approved"
    assert (await client.get(f"/api/v1/posts/{offer['id']}")).json()["status"] == "published"
    assert (
        await client.get("/api/v1/review/volunteers?status=pending", headers=coordinator.headers)
    ).json()["items"] == []

    # Revoking the approval takes the offer back out of public view; the history keeps both.
    r = await client.post(url, headers=coordinator.headers, json=decision("reject", note="Revoked"))
    assert r.status_code == 200
    assert [h["decision"] for h in r.json()["history"]] == ["reject", "approve"]
    assert (await client.get(f"/api/v1/posts/{offer['id']}")).status_code == 404
    assert (await client.get("/api/v1/me", headers=volunteer.headers)).json()["vetting"][
        "status"
    ] == "rejected"

    for bad in (
        decision("maybe"),
        decision(police_certificate_until="31.12.2027"),
        {"checks": CHECKS_ALL},
    ):
        assert (await client.post(url, headers=coordinator.headers, json=bad)).status_code == 422
    assert (
        await client.post(
            "/api/v1/review/volunteers/nobody", headers=coordinator.headers, json=decision()
        )
    ).status_code == 404
    assert (
        await client.get("/api/v1/review/volunteers?status=sleeping", headers=coordinator.headers)
    ).status_code == 422


async def test_post_review(client: httpx.AsyncClient, app: Any) -> None:
    coordinator = await make_user(app, client, "coordinator")
    volunteer = await make_user(app, client, "volunteer")
    seeker = await make_user(app, client, "seeker")
    offer = (
        await client.post("/api/v1/posts", headers=volunteer.headers, json=post_body(kind="offer"))
    ).json()
    queue = (
        await client.get("/api/v1/review/posts?status=pending_review", headers=coordinator.headers)
    ).json()
    assert [p["id"] for p in queue["items"]] == [offer["id"]]
    url = f"/api/v1/review/posts/{offer['id']}"
    # An offer of a volunteer who is not approved cannot be published.
    assert (
        await client.post(url, headers=coordinator.headers, json={"decision": "publish"})
    ).status_code == 409
    assert (
        await client.post(url, headers=coordinator.headers, json={"decision": "reject"})
    ).status_code == 422
    r = await client.post(
        url, headers=coordinator.headers, json={"decision": "reject", "reason": "contact_data"}
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    own = (await client.get(f"/api/v1/posts/{offer['id']}", headers=volunteer.headers)).json()
    assert own["status"] == "rejected" and own["rejection_reason"] == "contact_data"

    # Coordinators may unpublish any post.
    need = (await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())).json()
    r = await client.post(
        f"/api/v1/review/posts/{need['id']}",
        headers=coordinator.headers,
        json={"decision": "reject", "reason": "Bitte ohne Telefonnummer"},
    )
    assert r.status_code == 200
    assert (await client.get(f"/api/v1/posts/{need['id']}")).status_code == 404
    r = await client.post(
        f"/api/v1/review/posts/{need['id']}",
        headers=coordinator.headers,
        json={"decision": "publish"},
    )
    assert r.status_code == 200 and r.json()["status"] == "published"
    r = await client.post(
        f"/api/v1/review/posts/{need['id']}",
        headers=coordinator.headers,
        json={"decision": "publish"},
    )
    assert r.status_code == 409


async def test_organisation_needs_wait_for_verification(
    client: httpx.AsyncClient, app: Any
) -> None:
    coordinator = await make_user(app, client, "coordinator")
    member = await make_user(app, client, "organisation", org_status="pending")
    need = (
        await client.post("/api/v1/posts", headers=member.headers, json=post_body(seats=3))
    ).json()
    assert need["status"] == "pending_review"
    assert need["organisation"]["id"] == member.organisation_id and need["seats"] == 3
    queue = (
        await client.get("/api/v1/review/organisations?status=pending", headers=coordinator.headers)
    ).json()
    assert [o["id"] for o in queue["items"]] == [member.organisation_id]
    assert set(queue["items"][0]) >= {"id", "name", "website", "status", "created_at"}
    url = f"/api/v1/review/organisations/{member.organisation_id}"
    assert (
        await client.post(url, headers=coordinator.headers, json={"decision": "perhaps"})
    ).status_code == 422
    r = await client.post(url, headers=coordinator.headers, json={"decision": "approve"})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    assert (await client.get(f"/api/v1/posts/{need['id']}")).json()["status"] == "published"
    assert (await client.get(f"/api/v1/organisations/{member.organisation_id}")).json()[
        "status"
    ] == "approved"
    assert (await client.get("/api/v1/organisations/unknown")).status_code == 404


async def test_reports(client: httpx.AsyncClient, app: Any) -> None:
    coordinator = await make_user(app, client, "coordinator")
    seeker = await make_user(app, client, "seeker")
    need = (await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())).json()
    body = {"target_type": "post", "target_id": need["id"], "reason": "Sieht nach Werbung aus"}
    assert (await client.post("/api/v1/reports", json=body)).status_code == 401
    r = await client.post("/api/v1/reports", headers=seeker.headers, json=body)
    assert r.status_code == 201
    bad = await client.post(
        "/api/v1/reports", headers=seeker.headers, json={**body, "target_type": "planet"}
    )
    assert bad.status_code == 422
    listed = (await client.get("/api/v1/review/reports", headers=coordinator.headers)).json()
    assert [rep["target_id"] for rep in listed["items"]] == [need["id"]]
    assert (await client.get("/api/v1/review/reports", headers=seeker.headers)).status_code == 403
    missing = await client.post(
        "/api/v1/reports", headers=seeker.headers, json={**body, "target_id": "nothing"}
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "target_id"
    report_id = r.json()["id"]
    url = f"/api/v1/review/reports/{report_id}"
    assert (
        await client.post(url, headers=seeker.headers, json={"resolution": "ok"})
    ).status_code == 403
    assert (
        await client.post(url, headers=coordinator.headers, json={"resolution": ""})
    ).status_code == 422
    done = await client.post(
        url, headers=coordinator.headers, json={"resolution": "Post unpublished"}
    )
    assert done.status_code == 200 and done.json()["status"] == "resolved"
    assert (
        await client.post(url, headers=coordinator.headers, json={"resolution": "again"})
    ).status_code == 409
    assert (await client.get("/api/v1/review/reports", headers=coordinator.headers)).json()[
        "items"
    ] == []
    resolved = await client.get(
        "/api/v1/review/reports?status=resolved", headers=coordinator.headers
    )
    assert resolved.json()["items"][0]["resolution"] == "Post unpublished"


async def test_coordinator_works_only_their_regions(client: httpx.AsyncClient, app: Any) -> None:
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        leipzig = Region(slug="leipzig", name="Leipzig", lat=51.3397, lon=12.3731, radius_km=20)
        berlin = Region(slug="berlin", name="Berlin", lat=52.52, lon=13.405, radius_km=30)
        s.add_all([leipzig, berlin])
        await s.flush()
        leipzig_id = leipzig.id
    local = await make_user(app, client, "coordinator")
    everywhere = await make_user(app, client, "coordinator")
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        s.add(CoordinatorRegion(user_id=local.id, region_id=leipzig_id))
    in_leipzig = await make_user(app, client, "volunteer")
    in_berlin = await make_user(app, client, "volunteer")
    a = (
        await client.post("/api/v1/posts", headers=in_leipzig.headers, json=post_body(kind="offer"))
    ).json()
    b = (
        await client.post(
            "/api/v1/posts",
            headers=in_berlin.headers,
            json=post_body(kind="offer", location={"lat": 52.52, "lon": 13.40}),
        )
    ).json()
    local_posts = (await client.get("/api/v1/review/posts", headers=local.headers)).json()["items"]
    assert [p["id"] for p in local_posts] == [a["id"]]
    all_posts = (await client.get("/api/v1/review/posts", headers=everywhere.headers)).json()[
        "items"
    ]
    assert {p["id"] for p in all_posts} == {a["id"], b["id"]}
    local_vols = (await client.get("/api/v1/review/volunteers", headers=local.headers)).json()[
        "items"
    ]
    assert [v["user_id"] for v in local_vols] == [in_leipzig.id]
    r = await client.post(
        f"/api/v1/review/posts/{b['id']}",
        headers=local.headers,
        json={"decision": "reject", "reason": "x y z"},
    )
    assert r.status_code == 404
    r = await client.post(
        f"/api/v1/review/volunteers/{in_berlin.id}", headers=local.headers, json=decision()
    )
    assert r.status_code == 404


REVIEW_ENDPOINTS = [
    ("GET", "/api/v1/review/volunteers", None),
    ("POST", "/api/v1/review/volunteers/{id}", decision()),
    ("GET", "/api/v1/review/posts", None),
    ("POST", "/api/v1/review/posts/{id}", {"decision": "publish"}),
    ("GET", "/api/v1/review/organisations", None),
    ("POST", "/api/v1/review/organisations/{id}", {"decision": "approve"}),
    ("GET", "/api/v1/review/reports", None),
]


@pytest.mark.parametrize("role", ["volunteer", "seeker", "organisation"])
async def test_review_is_for_coordinators_only(
    client: httpx.AsyncClient, app: Any, role: str
) -> None:
    actor = await make_user(app, client, role)
    for method, url, body in REVIEW_ENDPOINTS:
        path = url.replace("{id}", actor.id)
        r = await client.request(method, path, headers=actor.headers, json=body)
        assert r.status_code == 403, (role, method, path)
        anonymous = await client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)


async def test_admin_may_review(client: httpx.AsyncClient, app: Any) -> None:
    admin = await make_user(app, client, "admin")
    assert (await client.get("/api/v1/review/volunteers", headers=admin.headers)).status_code == 200
