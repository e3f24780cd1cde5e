"""Arrange data quickly: users straight into the database, then real API tokens."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from market.accounts.models import User, UserLanguage
from market.db import make_sessionmaker, utcnow
from market.organisations.models import Organisation, OrganisationMember
from market.security import hash_password

PASSWORD = "correct horse battery"
_counter = itertools.count(1)
_hash_cache: dict[str, str] = {}


@dataclass
class Actor:
    id: str
    email: str
    token: str
    role: str
    organisation_id: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def _password_hash(app: Any) -> str:
    s = app.state.settings
    key = f"{s.argon2_memory_kib}:{s.argon2_time_cost}"
    if key not in _hash_cache:
        _hash_cache[key] = await hash_password(PASSWORD, s.argon2_memory_kib, s.argon2_time_cost)
    return _hash_cache[key]


async def make_user(
    app: Any,
    client: httpx.AsyncClient,
    role: str = "seeker",
    *,
    approved: bool = False,
    certificate_until: date | None = None,
    languages: tuple[tuple[str, str], ...] = (("de", "fluent"), ("ar", "native")),
    verified: bool = True,
    locale: str = "de",
    org_status: str = "approved",
    name: str | None = None,
) -> Actor:
    n = next(_counter)
    email = f"{role}{n}@example.org"
    async with (
        make_sessionmaker(app.state.engine, app.state.settings)() as session,
        session.begin(),
    ):
        user = User(
            email=email,
            display_name=name or f"{role.title()} {n}",
            role=role,
            locale=locale,
            password_hash=await _password_hash(app),
            email_verified_at=utcnow() if verified else None,
            vetting_status=("approved" if approved else "pending") if role == "volunteer" else None,
            police_certificate_until=certificate_until,
        )
        user.languages = [
            UserLanguage(code=c, level=lvl, position=i) for i, (c, lvl) in enumerate(languages)
        ]
        session.add(user)
        await session.flush()
        org_id = None
        if role == "organisation":
            org = Organisation(name=f"Verein {n}", website="https://example.org", status=org_status)
            session.add(org)
            await session.flush()
            session.add(OrganisationMember(organisation_id=org.id, user_id=user.id, role="owner"))
            org_id = org.id
        user_id = user.id
    token = await login(client, email)
    return Actor(user_id, email, token, role, org_id)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    r = await client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token


def post_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "need",
        "category": "accompaniment-authorities",
        "title": "Begleitung zum Jobcenter",
        "body": "Ich brauche Hilfe beim Termin im Jobcenter.",
        "languages": ["ar", "de"],
        "mode": "in_person",
        "location": {"lat": 51.3397, "lon": 12.3731},
    }
    body.update(overrides)
    return body
