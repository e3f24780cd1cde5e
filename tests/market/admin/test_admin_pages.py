"""Administration in the browser (admins only): regions, coordinators and their regions,
suspending accounts (no login by page or API, sessions and tokens ended, posts out of search
and back), and the audit log of every change."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from market.accounts.models import ApiToken, CoordinatorRegion, User, WebSession
from market.admin.models import AuditEntry
from market.db import make_sessionmaker
from market.posts.models import Post, Region
from tests.factories import PASSWORD, make_user, post_body
from tests.pages import browser, count, csrf, fetch, login, submit, text_of


async def _rows(app: Any, model: Any, *where: Any) -> list[Any]:
    async with make_sessionmaker(app.state.engine)() as s:
        return list(await s.scalars(select(model).where(*where)))


async def test_only_admins_reach_the_console(client: httpx.AsyncClient, app: Any) -> None:
    coordinator = await make_user(app, client, "coordinator")
    seeker = await make_user(app, client, "seeker")
    for actor in (coordinator, seeker):
        async with browser(app, actor) as c:
            for url in ("/admin", "/admin/regions", "/admin/users", "/admin/audit"):
                assert (await c.get(url)).status_code == 403, url
            token = csrf((await c.get("/account")).text)
            r = await c.post(
                "/admin/regions",
                data={"csrf_token": token, "slug": "x", "name": "X", "lat": "1", "lon": "1"},
            )
            assert r.status_code == 403
            r = await c.post(f"/admin/users/{seeker.id}/suspend", data={"csrf_token": token})
            assert r.status_code == 403
    assert await count(app, Region) == 0
    assert (await fetch(app, User, seeker.id)).suspended_at is None
    async with browser(app) as anonymous:
        r = await anonymous.get("/admin")
        assert r.status_code == 303 and "/login" in r.headers["location"]


async def test_an_admin_creates_a_region_and_a_coordinator(
    client: httpx.AsyncClient, app: Any, mailbox: Any
) -> None:
    admin = await make_user(app, client, "admin", locale="en")
    existing = await make_user(app, client, "seeker", name="Sam")
    r = await client.post("/api/v1/posts", headers=existing.headers, json=post_body())
    before = r.json()["id"]  # in Leipzig, written before the region exists
    assert (await fetch(app, Post, before)).region_id is None
    async with browser(app, admin) as c:
        r = await submit(c, "/admin/regions", {"slug": "Leipzig!", "name": "L", "lat": "x"})
        assert r.status_code == 422  # what was typed stays, each mistake said
        assert 'value="Leipzig!"' in r.text
        r = await submit(
            c,
            "/admin/regions",
            {
                "slug": "leipzig",
                "name": "Leipzig",
                "lat": "51.34",
                "lon": "12.37",
                "radius_km": "20",
            },
        )
        assert r.status_code == 303
        (region,) = await _rows(app, Region)
        # The new region takes in the posts it covers, as if they were written now.
        assert (await fetch(app, Post, before)).region_id == region.id
        r = await submit(
            c,
            f"/admin/regions/{region.id}",
            {
                "slug": "leipzig",
                "name": "Leipzig Stadt",
                "lat": "51.34",
                "lon": "12.37",
                "radius_km": "25",
            },
        )
        assert r.status_code == 303
        assert (await fetch(app, Region, region.id)).radius_km == 25
        # Moved far away: the post is let go again.
        far = {"slug": "leipzig", "name": "Leipzig Stadt", "lat": "48.1", "lon": "11.6"}
        r = await submit(c, f"/admin/regions/{region.id}", far | {"radius_km": "10"})
        assert r.status_code == 303
        assert (await fetch(app, Post, before)).region_id is None
        r = await submit(
            c,
            f"/admin/regions/{region.id}",
            far | {"lat": "51.34", "lon": "12.37", "radius_km": "25"},
        )
        assert (await fetch(app, Post, before)).region_id == region.id
        # A new coordinator account: a mail to choose a password.
        r = await submit(
            c, "/admin/coordinators", {"email": "neu@example.org", "display_name": "Nora"}
        )
        assert r.status_code == 303
        await mailbox.wait_for("neu@example.org")
        (nora,) = await _rows(app, User, User.email == "neu@example.org")
        assert nora.role == "coordinator"
        # An existing account promoted.
        r = await submit(c, "/admin/coordinators", {"email": existing.email})
        assert r.status_code == 303
        assert (await fetch(app, User, existing.id)).role == "coordinator"
        page = await c.get("/admin/coordinators")
        r = await c.post(
            f"/admin/coordinators/{nora.id}/regions",
            data={"csrf_token": csrf(page.text), "regions": [region.id]},
        )
        assert r.status_code == 303
        audit = text_of((await c.get("/admin/audit")).text)
    assert [r.region_id for r in await _rows(app, CoordinatorRegion)] == [region.id]
    actions = [e.action for e in await _rows(app, AuditEntry)]
    assert sorted(actions) == sorted(
        [
            "region.created",
            "region.changed",
            "region.changed",
            "region.changed",
            "coordinator.created",
            "coordinator.promoted",
            "coordinator.regions",
        ]
    )
    assert all(e.actor_id == admin.id for e in await _rows(app, AuditEntry))
    assert "coordinator.promoted" in audit and "Leipzig Stadt" in audit
    # No personal data beyond ids in the log.
    assert not any("@" in (e.detail or "") for e in await _rows(app, AuditEntry))


async def test_a_suspended_account_cannot_log_in_and_its_posts_leave_search(
    client: httpx.AsyncClient, app: Any
) -> None:
    admin = await make_user(app, client, "admin")
    seeker = await make_user(app, client, "seeker")
    r = await client.post(
        "/api/v1/posts", headers=seeker.headers, json=post_body(title="Suche Hilfe beim Amt")
    )
    post_id = r.json()["id"]
    async with browser(app, seeker) as seekers_browser:
        assert (await seekers_browser.get("/account")).status_code == 200
        async with browser(app, admin) as c:
            page = await c.get(f"/admin/users/{seeker.id}")
            r = await c.post(
                f"/admin/users/{seeker.id}/suspend", data={"csrf_token": csrf(page.text)}
            )
            assert r.status_code == 303
            # An admin cannot suspend themselves.
            r = await c.post(
                f"/admin/users/{admin.id}/suspend", data={"csrf_token": csrf(page.text)}
            )
            assert r.status_code == 403
        # The running session and the API token end; no new login by page or API.
        assert (await seekers_browser.get("/account")).status_code == 303
    assert (await client.get("/api/v1/me", headers=seeker.headers)).status_code == 401
    # Ended for good, not only refused while suspended: unsuspending does not revive them.
    sessions = await _rows(app, WebSession, WebSession.user_id == seeker.id)
    tokens = await _rows(app, ApiToken, ApiToken.user_id == seeker.id)
    assert sessions and tokens
    assert all(x.revoked_at is not None for x in [*sessions, *tokens])
    r = await client.post("/api/v1/auth/token", json={"email": seeker.email, "password": PASSWORD})
    assert r.status_code == 401
    async with browser(app) as c:
        assert (await login(c, seeker.email)).status_code == 422
    search = (await client.get("/api/v1/posts?q=Amt")).json()["items"]
    assert post_id not in [p["id"] for p in search]
    # Unsuspended: in again, the post back in search.
    async with browser(app, admin) as c:
        page = await c.get(f"/admin/users/{seeker.id}")
        r = await c.post(
            f"/admin/users/{seeker.id}/unsuspend", data={"csrf_token": csrf(page.text)}
        )
        assert r.status_code == 303
    assert (await fetch(app, Post, post_id)).status == "published"
    search = (await client.get("/api/v1/posts?q=Amt")).json()["items"]
    assert post_id in [p["id"] for p in search]
    r = await client.post("/api/v1/auth/token", json={"email": seeker.email, "password": PASSWORD})
    assert r.status_code == 200
    actions = [e.action for e in await _rows(app, AuditEntry, AuditEntry.object_id == seeker.id)]
    assert sorted(actions) == ["user.suspended", "user.unsuspended"]
