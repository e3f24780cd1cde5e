"""The pages the audits of issue 14 look at (the Nu HTML Checker, axe-core), with what they show.

One small world: a volunteer and a seeker matched and both said yes, a message between them (so
the seeker has a conversation and a notification), a few more published posts to search. Each
page is named by its path; `SIGNED_IN` ones are read as the seeker.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.factories import Actor, post_body
from tests.market.conversations.helpers import connected_match, write

# The page audits (vnu, axe on every audited page, Lighthouse) judge the HTML and what the browser
# draws, which do not depend on the database: they run once, in the SQLite run of the suite, so
# that the two side-by-side runs stay under CI's 20 minutes (they take about 3 minutes each).
ONCE_PER_SUITE = pytest.mark.skipif(
    os.environ.get("ANLAUF_TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="page audits run once, in the SQLite run (the HTML does not depend on the database)",
)

LOCALES = ("de", "ar")


@dataclass(frozen=True)
class World:
    seeker: Actor
    volunteer: Actor
    pages: dict[str, str]  # name -> path, anonymous
    signed_in: dict[str, str]  # name -> path, as the seeker


async def arrange(client: httpx.AsyncClient, app: Any) -> World:
    volunteer, seeker, match_id, conversation_id = await connected_match(client, app)
    r = await write(client, volunteer, conversation_id, "Hallo! Passt Dienstag um 10 Uhr?")
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/posts",
        headers=seeker.headers,
        json=post_body(category="health", title="Begleitung zum Arzt gesucht"),
    )
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]
    await app.state.relay.drain()
    pages = {
        "home": "/",
        "search": "/posts?q=Arzt",
        "post": f"/posts/{post_id}",
        "register": "/register",
        "login": "/login",
        "directory": "/services",
        "language": "/language",
        "offline": "/offline",
    }
    signed_in = {
        "new-post": "/posts/new",
        "dashboard": "/my/matches",
        "match": f"/matches/{match_id}",
        "conversations": "/conversations",
        "conversation": f"/conversations/{conversation_id}",
        "notifications": "/notifications",
    }
    return World(seeker, volunteer, pages, signed_in)


def with_lang(path: str, locale: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={locale}"
