"""Organisation decisions in the review queue are in the audit log like other admin changes,
and a suspended person's waiting posts stay unpublished: a coordinator's "publish" is 409
with words that say why, and approving their organisation leaves them waiting."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from market.admin.models import AuditEntry
from market.db import make_sessionmaker
from market.posts.models import Post
from tests.factories import make_user, post_body
from tests.pages import browser, csrf, fetch, submit, text_of


async def _audit(app: Any, object_id: str) -> list[tuple[str, str | None]]:
    async with make_sessionmaker(app.state.engine)() as s:
        rows = await s.scalars(select(AuditEntry).where(AuditEntry.object_id == object_id))
        return sorted((e.action, e.actor_id) for e in rows)


async def test_organisation_decisions_are_audited(client: httpx.AsyncClient, app: Any) -> None:
    coordinator = await make_user(app, client, "coordinator")
    approved = await make_user(app, client, "organisation", org_status="pending")
    rejected = await make_user(app, client, "organisation", org_status="pending")
    assert approved.organisation_id and rejected.organisation_id

    async with browser(app, coordinator) as c:
        r = await submit(
            c,
            "/review/organisations",
            {"decision": "approve"},
            action=f"/review/organisations/{approved.organisation_id}",
        )
        assert r.status_code == 303, r.text
    r = await client.post(
        f"/api/v1/review/organisations/{rejected.organisation_id}",
        headers=coordinator.headers,
        json={"decision": "reject", "reason": "Keine Organisation erkennbar"},
    )
    assert r.status_code == 200, r.text

    assert await _audit(app, approved.organisation_id) == [
        ("organisation.approved", coordinator.id)
    ]
    assert await _audit(app, rejected.organisation_id) == [
        ("organisation.rejected", coordinator.id)
    ]


async def test_a_suspended_persons_waiting_post_is_not_published(
    client: httpx.AsyncClient, app: Any
) -> None:
    admin = await make_user(app, client, "admin")
    coordinator = await make_user(app, client, "coordinator")
    owner = await make_user(app, client, "organisation", org_status="pending")
    r = await client.post("/api/v1/posts", headers=owner.headers, json=post_body())
    post_id = r.json()["id"]
    assert r.json()["status"] == "pending_review"

    async with browser(app, admin) as c:
        page = await c.get(f"/admin/users/{owner.id}")
        r = await c.post(f"/admin/users/{owner.id}/suspend", data={"csrf_token": csrf(page.text)})
        assert r.status_code == 303

    r = await client.post(
        f"/api/v1/review/posts/{post_id}",
        headers=coordinator.headers,
        json={"decision": "publish"},
    )
    assert r.status_code == 409 and "suspended" in r.json()["detail"]
    async with browser(app, coordinator) as c:
        r = await submit(
            c, "/review/posts", {"decision": "publish"}, action=f"/review/posts/{post_id}"
        )
    assert r.status_code == 409
    assert "Konto der Person, die das geschrieben hat, ist gesperrt" in text_of(r.text)

    # Approving the organisation publishes the other members' waiting posts, not this one.
    r = await client.post(
        f"/api/v1/review/organisations/{owner.organisation_id}",
        headers=coordinator.headers,
        json={"decision": "approve"},
    )
    assert r.status_code == 200 and r.json()["status"] == "approved"
    post = await fetch(app, Post, post_id)
    assert post.status == "pending_review"
