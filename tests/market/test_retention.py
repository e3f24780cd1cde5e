"""Retention rules with time moved by `now`: needs that may be stale.

Mails are read through the real SMTP test server; each rule runs on PostgreSQL and SQLite.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from market import maintenance
from market.db import utcnow
from market.posts.models import Post
from market.retention import NeedConfirmation
from tests.factories import make_user, post_body
from tests.smtp import SmtpServer


async def every_mail_out(app: Any) -> None:
    """Hand over every mail still pending and wait until it is out: what sleeping past the
    relay's grace did, without the wait (`anlauf tick` sweeps without a grace too). A mail
    that should not exist is then in the mailbox, not still on its way."""
    relay = app.state.relay
    relay.grace = timedelta(0)
    await relay.sweep()
    await relay.drain()


async def _need(app: Any, client: httpx.AsyncClient, locale: str = "en") -> tuple[Any, str]:
    seeker = await make_user(app, client, "seeker", locale=locale)
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "published"
    return seeker, r.json()["id"]


async def _status(app: Any, post_id: str) -> str:
    async with app.state.sessionmaker() as s:
        return str(await s.scalar(select(Post.status).where(Post.id == post_id)))


async def test_stale_need_asked_once_then_closed_with_a_mail(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    seeker, need_id = await _need(app, client)
    sm, settings = app.state.sessionmaker, app.state.settings
    start = utcnow()

    # 29 days: not yet.
    assert (await maintenance.run(sm, settings, now=start + timedelta(days=29)))[
        "needs_asked_to_confirm"
    ] == 0
    # 30 days: asked, once, by mail (plain and HTML) and in the app.
    at30 = start + timedelta(days=30, hours=1)
    assert (await maintenance.run(sm, settings, now=at30))["needs_asked_to_confirm"] == 1
    assert (await maintenance.run(sm, settings, now=at30 + timedelta(days=1)))[
        "needs_asked_to_confirm"
    ] == 0
    (mail,) = await mailbox.wait_for(seeker.email, timeout=15)
    assert "Is this still needed?" in mail.subject
    assert "/still-needed?token=" in mail.text and "/still-needed?token=" in mail.html
    notes = (await client.get("/api/v1/notifications", headers=seeker.headers)).json()["items"]
    assert [n["kind"] for n in notes].count("need.confirm") == 1

    # 36 days: still open; 37 days: closed, and the author is told.
    assert (await maintenance.run(sm, settings, now=at30 + timedelta(days=6)))[
        "needs_closed_unconfirmed"
    ] == 0
    assert await _status(app, need_id) == "published"
    counts = await maintenance.run(sm, settings, now=at30 + timedelta(days=7, minutes=1))
    assert counts["needs_closed_unconfirmed"] == 1
    assert await _status(app, need_id) == "closed"
    mails = await mailbox.wait_for(seeker.email, count=2, timeout=15)
    closed = [m for m in mails if "was closed" in m.subject]
    assert len(closed) == 1 and closed[0].html
    # Later ticks neither ask nor close it again.
    later = await maintenance.run(sm, settings, now=at30 + timedelta(days=60))
    assert later["needs_asked_to_confirm"] == 0 and later["needs_closed_unconfirmed"] == 0
    await every_mail_out(app)
    assert len([m for m in mailbox.messages if m.to == seeker.email]) == 2


async def test_confirm_link_asks_first_works_once_and_keeps_the_need(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    seeker, need_id = await _need(app, client, locale="de")
    sm, settings = app.state.sessionmaker, app.state.settings
    at30 = utcnow() + timedelta(days=30, hours=1)
    await maintenance.run(sm, settings, now=at30)
    (mail,) = await mailbox.wait_for(seeker.email, timeout=15)
    assert "Wird das noch gebraucht?" in mail.subject  # the author's language
    link = re.search(r"http://testserver(/needs/\S+/still-needed\?token=\S+)", mail.text).group(1)

    # Opening the link (as a mail scanner does) changes nothing: a page with a button.
    page = await client.get(link)
    assert page.status_code == 200 and "<form" in page.text
    async with sm() as s:
        assert (await s.get(NeedConfirmation, need_id)).asked_at is not None
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": csrf, "token": token}
    done = await client.post(f"/needs/{need_id}/still-needed", data=form)
    assert done.status_code == 200 and "bleibt online" in done.text
    # Once: the second press and the old link answer clearly and change nothing.
    again = await client.post(f"/needs/{need_id}/still-needed", data=form)
    assert again.status_code == 409
    assert (await client.get(link)).status_code == 409
    forged = await client.get(f"/needs/{need_id}/still-needed?token=forged")
    assert forged.status_code == 409

    # Confirmed: not closed at 37 days, asked again only 30 days after the answer.
    counts = await maintenance.run(sm, settings, now=at30 + timedelta(days=8))
    assert counts["needs_closed_unconfirmed"] == 0 and counts["needs_asked_to_confirm"] == 0
    assert await _status(app, need_id) == "published"
    assert (await maintenance.run(sm, settings, now=at30 + timedelta(days=30, hours=1)))[
        "needs_asked_to_confirm"
    ] == 1


async def test_need_with_a_match_is_not_asked(client: httpx.AsyncClient, app: Any) -> None:
    _seeker, need_id = await _need(app, client)
    volunteer = await make_user(app, client, "volunteer", approved=True)
    await client.post("/api/v1/posts", headers=volunteer.headers, json=post_body(kind="offer"))
    counts = await maintenance.run(
        app.state.sessionmaker, app.state.settings, now=utcnow() + timedelta(days=31)
    )
    assert counts["needs_asked_to_confirm"] == 0
    assert await _status(app, need_id) == "published"


async def test_two_ticks_at_once_ask_and_close_once(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    seeker, need_id = await _need(app, client)
    sm, settings = app.state.sessionmaker, app.state.settings
    at30 = utcnow() + timedelta(days=30, hours=1)
    first = await asyncio.gather(*(maintenance.run(sm, settings, now=at30) for _ in range(2)))
    assert sum(c["needs_asked_to_confirm"] for c in first) == 1
    at37 = at30 + timedelta(days=7, hours=1)
    second = await asyncio.gather(*(maintenance.run(sm, settings, now=at37) for _ in range(2)))
    assert sum(c["needs_closed_unconfirmed"] for c in second) == 1
    await mailbox.wait_for(seeker.email, count=2, timeout=15)
    await every_mail_out(app)
    subjects = [m.subject for m in mailbox.messages if m.to == seeker.email]
    assert len(subjects) == 2, subjects
    assert await _status(app, need_id) == "closed"


# --- Inactive accounts


async def _user_row(app: Any, user_id: str) -> Any:
    from market.accounts.models import User

    async with app.state.sessionmaker() as s:
        return await s.get(User, user_id)


async def test_inactive_account_warned_at_30_and_7_days_then_erased(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    from market.retention import add_months

    person = await make_user(app, client, "seeker", locale="en")
    coordinator = await make_user(app, client, "coordinator", locale="de")
    sm, settings = app.state.sessionmaker, app.state.settings
    assert settings.inactive_months == 24
    deadline = add_months(utcnow(), 24)

    def run(at: Any) -> Any:
        return maintenance.run(sm, settings, now=at)

    assert (await run(deadline - timedelta(days=31)))["inactive_accounts"] == 0
    # Two ticks at once warn once each.
    first = await asyncio.gather(
        run(deadline - timedelta(days=30)), run(deadline - timedelta(days=30))
    )
    assert sum(c["inactive_accounts"] for c in first) == 2  # the person and the coordinator
    (warning,) = await mailbox.wait_for(person.email, timeout=15)
    assert "delete your account" in warning.text and "delete your account" in warning.html
    assert deadline.date().isoformat() in warning.text
    (staff_warning,) = await mailbox.wait_for(coordinator.email, timeout=15)
    assert "nicht automatisch gelöscht" in staff_warning.text  # staff: warned, not deleted
    assert (await run(deadline - timedelta(days=20)))["inactive_accounts"] == 0

    assert (await run(deadline - timedelta(days=6)))["inactive_accounts"] == 2
    assert len(await mailbox.wait_for(person.email, count=2, timeout=15)) == 2
    assert (await _user_row(app, person.id)).deleted_at is None

    # After the period: erased as by DELETE /me; the coordinator stays.
    assert (await run(deadline + timedelta(hours=1)))["inactive_accounts"] == 1
    gone = await _user_row(app, person.id)
    assert gone.deleted_at is not None and gone.email.endswith("@invalid")
    assert (await client.get("/api/v1/me", headers=person.headers)).status_code == 401
    assert (await _user_row(app, coordinator.id)).deleted_at is None
    assert (await run(deadline + timedelta(days=400)))["inactive_accounts"] == 0
    await every_mail_out(app)
    assert len([m for m in mailbox.messages if m.to == person.email]) == 2


async def test_activity_after_a_warning_starts_the_period_again(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    from sqlalchemy import update

    from market.accounts.models import ApiToken
    from market.retention import add_months

    person = await make_user(app, client, "volunteer", locale="en")
    sm, settings = app.state.sessionmaker, app.state.settings
    deadline = add_months(utcnow(), 24)
    assert (await maintenance.run(sm, settings, now=deadline - timedelta(days=30)))[
        "inactive_accounts"
    ] == 1
    await mailbox.wait_for(person.email, timeout=15)
    # The person uses the API a week later (time moved: the token's use is dated then).
    async with sm() as s, s.begin():
        await s.execute(
            update(ApiToken)
            .where(ApiToken.user_id == person.id)
            .values(last_used_at=deadline - timedelta(days=22))
        )
    for days in (-6, 1, 60):
        assert (await maintenance.run(sm, settings, now=deadline + timedelta(days=days)))[
            "inactive_accounts"
        ] == 0
    assert (await _user_row(app, person.id)).deleted_at is None
    await every_mail_out(app)
    assert len([m for m in mailbox.messages if m.to == person.email]) == 1


async def test_erasure_scan_passes_after_deletion_for_inactivity(
    client: httpx.AsyncClient, app: Any
) -> None:
    from market.retention import add_months
    from tests.market.accounts import busy as b
    from tests.market.accounts.test_erasure import scan

    busy = await b.build(client, app)
    sm, settings = app.state.sessionmaker, app.state.settings
    deadline = add_months(utcnow(), 24)
    for at in (
        deadline - timedelta(days=30),
        deadline - timedelta(days=6),
        deadline + timedelta(hours=1),
    ):
        await maintenance.run(sm, settings, now=at)
    assert (await _user_row(app, busy.person.id)).deleted_at is not None
    await app.state.relay.drain()
    async with sm() as s:
        assert await scan(s) == []


# --- Police-certificate facts (§ 72a SGB VIII)


async def _facts(app: Any, user_id: str) -> tuple[Any, list[Any]]:
    from market.accounts.models import User
    from market.vetting.models import VettingDecision

    async with app.state.sessionmaker() as s:
        user = await s.get(User, user_id)
        history = list(
            await s.scalars(
                select(VettingDecision.police_certificate_until).where(
                    VettingDecision.volunteer_id == user_id
                )
            )
        )
    return user.police_certificate_until, history


async def _record_decision(app: Any, user_id: str, until: Any) -> None:
    from market.vetting.models import VettingDecision

    async with app.state.sessionmaker() as s, s.begin():
        s.add(
            VettingDecision(
                volunteer_id=user_id,
                decision="approve",
                identity=True,
                interview=True,
                code_of_conduct=True,
                police_certificate_until=until,
            )
        )


async def test_certificate_facts_deleted_3_months_after_recording_without_activity(
    client: httpx.AsyncClient, app: Any
) -> None:
    from datetime import date

    from market.retention import add_months

    until = date.today() + timedelta(days=1000)
    volunteer = await make_user(app, client, "volunteer", approved=True, certificate_until=until)
    await _record_decision(app, volunteer.id, until)
    sm, settings = app.state.sessionmaker, app.state.settings
    start = utcnow()
    assert (await maintenance.run(sm, settings, now=add_months(start, 3) - timedelta(days=1)))[
        "certificate_facts_deleted"
    ] == 0
    assert await _facts(app, volunteer.id) == (until, [until])
    assert (await maintenance.run(sm, settings, now=add_months(start, 3) + timedelta(days=1)))[
        "certificate_facts_deleted"
    ] == 1
    assert await _facts(app, volunteer.id) == (None, [None])  # also gone from the history


async def test_certificate_facts_kept_6_months_after_the_last_match_needing_one(
    client: httpx.AsyncClient, app: Any
) -> None:
    from datetime import date

    from sqlalchemy import update

    from market.matches.models import Match
    from market.retention import add_months

    until = date.today() + timedelta(days=1000)
    volunteer = await make_user(app, client, "volunteer", approved=True, certificate_until=until)
    await _record_decision(app, volunteer.id, until)
    seeker = await make_user(app, client, "seeker")
    await client.post(
        "/api/v1/posts",
        headers=volunteer.headers,
        json=post_body(kind="offer", category="childcare"),
    )
    await client.post("/api/v1/posts", headers=seeker.headers, json=post_body(category="childcare"))
    sm, settings = app.state.sessionmaker, app.state.settings
    start = utcnow()

    # Kept for 6 months after that match (3 months alone would be too soon).
    assert (await maintenance.run(sm, settings, now=add_months(start, 5)))[
        "certificate_facts_deleted"
    ] == 0
    assert await _facts(app, volunteer.id) == (until, [until])
    # While a match needing it is open (posts renewed meanwhile), it is kept even after that.
    async with sm() as s, s.begin():
        await s.execute(update(Post).values(expires_at=add_months(start, 12)))
        await s.execute(
            update(Match).where(Match.volunteer_id == volunteer.id).values(status="connected")
        )
    assert (await maintenance.run(sm, settings, now=add_months(start, 7)))[
        "certificate_facts_deleted"
    ] == 0
    assert await _facts(app, volunteer.id) == (until, [until])
    async with sm() as s, s.begin():
        changed = await s.execute(
            update(Match).where(Match.volunteer_id == volunteer.id).values(status="declined")
        )
        assert changed.rowcount == 1
    assert (await maintenance.run(sm, settings, now=add_months(start, 7)))[
        "certificate_facts_deleted"
    ] == 1
    assert await _facts(app, volunteer.id) == (None, [None])
