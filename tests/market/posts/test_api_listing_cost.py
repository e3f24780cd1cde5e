"""GET /api/v1/posts and /api/v1/me/posts read a page in one statement (market.posts.services
.listing): rows of what the JSON shows, with the languages and the author's shown name in the
same round trip. The objects must stay exactly those a single post's answer gives (to_json on a
Post), for every kind of viewer, post and author."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from starlette.responses import JSONResponse

from market.accounts.models import User
from market.api import cursor_params, ok, paginate, paginate_later
from market.db import make_sessionmaker
from market.posts.models import Post, PostLanguage
from tests.factories import make_user, post_body
from tests.sql import statements


def _reads_posts(sql: str) -> bool:
    return "posts" in sql.lower()


async def _quietest(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> list[str]:
    """The statements that touch posts, of the quietest of a few tries (jobs of a publication
    run beside the request and are counted by the same listener)."""
    tries = []
    for _ in range(5):
        with statements() as seen:
            r = await client.get(path, headers=headers)
        assert r.status_code == 200, (path, r.text)
        tries.append([s for s in seen if _reads_posts(s)])
    return min(tries, key=len)


async def _arrange(app: Any, client: httpx.AsyncClient) -> dict[str, Any]:
    """Posts of every shape a listing shows: languages in an order of their own, a place and
    none, an organisation's, an inactive author's, a pending one, an erased author's."""
    seeker = await make_user(app, client, "seeker")
    gone = await make_user(app, client, "seeker")
    erased = await make_user(app, client, "seeker")
    org = await make_user(app, client, "organisation")
    volunteer = await make_user(app, client, "volunteer")  # not approved: offers wait
    bodies = [
        (seeker, post_body(languages=["fr", "ar", "de-AT"])),
        (seeker, post_body(mode="remote", location=None, title="Online Deutsch üben")),
        (gone, post_body(title="Hilfe beim Umzug")),
        (erased, post_body(title="Begleitung zur Ärztin")),
        (org, post_body(organisation_id=org.organisation_id, seats=3)),
        (volunteer, post_body(kind="offer", category="housing", radius_km=7.5)),
    ]
    for author, body in bodies:
        r = await client.post("/api/v1/posts", headers=author.headers, json=body)
        assert r.status_code == 201, r.text
    async with make_sessionmaker(app.state.engine, app.state.settings)() as s, s.begin():
        await s.execute(update(User).where(User.id == gone.id).values(is_active=False))
        # As market.accounts.erasure leaves an account: no name, inactive.
        await s.execute(
            update(User).where(User.id == erased.id).values(is_active=False, display_name="")
        )
    return {"seeker": seeker, "org": org, "volunteer": volunteer}


async def _walk(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> list[Any]:
    """Every item of a listing, two to a page, following next_cursor."""
    items: list[Any] = []
    cursor = None
    while True:
        url = f"{path}?limit=2" + (f"&cursor={cursor}" if cursor else "")
        r = await client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        items.extend(r.json()["items"])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


async def test_listed_posts_are_the_single_post_answers(
    app: Any, client: httpx.AsyncClient
) -> None:
    people = await _arrange(app, client)
    coordinator = await make_user(app, client, "coordinator")
    viewers = {
        "anonymous": {},
        "author": people["seeker"].headers,
        "coordinator": coordinator.headers,
    }
    for who, headers in viewers.items():
        listed = await _walk(client, "/api/v1/posts", headers)
        assert len(listed) == 5, who  # the volunteer's offer waits for review
        for item in listed:
            single = await client.get(f"/api/v1/posts/{item['id']}", headers=headers)
            # The same keys in the same order with the same values: the same bytes.
            assert list(item.items()) == list(single.json().items()), who
    for author in ("seeker", "org", "volunteer"):
        headers = people[author].headers
        mine = await _walk(client, "/api/v1/me/posts", headers)
        assert mine, author
        for item in mine:
            single = await client.get(f"/api/v1/posts/{item['id']}", headers=headers)
            assert list(item.items()) == list(single.json().items()), author

    anonymous = await _walk(client, "/api/v1/posts", {})
    assert [p["languages"] for p in anonymous if p["author"]["id"] == people["seeker"].id] == [
        ["ar", "de"],
        ["fr", "ar", "de-AT"],
    ]
    # Inactive and erased authors show no name; the others theirs.
    names = sorted(str(p["author"]["display_name"]) for p in anonymous)
    assert names.count("None") == 2 and len(set(names)) == 3


async def test_a_post_without_languages_lists_an_empty_list(
    app: Any, client: httpx.AsyncClient
) -> None:
    seeker = await make_user(app, client, "seeker")
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    post_id = r.json()["id"]
    # Not possible through the API (languages are required); rows written otherwise may lack them.
    async with make_sessionmaker(app.state.engine, app.state.settings)() as s, s.begin():
        await s.execute(PostLanguage.__table__.delete().where(PostLanguage.post_id == post_id))
    (item,) = (await client.get("/api/v1/posts")).json()["items"]
    assert item["languages"] == []
    assert item == (await client.get(f"/api/v1/posts/{post_id}")).json()


@pytest.mark.parametrize("path", ["/api/v1/posts", "/api/v1/posts?kind=need&language=ar"])
async def test_a_page_of_posts_is_one_statement(
    app: Any, client: httpx.AsyncClient, path: str
) -> None:
    await _arrange(app, client)
    sql = await _quietest(client, path, {})
    assert len(sql) == 1, sql
    assert "post_languages" in sql[0] and "users" in sql[0]


async def test_my_posts_are_one_statement(app: Any, client: httpx.AsyncClient) -> None:
    people = await _arrange(app, client)
    sql = await _quietest(client, "/api/v1/me/posts", people["seeker"].headers)
    assert len(sql) == 1, sql


async def test_a_search_built_once_still_answers_afresh(
    app: Any, client: httpx.AsyncClient
) -> None:
    """The listing's select is kept per set of filters and limit (posts.api._search_listing,
    _first_page); the rows are read on each request."""
    seeker = await make_user(app, client, "seeker")
    first = (await client.get("/api/v1/posts?kind=need&limit=1")).json()
    assert first == {"items": [], "next_cursor": None}
    ids = []
    for title in ("Erster Termin", "Zweiter Termin"):
        r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body(title=title))
        ids.append(r.json()["id"])
    again = (await client.get("/api/v1/posts?kind=need&limit=1")).json()
    assert [p["id"] for p in again["items"]] == [ids[1]] and again["next_cursor"]
    rest = await client.get(f"/api/v1/posts?kind=need&limit=1&cursor={again['next_cursor']}")
    assert [p["id"] for p in rest.json()["items"]] == [ids[0]]
    both = (await client.get("/api/v1/posts?kind=need&limit=2")).json()
    assert [p["id"] for p in both["items"]] == ids[::-1] and both["next_cursor"] is None
    assert (await client.get("/api/v1/posts?kind=offer&limit=1")).json()["items"] == []


def test_ok_encodes_as_starlette_does() -> None:
    """market.api.ok encodes with one encoder made once; the bytes are JSONResponse's."""
    answer = {
        "items": [
            {
                "title": "Begleitung zur Ärztin – مرافقة",
                "lat": 1e-05,
                "lon": 13.404954,
                "radius_km": 7.5,
                "seats": None,
                "approximate": True,
                "languages": ["ar", "de-AT"],
                "text": 'quote " backslash \\ newline \n tab \t \u2028 nul-free',
            }
        ],
        "next_cursor": None,
    }
    assert ok(answer).body == JSONResponse(answer).body
    assert ok(answer, 201).status_code == 201
    assert ok(answer).headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        ok({"lat": float("nan")})


@pytest.mark.parametrize("ascending", [False, True])
def test_a_later_page_is_paginate_with_the_cursor_bound_at_execution(ascending: bool) -> None:
    """market.api.paginate_later + cursor_params: the SQL and values of paginate's."""
    at, ident = datetime(2026, 12, 5, 12, 0, tzinfo=UTC), "abc123"
    given = paginate(select(Post), Post.created_at, Post.id, 20, (at, ident), ascending=ascending)
    later = paginate_later(select(Post), Post.created_at, Post.id, 20, ascending=ascending)
    given_sql, later_sql = (
        given.compile(),
        later.compile(compile_kwargs={"render_postcompile": True}),
    )
    # created_at_1 and created_at_2 (both `at`) there, cursor_at twice here.
    names = {"created_at_1": "cursor_at", "created_at_2": "cursor_at", "id_1": "cursor_id"}
    renamed = str(given_sql)
    for old, new in names.items():
        renamed = renamed.replace(f":{old}", f":{new}")
    assert renamed == str(later_sql)
    values = {names.get(k, k): v for k, v in given_sql.params.items()}
    assert values == {**later_sql.params, **cursor_params((at, ident))}
