"""A free-text search is cheap per request (issue 11) and its answers are those of the search
that did every step each time (market.posts.search): the query is read once, its conditions and
statements are built once, the window's start and the word estimates are reused, and none of it
changes an item, an order, a cursor or a count."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import visitors

from market.demo import load_demo
from market.posts import queries, search, taxonomy
from market.posts.models import Post
from market.settings import Settings
from tests.sql import statements as _statements

QUERIES = ["Arzt", "طبيب", "лікар", "Deutsch", "hilfe", "Begleitung Termin", "xylophon", "wohn"]


def _read_term_by_term(q: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """understand as first written: every vocabulary term tested at every place of the query."""
    found = tuple(w[: search.MAX_WORD_LENGTH] for w in search.words(q)[: search.MAX_WORDS])

    def names(word: str, term: str) -> bool:
        forms = (word, word[2:]) if word.startswith("ال") and len(word) > 4 else (word,)
        return any(w == term or (len(term) >= 4 and w.startswith(term)) for w in forms)

    categories: set[str] = set()
    explained: set[int] = set()
    for term, slugs in search.vocabulary().items():
        n = len(term)
        for start in range(len(found) - n + 1):
            window = found[start : start + n]
            if window[:-1] == term[:-1] and names(window[-1], term[-1]):
                categories |= slugs
                explained.update(range(start, start + n))
    expanded = sorted({s for slug in categories for s in taxonomy.subtree(slug)})
    rest = tuple(w for i, w in enumerate(found) if i not in explained)
    return found, tuple(expanded), rest


def _as_tuple(understood: search.Understood) -> tuple[tuple[str, ...], ...]:
    return understood.words, understood.categories, understood.rest


def test_the_indexed_reading_is_the_term_by_term_reading() -> None:
    terms = list(search.vocabulary())
    words = sorted({w for term in terms for w in term})
    # Inflections, compounds, the Arabic article, short and cut words, words of no term.
    pool = [*words, *(w + "en" for w in words), *("ال" + w for w in words)]
    pool += [w[:k] for w in words for k in (3, 4, 5)] + ["xylophon", "leipzig", "amt", "job"]
    queries_ = [" ".join(term) for term in terms]
    rng = random.Random(11)
    queries_ += [" ".join(rng.choice(pool) for _ in range(rng.randint(0, 10))) for _ in range(1000)]
    for q in queries_:
        assert _as_tuple(search.understand(q)) == _read_term_by_term(q), q


def test_a_query_is_read_once_per_folded_words() -> None:
    assert search.understand("Deutsch") is search.understand("deutsch")
    assert search.understand("Arzt  Termin!") is search.understand("arzt termin")
    assert search.understand("Arzt") is not search.understand("Arzt Termin")


def _sql(stmt: Any, dialect: Any) -> str:
    return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def test_a_search_statement_is_built_once_with_its_row_by_row_twin() -> None:
    place = (51.34, 12.37, 25.0)
    for q in QUERIES:
        stmt = queries.search(place=place, q=q)
        assert queries.search(place=place, q=q) is stmt
        # The same statement built anew is rewritten by scanning: the twin is the same SQL.
        fresh = queries.matching_text(queries.search(place=place), q)
        assert fresh is not stmt
        for dialect in (postgresql.dialect(), sqlite.dialect()):
            assert _sql(fresh, dialect) == _sql(stmt, dialect)
            assert _sql(search.scanning(fresh), dialect) == _sql(search.scanning(stmt), dialect)
    # Keyed by the words as read, not as typed.
    assert queries.search(q="Deutsch") is queries.search(q="  deutsch!")
    # A statement derived from a remembered one is not mistaken for it.
    stmt = queries.search(q="Arzt")
    derived = stmt.where(Post.kind == "need")
    assert "posts.kind = " in _sql(search.scanning(derived), sqlite.dialect())
    assert "posts.kind = " not in _sql(search.scanning(stmt), sqlite.dialect())


def _helpers(seen: list[str]) -> list[str]:
    """Statements that are neither a page nor the count: estimates and the window's start."""
    return [s for s in seen if "EXPLAIN" in s or "pg_class" in s or _is_window_start(s)]


def _is_window_start(statement: str) -> bool:
    return " ".join(statement.split()).startswith("SELECT posts.created_at FROM posts")


async def test_a_repeated_search_asks_only_its_pages_and_its_count(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    is_postgres: bool,
) -> None:
    assert await load_demo(session, settings) is True
    await session.commit()
    window = search.WINDOW
    monkeypatch.setattr(search, "WINDOW", 5)  # the demo's posts are more: a window to look at
    monkeypatch.setattr(search, "_window_starts", {})
    monkeypatch.setattr(search, "_estimates", {})
    rewritten: list[Any] = []
    rewrite = visitors.replacement_traverse

    def counted(*args: Any, **kwargs: Any) -> Any:
        rewritten.append(args[0])
        return rewrite(*args, **kwargs)

    for path in ("/posts?q=Deutsch", "/api/v1/posts?q=hilfe", "/posts?q=hilfe&place=Leipzig"):
        r = await client.get(path)
        assert r.status_code == 200, r.text
        monkeypatch.setattr(visitors, "replacement_traverse", counted)
        with _statements() as again:
            assert (await client.get(path)).text == r.text
        monkeypatch.setattr(visitors, "replacement_traverse", rewrite)
        assert not _helpers(again), again
        assert not rewritten  # no statement is rewritten per request (search.scanning)
    # A later page (its window starts after the cursor, asked each time) rewrites nothing either.
    cursor = (await client.get("/api/v1/posts", params={"q": "hilfe", "limit": "2"})).json()
    monkeypatch.setattr(visitors, "replacement_traverse", counted)
    r = await client.get(
        "/api/v1/posts", params={"q": "hilfe", "limit": "2", "cursor": cursor["next_cursor"]}
    )
    monkeypatch.setattr(visitors, "replacement_traverse", rewrite)
    assert r.status_code == 200 and r.json()["items"], r.text
    assert not rewritten
    # The first search of all did ask them: the window's start (and on PostgreSQL the estimate,
    # which finds no word rare against the whole window).
    monkeypatch.setattr(search, "WINDOW", window)
    monkeypatch.setattr(search, "_window_starts", {})
    monkeypatch.setattr(search, "_estimates", {})
    with _statements() as first:
        await client.get("/posts?q=Deutsch")
    asked = _helpers(first)
    assert any(_is_window_start(s) for s in asked)
    assert any("EXPLAIN" in s for s in asked) == is_postgres


async def test_any_window_start_and_any_estimate_give_the_same_answers(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What makes reusing them safe: the window is every post from its start on, the newest part
    of the order, and the full-text index is asked whenever it holds too few."""
    assert await load_demo(session, settings) is True
    await session.commit()
    dates = sorted((await session.scalars(select(Post.created_at))).all())
    assert len(dates) > 20

    async def everything() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for q in QUERIES:
            for params in ({"limit": "3"}, {"limit": "3", "place": "Leipzig", "radius_km": "25"}):
                query: dict[str, str] = {"q": q, **params}
                pages = []
                while True:
                    r = await client.get("/api/v1/posts", params=query)
                    assert r.status_code == 200, r.text
                    pages.append(r.json())
                    if not r.json()["next_cursor"]:
                        break
                    query["cursor"] = r.json()["next_cursor"]
                out[f"{q} {params}"] = pages
            out[f"count {q}"] = await search.count(session, queries.search(q=q))
        return out

    monkeypatch.setattr(search, "COUNT_CAP", 4)
    monkeypatch.setattr(search, "WINDOW", 1_000_000)  # more than all: no window
    monkeypatch.setattr(search, "_window_starts", {})
    without = await everything()
    assert any(without[f"count {q}"] > 4 for q in QUERIES)
    monkeypatch.setattr(search, "WINDOW", 7)
    later = datetime.now(UTC) + timedelta(days=1)
    starts = [dates[0], dates[len(dates) // 2], dates[-3], dates[-1], later, None]
    for start in starts:

        async def stale(_session: AsyncSession, start: datetime | None = start) -> datetime | None:
            return start

        monkeypatch.setattr(search, "_first_window_start", stale)
        assert await everything() == without, start
    for estimate in ((0.0, 1.0), (1e9, 1.0)):  # every word rare; none (PostgreSQL only)

        async def guessed(_s: AsyncSession, _m: Any, e: tuple[float, float] = estimate) -> Any:
            return e

        monkeypatch.setattr(search, "_estimate", guessed)
        assert await everything() == without, estimate


def _shown_count(html: str) -> str:
    found = re.search(r'<h2 class="result-count" id="results">([^<]*)</h2>', html)
    assert found, html[:2000]
    return found.group(1).strip()


async def test_a_first_page_holding_every_result_shows_their_number_without_counting(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    """The search page counts its results only when its first page does not hold them all; the
    number shown is the same either way (here: every result, read through the API's pages)."""
    assert await load_demo(session, settings) is True
    await session.commit()
    counted_somewhere = False
    for q in QUERIES:
        for extra in ({}, {"place": "Leipzig", "radius_km": "25"}):
            r = await client.get("/api/v1/posts", params={"q": q, "limit": "100", **extra})
            assert r.status_code == 200 and r.json()["next_cursor"] is None, r.text
            results = len(r.json()["items"])
            wanted = (
                f"{results} result{'' if results == 1 else 's'}"
                if results <= search.COUNT_CAP
                else f"More than {search.COUNT_CAP} results"
            )
            for limit in (3, 100):
                with _statements() as sent:
                    page = await client.get(
                        "/posts", params={"q": q, "limit": str(limit), "lang": "en", **extra}
                    )
                assert page.status_code == 200, page.text
                assert _shown_count(page.text) == wanted, (q, extra, limit)
                counts = [s for s in sent if "count(*)" in s]
                assert bool(counts) == (results > limit), (q, extra, limit, counts)
                counted_somewhere |= bool(counts)
    assert counted_somewhere
