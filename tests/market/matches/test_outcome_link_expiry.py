"""The "Did you meet?" links last 30 days from the run that mailed them: the run's clock
(`now`, as `anlauf tick --at` passes it) stamps them, so a link mailed 31 days ago is spent
and one mailed 29 days ago still asks."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from market.db import make_sessionmaker, utcnow
from market.matches import followthrough
from market.matches.models import Match
from tests.market.matches.test_followthrough import _connected, run
from tests.smtp import SmtpServer


async def test_outcome_link_expires_after_30_days(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    volunteer, _seeker, match_id = await _connected(client, app)
    now = utcnow()
    links = []
    for days in (31, 29):  # the question asked twice, by runs 31 and 29 days ago
        async with make_sessionmaker(app.state.engine)() as s, s.begin():
            await s.execute(
                update(Match)
                .where(Match.id == match_id)
                .values(connected_at=now - timedelta(days=40), outcome_asked_at=None)
            )
        assert await run(app, followthrough.ask_outcome, now - timedelta(days=days)) == 1
        mails = await mailbox.wait_for(
            volunteer.email, count=len(links) + 1, containing="/met?token="
        )
        found = re.search(r"http://testserver(/matches/\S+?&met=0)", mails[-1].text)
        assert found, mails[-1].text
        links.append(found.group(1))
    old, fresh = links
    assert old != fresh
    assert (await client.get(fresh)).status_code == 200
    assert (await client.get(old)).status_code == 422


def test_the_token_is_checked_against_the_given_time() -> None:
    from market.settings import Settings

    settings = Settings()
    match = Match(id="m1")
    start = utcnow()
    token = followthrough.outcome_token(settings, match, "offer", start)
    at = followthrough.outcome_from_token
    assert at(settings, token, start + timedelta(days=29)) == ("m1", "offer")
    assert at(settings, token, start + timedelta(days=31)) is None
