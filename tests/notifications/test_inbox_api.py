"""In-app notifications through the JSON API (API.md, Notifications): list, texts, read."""

from __future__ import annotations

from typing import Any

import httpx

from market.i18n import gettext, use_locale
from tests.factories import make_user, post_body
from tests.market.conversations.helpers import connected_match
from tests.market.organisations.helpers import apply, posting, volunteer
from tests.smtp import SmtpServer

CHECKS = {"identity": True, "interview": True, "code_of_conduct": True}


def translated(locale: str, msgid: str, **values: Any) -> str:
    """The catalog's text (and proof that there is one: it differs from the English)."""
    with use_locale(locale):
        text = gettext(msgid, **values)
    assert text != msgid % values, f"{msgid!r} is not translated to {locale}"
    return text


async def _notes(client: httpx.AsyncClient, actor: Any, **params: Any) -> list[dict[str, Any]]:
    headers = dict(actor.headers)
    if "lang" in params:
        headers["Accept-Language"] = params.pop("lang")
    r = await client.get("/api/v1/notifications", headers=headers, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"items", "next_cursor"}
    return list(body["items"])


async def test_match_notifications_have_texts_in_the_readers_language(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, seeker, match_id, _cid = await connected_match(client, app, seeker_locale="ar")
    items = await _notes(client, vol)
    assert [i["kind"] for i in items] == ["match.connected", "match.proposed"]
    for item in items:
        assert set(item) >= {"id", "kind", "created_at", "read_at", "data", "text"}
        assert item["read_at"] is None and item["data"]["match_id"] == match_id
        assert item["url"] == f"/matches/{match_id}"
        assert item["created_at"].endswith("+00:00")
    # The volunteer's locale is German; their own post is the offer.
    assert items[1]["text"] == translated(
        "de", "A new match for your post “%(title)s”", title="Ich begleite Sie zum Amt"
    )
    # Accept-Language wins over the account's locale.
    english = await _notes(client, vol, lang="en-GB,en;q=0.8")
    assert english[1]["text"] == "A new match for your post “Ich begleite Sie zum Amt”"
    assert english[0]["text"].startswith("You both said yes")
    # The seeker's own post is the need; without a header their locale (Arabic) is used.
    arabic = await _notes(client, seeker)
    assert "Hilfe beim Jobcenter" in arabic[1]["text"] and "match" not in arabic[1]["text"].lower()
    # A language we do not have falls back to the account's.
    assert (await _notes(client, vol, lang="sw"))[1]["text"] == items[1]["text"]
    # ?lang= wins over both.
    r = await client.get(
        "/api/v1/notifications?lang=uk", headers={**vol.headers, "Accept-Language": "en"}
    )
    assert r.json()["items"][1]["text"] == translated(
        "uk", "A new match for your post “%(title)s”", title="Ich begleite Sie zum Amt"
    )


async def test_read_one_read_all_unread_count_and_privacy(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, seeker, _match_id, _cid = await connected_match(client, app)
    mine = await _notes(client, vol)
    theirs = await _notes(client, seeker)
    count = await client.get("/api/v1/notifications/unread-count", headers=vol.headers)
    assert count.json() == {"unread": 2}

    r = await client.post(f"/api/v1/notifications/{mine[0]['id']}/read", headers=vol.headers)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == mine[0]["id"] and r.json()["read_at"] is not None
    assert r.json()["text"] == mine[0]["text"]
    again = await client.post(
        f"/api/v1/notifications/{mine[0]['id']}/read", headers=vol.headers, content=b""
    )
    assert again.status_code == 200 and again.json()["read_at"] == r.json()["read_at"]
    unread = await _notes(client, vol, unread="true")
    assert [i["id"] for i in unread] == [mine[1]["id"]]

    # Another person's notification does not exist for the caller.
    other = await client.post(f"/api/v1/notifications/{theirs[0]['id']}/read", headers=vol.headers)
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("application/problem+json")
    assert (
        await client.post("/api/v1/notifications/nope/read", headers=vol.headers)
    ).status_code == 404
    assert (await client.post(f"/api/v1/notifications/{theirs[0]['id']}/read")).status_code == 401
    assert (await client.get("/api/v1/notifications")).status_code == 401
    assert (await _notes(client, seeker))[0]["read_at"] is None

    r = await client.post("/api/v1/notifications/read-all", headers=vol.headers)
    assert r.status_code == 200 and r.json() == {"marked": 1, "unread": 0}
    count = await client.get("/api/v1/notifications/unread-count", headers=vol.headers)
    assert count.json() == {"unread": 0}
    assert (
        await client.get("/api/v1/notifications/unread-count", headers=seeker.headers)
    ).json() == {"unread": 2}


async def test_notifications_are_paginated_newest_first(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, _seeker, _match_id, _cid = await connected_match(client, app)
    others = []
    for n in range(3):  # three conversations' worth of news for the volunteer
        seeker = await make_user(app, client, "seeker")
        r = await client.post(
            "/api/v1/posts",
            headers=seeker.headers,
            json=post_body(title=f"Hilfe Nummer {n}", location={"lat": 51.34, "lon": 12.37}),
        )
        assert r.status_code == 201
        others.append(seeker)
    everything = await _notes(client, vol, limit=100)
    assert len(everything) >= 4
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = await client.get("/api/v1/notifications", headers=vol.headers, params=params)
        body = r.json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [i["id"] for i in everything]
    stamps = [i["created_at"] for i in everything]
    assert stamps == sorted(stamps, reverse=True)
    for bad in ({"limit": 0}, {"limit": 101}, {"cursor": "???"}):
        r = await client.get("/api/v1/notifications", headers=vol.headers, params=bad)
        assert r.status_code == 422


async def test_vetting_decisions_notify_the_volunteer_in_app_and_by_mail(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    coordinator = await make_user(app, client, "coordinator")
    vol = await make_user(app, client, "volunteer", locale="en")
    mailbox.clear()

    async def decide(decision: str) -> None:
        r = await client.post(
            f"/api/v1/review/volunteers/{vol.id}",
            headers=coordinator.headers,
            json={
                "decision": decision,
                "checks": CHECKS,
                "police_certificate_until": None,
                "note": "intern",
            },
        )
        assert r.status_code == 200, r.text
        await app.state.relay.drain()

    await decide("reject")
    (item,) = await _notes(client, vol)
    assert item["kind"] == "vetting.rejected"
    assert item["text"].startswith("Your vetting as a volunteer was not approved")
    (mail,) = mailbox.to(vol.email)
    assert mail.subject == "Your vetting as a volunteer" and "intern" not in mail.text

    await decide("approve")
    items = await _notes(client, vol)
    assert [i["kind"] for i in items] == ["vetting.approved", "vetting.rejected"]
    assert items[0]["text"].startswith("You are approved as a volunteer")
    assert items[0]["url"] == "/my/posts"
    mails = mailbox.to(vol.email)
    assert len(mails) == 2 and mails[1].subject == "You are approved as a volunteer"
    assert "http://testserver/my/posts" in mails[1].text

    # Recording a certificate (approved again) is not news; revoking is.
    await decide("approve")
    assert len(await _notes(client, vol)) == 2
    await decide("reject")
    items = await _notes(client, vol)
    assert items[0]["kind"] == "vetting.rejected" and items[0]["data"]["revoked"] is True
    assert items[0]["text"].startswith("Your approval as a volunteer was withdrawn")
    assert mailbox.to(vol.email)[-1].subject == "Your approval as a volunteer was withdrawn"
    assert len(mailbox.to(vol.email)) == 3


async def test_application_notifications_have_texts(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation", locale="en")
    helper = await volunteer(app, client, locale="en", name="Hana Helper")
    post = await posting(client, owner, title="Lotsen für Familien")
    created = (await apply(client, helper, post["id"])).json()
    (received,) = await _notes(client, owner)
    assert received["kind"] == "application.received"
    assert received["text"] == "Hana Helper applied for your posting “Lotsen für Familien”"
    assert received["url"] == f"/posts/{post['id']}/applications"

    r = await client.post(
        f"/api/v1/applications/{created['id']}", headers=owner.headers, json={"decision": "accept"}
    )
    accepted = (await _notes(client, helper))[0]
    assert accepted["kind"] == "application.accepted"
    assert accepted["text"] == "Your application for “Lotsen für Familien” was accepted."
    assert accepted["url"] == f"/conversations/{r.json()['conversation_id']}"

    other = await volunteer(app, client, locale="de")
    second = (await apply(client, other, post["id"])).json()
    await client.post(
        f"/api/v1/applications/{second['id']}", headers=owner.headers, json={"decision": "decline"}
    )
    declined = (await _notes(client, other))[0]
    assert declined["kind"] == "application.declined"
    assert declined["text"] == translated(
        "de", "Your application for “%(title)s” was declined.", title="Lotsen für Familien"
    )
    assert declined["url"] == "/my/applications"


async def test_openapi_describes_notifications_and_conversations(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    for path, method in [
        ("/api/v1/notifications", "get"),
        ("/api/v1/notifications/{id}/read", "post"),
        ("/api/v1/notifications/read-all", "post"),
        ("/api/v1/notifications/unread-count", "get"),
        ("/api/v1/me/notifications/preferences", "put"),
        ("/api/v1/conversations", "get"),
        ("/api/v1/conversations/{id}/messages", "post"),
    ]:
        assert method in paths[path], (path, method)
    body = paths["/api/v1/conversations/{id}/messages"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/MessageIn")


async def test_export_contains_notifications_preferences_and_messages(
    client: httpx.AsyncClient, app: Any
) -> None:
    vol, seeker, _match_id, cid = await connected_match(client, app)
    await client.post(
        f"/api/v1/conversations/{cid}/messages", headers=vol.headers, json={"body": "Hallo"}
    )
    await client.put(
        "/api/v1/me/notifications/preferences",
        headers=vol.headers,
        json={"preferences": {"message.new": "digest"}},
    )
    data = (await client.get("/api/v1/me/export", headers=vol.headers)).json()
    assert {n["kind"] for n in data["notifications"]} == {"match.proposed", "match.connected"}
    assert data["notification_preferences"]["message.new"] == "digest"
    assert [m["body"] for m in data["messages"]] == ["Hallo"]
    theirs = (await client.get("/api/v1/me/export", headers=seeker.headers)).json()
    assert "message.new" in {n["kind"] for n in theirs["notifications"]}
    assert theirs["messages"] == []
