"""Postings and applications through the JSON API (API.md, Organisations and mentor programmes)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx

from tests.factories import make_user, post_body
from tests.market.organisations.helpers import (
    add_member,
    apply,
    notifications_of,
    posting,
    volunteer,
)
from tests.smtp import SmtpServer


async def test_apply_accept_opens_a_conversation_and_tells_the_volunteer(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer, session: Any
) -> None:
    owner = await make_user(app, client, "organisation")
    colleague = await add_member(app, client, owner.organisation_id)
    helper = await volunteer(app, client, languages=(("fa", "native"), ("de", "basic")))
    post = await posting(client, owner)

    r = await apply(client, helper, post["id"], "Ich spreche Dari und habe Zeit am Abend.")
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["post_id"] == post["id"] and created["status"] == "pending"
    assert created["message"] == "Ich spreche Dari und habe Zeit am Abend."
    assert created["volunteer"]["id"] == helper.id
    assert created["volunteer"]["display_name"]
    assert created["volunteer"]["languages"] == [
        {"code": "fa", "level": "native"},
        {"code": "de", "level": "basic"},
    ]

    # Every member hears of it, in the app and by mail.
    for member in (owner, colleague):
        (note,) = await notifications_of(session, member.id, "application.received")
        assert note.data["application_id"] == created["id"]
        (mail,) = await mailbox.wait_for(member.email)
        assert f"/posts/{post['id']}/applications" in mail.text

    # Applying twice is a conflict.
    assert (await apply(client, helper, post["id"])).status_code == 409

    listed = await client.get(f"/api/v1/posts/{post['id']}/applications", headers=colleague.headers)
    assert listed.status_code == 200
    (item,) = listed.json()["items"]
    assert item["volunteer"]["vetting"] == {"status": "approved"}
    assert item["volunteer"]["languages"][0] == {"code": "fa", "level": "native"}
    assert "note" not in str(item)

    r = await client.post(
        f"/api/v1/applications/{created['id']}",
        headers=colleague.headers,
        json={"decision": "accept", "message": "Willkommen! Wir melden uns."},
    )
    assert r.status_code == 200, r.text
    accepted = r.json()
    assert accepted["status"] == "accepted"
    assert accepted["decision_message"] == "Willkommen! Wir melden uns."
    assert accepted["conversation_id"]
    # The conversation exists with the volunteer and the organisation's people in it.
    convs = await client.get("/api/v1/conversations", headers=helper.headers)
    if convs.status_code == 200:  # the conversations API is another feature's
        assert [c["application_id"] for c in convs.json()["items"]] == [created["id"]]
    (note,) = await notifications_of(session, helper.id, "application.accepted")
    assert note.data["conversation_id"] == accepted["conversation_id"]
    (mail,) = await mailbox.wait_for(helper.email)
    assert "Willkommen! Wir melden uns." in mail.text

    # Decided once only; the volunteer sees the result.
    again = await client.post(
        f"/api/v1/applications/{created['id']}", headers=owner.headers, json={"decision": "decline"}
    )
    assert again.status_code == 409
    mine = (await client.get("/api/v1/me/applications", headers=helper.headers)).json()["items"]
    assert [(a["id"], a["status"]) for a in mine] == [(created["id"], "accepted")]
    assert mine[0]["post"]["title"] == post["title"]
    assert mine[0]["post"]["organisation"]["id"] == owner.organisation_id


async def test_decline_tells_the_volunteer(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer, session: Any
) -> None:
    owner = await make_user(app, client, "organisation")
    helper = await volunteer(app, client)
    post = await posting(client, owner)
    created = (await apply(client, helper, post["id"])).json()
    r = await client.post(
        f"/api/v1/applications/{created['id']}", headers=owner.headers, json={"decision": "decline"}
    )
    assert r.status_code == 200 and r.json()["status"] == "declined"
    assert r.json()["conversation_id"] is None
    assert len(await notifications_of(session, helper.id, "application.declined")) == 1
    await mailbox.wait_for(helper.email)
    bad = await client.post(
        f"/api/v1/applications/{created['id']}", headers=owner.headers, json={"decision": "maybe"}
    )
    assert bad.status_code == 422


async def test_seats_full_closes_the_posting(
    client: httpx.AsyncClient, app: Any, session: Any
) -> None:
    owner = await make_user(app, client, "organisation")
    post = await posting(client, owner, seats=2)
    helpers = [await volunteer(app, client) for _ in range(3)]
    apps = [(await apply(client, h, post["id"])).json() for h in helpers]

    for a in apps[:2]:
        r = await client.post(
            f"/api/v1/applications/{a['id']}", headers=owner.headers, json={"decision": "accept"}
        )
        assert r.status_code == 200, r.text
    seen = (await client.get(f"/api/v1/posts/{post['id']}", headers=owner.headers)).json()
    assert seen["status"] == "closed"
    # The public cannot find it any more, and nobody more can apply or be accepted.
    assert (await client.get(f"/api/v1/posts/{post['id']}")).status_code == 404
    late = await volunteer(app, client)
    assert (await apply(client, late, post["id"])).status_code == 404
    # The one still waiting is told that it did not work out.
    third = (
        await client.get(f"/api/v1/applications/{apps[2]['id']}", headers=helpers[2].headers)
    ).json()
    assert third["status"] == "declined"
    assert len(await notifications_of(session, helpers[2].id, "application.declined")) == 1
    counts = {
        a["status"]
        for a in (
            await client.get(f"/api/v1/posts/{post['id']}/applications", headers=owner.headers)
        ).json()["items"]
    }
    assert counts == {"accepted", "declined"}
    details = (
        await client.get(f"/api/v1/posts/{post['id']}/posting", headers=owner.headers)
    ).json()
    assert details["accepted"] == 2 and details["seats_left"] == 0


async def test_who_may_apply(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    post = await posting(client, owner)
    seeker = await make_user(app, client, "seeker")
    coordinator = await make_user(app, client, "coordinator")
    waiting = await volunteer(app, client, approved=False)

    assert (
        await client.post(f"/api/v1/posts/{post['id']}/applications", json={})
    ).status_code == 401
    for actor in (seeker, owner, coordinator):
        assert (await apply(client, actor, post["id"])).status_code == 403, actor.role
    r = await apply(client, waiting, post["id"])
    assert r.status_code == 403 and "approved" in r.json()["detail"]

    helper = await volunteer(app, client)
    # Not a posting: a need without seats.
    plain = (await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())).json()
    assert (await apply(client, helper, plain["id"])).status_code == 409
    # Not visible: unknown, or waiting for review.
    assert (await apply(client, helper, "unknown")).status_code == 404
    pending_org = await make_user(app, client, "organisation", org_status="pending")
    hidden = await posting(client, pending_org)
    assert hidden["status"] == "pending_review"
    assert (await apply(client, helper, hidden["id"])).status_code == 404
    # An empty body is fine; a long message is not.
    r = await client.post(f"/api/v1/posts/{post['id']}/applications", headers=helper.headers)
    assert r.status_code == 201 and r.json()["message"] == ""
    other = await volunteer(app, client)
    assert (await apply(client, other, post["id"], "x" * 2001)).status_code == 422


async def test_certificate_rule(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    homework = await posting(
        client, owner, category="education-homework", title="Hausaufgabenhilfe"
    )
    today = date.today()
    without = await volunteer(app, client)
    expired = await volunteer(app, client, certificate_until=today - timedelta(days=1))
    valid = await volunteer(app, client, certificate_until=today + timedelta(days=30))
    for actor in (without, expired):
        r = await apply(client, actor, homework["id"])
        assert r.status_code == 403
        assert "police certificate" in r.json()["detail"]
    assert (await apply(client, valid, homework["id"])).status_code == 201

    # An organisation may ask for a certificate where the category does not.
    mentoring = await posting(client, owner)
    r = await client.put(
        f"/api/v1/posts/{mentoring['id']}/posting",
        headers=owner.headers,
        json={
            "police_certificate": True,
            "training": "Zwei Abende Schulung",
            "hours_per_week": 2,
            "duration": "6 Monate",
        },
    )
    assert r.status_code == 200, r.text
    assert (await apply(client, without, mentoring["id"])).status_code == 403
    assert (await apply(client, valid, mentoring["id"])).status_code == 201


async def test_posting_details(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    member = await add_member(app, client, owner.organisation_id)
    stranger = await make_user(app, client, "organisation")
    helper = await volunteer(app, client)
    post = await posting(client, owner, seats=5)
    url = f"/api/v1/posts/{post['id']}/posting"

    default = (await client.get(url)).json()
    assert default == {
        "post_id": post["id"],
        "training": None,
        "police_certificate": False,
        "hours_per_week": None,
        "duration": None,
        "seats": 5,
        "accepted": 0,
        "seats_left": 5,
    }
    body = {
        "training": "Schulung an zwei Abenden",
        "police_certificate": False,
        "hours_per_week": 1.5,
        "duration": "ein Jahr",
    }
    r = await client.put(url, headers=member.headers, json=body)
    assert r.status_code == 200
    assert (await client.get(url)).json() | {} == r.json()
    assert r.json()["hours_per_week"] == 1.5 and r.json()["training"] == body["training"]
    assert (await client.put(url, json=body)).status_code == 401
    for actor in (stranger, helper):
        assert (await client.put(url, headers=actor.headers, json=body)).status_code == 403
    assert (
        await client.put(url, headers=owner.headers, json={"hours_per_week": 0})
    ).status_code == 422
    # A need without seats is not a posting.
    plain = (await client.post("/api/v1/posts", headers=owner.headers, json=post_body())).json()
    assert (
        await client.put(f"/api/v1/posts/{plain['id']}/posting", headers=owner.headers, json=body)
    ).status_code == 409
    assert (await client.get(f"/api/v1/posts/{plain['id']}/posting")).status_code == 404
    # A category that needs a certificate always says so.
    homework = await posting(client, owner, category="education-homework")
    assert (await client.get(f"/api/v1/posts/{homework['id']}/posting")).json()[
        "police_certificate"
    ] is True


async def test_withdraw_and_apply_again(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    helper = await volunteer(app, client)
    post = await posting(client, owner)
    created = (await apply(client, helper, post["id"])).json()
    url = f"/api/v1/applications/{created['id']}/withdraw"
    assert (await client.post(url, headers=owner.headers)).status_code == 403
    r = await client.post(url, headers=helper.headers)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert (await client.post(url, headers=helper.headers)).status_code == 409
    r = await client.post(
        f"/api/v1/applications/{created['id']}", headers=owner.headers, json={"decision": "accept"}
    )
    assert r.status_code == 409
    # Withdrawing is not final.
    again = await apply(client, helper, post["id"], "Doch, ich habe Zeit.")
    assert again.status_code == 201 and again.json()["id"] == created["id"]
    assert again.json()["status"] == "pending"
    await client.post(
        f"/api/v1/applications/{created['id']}", headers=owner.headers, json={"decision": "accept"}
    )
    assert (await client.post(url, headers=helper.headers)).status_code == 409


async def test_who_sees_applications(client: httpx.AsyncClient, app: Any) -> None:
    """Organisation B never sees A's applicants; a volunteer sees only their own."""
    owner_a = await make_user(app, client, "organisation")
    owner_b = await make_user(app, client, "organisation")
    coordinator = await make_user(app, client, "coordinator")
    seeker = await make_user(app, client, "seeker")
    helper = await volunteer(app, client)
    other_helper = await volunteer(app, client)
    post_a = await posting(client, owner_a)
    post_b = await posting(client, owner_b)
    app_a = (await apply(client, helper, post_a["id"])).json()
    app_b = (await apply(client, other_helper, post_b["id"])).json()

    list_a = f"/api/v1/posts/{post_a['id']}/applications"
    assert (await client.get(list_a)).status_code == 401
    # Others can see the published post, so they are refused, not told it is absent.
    for actor in (owner_b, seeker, helper):
        assert (await client.get(list_a, headers=actor.headers)).status_code == 403
    assert (await client.get(list_a, headers=coordinator.headers)).status_code == 200
    one = f"/api/v1/applications/{app_a['id']}"
    assert (await client.get(one, headers=owner_b.headers)).status_code == 404
    assert (await client.get(one, headers=other_helper.headers)).status_code == 404
    assert (
        await client.post(one, headers=owner_b.headers, json={"decision": "accept"})
    ).status_code == 404
    assert (await client.post(f"{one}/withdraw", headers=other_helper.headers)).status_code == 404
    assert (await client.get(one, headers=helper.headers)).status_code == 200
    # Looking is not deciding.
    assert (await client.get(one, headers=coordinator.headers)).status_code == 200
    assert (
        await client.post(one, headers=coordinator.headers, json={"decision": "accept"})
    ).status_code == 403
    assert (
        await client.post(one, headers=helper.headers, json={"decision": "accept"})
    ).status_code == 403

    mine = (await client.get("/api/v1/me/applications", headers=helper.headers)).json()["items"]
    assert [a["id"] for a in mine] == [app_a["id"]]
    theirs = (await client.get("/api/v1/me/applications", headers=other_helper.headers)).json()[
        "items"
    ]
    assert [a["id"] for a in theirs] == [app_b["id"]]
    assert (await client.get("/api/v1/me/applications")).status_code == 401

    # A post that is not published answers 404 to outsiders.
    pending_org = await make_user(app, client, "organisation", org_status="pending")
    hidden = await posting(client, pending_org)
    url = f"/api/v1/posts/{hidden['id']}/applications"
    assert (await client.get(url, headers=owner_b.headers)).status_code == 404
    assert (await client.get(url, headers=pending_org.headers)).status_code == 200
    assert (
        await client.get("/api/v1/posts/unknown/applications", headers=owner_a.headers)
    ).status_code == 404


async def test_revoked_volunteer_cannot_be_accepted(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    coordinator = await make_user(app, client, "coordinator")
    helper = await volunteer(app, client)
    post = await posting(client, owner)
    created = (await apply(client, helper, post["id"])).json()
    r = await client.post(
        f"/api/v1/review/volunteers/{helper.id}",
        headers=coordinator.headers,
        json={
            "decision": "reject",
            "checks": {"identity": True, "interview": True, "code_of_conduct": False},
            "police_certificate_until": None,
            "note": "secret note",
        },
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        f"/api/v1/applications/{created['id']}", headers=owner.headers, json={"decision": "accept"}
    )
    assert r.status_code == 409
    listed = (
        await client.get(f"/api/v1/posts/{post['id']}/applications", headers=owner.headers)
    ).json()
    assert listed["items"][0]["volunteer"]["vetting"] == {"status": "rejected"}
    assert "secret note" not in str(listed)


async def test_withdraw_all_of_a_deleted_account(client: httpx.AsyncClient, app: Any) -> None:
    from market.db import make_sessionmaker
    from market.organisations.applications import withdraw_all_of

    owner = await make_user(app, client, "organisation")
    helper = await volunteer(app, client)
    first = (await apply(client, helper, (await posting(client, owner))["id"])).json()
    second = (await apply(client, helper, (await posting(client, owner))["id"])).json()
    await client.post(
        f"/api/v1/applications/{second['id']}", headers=owner.headers, json={"decision": "accept"}
    )
    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        assert await withdraw_all_of(session, helper.id) == 1
    r = await client.get(f"/api/v1/applications/{first['id']}", headers=helper.headers)
    assert r.json()["status"] == "withdrawn"


async def test_openapi_describes_the_organisation_endpoints(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    for path, method in [
        ("/api/v1/organisations/{id}", "patch"),
        ("/api/v1/organisations/{id}/invitations", "post"),
        ("/api/v1/organisations/invitations/accept", "post"),
        ("/api/v1/organisations/{id}/members", "get"),
        ("/api/v1/organisations/{id}/clients", "post"),
        ("/api/v1/posts/{id}/applications", "post"),
        ("/api/v1/posts/{id}/applications", "get"),
        ("/api/v1/applications/{id}", "post"),
        ("/api/v1/applications/{id}/withdraw", "post"),
        ("/api/v1/me/applications", "get"),
        ("/api/v1/posts/{id}/posting", "put"),
    ]:
        assert method in paths[path], (path, method)


async def test_export_holds_applications_and_memberships(
    client: httpx.AsyncClient, app: Any
) -> None:
    owner = await make_user(app, client, "organisation")
    helper = await volunteer(app, client)
    created = (await apply(client, helper, (await posting(client, owner))["id"], "Hallo")).json()
    data = (await client.get("/api/v1/me/export", headers=helper.headers)).json()
    assert [(a["id"], a["message"]) for a in data["applications"]] == [(created["id"], "Hallo")]
    mine = (await client.get("/api/v1/me/export", headers=owner.headers)).json()["organisations"]
    assert [(m["organisation"]["id"], m["role"]) for m in mine] == [
        (owner.organisation_id, "owner")
    ]
