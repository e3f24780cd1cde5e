"""Issue 12's "Done when", tried from outside: `anlauf tick --at` (separate processes, as an
operator runs it) moves time over one story, and every mail is read through the real SMTP test
server, in the five languages, each with a plain and an HTML part.

The story (times from the start): a match ignored by its volunteer is reminded at 48 h, in the
coordinators' queue with match.stalled at 5 days, expired at 7 days with match.expired to the
seeker and a proposal to the next volunteer; the volunteer, who let two proposals expire, is
paused and unpaused by the link; the "did you meet?" links of a connected match record once; a
need nobody matched is asked about at 30 days and closed 7 days later; a police certificate's
dates vanish 3 months after they were recorded. Two ticks at the same moment send each mail once.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from market.accounts.models import User
from market.db import make_sessionmaker, utcnow
from market.i18n import gettext, use_locale
from market.posts.models import Post
from market.retention import add_months
from market.vetting.models import VettingDecision
from tests.factories import make_user, post_body
from tests.market.matches.test_followthrough import form_fields, matches_of
from tests.market.test_tick import _tick
from tests.pages import browser
from tests.smtp import Received, SmtpServer


def subject(locale: str, msgid: str, **params: str) -> str:
    with use_locale(locale):
        return gettext(msgid, **params)


def check_parts(mail: Received, locale: str) -> None:
    """A plain and an HTML part, the HTML right-to-left for Arabic and Persian."""
    assert mail.text.strip() and mail.html.strip(), mail.subject
    assert (' dir="rtl"' in mail.html) is (locale in ("ar", "fa")), (locale, mail.subject)


async def tick(app: Any, at: datetime, times: int = 1) -> dict[str, int]:
    """`anlauf tick --at`, `times` processes at once; each count is the largest any printed
    (a process that came second finds the work done: the mails show each was done once)."""
    results = await asyncio.gather(
        *(_tick(app.state.settings, "--at", at.isoformat()) for _ in range(times))
    )
    for code, _, err in results:
        assert code == 0, err
    counts: dict[str, int] = {}
    for _, out, _ in results:
        for k, v in re.findall(r"^(\w+): (\d+)$", out, re.M):
            counts[k] = max(counts.get(k, 0), int(v))
    return counts


def of(mailbox: SmtpServer, who: Any, title: str) -> list[Received]:
    return [m for m in mailbox.to(who.email) if m.subject == title]


async def _post(client: httpx.AsyncClient, who: Any, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/posts", headers=who.headers, json=post_body(**body))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _room(app: Any, user_id: str, room: int) -> None:
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        await s.execute(update(User).where(User.id == user_id).values(max_open_matches=room))


async def test_done_when_from_outside(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    coordinator = await make_user(app, client, "coordinator", locale="fa")
    ignoring = await make_user(app, client, "volunteer", approved=True, locale="ar")
    seeker = await make_user(app, client, "seeker", locale="de")
    silent = await make_user(app, client, "seeker", locale="uk")
    next_one = await make_user(app, client, "volunteer", approved=True, locale="en")
    helper = await make_user(app, client, "volunteer", approved=True, locale="en")
    met = await make_user(app, client, "seeker", locale="en")
    lonely = await make_user(app, client, "seeker", locale="en")
    certified = await make_user(app, client, "volunteer", locale="de")

    await _post(client, ignoring, kind="offer", title="Ich begleite Sie zum Amt")
    n1 = await _post(client, seeker, title="Begleitung zum Jobcenter")
    n2 = await _post(client, silent, title="Begleitung zur Ausländerbehörde")
    (m1,) = await matches_of(client, seeker)
    (m2,) = await matches_of(client, silent)
    r = await client.post(f"/api/v1/matches/{m1['id']}/accept", headers=seeker.headers)
    assert r.status_code == 200
    # The next volunteer's offer waits (no room yet), so it is the next candidate at 7 days.
    await _room(app, next_one.id, 0)
    o2 = await _post(client, next_one, kind="offer", title="Ich helfe bei Behörden")
    await _room(app, next_one.id, 5)
    # A pair that connects now, asked "did you meet?" a week later.
    await _post(client, helper, kind="offer", category="digital", title="Hilfe am Handy")
    await _post(client, met, category="digital", title="Hilfe mit dem Handy")
    (d,) = await matches_of(client, met)
    for who in (met, helper):
        r = await client.post(f"/api/v1/matches/{d['id']}/accept", headers=who.headers)
        assert r.status_code == 200
    # A need nobody offers anything for.
    stale = await _post(client, lonely, category="health", title="Begleitung zum Arzt")
    assert await matches_of(client, lonely) == []
    # A police certificate recorded now, with its three dates.
    today = utcnow().date()
    r = await client.post(
        f"/api/v1/review/volunteers/{certified.id}",
        headers=coordinator.headers,
        json={
            "decision": "approve",
            "checks": {"identity": True, "interview": True, "code_of_conduct": True},
            "police_certificate_until": str(today + timedelta(days=800)),
            "police_certificate_issued_on": str(today - timedelta(days=10)),
        },
    )
    assert r.status_code == 200, r.text

    await mailbox.wait_for(ignoring.email, count=2, timeout=15)
    await app.state.relay.stop()  # from here only the ticks deliver
    mailbox.clear()
    start = utcnow()

    # 48 h, two ticks at the same moment: each reminder once.
    done = await tick(app, start + timedelta(hours=49), times=2)
    assert done["match_reminders"] == 2 and done["matches_expired"] == 0
    reminder = subject("ar", "Please answer your match suggestion")
    assert len(of(mailbox, ignoring, reminder)) == 2  # one per proposal
    (to_silent,) = of(mailbox, silent, subject("uk", "Please answer your match suggestion"))
    assert mailbox.to(seeker.email) == []  # answered already
    for mail in of(mailbox, ignoring, reminder):
        check_parts(mail, "ar")
    check_parts(to_silent, "uk")

    # 5 days: in the coordinators' queue, match.stalled once per match.
    done = await tick(app, start + timedelta(days=5, hours=1), times=2)
    assert done["matches_stalled"] == 2
    stalled = of(mailbox, coordinator, subject("fa", "A match is waiting for an answer"))
    assert len(stalled) == 2
    check_parts(stalled[0], "fa")
    async with browser(app, coordinator) as c:
        queue = await c.get("/review/waiting")
        assert queue.status_code == 200
        assert f"match-{m1['id']}" in queue.text and f"match-{m2['id']}" in queue.text

    # 7 days: expired, match.expired to the seeker who said yes, the next volunteer proposed,
    # the ignoring volunteer paused (two expiries); "did you meet?" for the connected pair.
    mailbox.clear()
    done = await tick(app, start + timedelta(days=7, hours=1), times=2)
    assert done["matches_expired"] == 2 and done["match_outcomes_asked"] == 1
    statuses = {m["id"]: m["status"] for m in await matches_of(client, seeker)}
    assert statuses[m1["id"]] == "expired"
    (ended,) = of(mailbox, seeker, subject("de", "Your match suggestion has ended"))
    check_parts(ended, "de")
    assert of(mailbox, silent, subject("uk", "Your match suggestion has ended")) == []
    proposed = [m for m in await matches_of(client, next_one) if m["status"] == "proposed"]
    assert sorted(m["need"]["id"] for m in proposed) == sorted([n1["id"], n2["id"]])
    assert all(m["offer"]["id"] == o2["id"] for m in proposed)
    assert len(of(mailbox, next_one, subject("en", "Someone may be a good match for you"))) == 2
    me = (await client.get("/api/v1/me", headers=ignoring.headers)).json()
    assert me["available"] is False
    (paused,) = of(mailbox, ignoring, subject("ar", "We paused new match suggestions for you"))
    check_parts(paused, "ar")
    link = re.search(r"http://testserver(/me/available\?token=\S+)", paused.text)
    assert link is not None
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anon:
        page = await anon.get(link.group(1))
        assert page.status_code == 200
        assert (await anon.post("/me/available", data=form_fields(page.text))).status_code == 303
        assert (await anon.post("/me/available", data=form_fields(page.text))).status_code == 422
    assert (await client.get("/api/v1/me", headers=ignoring.headers)).json()["available"] is True

    # The outcome links record once.
    asks = {who.email: of(mailbox, who, subject("en", "Did you meet?")) for who in (met, helper)}
    assert [len(x) for x in asks.values()] == [1, 1]
    check_parts(asks[met.email][0], "en")
    yes = re.search(
        r"http://testserver(/matches/\S+/met\?token=\S+&met=1)", asks[met.email][0].text
    )
    assert yes is not None
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anon:
        page = await anon.get(yes.group(1))
        assert page.status_code == 200
        r = await anon.post(f"/matches/{d['id']}/met", data=form_fields(page.text) | {"met": "1"})
        assert r.status_code == 303
        again = await anon.post(
            f"/matches/{d['id']}/met", data=form_fields(page.text) | {"met": "0"}
        )
        assert again.status_code == 409
    seen = (await client.get(f"/api/v1/matches/{d['id']}", headers=met.headers)).json()
    assert seen["outcome"]["mine"]["met"] is True

    # 30 days without a match: the author is asked; 7 days later the need is closed.
    mailbox.clear()
    done = await tick(app, start + timedelta(days=31), times=2)
    assert done["needs_asked_to_confirm"] >= 1
    title = stale["title"]
    (asked,) = of(mailbox, lonely, subject("en", "Is this still needed? %(title)s", title=title))
    check_parts(asked, "en")
    done = await tick(app, start + timedelta(days=38, hours=1))
    assert done["needs_closed_unconfirmed"] >= 1
    (closed,) = of(
        mailbox, lonely, subject("en", "Your request was closed: %(title)s", title=title)
    )
    check_parts(closed, "en")
    async with make_sessionmaker(app.state.engine)() as s:
        post = await s.get(Post, stale["id"])
        assert post is not None and post.status == "closed"

    # The certificate's three dates vanish 3 months after they were recorded.
    async def dates() -> list[tuple[Any, ...]]:
        async with make_sessionmaker(app.state.engine)() as s:
            rows = await s.execute(
                select(
                    VettingDecision.police_certificate_issued_on,
                    VettingDecision.police_certificate_seen_on,
                    VettingDecision.police_certificate_until,
                ).where(VettingDecision.volunteer_id == certified.id)
            )
            return [tuple(row) for row in rows]

    assert (await dates())[0][0] is not None
    done = await tick(app, add_months(start, 3) - timedelta(days=1))
    assert done["certificate_facts_deleted"] == 0
    done = await tick(app, add_months(start, 3) + timedelta(days=1))
    assert done["certificate_facts_deleted"] == 1
    assert await dates() == [(None, None, None)]
