"""Every protected endpoint, for every role: 401 without a token, 403 where the role may never
do it, 404 for objects the caller may not see (API.md, Conventions and Roles)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.factories import Actor, make_user, post_body

ROLES = ("volunteer", "seeker", "organisation", "coordinator", "admin")

# (method, path, body); {post} is a published need by a seeker, {pending} a volunteer's offer
# waiting for review, {match} a proposed match, {user} a volunteer, {org} an organisation.
PROTECTED = [
    ("GET", "/api/v1/me", None),
    ("PATCH", "/api/v1/me", {"display_name": "X"}),
    ("GET", "/api/v1/me/export", None),
    ("GET", "/api/v1/me/posts", None),
    ("POST", "/api/v1/posts", post_body()),
    ("PATCH", "/api/v1/posts/{post}", {"title": "Changed title"}),
    ("POST", "/api/v1/posts/{post}/close", None),
    ("POST", "/api/v1/posts/{post}/renew", None),
    ("GET", "/api/v1/posts/{post}/matches", None),
    ("GET", "/api/v1/matches", None),
    ("GET", "/api/v1/matches/{match}", None),
    ("POST", "/api/v1/matches/{match}/accept", None),
    ("POST", "/api/v1/matches/{match}/decline", None),
    ("POST", "/api/v1/reports", {"target_type": "post", "target_id": "{post}", "reason": "Spam here"}),
    ("GET", "/api/v1/review/volunteers", None),
    ("POST", "/api/v1/review/volunteers/{user}", {"decision": "reject", "note": "x"}),
    ("GET", "/api/v1/review/posts", None),
    ("POST", "/api/v1/review/posts/{pending}", {"decision": "reject", "reason": "incomplete"}),
    ("GET", "/api/v1/review/organisations", None),
    ("POST", "/api/v1/review/organisations/{org}", {"decision": "approve"}),
    ("GET", "/api/v1/review/reports", None),
    ("GET", "/api/v1/review/matching-run", None),
    ("GET", "/api/v1/review/unmatched", None),
]

# What each role gets where it is not the owner or a party (owner cases are tested per feature).
STAFF_ONLY = {p for _, p, _ in PROTECTED if p.startswith("/api/v1/review/")}


def fill(template: str, ids: dict[str, str]) -> str:
    for key, value in ids.items():
        template = template.replace("{" + key + "}", value)
    return template


def fill_body(body: Any, ids: dict[str, str]) -> Any:
    if isinstance(body, dict):
        return {k: fill_body(v, ids) for k, v in body.items()}
    if isinstance(body, str):
        return fill(body, ids)
    return body


@pytest.fixture
async def world(client: httpx.AsyncClient, app: Any) -> dict[str, Any]:
    seeker = await make_user(app, client, "seeker")
    volunteer = await make_user(app, client, "volunteer", approved=True)
    pending_volunteer = await make_user(app, client, "volunteer")
    org = await make_user(app, client, "organisation", org_status="pending")
    need = (await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())).json()
    await client.post("/api/v1/posts", headers=volunteer.headers, json=post_body(kind="offer"))
    pending = (await client.post("/api/v1/posts", headers=pending_volunteer.headers, json=post_body(kind="offer"))).json()
    (match,) = (await client.get("/api/v1/matches", headers=seeker.headers)).json()["items"]
    ids = {"post": need["id"], "pending": pending["id"], "match": match["id"], "user": pending_volunteer.id, "org": org.organisation_id or ""}
    return {"ids": ids}


async def test_anonymous_gets_401_everywhere(client: httpx.AsyncClient, world: dict[str, Any]) -> None:
    for method, path, body in PROTECTED:
        url = fill(path, world["ids"])
        r = await client.request(method, url, json=fill_body(body, world["ids"]))
        assert r.status_code == 401, (method, url, r.status_code)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["status"] == 401


@pytest.mark.parametrize("role", ROLES)
async def test_strangers_by_role(client: httpx.AsyncClient, app: Any, world: dict[str, Any], role: str) -> None:
    """Someone of this role who is neither author nor party nor staff-with-a-region-restriction."""
    stranger: Actor = await make_user(app, client, role)
    ids = world["ids"]
    staff = role in ("coordinator", "admin")
    expected = {
        # Review endpoints: staff only (and each of these decisions is valid for staff).
        **{(m, p): (200 if staff else 403) for m, p, _ in PROTECTED if p in STAFF_ONLY},
        # Another user's published post: visible, so changing it is 403.
        ("PATCH", "/api/v1/posts/{post}"): 403,
        ("POST", "/api/v1/posts/{post}/close"): 403,
        ("POST", "/api/v1/posts/{post}/renew"): 403,
        ("GET", "/api/v1/posts/{post}/matches"): 200 if staff else 403,
        # Another user's match: 404, never revealing that it exists.
        ("GET", "/api/v1/matches/{match}"): 404,
        ("POST", "/api/v1/matches/{match}/accept"): 404,
        ("POST", "/api/v1/matches/{match}/decline"): 404,
    }
    for method, path, body in PROTECTED:
        if (method, path) not in expected:
            continue
        url = fill(path, ids)
        r = await client.request(method, url, headers=stranger.headers, json=fill_body(body, ids))
        assert r.status_code == expected[(method, path)], (role, method, url, r.status_code, r.text[:200])
    # An unpublished post of someone else is invisible: 404 for reading and for changing.
    pending_url = f"/api/v1/posts/{ids['pending']}"
    want = 200 if staff else 404
    assert (await client.get(pending_url, headers=stranger.headers)).status_code == want
    if not staff:
        assert (await client.patch(pending_url, headers=stranger.headers, json={"title": "Taken over"})).status_code == 404
        assert (await client.get(f"{pending_url}/matches", headers=stranger.headers)).status_code == 404


async def test_posting_rights_by_role(client: httpx.AsyncClient, app: Any) -> None:
    allowed = {
        "volunteer": {"offer"}, "seeker": {"need"}, "organisation": {"need"},
        "coordinator": {"offer", "need"}, "admin": {"offer", "need"},
    }
    for role, kinds in allowed.items():
        actor = await make_user(app, client, role)
        for kind in ("offer", "need"):
            r = await client.post("/api/v1/posts", headers=actor.headers, json=post_body(kind=kind))
            assert r.status_code == (201 if kind in kinds else 403), (role, kind, r.text)
