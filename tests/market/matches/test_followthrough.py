"""The waiting clock on proposed matches (API.md, Release 2, Follow-through), with time moved
forward by calling the rules with a later `now`; mails read through the real SMTP test server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from market.accounts.models import CoordinatorRegion, User
from market.db import make_sessionmaker, utcnow
from market.matches import followthrough
from market.matches.models import Match
from market.posts.models import Region
from market.settings import Settings
from notifications.models import Notification
from tests.factories import Actor, make_user, post_body
from tests.market.conversations.helpers import csrf_of
from tests.pages import browser
from tests.smtp import SmtpServer

Rule = Callable[[Any, Settings, datetime], Awaitable[int]]


async def run(app: Any, rule: Rule, now: datetime) -> int:
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        return await rule(s, app.state.settings, now)


async def offer(client: httpx.AsyncClient, volunteer: Actor) -> dict[str, Any]:
    body = post_body(kind="offer", title="Ich begleite Sie zum Amt")
    r = await client.post("/api/v1/posts", headers=volunteer.headers, json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def need(
    client: httpx.AsyncClient, seeker: Actor, title: str = "Begleitung zum Amt"
) -> dict[str, Any]:
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body(title=title))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def matches_of(client: httpx.AsyncClient, actor: Actor) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/matches", headers=actor.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


async def kinds(app: Any, user_id: str) -> list[str]:
    async with make_sessionmaker(app.state.engine)() as s:
        rows = await s.execute(select(Notification.kind).where(Notification.user_id == user_id))
        return sorted(r[0] for r in rows)


async def settle(app: Any, mailbox: SmtpServer, address: str, count: int) -> list[Any]:
    """Wait for `count` mails to `address`, then hand over and send every mail still pending
    (the relay's sweep without its grace), so an extra one that should not come is there."""
    await mailbox.wait_for(address, count=count, timeout=15)
    relay = app.state.relay
    relay.grace = timedelta(0)
    await relay.sweep()
    await relay.drain()
    return list(mailbox.to(address))


def form_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'name="(csrf_token|token)" value="([^"]+)"', html))


async def test_reminder_at_48_hours_once_to_the_side_that_has_not_answered(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True, locale="en")
    seeker = await make_user(app, client, "seeker", locale="en")
    await offer(client, volunteer)
    await need(client, seeker)
    (m,) = await matches_of(client, seeker)
    assert (
        await client.post(f"/api/v1/matches/{m['id']}/accept", headers=seeker.headers)
    ).status_code == 200
    await mailbox.wait_for(volunteer.email)
    start = utcnow()

    assert await run(app, followthrough.send_reminders, start + timedelta(hours=47)) == 0
    assert await run(app, followthrough.send_reminders, start + timedelta(hours=49)) == 1
    assert await run(app, followthrough.send_reminders, start + timedelta(hours=50)) == 0
    mails = await settle(app, mailbox, volunteer.email, 2)
    assert len(mails) == 2  # the proposal and one reminder
    assert mails[1].subject == "Please answer your match suggestion"
    assert f"http://testserver/matches/{m['id']}" in mails[1].text and mails[1].html
    # The seeker answered already: no reminder.
    assert len(mailbox.to(seeker.email)) == 1
    assert (await kinds(app, volunteer.id)).count("match.reminder") == 1
    assert "match.reminder" not in await kinds(app, seeker.id)


async def test_two_runs_at_the_same_moment_send_one_reminder(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True, locale="en")
    seeker = await make_user(app, client, "seeker", locale="en")
    await offer(client, volunteer)
    await need(client, seeker)
    await mailbox.wait_for(volunteer.email)
    at = utcnow() + timedelta(hours=49)
    results = await asyncio.gather(
        *(run(app, followthrough.send_reminders, at) for _ in range(2)), return_exceptions=True
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    mails = await settle(app, mailbox, volunteer.email, 2)
    assert len(mails) == 2
    assert (await kinds(app, volunteer.id)).count("match.reminder") == 1


async def _region(app: Any, slug: str) -> str:
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        region = Region(slug=slug, name=slug.title(), lat=50.0, lon=8.0, radius_km=25)
        s.add(region)
        await s.flush()
        return region.id


async def test_stalled_at_5_days_in_the_queue_with_actions(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True, locale="en")
    seeker = await make_user(app, client, "seeker", locale="en")
    coordinator = await make_user(app, client, "coordinator", locale="en")
    elsewhere = await make_user(app, client, "coordinator", locale="en")
    region = await _region(app, "elsewhere")
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        s.add(CoordinatorRegion(user_id=elsewhere.id, region_id=region))
    await offer(client, volunteer)
    n = await need(client, seeker)
    (m,) = await matches_of(client, seeker)
    start = utcnow()

    async with browser(app, coordinator) as c:
        empty = await c.get("/review/waiting")
        assert empty.status_code == 200 and m["id"] not in empty.text
    assert await run(app, followthrough.flag_stalled, start + timedelta(days=4, hours=23)) == 0
    assert await run(app, followthrough.flag_stalled, start + timedelta(days=5, hours=1)) == 1
    assert await run(app, followthrough.flag_stalled, start + timedelta(days=5, hours=2)) == 0
    mails = await settle(app, mailbox, coordinator.email, 1)
    assert len(mails) == 1 and mails[0].subject == "A match is waiting for an answer"
    assert "http://testserver/review/waiting" in mails[0].text
    assert await kinds(app, coordinator.id) == ["match.stalled"]
    # A coordinator of another region is not told, does not see it and cannot act on it.
    assert await kinds(app, elsewhere.id) == []
    async with browser(app, elsewhere) as c:
        page = await c.get("/review/waiting")
        assert page.status_code == 200 and m["id"] not in page.text
        r = await c.post(
            f"/review/waiting/{m['id']}/remind", data={"csrf_token": csrf_of(page.text)}
        )
        assert r.status_code == 404
    async with browser(app, seeker) as c:
        assert (await c.get("/review/waiting")).status_code == 403

    async with browser(app, coordinator) as c:
        queue = await c.get("/review/waiting")
        assert queue.status_code == 200 and m["id"] in queue.text and n["title"] in queue.text
        csrf = {"csrf_token": csrf_of(queue.text)}
        r = await c.post(f"/review/waiting/{m['id']}/remind", data=csrf)
        assert r.status_code == 303
        assert (await kinds(app, volunteer.id)).count("match.reminder") == 1
        assert (await kinds(app, seeker.id)).count("match.reminder") == 1
        r = await c.post(f"/review/waiting/{m['id']}/withdraw", data=csrf)
        assert r.status_code == 303
        (gone,) = await matches_of(client, seeker)
        assert gone["status"] == "closed"
        assert m["id"] not in (await c.get("/review/waiting")).text
        # Once withdrawn it is no longer waiting: the actions answer 404 and change nothing.
        assert (await c.post(f"/review/waiting/{m['id']}/remind", data=csrf)).status_code == 404
    assert (await kinds(app, volunteer.id)).count("match.reminder") == 1


async def test_expired_at_7_days_tells_the_answering_side_and_proposes_the_next(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    volunteers = [
        await make_user(app, client, "volunteer", approved=True, locale="en") for _ in range(4)
    ]
    seeker = await make_user(app, client, "seeker", locale="en")
    for v in volunteers[:3]:
        await offer(client, v)
    n = await need(client, seeker)
    first = await matches_of(client, seeker)
    assert len(first) == 3  # a need goes to the best three at a time
    # The fourth volunteer has no room when their offer is published; room comes later, quietly.
    await set_room(app, volunteers[3].id, 0)
    fourth = await offer(client, volunteers[3])
    await set_room(app, volunteers[3].id, 5)
    assert len(await matches_of(client, seeker)) == 3
    for m in first:
        r = await client.post(f"/api/v1/matches/{m['id']}/accept", headers=seeker.headers)
        assert r.status_code == 200
    start = utcnow()

    assert await run(app, followthrough.expire, start + timedelta(days=6, hours=23)) == 0
    assert await run(app, followthrough.expire, start + timedelta(days=7, hours=1)) == 3
    assert await run(app, followthrough.expire, start + timedelta(days=7, hours=2)) == 0
    now = {m["id"]: m for m in await matches_of(client, seeker)}
    assert sorted(m["status"] for m in now.values()) == ["expired"] * 3 + ["proposed"]
    (new,) = [m for m in now.values() if m["status"] == "proposed"]
    assert new["offer"]["id"] == fourth["id"] and new["need"]["id"] == n["id"]
    assert (await kinds(app, seeker.id)).count("match.expired") == 3
    assert "match.expired" not in await kinds(app, volunteers[0].id)
    # Three proposals, three endings, one new proposal.
    mails = await settle(app, mailbox, seeker.email, 7)
    assert [x.subject for x in mails].count("Your match suggestion has ended") == 3
    assert len(mails) == 7
    filtered = await client.get("/api/v1/matches?status=expired", headers=seeker.headers)
    assert filtered.status_code == 200 and len(filtered.json()["items"]) == 3
    async with browser(app, seeker) as c:
        page = await c.get(f"/matches/{first[0]['id']}")
        assert page.status_code == 200 and "Ended without an answer" in page.text
        assert (await c.get("/my/matches")).status_code == 200


async def set_room(app: Any, user_id: str, room: int) -> None:
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        await s.execute(update(User).where(User.id == user_id).values(max_open_matches=room))


async def _pause_by_two_expiries(
    client: httpx.AsyncClient, app: Any
) -> tuple[Actor, Actor, datetime]:
    volunteer = await make_user(app, client, "volunteer", approved=True, locale="en")
    seeker = await make_user(app, client, "seeker", locale="en")
    await offer(client, volunteer)
    await need(client, seeker, "Erste Bitte um Begleitung")
    await need(client, seeker, "Zweite Bitte um Begleitung")
    assert len(await matches_of(client, volunteer)) == 2
    me = (await client.get("/api/v1/me", headers=volunteer.headers)).json()
    assert me["available"] is True
    at = utcnow() + timedelta(days=7, hours=1)
    assert await run(app, followthrough.expire, at) == 2
    return volunteer, seeker, at


async def test_paused_after_two_expiries_and_unpaused_by_the_link(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    volunteer, seeker, _ = await _pause_by_two_expiries(client, app)
    me = (await client.get("/api/v1/me", headers=volunteer.headers)).json()
    assert me["available"] is False
    # No new proposals while paused.
    third = await need(client, seeker, "Dritte Bitte um Begleitung")
    assert [m for m in await matches_of(client, volunteer) if m["status"] == "proposed"] == []

    mails = await mailbox.wait_for(volunteer.email, count=3, timeout=15)
    (paused,) = [m for m in mails if m.subject == "We paused new match suggestions for you"]
    link = re.search(r"http://testserver(/me/available\?token=\S+)", paused.text).group(1)
    # Opening the link (a mail scanner, or a person) changes nothing; the button does.
    page = await client.get(link)
    assert page.status_code == 200 and "available" in page.text
    assert (await client.get("/api/v1/me", headers=volunteer.headers)).json()["available"] is False
    r = await client.post("/me/available", data=form_fields(page.text))
    assert r.status_code == 303
    assert (await client.get("/api/v1/me", headers=volunteer.headers)).json()["available"] is True
    proposed = [m for m in await matches_of(client, volunteer) if m["status"] == "proposed"]
    assert [m["need"]["id"] for m in proposed] == [third["id"]]
    # The link is single use: a second click is answered clearly and changes nothing.
    again = await client.post("/me/available", data=form_fields(page.text))
    assert again.status_code == 422 and 'name="token"' not in again.text
    assert (await client.get(link)).status_code == 422
    assert (await client.get("/me/available?token=forged")).status_code == 422


async def test_paused_volunteer_unpauses_by_the_api(client: httpx.AsyncClient, app: Any) -> None:
    volunteer, _, _ = await _pause_by_two_expiries(client, app)
    assert (await client.get("/api/v1/me", headers=volunteer.headers)).json()["available"] is False
    bad = await client.post(
        "/api/v1/me/availability", headers=volunteer.headers, json={"available": "soon"}
    )
    assert bad.status_code == 422
    extra = await client.post(
        "/api/v1/me/availability", headers=volunteer.headers, json={"available": True, "x": 1}
    )
    assert extra.status_code == 422
    assert (
        await client.post("/api/v1/me/availability", json={"available": True})
    ).status_code == 401
    assert (await client.get("/api/v1/me", headers=volunteer.headers)).json()["available"] is False
    r = await client.post(
        "/api/v1/me/availability", headers=volunteer.headers, json={"available": True}
    )
    assert r.status_code == 200 and r.json()["available"] is True
    # A single later expiry does not pause again: the count starts afresh.
    async with make_sessionmaker(app.state.engine)() as s:
        user = await s.get(User, volunteer.id)
        assert user is not None and user.expired_proposals == 0 and user.paused_at is None


async def test_an_answered_volunteer_is_never_paused(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True, locale="en")
    seeker = await make_user(app, client, "seeker", locale="en")
    await offer(client, volunteer)
    await need(client, seeker, "Erste Bitte um Begleitung")
    await need(client, seeker, "Zweite Bitte um Begleitung")
    for m in await matches_of(client, volunteer):
        assert (
            await client.post(f"/api/v1/matches/{m['id']}/accept", headers=volunteer.headers)
        ).status_code == 200
    assert await run(app, followthrough.expire, utcnow() + timedelta(days=8)) == 2
    assert (await client.get("/api/v1/me", headers=volunteer.headers)).json()["available"] is True


async def test_a_proposal_answered_in_time_does_not_expire(
    client: httpx.AsyncClient, app: Any
) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seeker = await make_user(app, client, "seeker")
    await offer(client, volunteer)
    await need(client, seeker)
    (m,) = await matches_of(client, seeker)
    for who in (seeker, volunteer):
        assert (
            await client.post(f"/api/v1/matches/{m['id']}/accept", headers=who.headers)
        ).status_code == 200
    assert await run(app, followthrough.expire, utcnow() + timedelta(days=30)) == 0
    async with make_sessionmaker(app.state.engine)() as s:
        match = await s.get(Match, m["id"])
        assert match is not None and match.status == "connected"
        assert match.first_contact_seconds is not None and match.first_contact_seconds >= 0


async def test_decline_with_a_reason_from_the_list(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True, locale="en")
    seeker = await make_user(app, client, "seeker", locale="en")
    coordinator = await make_user(app, client, "coordinator", locale="en")
    await offer(client, volunteer)
    n = await need(client, seeker)
    (m,) = await matches_of(client, seeker)
    url = f"/api/v1/matches/{m['id']}/decline"
    for bad in ({"reason": "busy"}, {"reason": 3}, {"reason": "too_far", "note": "x" * 501}):
        r = await client.post(url, headers=volunteer.headers, json=bad)
        assert r.status_code == 422, (bad, r.text)
    assert (await matches_of(client, seeker))[0]["status"] == "proposed"  # nothing changed
    r = await client.post(
        url, headers=volunteer.headers, json={"reason": "too_far", "note": " 40 km "}
    )
    assert r.status_code == 200 and r.json()["status"] == "declined"
    assert r.json()["decline_reason"] == "too_far"
    async with make_sessionmaker(app.state.engine)() as s:
        match = await s.get(Match, m["id"])
        assert match is not None and match.decline_note == "40 km"
    # The coordinators see the reason on the post's matches page.
    async with browser(app, coordinator) as c:
        page = await c.get(f"/posts/{n['id']}/matches")
        assert page.status_code == 200 and "It is too far away" in page.text


async def test_decline_through_the_page_with_a_reason(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True, locale="en")
    seeker = await make_user(app, client, "seeker", locale="en")
    await offer(client, volunteer)
    await need(client, seeker)
    (m,) = await matches_of(client, seeker)
    async with browser(app, seeker) as c:
        page = await c.get(f"/matches/{m['id']}")
        assert 'name="reason"' in page.text and "We do not share a language" in page.text
        csrf = csrf_of(page.text)
        bad = await c.post(
            f"/matches/{m['id']}/decline", data={"csrf_token": csrf, "reason": "busy"}
        )
        assert bad.status_code == 422
        r = await c.post(
            f"/matches/{m['id']}/decline", data={"csrf_token": csrf, "reason": "language"}
        )
        assert r.status_code == 303
    (after,) = await matches_of(client, seeker)
    assert after["status"] == "declined" and after["decline_reason"] == "language"


async def _connected(client: httpx.AsyncClient, app: Any) -> tuple[Actor, Actor, str]:
    volunteer = await make_user(app, client, "volunteer", approved=True, locale="en")
    seeker = await make_user(app, client, "seeker", locale="en")
    await offer(client, volunteer)
    await need(client, seeker)
    (m,) = await matches_of(client, seeker)
    for who in (seeker, volunteer):
        assert (
            await client.post(f"/api/v1/matches/{m['id']}/accept", headers=who.headers)
        ).status_code == 200
    return volunteer, seeker, m["id"]


async def test_did_you_meet_links_record_once(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    volunteer, seeker, match_id = await _connected(client, app)
    await mailbox.wait_for(seeker.email, count=2)
    start = utcnow()
    assert await run(app, followthrough.ask_outcome, start + timedelta(days=6)) == 0
    at = start + timedelta(days=7, hours=1)
    results = await asyncio.gather(*(run(app, followthrough.ask_outcome, at) for _ in range(2)))
    assert sorted(results) in ([0, 1], [1, 1])
    assert await run(app, followthrough.ask_outcome, at + timedelta(days=1)) == 0
    mails = await settle(app, mailbox, seeker.email, 3)
    asks = [x for x in mails if x.subject == "Did you meet?"]
    assert len(asks) == 1 and len(mails) == 3  # one question, even with two runs at once
    yes = re.search(r"http://testserver(/matches/\S+/met\?token=\S+&met=1)", asks[0].text).group(1)
    no = re.search(r"http://testserver(/matches/\S+/met\?token=\S+&met=0)", asks[0].text).group(1)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anon:
        # Opening both links (a mail scanner) records nothing.
        page_yes = await anon.get(yes)
        assert page_yes.status_code == 200 and (await anon.get(no)).status_code == 200
        seen = (await client.get(f"/api/v1/matches/{match_id}", headers=seeker.headers)).json()
        assert seen["outcome"] == {"mine": None, "partner": None}
        r = await anon.post(
            f"/matches/{match_id}/met", data=form_fields(page_yes.text) | {"met": "1"}
        )
        assert r.status_code == 303
        # A second click is answered clearly and changes nothing.
        again = await anon.post(
            f"/matches/{match_id}/met", data=form_fields(page_yes.text) | {"met": "0"}
        )
        assert again.status_code == 409
        forged = await anon.get(f"/matches/{match_id}/met?token=forged&met=1")
        assert forged.status_code == 422
    mine = (await client.get(f"/api/v1/matches/{match_id}", headers=seeker.headers)).json()[
        "outcome"
    ]
    assert mine["mine"]["met"] is True and mine["mine"]["at"] and mine["partner"] is None
    theirs = (await client.get(f"/api/v1/matches/{match_id}", headers=volunteer.headers)).json()[
        "outcome"
    ]
    assert theirs["partner"]["met"] is True and theirs["mine"] is None

    # The API does the same for a party; twice is 409; bad input 422; strangers 404.
    url = f"/api/v1/matches/{match_id}/outcome"
    assert (
        await client.post(url, headers=volunteer.headers, json={"met": "yes"})
    ).status_code == 422
    stranger = await make_user(app, client, "seeker")
    assert (await client.post(url, headers=stranger.headers, json={"met": True})).status_code == 404
    r = await client.post(url, headers=volunteer.headers, json={"met": False, "note": "Next week"})
    assert r.status_code == 200 and r.json()["outcome"]["mine"]["met"] is False
    assert (
        await client.post(url, headers=volunteer.headers, json={"met": True})
    ).status_code == 409
    assert (await client.post(url, headers=seeker.headers, json={"met": False})).status_code == 409


async def test_outcome_of_an_ended_match_is_409(client: httpx.AsyncClient, app: Any) -> None:
    volunteer, seeker, match_id = await _connected(client, app)
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        await s.execute(update(Match).where(Match.id == match_id).values(status="closed"))
    r = await client.post(
        f"/api/v1/matches/{match_id}/outcome", headers=seeker.headers, json={"met": True}
    )
    assert r.status_code == 409
    seen = (await client.get(f"/api/v1/matches/{match_id}", headers=volunteer.headers)).json()
    assert seen["outcome"] == {"mine": None, "partner": None}


async def test_anlauf_tick_at_moves_the_clock(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    """From outside: `anlauf tick --at` (a separate process) reminds at 48 h and expires at 7 days."""
    from tests.market.test_tick import _tick

    volunteer = await make_user(app, client, "volunteer", approved=True, locale="en")
    seeker = await make_user(app, client, "seeker", locale="en")
    await offer(client, volunteer)
    await need(client, seeker)
    (m,) = await matches_of(client, seeker)
    await mailbox.wait_for(volunteer.email)
    await app.state.relay.stop()  # only the tick's own process delivers from here
    mailbox.clear()
    start = utcnow()
    code, out, err = await _tick(
        app.state.settings, "--at", (start + timedelta(hours=49)).isoformat()
    )
    assert code == 0, err
    assert "match_reminders: 1" in out and "matches_expired: 0" in out
    assert sorted(x.to for x in mailbox.messages) == sorted([volunteer.email, seeker.email])
    code, out, err = await _tick(
        app.state.settings, "--at", (start + timedelta(days=7, hours=1)).isoformat()
    )
    assert code == 0, err
    assert "matches_expired: 1" in out and "match_reminders: 0" in out
    (after,) = await matches_of(client, seeker)
    assert after["id"] == m["id"] and after["status"] == "expired"
