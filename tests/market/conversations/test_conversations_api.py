"""Conversations through the JSON API (API.md, Conversations) and the "new message" news."""

from __future__ import annotations

from typing import Any

import httpx

from market.i18n import ngettext, use_locale
from tests.factories import PASSWORD, make_user
from tests.market.conversations.helpers import (
    age_last_mail,
    connected_match,
    notes_of,
    write,
)
from tests.market.organisations.helpers import apply, posting, volunteer
from tests.smtp import SmtpServer


async def _conversations(client: httpx.AsyncClient, actor: Any) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/conversations", headers=actor.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"items", "next_cursor"}
    return list(body["items"])


async def test_participants_write_read_and_see_unread_counts(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    vol, seeker, match_id, cid = await connected_match(client, app, seeker_locale="en")
    (conv,) = await _conversations(client, vol)
    assert conv["id"] == cid and conv["match_id"] == match_id and conv["application_id"] is None
    assert conv["unread"] == 0 and conv["last_message_at"] is None
    assert sorted(p["id"] for p in conv["participants"]) == sorted([vol.id, seeker.id])
    names = {p["id"]: p["display_name"] for p in conv["participants"]}
    assert names[vol.id] == "Vera Volunteer" and names[seeker.id] == "Samir Seeker"
    assert all(p["deleted"] is False for p in conv["participants"])

    mailbox.clear()
    r = await write(client, vol, cid, "Hallo! <b>Passt</b> Dienstag um 10?")
    assert r.status_code == 201, r.text
    msg = r.json()
    assert {"id", "author_id", "body", "created_at"} <= set(msg)
    assert msg["author_id"] == vol.id and msg["body"] == "Hallo! Passt Dienstag um 10?"
    assert msg["created_at"].endswith("+00:00")

    (theirs,) = await _conversations(client, seeker)
    assert theirs["unread"] == 1 and theirs["last_message_at"]
    (mine,) = await _conversations(client, vol)
    assert mine["unread"] == 0  # writing means having read

    # The seeker is told in the app, and by one mail in their language with the match link.
    (note,) = await notes_of(app, seeker.id, "message.new")
    assert note.data["conversation_id"] == cid and note.data["match_id"] == match_id
    (mail,) = await mailbox.wait_for(seeker.email)
    assert "Vera Volunteer" in mail.subject and "message" in mail.subject.lower()
    assert f"http://testserver/matches/{match_id}#messages" in mail.text
    assert "Passt Dienstag" not in mail.text  # the text itself stays in the app
    assert mailbox.to(vol.email) == []

    # Reading marks it read, and the "new message" notification too.
    r = await client.get(f"/api/v1/conversations/{cid}/messages", headers=seeker.headers)
    assert r.status_code == 200
    assert [m["body"] for m in r.json()["items"]] == ["Hallo! Passt Dienstag um 10?"]
    assert r.json()["next_cursor"] is None
    (theirs,) = await _conversations(client, seeker)
    assert theirs["unread"] == 0
    (note,) = await notes_of(app, seeker.id, "message.new")
    assert note.read_at is not None


async def test_new_message_mail_at_most_every_15_minutes_and_one_unread_entry(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    vol, seeker, _match_id, cid = await connected_match(client, app)
    mailbox.clear()
    for text in ("Eins", "Zwei", "Drei"):
        assert (await write(client, vol, cid, text)).status_code == 201
    await mailbox.wait_for(seeker.email)
    # One unread entry that counts the messages, one mail.
    (note,) = await notes_of(app, seeker.id, "message.new")
    assert note.data["count"] == 3 and note.read_at is None
    r = await client.get("/api/v1/notifications", headers=seeker.headers)
    texts = [i["text"] for i in r.json()["items"] if i["kind"] == "message.new"]
    with use_locale("de"):
        expected = ngettext(
            "New message from %(name)s",
            "%(num)d new messages from %(name)s",
            3,
            name="Vera Volunteer",
        )
    assert texts == [expected] and expected != "3 new messages from Vera Volunteer"

    # The answer goes the other way: the volunteer gets their own mail.
    assert (await write(client, seeker, cid, "Gern!")).status_code == 201
    await mailbox.wait_for(vol.email)
    await app.state.relay.drain()
    assert len(mailbox.to(seeker.email)) == 1

    # Fifteen minutes later (and still unread) the next message mails again.
    await age_last_mail(app, cid, seeker.id, minutes=16)
    assert (await write(client, vol, cid, "Vier")).status_code == 201
    await mailbox.wait_for(seeker.email, count=2)
    # Once read, the next message starts a new unread entry.
    await client.get(f"/api/v1/conversations/{cid}/messages", headers=seeker.headers)
    assert (await write(client, vol, cid, "Fünf")).status_code == 201
    notes = await notes_of(app, seeker.id, "message.new")
    assert [(n.data["count"], n.read_at is None) for n in notes] == [(4, False), (1, True)]


async def test_message_mail_follows_preferences(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    vol, seeker, _match_id, cid = await connected_match(client, app)
    r = await client.put(
        "/api/v1/me/notifications/preferences",
        headers=seeker.headers,
        json={"preferences": {"message.new": "off"}},
    )
    assert r.status_code == 200, r.text
    mailbox.clear()
    assert (await write(client, vol, cid, "Hallo")).status_code == 201
    await app.state.relay.drain()
    assert mailbox.to(seeker.email) == []
    assert len(await notes_of(app, seeker.id, "message.new")) == 1  # still in the app


async def test_only_participants_read_and_write_coordinators_read(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, _seeker, _match_id, cid = await connected_match(client, app)
    assert (await write(client, vol, cid, "Hallo")).status_code == 201
    stranger = await make_user(app, client, "seeker")
    coordinator = await make_user(app, client, "coordinator")
    url = f"/api/v1/conversations/{cid}/messages"

    for actor in (stranger,):
        assert (await client.get(url, headers=actor.headers)).status_code == 404
        assert (await write(client, actor, cid, "Hallo")).status_code == 404
        assert await _conversations(client, actor) == []
    r = await client.get(url, headers=coordinator.headers)
    assert r.status_code == 200 and [m["body"] for m in r.json()["items"]] == ["Hallo"]
    assert (await write(client, coordinator, cid, "Moderation")).status_code == 403
    assert await _conversations(client, coordinator) == []  # not theirs; reachable by id
    for u in (url, "/api/v1/conversations"):
        assert (await client.get(u)).status_code == 401
    assert (await client.post(url, json={"body": "x"})).status_code == 401
    assert (
        await client.get("/api/v1/conversations/nope/messages", headers=vol.headers)
    ).status_code == 404
    assert (await write(client, vol, "x" * 40, "Hallo")).status_code == 404


async def test_message_body_is_checked(client: httpx.AsyncClient, app: Any) -> None:
    vol, _seeker, _match_id, cid = await connected_match(client, app)
    url = f"/api/v1/conversations/{cid}/messages"
    for body, status in (
        ({"body": ""}, 422),
        ({"body": "   "}, 422),
        ({"body": "<b></b>"}, 422),
        ({"body": "x" * 4001}, 422),
        ({}, 422),
        ({"body": 5}, 422),
        ({"body": "ok", "extra": 1}, 422),
    ):
        r = await client.post(url, headers=vol.headers, json=body)
        assert r.status_code == status, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["field"] in ("body", "extra")
    r = await client.post(url, headers=vol.headers, content=b"{nope")
    assert r.status_code in (400, 415)
    assert (await write(client, vol, cid, "x" * 4000)).status_code == 201
    listed = await client.get(url, headers=vol.headers)
    assert len(listed.json()["items"]) == 1  # rejected requests changed nothing


async def test_messages_are_paginated_oldest_first(client: httpx.AsyncClient, app: Any) -> None:
    vol, seeker, _match_id, cid = await connected_match(client, app)
    for i in range(5):
        assert (await write(client, vol, cid, f"Nachricht {i}")).status_code == 201
    url = f"/api/v1/conversations/{cid}/messages"
    r = await client.get(url, params={"limit": 2}, headers=seeker.headers)
    first = r.json()
    assert [m["body"] for m in first["items"]] == ["Nachricht 0", "Nachricht 1"]
    assert first["next_cursor"]
    # Reading a page marks what it showed, not more.
    (conv,) = await _conversations(client, seeker)
    assert conv["unread"] == 3
    seen: list[str] = [m["body"] for m in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = (
            await client.get(url, params={"limit": 2, "cursor": cursor}, headers=seeker.headers)
        ).json()
        seen += [m["body"] for m in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [f"Nachricht {i}" for i in range(5)]
    (conv,) = await _conversations(client, seeker)
    assert conv["unread"] == 0
    assert (await client.get(url, params={"limit": 0}, headers=seeker.headers)).status_code == 422
    assert (
        await client.get(url, params={"cursor": "bad!"}, headers=seeker.headers)
    ).status_code == 422


async def test_conversations_list_is_paginated_latest_activity_first(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, _seeker, _m1, first = await connected_match(client, app)
    _vol2, seeker2, _m2, second = await connected_match(client, app, category="housing")
    # Nothing to do with each other: each sees their own only.
    assert [c["id"] for c in await _conversations(client, seeker2)] == [second]
    assert (await write(client, vol, first, "Hallo")).status_code == 201
    r = await client.get("/api/v1/conversations", params={"limit": 1}, headers=vol.headers)
    assert [c["id"] for c in r.json()["items"]] == [first]
    assert r.json()["next_cursor"] is None


async def test_a_deleted_participant_is_shown_as_deleted(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    vol, seeker, _match_id, cid = await connected_match(client, app)
    assert (await write(client, seeker, cid, "Danke für alles!")).status_code == 201
    r = await client.request(
        "DELETE", "/api/v1/me", headers=seeker.headers, json={"password": PASSWORD}
    )
    assert r.status_code == 204, r.text
    (conv,) = await _conversations(client, vol)
    gone = next(p for p in conv["participants"] if p["id"] == seeker.id)
    assert gone == {"id": seeker.id, "display_name": None, "deleted": True}
    r = await client.get(f"/api/v1/conversations/{cid}/messages", headers=vol.headers)
    assert [m["body"] for m in r.json()["items"]] == ["Danke für alles!"]
    # The notification about their message no longer names them.
    r = await client.get("/api/v1/notifications", headers={**vol.headers, "Accept-Language": "en"})
    (item,) = [i for i in r.json()["items"] if i["kind"] == "message.new"]
    assert item["text"] == "New message from a deleted account"
    assert "Samir" not in str(item["data"])
    # Writing to a deleted account tells nobody and mails nobody. (The volunteer's own mail
    # about the seeker's message may still be on its way on a busy machine: it is no mail the
    # writing caused, which could only go to the conversation's other side.)
    await app.state.relay.drain()
    mailbox.clear()
    assert (await write(client, vol, cid, "Alles Gute")).status_code == 201
    await app.state.relay.drain()
    assert [m for m in mailbox.messages if m.rcpt_tos != [vol.email]] == []


async def test_application_conversation_links_to_the_conversation_page(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    owner = await make_user(app, client, "organisation")
    helper = await volunteer(app, client, locale="en")
    post = await posting(client, owner)
    created = (await apply(client, helper, post["id"])).json()
    r = await client.post(
        f"/api/v1/applications/{created['id']}", headers=owner.headers, json={"decision": "accept"}
    )
    cid = r.json()["conversation_id"]
    (conv,) = await _conversations(client, helper)
    assert conv["application_id"] == created["id"] and conv["match_id"] is None
    # The acceptance's own mail first (on a busy machine it could arrive after the clear).
    await app.state.relay.drain()
    mailbox.clear()
    assert (await write(client, owner, cid, "Willkommen im Team")).status_code == 201
    (mail,) = await mailbox.wait_for(helper.email, containing="wrote you a message")
    assert f"http://testserver/conversations/{cid}" in mail.text
    r = await client.get("/api/v1/notifications", headers=helper.headers)
    item = next(i for i in r.json()["items"] if i["kind"] == "message.new")
    assert item["url"] == f"/conversations/{cid}"
    assert item["text"].startswith("New message from")
