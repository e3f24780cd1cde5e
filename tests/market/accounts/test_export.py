"""The data export holds everything API.md lists (Release 2, Accounts and personal data),
checked section by section against what the tables hold for a busy person, and no secrets."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts import export
from market.accounts.models import AccountToken, ApiToken, User, WebSession
from market.conversations.models import Message, Participant
from market.db import make_sessionmaker
from market.matches.models import Match
from market.organisations.models import Application, OrganisationMember
from market.posts.models import Post
from market.vetting.models import Report, VettingDecision
from notifications.models import Notification
from tests.market.accounts import busy as b
from tests.pages import browser

LISTED = (
    "profile",
    "languages",
    "posts",
    "matches",
    "conversations",
    "messages",
    "notifications",
    "reports",
    "applications",
    "organisations",
    "vetting_decisions",
    "sessions",
    "tokens",
)


async def _ids(s: AsyncSession, stmt: Any) -> list[str]:
    return sorted(str(i) for i in await s.scalars(stmt))


def _sorted_ids(items: list[dict[str, Any]]) -> list[str]:
    return sorted(str(i["id"]) for i in items)


async def test_export_holds_every_listed_item_of_a_busy_person(
    client: httpx.AsyncClient, app: Any
) -> None:
    busy = await b.build(client, app)
    r = await client.get("/api/v1/me/export", headers=busy.person.headers)
    assert r.status_code == 200, r.text
    data = r.json()
    uid = busy.person.id
    assert set(LISTED) <= data.keys()
    for name in LISTED:
        assert data[name], f"the busy person has {name}, the export shows none"

    async with make_sessionmaker(app.state.engine)() as s:
        user = await s.get(User, uid)
        assert user is not None
        assert (data["profile"]["id"], data["profile"]["email"]) == (uid, b.EMAIL)
        assert data["profile"]["display_name"] == b.NAME
        assert data["languages"] == [{"code": x.code, "level": x.level} for x in user.languages]

        assert _sorted_ids(data["posts"]) == await _ids(
            s, select(Post.id).where(Post.author_id == uid)
        )
        assert sorted(busy.offer_ids) == _sorted_ids(data["posts"])

        # Matches: each one, with its status, the partner's name and reasons.
        mine = or_(Match.volunteer_id == uid, Match.need_author_id == uid)
        rows = {m.id: m for m in await s.scalars(select(Match).where(mine))}
        assert _sorted_ids(data["matches"]) == sorted(rows) == busy.match_ids
        for item in data["matches"]:
            match = rows[item["id"]]
            assert item["status"] == match.status
            partner = await s.get(User, match.need_author_id)
            assert partner is not None and item["partner"]["display_name"] == partner.display_name
            assert item["reasons"] and all(isinstance(x, str) for x in item["reasons"])
        assert {m["status"] for m in data["matches"]} == {"connected", "declined", "proposed"}

        # Conversations with everybody's messages; the person's own messages once more.
        conversations = await _ids(
            s, select(Participant.conversation_id).where(Participant.user_id == uid)
        )
        assert _sorted_ids(data["conversations"]) == conversations
        assert set(busy.conversation_ids) <= set(conversations)
        for conversation in data["conversations"]:
            in_db = await _ids(
                s, select(Message.id).where(Message.conversation_id == conversation["id"])
            )
            assert _sorted_ids(conversation["messages"]) == in_db
        (talk,) = [c for c in data["conversations"] if c["id"] in busy.conversation_ids]
        assert [m["from_me"] for m in talk["messages"]] == [True, False]
        assert talk["messages"][1]["author"] == "Seeker 0"
        assert _sorted_ids(data["messages"]) == await _ids(
            s, select(Message.id).where(Message.author_id == uid)
        )

        assert _sorted_ids(data["notifications"]) == await _ids(
            s, select(Notification.id).where(Notification.user_id == uid)
        )
        assert data["notification_preferences"]["message.new"] == "digest"

        assert (
            _sorted_ids(data["reports"])
            == await _ids(s, select(Report.id).where(Report.reporter_id == uid))
            == busy.report_ids
        )
        assert data["reports"][0]["reason"] == f"Seltsam, sagt {b.NAME}"

        assert (
            _sorted_ids(data["applications"])
            == await _ids(s, select(Application.id).where(Application.volunteer_id == uid))
            == sorted(busy.application_ids)
        )

        assert (
            sorted(m["organisation"]["id"] for m in data["organisations"])
            == await _ids(
                s,
                select(OrganisationMember.organisation_id).where(OrganisationMember.user_id == uid),
            )
            == busy.organisation_ids
        )

        decisions = {
            d.id: d
            for d in await s.scalars(
                select(VettingDecision).where(VettingDecision.volunteer_id == uid)
            )
        }
        assert (
            _sorted_ids(data["vetting_decisions"]) == sorted(decisions) == sorted(busy.decision_ids)
        )
        for item in data["vetting_decisions"]:
            d = decisions[item["id"]]
            assert (
                item["checklist"]
                == {
                    "identity": d.identity,
                    "interview": d.interview,
                    "code_of_conduct": d.code_of_conduct,
                }
                == dict.fromkeys(("identity", "interview", "code_of_conduct"), True)
            )
            assert item["created_at"] == d.created_at.isoformat()
            assert item["police_certificate_until"] == d.police_certificate_until.isoformat()

        sessions = list(await s.scalars(select(WebSession).where(WebSession.user_id == uid)))
        tokens = list(await s.scalars(select(ApiToken).where(ApiToken.user_id == uid)))
        assert len(data["sessions"]) == len(sessions) == 1
        assert data["sessions"][0]["created_at"] == sessions[0].created_at.isoformat()
        assert len(data["tokens"]) == len(tokens) == busy.token_count
        assert all(t["created_at"] and "last_used_at" in t for t in data["tokens"])
        links = list(await s.scalars(select(AccountToken).where(AccountToken.user_id == uid)))
        assert len(data["mailed_links"]) == len(links) == 1

        # No secret, no hash: not a session key, token key, CSRF token or the password hash.
        secrets = {x.id for x in sessions} | {x.csrf_token for x in sessions}
        secrets |= {x.id for x in tokens} | {x.id for x in links} | {user.password_hash or ""}
        dump = json.dumps(data)
        assert not [x for x in secrets if x and x in dump]


async def test_the_download_page_gives_the_same_export(client: httpx.AsyncClient, app: Any) -> None:
    busy = await b.build(client, app)
    api = (await client.get("/api/v1/me/export", headers=busy.person.headers)).json()
    async with browser(app, busy.person) as page:
        r = await page.get("/account/export")
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    downloaded = r.json()
    assert list(downloaded) == list(api)
    for name in LISTED:
        if name not in ("sessions", "tokens"):  # the page's login adds one of each
            assert downloaded[name] == api[name], name


async def test_export_holds_certificate_dates_and_directory_referrals(
    client: httpx.AsyncClient, app: Any
) -> None:
    """The certificate's own date and the day it was seen (0012), and services suggested to
    the person or by the person (directory_referrals), each from the rows."""
    from datetime import date

    from market.directory.models import Entry, Referral

    busy = await b.build(client, app)
    uid = busy.person.id
    async with make_sessionmaker(app.state.engine)() as s:
        decision = await s.get(VettingDecision, busy.decision_ids[0])
        assert decision is not None
        decision.police_certificate_issued_on = date(2026, 3, 2)
        decision.police_certificate_seen_on = date(2026, 4, 7)
        entry = Entry(kind="service", name="Tafel Mitte", address="Weg 1", lat=52.5, lon=13.4)
        s.add(entry)
        await s.flush()
        s.add(Referral(entry_id=entry.id, to_user_id=uid, from_user_id=None, note="Ask Anna"))
        s.add(Referral(entry_id=entry.id, to_user_id=busy.seekers[0].id, from_user_id=uid))
        await s.commit()

    r = await client.get("/api/v1/me/export", headers=busy.person.headers)
    assert r.status_code == 200, r.text
    data = r.json()
    (item,) = [d for d in data["vetting_decisions"] if d["id"] == busy.decision_ids[0]]
    assert item["police_certificate_issued_on"] == "2026-03-02"
    assert item["police_certificate_seen_on"] == "2026-04-07"
    referrals = data["directory_referrals"]
    assert sorted((x["direction"], x["service_name"], x["note"]) for x in referrals) == [
        ("received", "Tafel Mitte", "Ask Anna"),
        ("sent", "Tafel Mitte", ""),
    ]
    # Who received the person's suggestion is that person's data.
    assert busy.seekers[0].id not in json.dumps(referrals)


def test_sections_are_one_explicit_list() -> None:
    """The export is the registry's one list (market/features.py `exports=`), which holds
    every section API.md names; no section depends on an import having happened."""
    from market.features import registry

    names = list(registry().export_sections)
    assert [name for name, _ in export.SECTIONS] == names
    assert len(names) == len(set(names))
    assert set(LISTED) <= set(names)
    assert set(export.REQUIRED) <= set(LISTED)
