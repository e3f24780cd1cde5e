"""Organisations through the JSON API: profile, members, invitations (API.md, Organisations)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from market.organisations.models import Invitation
from tests.conftest import token_from
from tests.factories import PASSWORD, login, make_user
from tests.market.organisations.helpers import add_member, posting, volunteer
from tests.smtp import SmtpServer


async def test_profile_is_public_and_owners_change_it(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    org_id = owner.organisation_id
    await posting(client, owner)
    r = await client.get(f"/api/v1/organisations/{org_id}")
    assert r.status_code == 200
    body = r.json()
    assert {"id", "name", "website", "status"} <= set(body)
    assert body["description"] is None and body["address"] is None
    assert body["open_postings"] == 1

    change = {
        "description": "Wir begleiten Familien.",
        "address": "Karl-Liebknecht-Str. 1, Leipzig",
    }
    r = await client.patch(f"/api/v1/organisations/{org_id}", headers=owner.headers, json=change)
    assert r.status_code == 200, r.text
    assert r.json()["description"] == change["description"]
    assert (await client.get(f"/api/v1/organisations/{org_id}")).json()["address"] == change[
        "address"
    ]

    # Markup is stripped; an approved organisation keeps the name it was checked under.
    r = await client.patch(
        f"/api/v1/organisations/{org_id}",
        headers=owner.headers,
        json={"description": "<script>alert(1)</script>Hallo"},
    )
    assert "<script>" not in r.json()["description"]
    r = await client.patch(
        f"/api/v1/organisations/{org_id}", headers=owner.headers, json={"name": "Anders"}
    )
    assert r.status_code == 409
    r = await client.patch(
        f"/api/v1/organisations/{org_id}", headers=owner.headers, json={"website": "no site"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "website"
    r = await client.patch(
        f"/api/v1/organisations/{org_id}", headers=owner.headers, json={"colour": "red"}
    )
    assert r.status_code == 422

    member = await add_member(app, client, org_id)
    stranger = await make_user(app, client, "organisation")
    seeker = await make_user(app, client, "seeker")
    for actor in (member, stranger, seeker):
        r = await client.patch(
            f"/api/v1/organisations/{org_id}", headers=actor.headers, json=change
        )
        assert r.status_code == 403, actor.role
    assert (await client.patch(f"/api/v1/organisations/{org_id}", json=change)).status_code == 401
    assert (await client.get("/api/v1/organisations/nope")).status_code == 404


async def test_pending_organisation_may_still_be_renamed(
    client: httpx.AsyncClient, app: Any
) -> None:
    owner = await make_user(app, client, "organisation", org_status="pending")
    r = await client.patch(
        f"/api/v1/organisations/{owner.organisation_id}",
        headers=owner.headers,
        json={"name": "Neuer Name e.V."},
    )
    assert r.status_code == 200 and r.json()["name"] == "Neuer Name e.V."


async def invite(
    client: httpx.AsyncClient, owner: Any, email: str, role: str = "member"
) -> httpx.Response:
    return await client.post(
        f"/api/v1/organisations/{owner.organisation_id}/invitations",
        headers=owner.headers,
        json={"email": email, "role": role},
    )


async def test_invite_existing_account_by_mail(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    owner = await make_user(app, client, "organisation")
    invitee = await make_user(app, client, "organisation")  # has an organisation of its own
    other = await make_user(app, client, "organisation")

    r = await invite(client, owner, invitee.email.upper())
    assert r.status_code == 201, r.text
    assert r.json()["email"] == invitee.email and r.json()["role"] == "member"
    (mail,) = await mailbox.wait_for(invitee.email)
    assert "/organisations/join?token=" in mail.text
    token = token_from(mail.text)
    assert "Verein" in mail.subject

    listed = await client.get(
        f"/api/v1/organisations/{owner.organisation_id}/invitations", headers=owner.headers
    )
    assert [i["email"] for i in listed.json()["items"]] == [invitee.email]

    # Only the invited address may take it.
    r = await client.post(
        "/api/v1/organisations/invitations/accept", headers=other.headers, json={"token": token}
    )
    assert r.status_code == 403
    assert (
        await client.post("/api/v1/organisations/invitations/accept", json={"token": token})
    ).status_code == 401
    r = await client.post(
        "/api/v1/organisations/invitations/accept",
        headers=invitee.headers,
        json={"token": "x" * 20},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "token"

    r = await client.post(
        "/api/v1/organisations/invitations/accept", headers=invitee.headers, json={"token": token}
    )
    assert r.status_code == 200, r.text
    assert r.json()["organisation"]["id"] == owner.organisation_id and r.json()["role"] == "member"
    # Single use.
    r = await client.post(
        "/api/v1/organisations/invitations/accept", headers=invitee.headers, json={"token": token}
    )
    assert r.status_code == 422

    members = (
        await client.get(
            f"/api/v1/organisations/{owner.organisation_id}/members", headers=invitee.headers
        )
    ).json()
    assert {m["user_id"]: m["role"] for m in members["items"]} == {
        owner.id: "owner",
        invitee.id: "member",
    }
    assert members["next_cursor"] is None
    assert {"display_name", "email", "joined_at"} <= set(members["items"][0])
    # Inviting a member again is pointless.
    assert (await invite(client, owner, invitee.email)).status_code == 409
    # A member who is not an owner may not invite.
    r = await client.post(
        f"/api/v1/organisations/{owner.organisation_id}/invitations",
        headers=invitee.headers,
        json={"email": "x@example.org"},
    )
    assert r.status_code == 403


async def test_invitation_rules_for_the_invited_account(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    owner = await make_user(app, client, "organisation")
    unverified = await make_user(app, client, "organisation", verified=False)
    helper = await volunteer(app, client)
    for actor in (unverified, helper):
        await invite(client, owner, actor.email)
        (mail,) = await mailbox.wait_for(actor.email)
        r = await client.post(
            "/api/v1/organisations/invitations/accept",
            headers=actor.headers,
            json={"token": token_from(mail.text)},
        )
        assert r.status_code == 403, actor.role
        assert r.json()["detail"]
    # A new invitation replaces the old link.
    await invite(client, owner, unverified.email)
    first, second = await mailbox.wait_for(unverified.email, count=2)
    assert token_from(first.text) != token_from(second.text)
    listed = await client.get(
        f"/api/v1/organisations/{owner.organisation_id}/invitations", headers=owner.headers
    )
    assert [i["email"] for i in listed.json()["items"]].count(unverified.email) == 1
    r = await client.post(
        "/api/v1/organisations/invitations/signup",
        json={"token": token_from(first.text), "password": PASSWORD, "display_name": "X"},
    )
    assert r.status_code == 422


async def test_invitee_without_account_signs_up_through_the_link(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    owner = await make_user(app, client, "organisation")
    email = "neu.im.team@example.org"
    assert (await invite(client, owner, email, role="owner")).status_code == 201
    (mail,) = await mailbox.wait_for(email)
    token = token_from(mail.text)

    r = await client.post(
        "/api/v1/organisations/invitations/signup",
        json={"token": token, "password": "short", "display_name": "Lena"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    r = await client.post(
        "/api/v1/organisations/invitations/signup",
        json={
            "token": token,
            "password": PASSWORD,
            "display_name": "Lena",
            "locale": "ar",
            "languages": [{"code": "ar", "level": "native"}, "de"],
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "owner" and r.json()["email"] == email

    headers = {"Authorization": f"Bearer {await login(client, email)}"}
    me = (await client.get("/api/v1/me", headers=headers)).json()
    assert me["role"] == "organisation" and me["email_verified"] is True
    assert me["organisation"]["id"] == owner.organisation_id  # joined, no new organisation
    assert me["languages"] == [{"code": "ar", "level": "native"}, {"code": "de", "level": "fluent"}]
    mine = (await client.get("/api/v1/me/organisations", headers=headers)).json()["items"]
    assert [(o["id"], o["my_role"]) for o in mine] == [(owner.organisation_id, "owner")]
    # The link was used up.
    r = await client.post(
        "/api/v1/organisations/invitations/signup",
        json={"token": token, "password": PASSWORD, "display_name": "Lena"},
    )
    assert r.status_code == 422


async def test_signup_link_for_a_registered_address_asks_to_log_in(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer
) -> None:
    owner = await make_user(app, client, "organisation")
    existing = await make_user(app, client, "organisation")
    await invite(client, owner, existing.email)
    (mail,) = await mailbox.wait_for(existing.email)
    r = await client.post(
        "/api/v1/organisations/invitations/signup",
        json={"token": token_from(mail.text), "password": PASSWORD, "display_name": "X"},
    )
    assert r.status_code == 409


async def test_revoked_invitation_does_not_work(
    client: httpx.AsyncClient, app: Any, mailbox: SmtpServer, session: Any
) -> None:
    owner = await make_user(app, client, "organisation")
    invitee = await make_user(app, client, "organisation")
    created = (await invite(client, owner, invitee.email)).json()
    (mail,) = await mailbox.wait_for(invitee.email)
    url = f"/api/v1/organisations/{owner.organisation_id}/invitations/{created['id']}"
    assert (await client.delete(url, headers=invitee.headers)).status_code == 403
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    assert (await client.delete(url, headers=owner.headers)).status_code == 404
    r = await client.post(
        "/api/v1/organisations/invitations/accept",
        headers=invitee.headers,
        json={"token": token_from(mail.text)},
    )
    assert r.status_code == 422
    # Only a hash of the token is stored.
    stored = (await session.execute(select(Invitation.token_hash))).scalars().all()
    assert token_from(mail.text) not in stored


async def test_members_and_owners(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    org_id = owner.organisation_id
    member = await add_member(app, client, org_id)
    colleague = await add_member(app, client, org_id)
    stranger = await make_user(app, client, "organisation")
    seeker = await make_user(app, client, "seeker")
    url = f"/api/v1/organisations/{org_id}/members"

    assert (await client.get(url)).status_code == 401
    for actor in (stranger, seeker):
        assert (await client.get(url, headers=actor.headers)).status_code == 403
    assert len((await client.get(url, headers=member.headers)).json()["items"]) == 3
    assert (await client.get(f"{url}?limit=2", headers=member.headers)).json()["next_cursor"]

    # The last owner can neither leave nor be demoted.
    assert (await client.delete(f"{url}/{owner.id}", headers=owner.headers)).status_code == 409
    r = await client.patch(f"{url}/{owner.id}", headers=owner.headers, json={"role": "member"})
    assert r.status_code == 409
    # A member may not remove others, nor change roles.
    assert (await client.delete(f"{url}/{colleague.id}", headers=member.headers)).status_code == 403
    r = await client.patch(f"{url}/{member.id}", headers=member.headers, json={"role": "owner"})
    assert r.status_code == 403
    # With a second owner, the first may step down.
    r = await client.patch(f"{url}/{member.id}", headers=owner.headers, json={"role": "owner"})
    assert r.status_code == 200 and r.json()["role"] == "owner"
    r = await client.patch(f"{url}/{owner.id}", headers=owner.headers, json={"role": "member"})
    assert r.status_code == 200
    # Owners remove members; a member may leave.
    assert (await client.delete(f"{url}/{colleague.id}", headers=member.headers)).status_code == 204
    assert (await client.get(url, headers=colleague.headers)).status_code == 403
    assert (await client.delete(f"{url}/{owner.id}", headers=owner.headers)).status_code == 204
    assert (await client.delete(f"{url}/{owner.id}", headers=member.headers)).status_code == 404
    remaining = (await client.get(url, headers=member.headers)).json()["items"]
    assert [(m["user_id"], m["role"]) for m in remaining] == [(member.id, "owner")]
