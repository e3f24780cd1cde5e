"""The organisations' guardian: its readings of regions, and what colleagues are shown.

The full table of routes and callers is tests/market/test_access_matrix_orgs.py; here are the
cases that need their own arrangement.
"""

from __future__ import annotations

from typing import Any

import httpx

from market.accounts.models import CoordinatorRegion
from market.db import make_sessionmaker
from market.posts.models import Region
from tests.factories import Actor, make_user, post_body
from tests.market.organisations.helpers import add_member, apply, posting, volunteer
from tests.pages import browser, submit, translated

LEIPZIG = {"lat": 51.3397, "lon": 12.3731}
HALLE = {"lat": 51.4825, "lon": 11.9697}


async def _regions(app: Any) -> dict[str, str]:
    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        leipzig = Region(slug="leipzig", name="Leipzig", radius_km=20, **LEIPZIG)
        halle = Region(slug="halle", name="Halle", radius_km=10, **HALLE)
        session.add_all([leipzig, halle])
        await session.flush()
        return {"leipzig": leipzig.id, "halle": halle.id}


async def _coordinator(app: Any, client: httpx.AsyncClient, *region_ids: str) -> Actor:
    actor = await make_user(app, client, "coordinator")
    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        for region_id in region_ids:
            session.add(CoordinatorRegion(user_id=actor.id, region_id=region_id))
    return actor


async def test_a_new_organisation_without_posts_is_every_coordinators(
    client: httpx.AsyncClient, app: Any
) -> None:
    """No posts yet: no region to go by, so every coordinator may look at it (someone must be
    able to review it). Its first post puts it into that post's region."""
    regions = await _regions(app)
    halle = await _coordinator(app, client, regions["halle"])
    leipzig = await _coordinator(app, client, regions["leipzig"])
    owner = await make_user(app, client, "organisation", org_status="pending")
    url = f"/api/v1/organisations/{owner.organisation_id}"
    for who in (halle, leipzig):
        assert (await client.get(url, headers=who.headers)).status_code == 200
    assert (await client.get(url)).status_code == 404
    r = await client.post("/api/v1/posts", headers=owner.headers, json=post_body(location=LEIPZIG))
    assert r.status_code == 201, r.text
    assert (await client.get(url, headers=leipzig.headers)).status_code == 200
    assert (await client.get(url, headers=halle.headers)).status_code == 404
    # A post in Halle as well: now it is in both regions.
    r = await client.post("/api/v1/posts", headers=owner.headers, json=post_body(location=HALLE))
    assert r.status_code == 201, r.text
    assert (await client.get(url, headers=halle.headers)).status_code == 200


async def test_a_regional_coordinator_sees_only_their_regions_postings_on_the_overview(
    client: httpx.AsyncClient, app: Any
) -> None:
    regions = await _regions(app)
    owner = await make_user(app, client, "organisation")
    in_leipzig = await posting(client, owner, location=LEIPZIG, title="Lotsen in Leipzig")
    in_halle = await posting(client, owner, location=HALLE, title="Lotsen in Halle")
    halle = await _coordinator(app, client, regions["halle"])
    everywhere = await _coordinator(app, client)
    async with browser(app, halle) as web:
        page = await web.get(f"/organisations/{owner.organisation_id}/dashboard")
        assert page.status_code == 200
        assert in_halle["id"] in page.text and in_leipzig["id"] not in page.text
        table = await web.get(f"/organisations/{owner.organisation_id}/postings.csv")
        assert in_halle["id"] in table.text and in_leipzig["id"] not in table.text
        # The Leipzig posting's applicants are not theirs to look at, on the page and the API.
        assert (await web.get(f"/posts/{in_leipzig['id']}/applications")).status_code == 404
    r = await client.get(f"/api/v1/posts/{in_leipzig['id']}/applications", headers=halle.headers)
    assert r.status_code == 404
    async with browser(app, everywhere) as web:
        page = await web.get(f"/organisations/{owner.organisation_id}/dashboard")
        assert in_halle["id"] in page.text and in_leipzig["id"] in page.text


async def test_a_colleague_is_not_offered_a_conversation_they_are_not_in(
    client: httpx.AsyncClient, app: Any
) -> None:
    """Accepting opens a conversation between the volunteer, the posting's author and whoever
    accepted. It stays theirs (conversations are private to their participants); a colleague
    sees that one exists, without a link that would answer 404."""
    owner = await make_user(app, client, "organisation")
    org_id = owner.organisation_id or ""
    decider = await add_member(app, client, org_id)
    colleague = await add_member(app, client, org_id)
    programme = await posting(client, owner)
    helper = await volunteer(app, client)
    application = (await apply(client, helper, programme["id"])).json()
    async with browser(app, decider) as web:
        r = await submit(
            web,
            f"/posts/{programme['id']}/applications",
            {"decision": "accept"},
            action=f"/applications/{application['id']}/decide",
        )
        assert r.status_code == 303, r.text
        page = await web.get(f"/posts/{programme['id']}/applications")
        r = await client.get(f"/api/v1/applications/{application['id']}", headers=decider.headers)
        conversation_id = r.json()["conversation_id"]
        assert conversation_id
        assert f'href="/conversations/{conversation_id}"' in page.text
        assert (await web.get(f"/conversations/{conversation_id}")).status_code == 200
    async with browser(app, colleague) as web:
        page = await web.get(f"/posts/{programme['id']}/applications")
        assert page.status_code == 200
        assert f'href="/conversations/{conversation_id}"' not in page.text
        assert translated("A colleague holds this conversation.", "de") in page.text
