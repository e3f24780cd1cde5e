"""Moderation in the browser: reports with their content, resolved or dismissed; reporting a
post or a person; taking a post down and up (the author told why, in their language);
renewing, reopening and resubmitting one's own post."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from market.admin.models import AuditEntry
from market.db import make_sessionmaker, utcnow
from market.posts.models import Post
from market.vetting.models import Report
from notifications.models import Notification
from tests.factories import Actor, make_user, post_body
from tests.pages import browser, count, csrf, fetch, submit, text_of, translated, value_of


async def create(client: httpx.AsyncClient, actor: Actor, **overrides: Any) -> str:
    r = await client.post("/api/v1/posts", headers=actor.headers, json=post_body(**overrides))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def report(client: httpx.AsyncClient, actor: Actor, kind: str, target: str) -> str:
    r = await client.post(
        "/api/v1/reports",
        headers=actor.headers,
        json={"target_type": kind, "target_id": target, "reason": "Bitte prüfen"},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_reports_show_the_content_and_are_resolved_or_dismissed(
    client: httpx.AsyncClient, app: Any
) -> None:
    coordinator = await make_user(app, client, "coordinator", locale="en")
    reporter = await make_user(app, client, "seeker", name="Rita")
    author = await make_user(app, client, "seeker", name="Karl Kontakt")
    post_id = await create(client, author, title="Verdächtiger Eintrag", body="Ruf 0176 an")
    on_post = await report(client, reporter, "post", post_id)
    on_user = await report(client, reporter, "user", author.id)
    async with browser(app, coordinator) as c:
        page = await c.get("/review/reports")
        assert page.status_code == 200
        seen = text_of(page.text)
        assert "Verdächtiger Eintrag" in seen and "Ruf 0176 an" in seen  # the content itself
        assert "Karl Kontakt" in seen and "Rita" in seen
        assert f'href="/posts/{post_id}"' in page.text
        token = csrf(page.text)
        r = await c.post(
            f"/review/reports/{on_post}",
            data={"csrf_token": token, "action": "resolve", "note": "Nummer entfernt"},
        )
        assert r.status_code == 303
        r = await c.post(
            f"/review/reports/{on_user}", data={"csrf_token": token, "action": "dismiss"}
        )
        assert r.status_code == 303
        again = await c.post(
            f"/review/reports/{on_user}", data={"csrf_token": token, "action": "dismiss"}
        )
        assert again.status_code == 409
        closed = text_of((await c.get("/review/reports?status=resolved")).text)
        assert "Resolved: Nummer entfernt" in closed and "Dismissed" in closed
        assert "Verdächtiger Eintrag" not in text_of((await c.get("/review/reports")).text)
    resolved = await fetch(app, Report, on_post)
    assert (resolved.status, resolved.resolved_by) == ("resolved", coordinator.id)
    assert await count(app, AuditEntry, AuditEntry.action == "report.resolved") == 1
    assert await count(app, AuditEntry, AuditEntry.action == "report.dismissed") == 1
    # Not staff: 403, nothing changed.
    other = await report(client, reporter, "post", post_id)
    async with browser(app, reporter) as c:
        token = csrf((await c.get("/account")).text)
        assert (await c.get("/review/reports")).status_code == 403
        r = await c.post(
            f"/review/reports/{other}", data={"csrf_token": token, "action": "resolve"}
        )
        assert r.status_code == 403
    assert (await fetch(app, Report, other)).status == "open"


async def test_a_post_and_its_author_are_reported_from_the_post_page(
    client: httpx.AsyncClient, app: Any
) -> None:
    reader = await make_user(app, client, "volunteer")
    author = await make_user(app, client, "seeker")
    post_id = await create(client, author)
    async with browser(app, reader) as c:
        page = await c.get(f"/posts/{post_id}")
        assert f'href="/posts/{post_id}/report"' in page.text
        assert f'href="/users/{author.id}/report' in page.text
        r = await submit(c, f"/posts/{post_id}/report", {"reason": "x"})
        assert r.status_code == 422  # too short: said on the page, nothing stored
        assert await count(app, Report) == 0
        r = await submit(c, f"/posts/{post_id}/report", {"reason": "Das ist Werbung"})
        assert r.status_code == 303 and r.headers["location"].startswith(f"/posts/{post_id}")
        url = f"/users/{author.id}/report?back=/posts/{post_id}"
        r = await submit(c, url, {"reason": "Schreibt unfreundlich"})
        assert r.status_code == 303
    rows = {(r.target_type, r.target_id) for r in await _reports(app)}
    assert rows == {("post", post_id), ("user", author.id)}
    async with browser(app) as anonymous:
        r = await anonymous.get(f"/posts/{post_id}/report")
        assert r.status_code == 303 and "/login" in r.headers["location"]


async def _reports(app: Any) -> list[Report]:
    from sqlalchemy import select

    async with make_sessionmaker(app.state.engine)() as s:
        return list(await s.scalars(select(Report)))


async def test_staff_take_a_post_down_and_publish_it_again(
    client: httpx.AsyncClient, app: Any, mailbox: Any
) -> None:
    coordinator = await make_user(app, client, "coordinator")
    author = await make_user(app, client, "seeker", locale="ar")
    post_id = await create(client, author, title="Hilfe beim Umzug")
    async with browser(app, coordinator) as c:
        page = await c.get(f"/posts/{post_id}")
        assert f'action="/posts/{post_id}/unpublish"' in page.text
        r = await c.post(
            f"/posts/{post_id}/unpublish",
            data={"csrf_token": csrf(page.text), "reason": "contact_data"},
        )
        assert r.status_code == 303
    post = await fetch(app, Post, post_id)
    assert (post.status, post.rejection_reason) == ("rejected", "contact_data")
    async with browser(app) as anonymous:
        assert (await anonymous.get(f"/posts/{post_id}")).status_code == 404
    # The author is told why, in Arabic: in the app and by mail.
    assert await count(app, Notification, Notification.user_id == author.id) >= 1
    why = translated(
        "Please remove phone numbers, addresses and other contact data. "
        "You will see each other's contact after you both accept a match.",
        "ar",
    )
    (mail, *_) = await mailbox.wait_for(author.email, containing="Hilfe beim Umzug")
    async with browser(app, author) as c:
        inbox = text_of((await c.get("/notifications")).text)
    notice = translated("Your post “%(title)s” is not shown. Please change it.", "ar", title="x")
    assert notice.split("x")[0].strip() in inbox and "Hilfe beim Umzug" in inbox
    assert why in mail.text
    async with browser(app, coordinator) as c:
        page = await c.get(f"/posts/{post_id}")
        r = await c.post(f"/posts/{post_id}/republish", data={"csrf_token": csrf(page.text)})
        assert r.status_code == 303
    assert (await fetch(app, Post, post_id)).status == "published"
    actions = {
        e: await count(app, AuditEntry, AuditEntry.action == e)
        for e in ("post.unpublished", "post.republished")
    }
    assert actions == {"post.unpublished": 1, "post.republished": 1}
    # Someone else cannot.
    async with browser(app, author) as c:
        token = csrf((await c.get("/account")).text)
        r = await c.post(f"/posts/{post_id}/unpublish", data={"csrf_token": token, "reason": "x"})
        assert r.status_code == 403
    assert (await fetch(app, Post, post_id)).status == "published"


async def test_a_rejected_post_is_changed_and_sent_again(
    client: httpx.AsyncClient, app: Any
) -> None:
    coordinator = await make_user(app, client, "coordinator")
    author = await make_user(app, client, "seeker")
    post_id = await create(client, author)
    r = await client.post(
        f"/api/v1/review/posts/{post_id}",
        headers=coordinator.headers,
        json={"decision": "reject", "reason": "incomplete"},
    )
    assert r.status_code == 200, r.text
    async with browser(app, author) as c:
        page = await c.get(f"/posts/{post_id}")
        assert f'href="/posts/{post_id}/edit"' in page.text
        form = await c.get(f"/posts/{post_id}/edit")
        assert form.status_code == 200
        r = await c.post(
            f"/posts/{post_id}/edit",
            data={
                "csrf_token": csrf(form.text),
                "category": "accompaniment-authorities",
                "title": "Begleitung zum Jobcenter am Montag",
                "body": "Termin um 9 Uhr, ich spreche Arabisch.",
                "languages": ["ar", "de"],
                "mode": "in_person",
                **{n: value_of(form.text, n) for n in ("postcode", "city", "country", "radius_km")},
            },
        )
        assert r.status_code == 303, r.text[:3000]
    post = await fetch(app, Post, post_id)
    assert (post.status, post.rejection_reason) == ("pending_review", None)
    assert post.title == "Begleitung zum Jobcenter am Montag"


async def test_renewing_without_the_mail_link(client: httpx.AsyncClient, app: Any) -> None:
    author = await make_user(app, client, "seeker")
    post_id = await create(client, author)
    async with browser(app) as anonymous:
        r = await anonymous.get(f"/posts/{post_id}/renew")
        assert r.status_code == 200
        assert translated("Keep my post online", "de") in r.text
        assert "/login?next=" in r.text
    soon = utcnow() + timedelta(days=3)
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        await s.execute(update(Post).where(Post.id == post_id).values(expires_at=soon))
    async with browser(app, author) as c:
        page = await c.get(f"/posts/{post_id}")
        assert f'action="/posts/{post_id}/renew"' in page.text
        r = await c.post(f"/posts/{post_id}/renew", data={"csrf_token": csrf(page.text)})
        assert r.status_code == 303
    renewed = await fetch(app, Post, post_id)
    assert renewed.expires_at > soon + timedelta(days=80)
    # An expired post is put online again from its page.
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        await s.execute(update(Post).where(Post.id == post_id).values(status="expired"))
    async with browser(app, author) as c:
        page = await c.get(f"/posts/{post_id}")
        assert translated("Put my post online again", "de") in page.text
        r = await c.post(f"/posts/{post_id}/renew", data={"csrf_token": csrf(page.text)})
        assert r.status_code == 303
    assert (await fetch(app, Post, post_id)).status == "published"
    # Someone else, signed in, gets 403 and changes nothing.
    stranger = await make_user(app, client, "seeker")
    async with browser(app, stranger) as c:
        assert (await c.get(f"/posts/{post_id}/renew")).status_code == 403
