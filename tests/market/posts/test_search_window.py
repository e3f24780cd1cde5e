"""Searches look at the window of the newest posts first (market.posts.search.WINDOW) and the
full-text index only when the window holds too few matches: the results, their order, the
cursors and the count must be exactly those of a search without the window."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from market.demo import load_demo
from market.posts import queries, search
from market.settings import Settings

QUERIES = ["Arzt", "طبيب", "лікар", "Deutsch", "hilfe", "Begleitung Termin", "xylophon", "wohn"]


async def _ids(client: httpx.AsyncClient, q: str, limit: int, **params: str) -> list[str]:
    found: list[str] = []
    query = {"q": q, "limit": str(limit), **params}
    while True:
        r = await client.get("/api/v1/posts", params=query)
        assert r.status_code == 200, r.text
        data = r.json()
        found += [item["id"] for item in data["items"]]
        if not data["next_cursor"]:
            return found
        query["cursor"] = data["next_cursor"]


async def test_the_window_changes_nothing_but_the_work(
    app: Any,
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert await load_demo(session, settings) is True
    await session.commit()
    cases = [(q, limit) for q in QUERIES for limit in (3, 50)]
    cases += [("Arzt", 2, {"place": "Leipzig", "radius_km": "25"})]  # type: ignore[list-item]

    async def everything() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for case in cases:
            q, limit, *rest = case
            params: dict[str, str] = rest[0] if rest else {}
            out[f"{q}/{limit}/{params}"] = await _ids(client, q, limit, **params)
        for q in QUERIES:
            out[f"count {q}"] = await search.count(session, queries.search(q=q))
        out["count all"] = await search.count(session, queries.search())
        return out

    monkeypatch.setattr(search, "COUNT_CAP", 4)
    monkeypatch.setattr(search, "WINDOW", 1_000_000)  # more than all: no window
    without = await everything()
    assert any(without[f"count {q}"] > 4 for q in QUERIES)  # the cap is reached somewhere
    assert any(0 < without[f"count {q}"] <= 4 for q in QUERIES)  # and somewhere not
    for window in (1, 7, 25):
        monkeypatch.setattr(search, "WINDOW", window)
        assert await everything() == without, window


def test_the_row_by_row_test_is_the_index_test() -> None:
    """The window's row-by-row test and the full-text test read the same words (compiled SQL)."""
    from sqlalchemy.dialects import postgresql, sqlite

    condition = search.text_match(["arzt", "termin"])
    stmt = search.scanning(queries.published().where(condition))
    for dialect, function in ((postgresql.dialect(), "strpos"), (sqlite.dialect(), "instr")):
        sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        assert f"{function}(' ' || posts.search_text, ' arzt') > 0" in sql
        assert f"{function}(' ' || posts.search_text, ' termin') > 0" in sql
        assert "to_tsvector" not in sql and "posts_fts" not in sql
