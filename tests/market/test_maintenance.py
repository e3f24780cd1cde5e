"""Stale data: reminders, expiry with withdrawal of matches, renewal, certificates running out."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from market import maintenance
from market.db import utcnow
from market.posts.models import Post
from tests.factories import make_user, post_body
from tests.smtp import SmtpServer


async def _login_page_session(client: httpx.AsyncClient, email: str) -> None:
    page = await client.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = await client.post(
        "/login", data={"csrf_token": csrf, "email": email, "password": "correct horse battery"}
    )
    assert r.status_code == 303, r.text


async def test_reminder_renew_and_expiry(
    client: httpx.AsyncClient, app: Any, session: Any, mailbox: SmtpServer
) -> None:
    seeker = await make_user(app, client, "seeker", locale="en")
    volunteer = await make_user(app, client, "volunteer", approved=True)
    need = (await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())).json()
    await client.post("/api/v1/posts", headers=volunteer.headers, json=post_body(kind="offer"))
    (match,) = (await client.get("/api/v1/matches", headers=seeker.headers)).json()["items"]
    # Connected, so that the follow-through rules (a proposal expires after 7 days) leave it be.
    for who in (seeker, volunteer):
        r = await client.post(f"/api/v1/matches/{match['id']}/accept", headers=who.headers)
        assert r.status_code == 200
    sm, settings = app.state.sessionmaker, app.state.settings

    # 84 days later: a reminder with a renew link, once.
    later = utcnow() + timedelta(days=84)
    counts = await maintenance.run(sm, settings, now=later)
    assert counts["reminders"] == 2 and counts["expired"] == 0  # the need and the offer
    assert (await maintenance.run(sm, settings, now=later))["reminders"] == 0
    # The renew reminder; other mails (the proposal, the connection, the "did you meet?"
    # question) arrive too, in any order.
    (reminder,) = await mailbox.wait_for(seeker.email, containing="/renew?token=", timeout=15)
    link = re.search(r"http://testserver(/posts/\S+/renew\?token=\S+)", reminder.text).group(1)

    # The link asks first (a mail scanner's GET changes nothing), the button renews.
    await _login_page_session(client, seeker.email)
    page = await client.get(link)
    assert page.status_code == 200
    before = (await client.get(f"/api/v1/posts/{need['id']}")).json()["expires_at"]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    r = await client.post(f"/posts/{need['id']}/renew", data={"csrf_token": csrf, "token": token})
    assert r.status_code == 303
    after = (await client.get(f"/api/v1/posts/{need['id']}")).json()["expires_at"]
    assert after > before
    bad = await client.get(f"/posts/{need['id']}/renew?token=forged")
    # Without a valid link the signed-in author renews from the page anyway (issue 13); the
    # forged token is not carried into the form.
    assert bad.status_code == 200 and 'name="token" value=""' in bad.text

    # Past the (renewed) end: expired, out of search, matches withdrawn.
    counts = await maintenance.run(sm, settings, now=utcnow() + timedelta(days=91))
    assert counts["expired"] >= 1
    assert (await client.get(f"/api/v1/posts/{need['id']}")).status_code == 404
    assert need["id"] not in {p["id"] for p in (await client.get("/api/v1/posts")).json()["items"]}
    (m,) = (await client.get("/api/v1/matches", headers=seeker.headers)).json()["items"]
    assert m["status"] == "closed"

    # An expired post can be renewed by its author through the API: published again.
    r = await client.post(f"/api/v1/posts/{need['id']}/renew", headers=seeker.headers)
    assert r.status_code == 200 and r.json()["status"] == "published"


async def test_certificate_running_out_withdraws_matches(
    client: httpx.AsyncClient, app: Any
) -> None:
    volunteer = await make_user(
        app, client, "volunteer", approved=True, certificate_until=date.today() + timedelta(days=10)
    )
    seeker = await make_user(app, client, "seeker")
    await client.post(
        "/api/v1/posts",
        headers=volunteer.headers,
        json=post_body(kind="offer", category="childcare"),
    )
    await client.post("/api/v1/posts", headers=seeker.headers, json=post_body(category="childcare"))
    await client.post(
        "/api/v1/posts", headers=volunteer.headers, json=post_body(kind="offer", category="housing")
    )
    await client.post("/api/v1/posts", headers=seeker.headers, json=post_body(category="housing"))
    both = (await client.get("/api/v1/matches", headers=seeker.headers)).json()["items"]
    assert len(both) == 2
    # Connected, so that the follow-through rules (a proposal expires after 7 days) leave them be.
    for m in both:
        for who in (seeker, volunteer):
            r = await client.post(f"/api/v1/matches/{m['id']}/accept", headers=who.headers)
            assert r.status_code == 200
    sm, settings = app.state.sessionmaker, app.state.settings
    assert (await maintenance.run(sm, settings))["certificates"] == 0
    counts = await maintenance.run(sm, settings, now=utcnow() + timedelta(days=11))
    assert counts["certificates"] == 1
    statuses = {
        m["need"]["category"]: m["status"]
        for m in (await client.get("/api/v1/matches", headers=seeker.headers)).json()["items"]
    }
    assert statuses == {"childcare": "closed", "housing": "connected"}
    _ = select, Post
