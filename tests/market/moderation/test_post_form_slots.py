"""Weekly time slots on the post form without JavaScript: rows of day, from and to; a wrong
row is said on that row and everything typed stays; stored slots come back for editing."""

from __future__ import annotations

from typing import Any

import httpx

from market.posts.models import Post
from tests.factories import make_user
from tests.pages import browser, count, csrf, fetch, text_of, translated

FORM = {
    "kind": "need",
    "category": "accompaniment-authorities",
    "title": "Begleitung zum Amt",
    "body": "Termin beim Amt.",
    "languages": ["ar", "de"],
    "mode": "in_person",
    "postcode": "",
    "city": "Leipzig",
    "country": "DE",
    "radius_km": "",
}


async def test_time_slots_are_saved_and_checked(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker")
    async with browser(app, seeker) as c:
        page = await c.get("/posts/new")
        assert 'name="slot_0_day"' in page.text and 'name="slot_2_end"' in page.text
        token = csrf(page.text)
        wrong = {
            **FORM,
            "csrf_token": token,
            "slot_0_day": "0",
            "slot_0_start": "09:30",
            "slot_0_end": "12:00",
            "slot_1_day": "2",
            "slot_1_start": "18:00",
            "slot_1_end": "17:00",
            "slot_2_day": "",
            "slot_2_start": "",
            "slot_2_end": "",
        }
        r = await c.post("/posts/new", data=wrong)
        assert r.status_code == 422
        assert translated("The end time must be after the start time.", "de") in text_of(r.text)
        assert 'value="18:00"' in r.text and 'value="09:30"' in r.text  # kept as typed
        assert await count(app, Post) == 0
        right = wrong | {"slot_1_start": "16:00"}
        r = await c.post("/posts/new", data=right)
        assert r.status_code == 303, text_of(r.text)[:2000]
        post_id = r.headers["location"].split("/posts/")[1].split("?")[0]
        stored = await fetch(app, Post, post_id)
        assert stored.availability == [
            {"weekday": 0, "start": "09:30", "end": "12:00"},
            {"weekday": 2, "start": "16:00", "end": "17:00"},
        ]
        detail = text_of((await c.get(f"/posts/{post_id}")).text)
        assert translated("Wednesday", "de") in detail and "16:00–17:00" in detail
        edit = await c.get(f"/posts/{post_id}/edit")
        assert 'value="16:00"' in edit.text and 'name="slot_4_day"' in edit.text
        # A half-filled row is an error; nothing changes.
        r = await c.post(
            f"/posts/{post_id}/edit",
            data={**right, "csrf_token": csrf(edit.text), "slot_2_day": "4"},
        )
        assert r.status_code == 422
        assert translated("Please choose a day and write both times.", "de") in text_of(r.text)
    assert len((await fetch(app, Post, post_id)).availability) == 2
