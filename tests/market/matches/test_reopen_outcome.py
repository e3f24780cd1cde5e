"""Follow-through, second part: a match that did not happen is reopened by the need's side,
"Did you meet?" is asked in the app (a notification and a card with two forms), decline reasons
reach the coordinators, and the time to first contact is on the match object."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from market.db import make_sessionmaker, utcnow
from market.matches import followthrough
from market.matches.models import Match
from tests.factories import make_user
from tests.market.conversations.helpers import csrf_of
from tests.market.matches.test_followthrough import (
    _connected,
    kinds,
    matches_of,
    need,
    offer,
    run,
    set_room,
)
from tests.pages import browser


async def _match(client: httpx.AsyncClient, actor: Any, match_id: str) -> dict[str, Any]:
    r = await client.get(f"/api/v1/matches/{match_id}", headers=actor.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_time_to_first_contact_on_the_match(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True, locale="en")
    seeker = await make_user(app, client, "seeker", locale="en")
    await offer(client, volunteer)
    await need(client, seeker)
    (m,) = await matches_of(client, seeker)
    assert m["time_to_first_contact_seconds"] is None
    # Proposed an hour ago (the clock of the proposal is created_at).
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        await s.execute(
            update(Match)
            .where(Match.id == m["id"])
            .values(created_at=utcnow() - timedelta(hours=1))
        )
    for who in (seeker, volunteer):
        r = await client.post(f"/api/v1/matches/{m['id']}/accept", headers=who.headers)
        assert r.status_code == 200
    seen = await _match(client, volunteer, m["id"])
    assert seen["status"] == "connected"
    assert 3600 <= seen["time_to_first_contact_seconds"] < 3600 + 120


async def test_a_match_that_did_not_happen_is_reopened_by_the_need_side(
    client: httpx.AsyncClient, app: Any
) -> None:
    volunteer, seeker, match_id = await _connected(client, app)
    # A second volunteer, with no room while their offer is published: no proposal yet.
    other = await make_user(app, client, "volunteer", approved=True, locale="en")
    await set_room(app, other.id, 0)
    other_offer = await offer(client, other)
    await set_room(app, other.id, 5)
    url = f"/api/v1/matches/{match_id}/reopen"
    # Connected, nobody said "we did not meet": nothing to reopen.
    assert (await client.post(url, headers=seeker.headers)).status_code == 409
    assert (await _match(client, seeker, match_id))["reopenable"] is False
    r = await client.post(
        f"/api/v1/matches/{match_id}/outcome", headers=volunteer.headers, json={"met": False}
    )
    assert r.status_code == 200
    assert (await _match(client, seeker, match_id))["reopenable"] is True
    # Only the need's side reopens; strangers do not see the match.
    assert (await client.post(url, headers=volunteer.headers)).status_code == 403
    stranger = await make_user(app, client, "seeker")
    assert (await client.post(url, headers=stranger.headers)).status_code == 404
    assert (await _match(client, seeker, match_id))["status"] == "connected"

    r = await client.post(url, headers=seeker.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed" and r.json()["reopenable"] is False
    mine = {m["id"]: m for m in await matches_of(client, seeker)}
    (new,) = [m for m in mine.values() if m["status"] == "proposed"]
    assert new["offer"]["id"] == other_offer["id"]
    # Once only, and the old pair is not proposed again.
    assert (await client.post(url, headers=seeker.headers)).status_code == 409
    assert len(mine) == 2


async def test_reopen_through_the_page(client: httpx.AsyncClient, app: Any) -> None:
    volunteer, seeker, match_id = await _connected(client, app)
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        # Ended after it was connected (a post closed): it did not happen.
        await s.execute(
            update(Match)
            .where(Match.id == match_id)
            .values(status="closed", closed_reason="post_closed")
        )
    async with browser(app, volunteer) as c:
        page = await c.get(f"/matches/{match_id}")
        assert page.status_code == 200 and f"/matches/{match_id}/reopen" not in page.text
        r = await c.post(f"/matches/{match_id}/reopen", data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 403
    async with browser(app, seeker) as c:
        page = await c.get(f"/matches/{match_id}")
        assert f"/matches/{match_id}/reopen" in page.text and "Look for someone else" in page.text
        csrf = csrf_of(page.text)
        r = await c.post(f"/matches/{match_id}/reopen", data={"csrf_token": csrf})
        assert r.status_code == 303
        again = await c.post(f"/matches/{match_id}/reopen", data={"csrf_token": csrf})
        assert again.status_code == 409
        page = await c.get(f"/matches/{match_id}")
        assert "This match did not happen. We look for someone else." in page.text
        assert f"/matches/{match_id}/reopen" not in page.text
    assert (await _match(client, seeker, match_id))["reopenable"] is False


async def test_did_you_meet_in_the_app(client: httpx.AsyncClient, app: Any) -> None:
    volunteer, seeker, match_id = await _connected(client, app)
    async with browser(app, seeker) as c:
        assert "/outcome" not in (await c.get("/notifications")).text
    assert await run(app, followthrough.ask_outcome, utcnow() + timedelta(days=7, hours=1)) == 1
    assert "match.outcome" in await kinds(app, seeker.id)
    assert "match.outcome" in await kinds(app, volunteer.id)
    async with browser(app, seeker) as c:
        page = await c.get("/notifications")
        assert page.status_code == 200
        assert f'action="/matches/{match_id}/outcome"' in page.text
        assert "Did you meet?" in page.text and "Yes, we met" in page.text
        csrf = csrf_of(page.text)
        bad = await c.post(f"/matches/{match_id}/outcome", data={"csrf_token": csrf, "met": "2"})
        assert bad.status_code == 422
        r = await c.post(
            f"/matches/{match_id}/outcome",
            data={"csrf_token": csrf, "met": "0", "next": "/notifications"},
        )
        assert r.status_code == 303
        # Answered once: the card is gone; a second answer is a friendly 409 page.
        assert f'action="/matches/{match_id}/outcome"' not in (await c.get("/notifications")).text
        again = await c.post(f"/matches/{match_id}/outcome", data={"csrf_token": csrf, "met": "1"})
        assert again.status_code == 409 and "<html" in again.text.lower()
        # "Not yet" from the need's side: the match page offers to look for someone else.
        assert f"/matches/{match_id}/reopen" in (await c.get(f"/matches/{match_id}")).text
    seen = await _match(client, seeker, match_id)
    assert seen["outcome"]["mine"]["met"] is False
    # The volunteer's card is still there; once the match has ended, their answer is 409.
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        await s.execute(update(Match).where(Match.id == match_id).values(status="closed"))
    async with browser(app, volunteer) as c:
        page = await c.get("/notifications")
        assert f'action="/matches/{match_id}/outcome"' not in page.text
        r = await c.post(
            f"/matches/{match_id}/outcome", data={"csrf_token": csrf_of(page.text), "met": "1"}
        )
        assert r.status_code == 409
    assert (await _match(client, volunteer, match_id))["outcome"]["mine"] is None


async def test_decline_reasons_for_coordinators(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True, locale="en")
    seeker = await make_user(app, client, "seeker", locale="en")
    coordinator = await make_user(app, client, "coordinator", locale="en")
    await offer(client, volunteer)
    n = await need(client, seeker)
    (m,) = await matches_of(client, seeker)
    r = await client.post(
        f"/api/v1/matches/{m['id']}/decline", headers=volunteer.headers, json={"reason": "too_far"}
    )
    assert r.status_code == 200
    # Counted in the unmatched-needs report, on the page and in the API.
    async with browser(app, coordinator) as c:
        page = await c.get("/review/unmatched")
        assert page.status_code == 200, page.text
        assert "Why people said no" in page.text and "It is too far away" in page.text
    r = await client.get("/api/v1/review/unmatched", headers=coordinator.headers)
    assert r.status_code == 200, r.text
    (item,) = [i for i in r.json()["items"] if i["need"]["id"] == n["id"]]
    assert item["declines"] == {"too_far": 1}
    # The waiting queue shows the earlier declines of a stalled match's need.
    other = await make_user(app, client, "volunteer", approved=True, locale="en")
    await offer(client, other)
    assert await run(app, followthrough.flag_stalled, utcnow() + timedelta(days=5, hours=1)) == 1
    async with browser(app, coordinator) as c:
        page = await c.get("/review/waiting")
        assert page.status_code == 200
        assert "Declined before:" in page.text and "It is too far away (1)" in page.text


async def test_certificate_dates_recorded_shown_and_deleted_on_schedule(
    client: httpx.AsyncClient, app: Any
) -> None:
    from datetime import date

    from sqlalchemy import select

    from market import maintenance
    from market.retention import add_months
    from market.vetting.models import VettingDecision

    volunteer = await make_user(app, client, "volunteer", locale="en")
    coordinator = await make_user(app, client, "coordinator", locale="en")
    today = utcnow().date()
    url = f"/api/v1/review/volunteers/{volunteer.id}"
    body: dict[str, Any] = {
        "decision": "approve",
        "checks": {"identity": True, "interview": True, "code_of_conduct": True},
        "police_certificate_until": (today + timedelta(days=900)).isoformat(),
    }
    future = {**body, "police_certificate_issued_on": (today + timedelta(days=2)).isoformat()}
    r = await client.post(url, headers=coordinator.headers, json=future)
    assert r.status_code == 422, r.text
    issued = today - timedelta(days=20)
    r = await client.post(
        url, headers=coordinator.headers, json={**body, "police_certificate_issued_on": str(issued)}
    )
    assert r.status_code == 200, r.text
    (latest,) = r.json()["history"]
    assert latest["police_certificate_issued_on"] == issued.isoformat()
    assert latest["police_certificate_seen_on"] == today.isoformat()
    async with browser(app, coordinator) as c:
        page = await c.get(f"/review/volunteers/{volunteer.id}")
        assert page.status_code == 200
        assert "What we keep of a police certificate, and for how long" in page.text
        assert 'name="police_certificate_issued_on"' in page.text

    async def facts() -> list[tuple[date | None, date | None, date | None]]:
        async with make_sessionmaker(app.state.engine)() as s:
            rows = await s.execute(
                select(
                    VettingDecision.police_certificate_issued_on,
                    VettingDecision.police_certificate_seen_on,
                    VettingDecision.police_certificate_until,
                ).where(VettingDecision.volunteer_id == volunteer.id)
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]

    sm, settings = app.state.sessionmaker, app.state.settings
    start = utcnow()
    done = await maintenance.run(sm, settings, now=add_months(start, 3) - timedelta(days=1))
    assert done["certificate_facts_deleted"] == 0
    assert (await facts())[0][0] == issued
    done = await maintenance.run(sm, settings, now=add_months(start, 3) + timedelta(days=1))
    assert done["certificate_facts_deleted"] == 1
    assert await facts() == [(None, None, None)]  # all three, also from the history


async def test_openapi_lists_the_follow_through_endpoints(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    for path in ("/matches/{id}/reopen", "/matches/{id}/outcome", "/me/availability"):
        assert "post" in paths[f"/api/v1{path}"], path


def test_follow_through_mails_in_five_languages_with_both_parts() -> None:
    """Every follow-through mail renders in de, en, ar, fa and uk, with a plain and an HTML
    part, translated (not English) outside English, right-to-left for Arabic and Persian."""
    from notifications.mail import render_mail

    context = {
        "name": "Samir",
        "link": "http://x/l",
        "yes_link": "http://x/y",
        "no_link": "http://x/n",
        "title": "Begleitung",
        "close_on": "2027-01-31",
        "delete_on": "2027-01-31",
        "staff": False,
    }
    templates = (
        "match_reminder",
        "match_stalled",
        "match_expired",
        "availability_paused",
        "match_outcome",
        "need_still_needed",
        "need_closed_stale",
        "account_inactive",
    )
    for template in templates:
        english = render_mail(template, "en", context, base_url="http://x")
        for locale in ("de", "ar", "fa", "uk"):
            mail = render_mail(template, locale, context, base_url="http://x")
            assert mail.locale == locale and mail.text.strip() and mail.html.strip()
            assert mail.subject != english.subject, (template, locale)
            assert mail.text != english.text, (template, locale)
            assert (' dir="rtl"' in mail.html) is (locale in ("ar", "fa")), (template, locale)
