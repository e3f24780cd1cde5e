"""Reopening a match tells its volunteer: a notification in the app (in the reader's language)
and a mail, so they do not wait for a meeting that will not come."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import update

from market.accounts.models import User
from market.db import make_sessionmaker
from tests.market.matches.test_followthrough import _connected, kinds
from tests.pages import browser, text_of
from tests.smtp import SmtpServer


async def test_reopening_tells_the_volunteer(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    volunteer, seeker, match_id = await _connected(client, app)
    r = await client.post(
        f"/api/v1/matches/{match_id}/outcome", headers=volunteer.headers, json={"met": False}
    )
    assert r.status_code == 200
    assert "match.reopened" not in await kinds(app, volunteer.id)
    r = await client.post(f"/api/v1/matches/{match_id}/reopen", headers=seeker.headers)
    assert r.status_code == 200, r.text

    assert (await kinds(app, volunteer.id)).count("match.reopened") == 1
    assert "match.reopened" not in await kinds(app, seeker.id)
    (mail,) = await mailbox.wait_for(volunteer.email, containing="did not happen")
    assert mail.subject == "A match was closed"
    assert f"http://testserver/matches/{match_id}" in mail.text and mail.html

    # The notification centre says it in words, in the reader's language (German too).
    for language, words in (("en", "did not work out"), ("de", "hat nicht geklappt")):
        async with make_sessionmaker(app.state.engine)() as s, s.begin():
            await s.execute(update(User).where(User.id == volunteer.id).values(locale=language))
        async with browser(app, volunteer) as c:
            r = await c.get("/notifications")
        assert r.status_code == 200 and words in text_of(r.text), language
