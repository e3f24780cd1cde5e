"""Caseworkers post needs for people without an account (clients), with their consent."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from market.organisations.models import Client
from tests.factories import make_user, post_body
from tests.market.organisations.helpers import add_member, volunteer


async def test_client_needs_consent_and_stores_little(
    client: httpx.AsyncClient, app: Any, session: Any
) -> None:
    owner = await make_user(app, client, "organisation")
    url = f"/api/v1/organisations/{owner.organisation_id}/clients"
    good = {"first_name_or_initials": "A. K.", "languages": ["ar", "ku"], "consent": True}

    for body, field in [
        (good | {"consent": False}, "consent"),
        ({k: v for k, v in good.items() if k != "consent"}, "consent"),
        (good | {"consent": "yes"}, "consent"),
        (good | {"first_name_or_initials": "x" * 41}, "first_name_or_initials"),
        (good | {"first_name_or_initials": "   "}, "first_name_or_initials"),
        (good | {"languages": []}, "languages"),
        (good | {"last_name": "Karimi"}, "last_name"),
        (good | {"phone": "0170 1234567"}, "phone"),
    ]:
        r = await client.post(url, headers=owner.headers, json=body)
        assert r.status_code == 422, body
        assert r.json()["errors"][0]["field"] == field, r.json()
    assert (await session.execute(select(Client))).first() is None

    r = await client.post(url, headers=owner.headers, json=good)
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == {"id", "label", "languages", "consent_at", "created_at"}
    assert created["label"] == "A. K." and created["languages"] == ["ar", "ku"]
    assert created["consent_at"].endswith("+00:00")


async def test_need_for_a_client_and_the_organisation_acts_for_them(
    client: httpx.AsyncClient, app: Any
) -> None:
    owner = await make_user(app, client, "organisation")
    colleague = await add_member(app, client, owner.organisation_id)
    org_url = f"/api/v1/organisations/{owner.organisation_id}/clients"
    person = (
        await client.post(
            org_url,
            headers=owner.headers,
            json={"first_name_or_initials": "Samira", "languages": ["ar"], "consent": True},
        )
    ).json()
    r = await client.post(
        f"{org_url}/{person['id']}/posts", headers=colleague.headers, json=post_body()
    )
    assert r.status_code == 201, r.text
    need = r.json()
    assert need["kind"] == "need" and need["status"] == "published"
    assert need["organisation"]["id"] == owner.organisation_id
    assert need["author"]["id"] == colleague.id
    assert need["client_id"] == person["id"]
    # Offers are not for clients; nor is another organisation.
    r = await client.post(
        f"{org_url}/{person['id']}/posts", headers=owner.headers, json=post_body(kind="offer")
    )
    assert r.status_code == 422
    r = await client.post(
        f"{org_url}/{person['id']}/posts",
        headers=owner.headers,
        json=post_body(organisation_id="elsewhere"),
    )
    assert r.status_code == 422

    detail = (await client.get(f"{org_url}/{person['id']}", headers=owner.headers)).json()
    assert [p["id"] for p in detail["posts"]] == [need["id"]]
    listed = (await client.get(org_url, headers=colleague.headers)).json()
    assert [c["id"] for c in listed["items"]] == [person["id"]]

    # A volunteer's fitting offer is matched, and every member answers for the client.
    helper = await volunteer(app, client)
    offer = post_body(kind="offer", title="Ich begleite Sie zum Amt")
    assert (
        await client.post("/api/v1/posts", headers=helper.headers, json=offer)
    ).status_code == 201
    (match,) = (await client.get("/api/v1/matches", headers=owner.headers)).json()["items"]
    assert match["need"]["id"] == need["id"]
    r = await client.post(f"/api/v1/matches/{match['id']}/accept", headers=owner.headers)
    assert r.status_code == 200 and r.json()["my_response"] == "accepted"


async def test_only_members_handle_clients(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    other = await make_user(app, client, "organisation")
    coordinator = await make_user(app, client, "coordinator")
    helper = await volunteer(app, client)
    url = f"/api/v1/organisations/{owner.organisation_id}/clients"
    body = {"first_name_or_initials": "M.", "languages": ["uk"], "consent": True}
    person = (await client.post(url, headers=owner.headers, json=body)).json()

    assert (await client.get(url)).status_code == 401
    assert (await client.post(url, json=body)).status_code == 401
    for actor in (other, coordinator, helper):
        assert (await client.get(url, headers=actor.headers)).status_code == 403
        assert (await client.post(url, headers=actor.headers, json=body)).status_code == 403
        assert (await client.get(f"{url}/{person['id']}", headers=actor.headers)).status_code == 403
        r = await client.post(
            f"{url}/{person['id']}/posts", headers=actor.headers, json=post_body()
        )
        assert r.status_code == 403
    # Another organisation's client id does not exist here.
    other_url = f"/api/v1/organisations/{other.organisation_id}/clients"
    assert (
        await client.get(f"{other_url}/{person['id']}", headers=other.headers)
    ).status_code == 404


async def test_erasing_a_client_closes_their_needs(client: httpx.AsyncClient, app: Any) -> None:
    owner = await make_user(app, client, "organisation")
    url = f"/api/v1/organisations/{owner.organisation_id}/clients"
    person = (
        await client.post(
            url,
            headers=owner.headers,
            json={"first_name_or_initials": "J", "languages": ["fa"], "consent": True},
        )
    ).json()
    need = (
        await client.post(f"{url}/{person['id']}/posts", headers=owner.headers, json=post_body())
    ).json()
    assert (await client.delete(f"{url}/{person['id']}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"{url}/{person['id']}", headers=owner.headers)).status_code == 404
    assert (await client.get(f"/api/v1/posts/{need['id']}", headers=owner.headers)).json()[
        "status"
    ] == "closed"
