"""Public listings at scale: keyset pages, hostile cursors, and reads that never commit."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from market import web
from tests.factories import make_user, post_body


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


HOSTILE_CURSORS = [
    "!!!",
    "a",
    _cursor(["2026-01-01T00:00:00+00:00"]),
    _cursor(["2026-01-01T00:00:00+00:00", "a", "b"]),
    _cursor({"a": 1, "b": 2}),
    _cursor([1, 2]),
    _cursor(None),
    _cursor(["not a date", "abc"]),
    _cursor(["0001-01-01T00:00:00+14:00", "abc"]),
    _cursor(["9999-12-31T23:59:59-14:00", "abc"]),
    _cursor(["2026-01-01T00:00:00+00:00", "a\u0000b"]),
    _cursor(["2026-01-01T00:00:00+00:00", "\ud800"]),
    _cursor(["2026-01-01T00:00:00+00:00", "x" * 10_000]),
    _cursor(["2026-01-01T00:00:00", "abc"]),
    base64.urlsafe_b64encode(b"\xff\xfe[").decode(),
]


@pytest.mark.parametrize("cursor", HOSTILE_CURSORS)
async def test_hostile_cursor_is_refused_not_a_500(client: httpx.AsyncClient, cursor: str) -> None:
    r = await client.get("/api/v1/posts", params={"cursor": cursor, "limit": "5"})
    assert r.status_code in (200, 400, 422), (r.status_code, r.text[:300])
    if r.status_code != 200:
        assert "cursor" in r.text


async def _publish(client: httpx.AsyncClient, headers: dict[str, str], title: str) -> str:
    r = await client.post("/api/v1/posts", headers=headers, json=post_body(title=title))
    assert r.status_code == 201, r.text
    post_id: str = r.json()["id"]
    return post_id


async def test_keyset_pages_miss_nothing_and_repeat_nothing_while_posts_arrive(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    before = [await _publish(client, seeker.headers, f"Hilfe Nummer {i}") for i in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    arrived: list[str] = []
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        r = await client.get("/api/v1/posts", params=params)
        assert r.status_code == 200, r.text
        seen += [item["id"] for item in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
        # Newer posts arrive between pages: they belong before the first page, so the pages
        # already begun go on exactly where they stopped.
        arrived.append(await _publish(client, seeker.headers, f"Neu {len(arrived)}"))
    assert seen == list(reversed(before))
    assert len(set(seen)) == len(seen)
    first = (await client.get("/api/v1/posts", params={"limit": "100"})).json()["items"]
    assert [item["id"] for item in first] == list(reversed(before + arrived))


async def test_posts_with_the_same_instant_are_paged_by_id(
    client: httpx.AsyncClient, app: Any
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import update

    from market.db import make_sessionmaker
    from market.posts.models import Post

    seeker = await make_user(app, client, "seeker")
    ids = [await _publish(client, seeker.headers, f"Gleichzeitig {i}") for i in range(5)]
    async with make_sessionmaker(app.state.engine)() as session, session.begin():
        await session.execute(
            update(Post).values(created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
        )
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        body = (await client.get("/api/v1/posts", params=params)).json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)
    # The search page pages the same way.
    page = await client.get("/posts", params={"limit": "2"})
    assert page.status_code == 200
    assert "cursor=" in page.text


class Commits:
    """Counts the transactions of request sessions that end in a COMMIT. Only the requests'
    own sessions: the app's background tasks (outbox relay, maintenance) share the engine and
    commit whenever they run."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = web.request_session

        def tagged(maker: Any, method: str, **options: Any) -> Any:
            session = original(maker, method, **options)
            session.info["counted"] = True
            return session

        monkeypatch.setattr(web, "request_session", tagged)
        event.listen(Session, "after_commit", self._commit)

    def _commit(self, session: Session) -> None:
        if session.info.get("counted"):
            self.count += 1

    def close(self) -> None:
        event.remove(Session, "after_commit", self._commit)


async def test_reads_never_commit_and_writes_still_do(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeker = await make_user(app, client, "seeker")
    post_id = await _publish(client, seeker.headers, "Lesen ohne Commit")
    commits = Commits(monkeypatch)
    try:
        for path in (
            "/",
            "/posts",
            f"/posts/{post_id}",
            "/api/v1/posts",
            f"/api/v1/posts/{post_id}",
        ):
            r = await client.get(path)
            assert r.status_code == 200, (path, r.status_code)
        r = await client.get("/api/v1/me/posts", headers=seeker.headers)
        assert r.status_code == 200
        r = await client.get("/api/v1/posts", params={"cursor": "!!!"})
        assert r.status_code in (400, 422)
        assert commits.count == 0
        r = await client.post(f"/api/v1/posts/{post_id}/close", headers=seeker.headers, json={})
        assert r.status_code == 200, r.text
        assert commits.count == 1
        # ...and what it wrote is stored: a fresh read sees the post closed.
        r = await client.get(f"/api/v1/posts/{post_id}", headers=seeker.headers)
        assert r.json()["status"] == "closed"
    finally:
        commits.close()


async def test_post_cards_are_drawn_once_and_never_stale(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    post_id = await _publish(client, seeker.headers, "Karte vorher")
    web._cards.clear()
    first = await client.get("/posts?lang=de")
    assert "Karte vorher" in first.text
    drawn = len(web._cards)
    assert drawn >= 1
    again = await client.get("/posts?lang=de")
    assert len(web._cards) == drawn  # the same cards, from memory
    assert again.text.count('class="post"') == first.text.count('class="post"')
    # Another page language is another card.
    english = await client.get("/posts?lang=en")
    assert len(web._cards) > drawn
    assert "Looks for help" in english.text
    assert "Looks for help" not in again.text
    # A changed post shows its change at once: the title, then its languages alone.
    url = f"/api/v1/posts/{post_id}"
    r = await client.patch(url, headers=seeker.headers, json={"title": "Karte nachher"})
    assert r.status_code == 200, r.text
    after = await client.get("/posts?lang=de")
    assert "Karte nachher" in after.text
    assert "Karte vorher" not in after.text
    assert "<bdi>Ukrainisch</bdi>" not in after.text
    r = await client.patch(url, headers=seeker.headers, json={"languages": ["uk"]})
    assert r.status_code == 200, r.text
    assert "<bdi>Ukrainisch</bdi>" in (await client.get("/posts?lang=de")).text
