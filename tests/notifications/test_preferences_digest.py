"""Mail preferences (immediately, daily digest, off) through the API and the page, and the digest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from market.accounts.models import User
from market.db import make_sessionmaker, utcnow
from market.inbox import digest
from market.worker import WorkerSettings
from tests.factories import make_user
from tests.market.conversations.helpers import connected_match, csrf_of, post_form, write
from tests.market.organisations.helpers import apply, posting, volunteer
from tests.pages import browser
from tests.smtp import SmtpServer

PREFS = "/api/v1/me/notifications/preferences"
SWITCHABLE = [
    "message.new",
    "application.received",
    "application.accepted",
    "application.declined",
    "vetting.approved",
    "vetting.rejected",
]
FIXED = ["match.proposed", "match.connected", "account.security"]


async def _put(client: httpx.AsyncClient, actor: Any, **choices: str) -> httpx.Response:
    return await client.put(PREFS, headers=actor.headers, json={"preferences": choices})


async def test_preferences_api_defaults_updates_and_validation(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await make_user(app, client, "volunteer")
    r = await client.get(PREFS, headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["preferences"] == dict.fromkeys(FIXED + SWITCHABLE, "immediate")
    assert body["fixed"] == FIXED and body["modes"] == ["immediate", "digest", "off"]
    assert body["digest"] == {"time": "07:00", "timezone": "Europe/Berlin"}

    r = await client.put(
        PREFS,
        headers=user.headers,
        json={"preferences": {"message.new": "digest", "vetting.approved": "off"}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["preferences"]["message.new"] == "digest"
    assert r.json()["preferences"]["vetting.approved"] == "off"
    # A partial update leaves the rest; back to immediate works too.
    r = await _put(client, user, **{"vetting.approved": "immediate"})
    prefs = r.json()["preferences"]
    assert prefs["message.new"] == "digest" and prefs["vetting.approved"] == "immediate"
    assert (await client.get(PREFS, headers=user.headers)).json()["preferences"] == prefs

    for bad, field in (
        ({"match.proposed": "off"}, "preferences.match.proposed"),
        ({"account.security": "digest"}, "preferences.account.security"),
        ({"message.new": "sometimes"}, "preferences.message.new"),
        ({"no.such.kind": "off"}, "preferences.no.such.kind"),
    ):
        r = await client.put(PREFS, headers=user.headers, json={"preferences": bad})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field
    assert (
        await client.put(PREFS, headers=user.headers, json={"message.new": "off"})
    ).status_code == 422
    assert (await _put(client, user, **{"match.connected": "immediate"})).status_code == 200
    assert (await client.get(PREFS, headers=user.headers)).json()["preferences"] == prefs
    assert (await client.get(PREFS)).status_code == 401
    assert (await client.put(PREFS, json={"preferences": {}})).status_code == 401


async def test_mail_honours_preferences_but_match_mail_always_goes(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    owner = await make_user(app, client, "organisation")
    assert (await _put(client, owner, **{"application.received": "off"})).status_code == 200
    post = await posting(client, owner)
    mailbox.clear()
    helper = await volunteer(app, client)
    assert (await apply(client, helper, post["id"])).status_code == 201
    await app.state.relay.drain()
    assert mailbox.to(owner.email) == []
    r = await client.get("/api/v1/notifications", headers=owner.headers)
    assert [i["kind"] for i in r.json()["items"]] == ["application.received"]  # in the app still

    # "digest": not now either.
    assert (await _put(client, owner, **{"application.received": "digest"})).status_code == 200
    other = await volunteer(app, client)
    assert (await apply(client, other, post["id"])).status_code == 201
    await app.state.relay.drain()
    assert mailbox.to(owner.email) == []

    # Match mail cannot be switched off and arrives whatever else is chosen.
    mailbox.clear()
    vol, seeker, _match_id, _cid = await connected_match(client, app)
    assert len(mailbox.to(seeker.email)) == 2 and len(mailbox.to(vol.email)) == 2


async def _set_mode(app: Any, actor: Any, client: httpx.AsyncClient, **choices: str) -> None:
    r = await _put(client, actor, **choices)
    assert r.status_code == 200, r.text


async def test_daily_digest_collects_what_was_chosen_once_a_day(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    vol, seeker, match_id, cid = await connected_match(client, app, seeker_locale="en")
    await _set_mode(app, seeker, client, **{"message.new": "digest"})
    mailbox.clear()
    assert (await write(client, vol, cid, "Hallo")).status_code == 201
    assert (await write(client, vol, cid, "Noch etwas")).status_code == 201
    await app.state.relay.drain()
    assert mailbox.to(seeker.email) == []  # no mail now

    maker = app.state.sessionmaker
    settings = app.state.settings
    later = utcnow() + digest.SETTLE + timedelta(seconds=1)
    result = await digest.run(maker, settings, now=later, kick=app.state.relay.kick)
    assert result == {"queued": 1}  # one digest job for the seeker
    (mail,) = await mailbox.wait_for(seeker.email)
    assert mail.subject == "Your day in Anlauf: 1 new notification"
    assert "2 new messages from Vera Volunteer" in mail.text
    assert f"http://testserver/matches/{match_id}#messages" in mail.text
    assert "http://testserver/account/notifications" in mail.text
    assert "2 new messages from Vera Volunteer" in mail.html
    # The volunteer chose nothing for the digest: no digest for them.
    assert mailbox.to(vol.email) == []

    # Again the same day (a second worker, a restart): nothing more. Half an hour later, or just
    # before the next day starts at 07:00 Berlin when that comes sooner (run from 06:25 on, the
    # half hour was the next day's first run, which rightly queues that day's digest).
    same_day = max(
        later, min(later + timedelta(minutes=30), digest.next_run(later) - timedelta(seconds=1))
    )
    assert digest.period_start(same_day) == digest.period_start(later)
    again = await digest.run(maker, settings, now=same_day)
    assert again == {"queued": 0}
    # Even a second job for the same day (two workers fanned out at once) sends nothing.
    await digest.run(maker, settings, now=later - timedelta(days=1), kick=app.state.relay.kick)
    async with maker() as session, session.begin():
        assert not await digest.send_one(session, settings, seeker.id, later)
    await app.state.relay.drain()
    assert len(mailbox.to(seeker.email)) == 1

    # Next day: only what is new since (after the first digest's window, which this test put
    # a second into the future).
    await asyncio.sleep(1.2)
    await client.get(f"/api/v1/conversations/{cid}/messages", headers=seeker.headers)
    assert (await write(client, vol, cid, "Morgen?")).status_code == 201
    tomorrow = later + timedelta(days=1)
    assert (await digest.run(maker, settings, now=tomorrow, kick=app.state.relay.kick)) == {
        "queued": 1
    }
    mails = await mailbox.wait_for(seeker.email, count=2)
    assert "New message from Vera Volunteer" in mails[1].text
    assert "2 new messages" not in mails[1].text
    # A day with nothing new: the job runs, no mail.
    await digest.run(maker, settings, now=tomorrow + timedelta(days=1), kick=app.state.relay.kick)
    await app.state.relay.drain()
    assert len(mailbox.to(seeker.email)) == 2


async def test_digest_skips_unverified_and_deleted_and_off(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    vol, seeker, _match_id, cid = await connected_match(client, app)
    await _set_mode(app, seeker, client, **{"message.new": "digest"})
    await _set_mode(app, vol, client, **{"message.new": "off"})
    assert (await write(client, vol, cid, "Hallo")).status_code == 201
    assert (await write(client, seeker, cid, "Hallo zurück")).status_code == 201
    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        await session.execute(
            update(User).where(User.id == seeker.id).values(email_verified_at=None)
        )
    mailbox.clear()
    later = utcnow() + digest.SETTLE + timedelta(seconds=1)
    await digest.run(
        app.state.sessionmaker, app.state.settings, now=later, kick=app.state.relay.kick
    )
    await app.state.relay.drain()
    assert mailbox.messages == []


def test_digest_day_starts_at_seven_in_berlin_across_daylight_saving() -> None:
    # Winter (UTC+1): 07:00 Berlin is 06:00 UTC.
    assert digest.period_start(datetime(2026, 1, 15, 6, 30, tzinfo=UTC)) == datetime(
        2026, 1, 15, 6, 0, tzinfo=UTC
    )
    assert digest.period_start(datetime(2026, 1, 15, 5, 59, tzinfo=UTC)) == datetime(
        2026, 1, 14, 6, 0, tzinfo=UTC
    )
    # Summer (UTC+2): 05:00 UTC.
    assert digest.period_start(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == datetime(
        2026, 7, 1, 5, 0, tzinfo=UTC
    )
    # The night the clocks go forward (29 March 2026) the next run is still 07:00 local.
    assert digest.next_run(datetime(2026, 3, 28, 12, 0, tzinfo=UTC)) == datetime(
        2026, 3, 29, 5, 0, tzinfo=UTC
    )
    assert digest.next_run(datetime(2026, 10, 24, 12, 0, tzinfo=UTC)) == datetime(
        2026, 10, 25, 6, 0, tzinfo=UTC
    )


def test_worker_runs_the_digest_hourly_in_berlin_time() -> None:
    jobs = {job.name: job for job in WorkerSettings.cron_jobs}
    job = jobs["cron:digest"]
    # Hourly (the 07:00 Berlin run sends the day's digests; later runs make up missed ones).
    assert job.hour is None and job.minute == {0} and job.unique and job.run_at_startup
    assert str(WorkerSettings.timezone) == "Europe/Berlin"
    # No cron job may outlast the job timeout: arq sizes the "in progress" marker, and so the
    # retry of a crashed worker's mails, by the longest one.
    assert all(j.timeout_s is None for j in WorkerSettings.cron_jobs)
    assert "send_digest" in {f.name for f in WorkerSettings.functions}


async def test_preferences_page_shows_fixed_kinds_and_saves_without_javascript(
    client: httpx.AsyncClient, app: Any
) -> None:
    user = await make_user(app, client, "seeker")
    async with browser(app, user) as c:
        page = await c.get("/account/notifications?lang=en")
        assert page.status_code == 200
        html = page.text
        assert "cannot be switched off" in html
        assert 'name="mode:match.proposed"' not in html  # fixed: no choice offered
        assert 'name="mode:message.new" value="digest"' in html
        r = await post_form(
            c,
            "/account/notifications",
            "/account/notifications",
            **{"mode:message.new": "digest", "mode:vetting.rejected": "off"},
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/account/notifications")
        page = await c.get(r.headers["location"])
        assert 'name="mode:message.new" value="digest" checked' in page.text
        assert 'name="mode:vetting.rejected" value="off" checked' in page.text
        # A hand-made form cannot switch off match mail.
        r = await c.post(
            "/account/notifications",
            data={"csrf_token": csrf_of(page.text), "mode:match.proposed": "off"},
        )
        assert r.status_code == 303
        # Without the CSRF token nothing changes.
        r = await c.post("/account/notifications", data={"mode:message.new": "off"})
        assert r.status_code == 403
    prefs = (await client.get(PREFS, headers=user.headers)).json()["preferences"]
    assert prefs["message.new"] == "digest" and prefs["vetting.rejected"] == "off"
    assert prefs["match.proposed"] == "immediate"
    anonymous = await client.get("/account/notifications")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
