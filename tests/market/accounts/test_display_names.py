"""Display names lose bidi overrides and isolates, zero-width and other invisible or control
characters on the way in (API and pages), so nobody can pose as "Anna" with a name that only
looks like it, or turn the text around it backwards."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from market.accounts.models import User
from market.text import clean_name
from tests.factories import make_user
from tests.pages import browser, error_of, fetch, submit

# U+202E turns the rest around ("Anna" + RLO + "gpj.exe" shows as "Annaexe.jpg").
HOSTILE = "\u202eAn\u200bna\u200d \u2066Ko\u2069\ufeffch\u2060\u202a\u202b\u202c\u202d\u2067\u2068\x07\x1b"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (HOSTILE, "Anna Koch"),
        ("Anna\tKoch\nSchmidt", "Anna Koch Schmidt"),
        ("  Anna \u00ad Koch ", "Anna Koch"),  # a soft hyphen is a format character too
        ("Олена Коваленко", "Олена Коваленко"),
        ("سمیرا احمدی", "سمیرا احمدی"),  # right-to-left script itself is kept
        ("Zoë", "Zoë"),
        ("Zoe\u0308", "Zoë"),  # one form (NFC) for the same letters
    ],
)
def test_clean_name(raw: str, clean: str) -> None:
    assert clean_name(raw) == clean


async def test_register_and_profile_store_the_clean_name(
    client: httpx.AsyncClient, app: Any
) -> None:
    r = await client.post(
        "/api/v1/auth/register",
        json={
            "email": "anna.koch@example.org",
            "password": "a long enough password",
            "display_name": HOSTILE,
            "role": "seeker",
        },
    )
    assert r.status_code == 202, r.text
    async with app.state.sessionmaker() as s:
        name = (
            await s.execute(select(User.display_name).where(User.email == "anna.koch@example.org"))
        ).scalar_one()
    assert name == "Anna Koch"

    user = await make_user(app, client, "volunteer")
    r = await client.patch("/api/v1/me", headers=user.headers, json={"display_name": HOSTILE})
    assert r.status_code == 200 and r.json()["display_name"] == "Anna Koch"
    # Nothing left but invisible characters: as if the name were blank.
    r = await client.patch(
        "/api/v1/me", headers=user.headers, json={"display_name": "\u200b\u202e\u2066"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "display_name"


async def test_the_account_page_stores_the_clean_name(client: httpx.AsyncClient, app: Any) -> None:
    user = await make_user(app, client, "seeker", locale="en")
    async with browser(app, user) as c:
        r = await submit(c, "/account", {"display_name": "Sa\u200bmir\u202e", "locale": "en"})
        assert r.status_code == 303, r.text
        r = await submit(c, "/account", {"display_name": "\u2060\ufeff", "locale": "en"})
        assert r.status_code == 422
        assert error_of(r.text, "display_name")
    stored = await fetch(app, User, user.id)
    assert stored.display_name == "Samir"
