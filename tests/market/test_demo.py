"""The demo loader: a believable marketplace in an empty database, nothing in a used one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import CoordinatorRegion, User, UserLanguage
from market.db import utcnow
from market.demo import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    ORGANISATION_EMAIL,
    VOLUNTEER_EMAIL,
    build_plan,
    load_demo,
)
from market.organisations.models import Organisation, OrganisationMember
from market.posts import taxonomy
from market.posts.models import Post, PostLanguage, Region
from market.settings import Settings
from market.vetting.models import VettingDecision


async def _scalar(session: AsyncSession, stmt: Any) -> Any:
    return (await session.execute(stmt)).scalar_one()


async def _totals(session: AsyncSession) -> dict[str, int]:
    models = (
        User,
        UserLanguage,
        Organisation,
        OrganisationMember,
        Region,
        Post,
        PostLanguage,
        VettingDecision,
    )
    return {m.__name__: await _scalar(session, select(func.count()).select_from(m)) for m in models}


async def _load(session: AsyncSession, settings: Settings) -> None:
    assert await load_demo(session, settings) is True
    await session.commit()


async def test_demo_fills_an_empty_database_once(
    app: Any, session: AsyncSession, settings: Settings
) -> None:
    # How long loading takes is not asserted here (a wall-clock limit in a test fails on a busy
    # machine, not on a slow change).
    await _load(session, settings)

    roles = dict((await session.execute(select(User.role, func.count()).group_by(User.role))).all())
    assert roles["volunteer"] >= 30
    assert roles["seeker"] >= 25
    assert roles["coordinator"] >= 1 and roles["admin"] >= 1
    orgs = dict((await session.execute(select(Organisation.name, Organisation.status))).all())
    assert len(orgs) >= 4
    assert sorted(set(orgs.values())) == ["approved", "pending"]

    published = list(
        (await session.execute(select(Post).where(Post.status == "published"))).scalars()
    )
    assert len(published) >= 60
    assert {p.kind for p in published} == {"offer", "need"}
    assert {p.category for p in published} == set(taxonomy.BY_SLUG), "every category is used"
    written_in = {p.languages[0].code for p in published}
    assert len(written_in) >= 5, written_in
    assert {"de", "ar", "uk"} <= written_in
    assert {p.mode for p in published} == {"in_person", "remote", "either"}
    assert sum(1 for p in published if p.seats) >= 3, "mentor programmes with seats"
    assert all(p.organisation_id for p in published if p.seats)

    # Places: both regions, district-level spread rather than one pin on the city centre.
    regions = dict((await session.execute(select(Region.id, Region.slug))).all())
    assert sorted(regions.values()) == ["halle-saale", "leipzig"]
    assert {regions[p.region_id] for p in published if p.region_id} == set(regions.values())
    spots = {(round(p.lat, 3), round(p.lon, 3)) for p in published if p.lat and p.lon}
    assert len(spots) >= 40

    # Waiting times differ: posts spread over the last weeks, none in the future.
    now = utcnow()
    created = [p.created_at for p in published]
    assert max(created) <= now and now - min(created) >= timedelta(days=30)
    assert all(p.published_at and p.expires_at and p.expires_at > now for p in published)

    # Vetting: most volunteers approved; the still pending ones' offers wait for review.
    volunteers = list(
        (await session.execute(select(User).where(User.role == "volunteer"))).scalars()
    )
    status = {u.id: u.vetting_status for u in volunteers}
    assert sum(1 for s in status.values() if s == "approved") >= 25
    assert "pending" in status.values()
    assert all(status[p.author_id] == "approved" for p in published if p.kind == "offer")
    waiting = list(
        (
            await session.execute(
                select(Post).where(Post.status == "pending_review", Post.kind == "offer")
            )
        ).scalars()
    )
    assert waiting and all(status[p.author_id] == "pending" for p in waiting)
    today = now.date()
    until = [u.police_certificate_until for u in volunteers if u.police_certificate_until]
    assert len([d for d in until if d > today]) >= 5
    assert len([d for d in until if d < today]) == 1, "one certificate has run out"
    for post in published:
        if post.kind == "offer" and taxonomy.requires_police_certificate(post.category):
            author = next(u for u in volunteers if u.id == post.author_id)
            assert author.police_certificate_until is not None
    decisions = await _scalar(session, select(func.count()).select_from(VettingDecision))
    assert decisions >= 25

    # The coordinator works every region; the organisation account's organisation is approved.
    coordinator = await _scalar(session, select(User).where(User.role == "coordinator"))
    assert (
        await _scalar(
            session,
            select(func.count())
            .select_from(CoordinatorRegion)
            .where(CoordinatorRegion.user_id == coordinator.id),
        )
        == 0
    )
    org_status = await _scalar(
        session,
        select(Organisation.status)
        .join(OrganisationMember, OrganisationMember.organisation_id == Organisation.id)
        .join(User, User.id == OrganisationMember.user_id)
        .where(User.email == ORGANISATION_EMAIL),
    )
    assert org_status == "approved"

    # A second run finds users and changes nothing.
    before = await _totals(session)
    assert await load_demo(session, settings) is False
    await session.commit()
    assert await _totals(session) == before


async def test_demo_accounts_log_in(
    app: Any, session: AsyncSession, settings: Settings, client: httpx.AsyncClient
) -> None:
    await _load(session, settings)
    for email, role in DEMO_ACCOUNTS.items():
        response = await client.post(
            "/api/v1/auth/token", json={"email": email, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, (email, response.text)
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        me = (await client.get("/api/v1/me", headers=headers)).json()
        assert me["role"] == role
        assert me["email_verified"] is True
        if email == VOLUNTEER_EMAIL:
            assert me["vetting"]["status"] == "approved"
        if email == ORGANISATION_EMAIL:
            assert me["organisation"]["status"] == "approved"
    wrong = await client.post(
        "/api/v1/auth/token", json={"email": VOLUNTEER_EMAIL, "password": "not-the-password"}
    )
    assert wrong.status_code == 401

    # Anyone browsing sees the marketplace, in several languages.
    for language in ("de", "ar", "uk", "fa"):
        listing = await client.get("/api/v1/posts", params={"language": language})
        assert listing.status_code == 200
        assert listing.json()["items"], language


def test_plan_is_reproducible() -> None:
    first, second = build_plan(), build_plan()
    assert first == second
    emails = [p.email for p in first]
    assert len(emails) == len(set(emails))
    assert set(DEMO_ACCOUNTS) - {p.email for p in first} == {
        "koordination@demo.anlauf.local",
        "admin@demo.anlauf.local",
    }
    assert 75 <= sum(len(p.posts) for p in first) <= 100
