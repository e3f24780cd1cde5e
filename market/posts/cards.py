"""Post cards for the lists of the pages (start page, search, my posts): plain rows, not Posts.

A list page drew 6 to 20 cards from Post objects: the ORM built each post and each of its
language rows (about 60 objects for 20 posts), tracked them and marked them expired at the end
of the request, which cost more than drawing the cards. A card needs a few columns; they are
read with the statement the guardian or the search built (its WHERE untouched, only the
columns replaced), and the languages with one more statement, both as plain rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.posts.models import Post, PostLanguage

# What a card shows, what the distance rule reads (the points, author and region) and what the
# translation of a title reads (language, body). Table columns: with_only_columns takes them
# as they are, where mapped attributes would be coerced anew on each request.
_COLUMNS = tuple(
    Post.__table__.c[name]
    for name in (
        "id",
        "title",
        "body",
        "kind",
        "category",
        "mode",
        "status",
        "city",
        "created_at",
        "lat",
        "lon",
        "public_lat",
        "public_lon",
        "author_id",
        "region_id",
        "lang",
    )
)
_LANGUAGES = select(PostLanguage.__table__.c.post_id, PostLanguage.__table__.c.code).order_by(
    PostLanguage.__table__.c.post_id, PostLanguage.__table__.c.position
)


@dataclass(frozen=True, slots=True)
class Card:
    """A post as a list shows it (the same names as Post, so templates take either)."""

    id: str
    title: str
    body: str
    kind: str
    category: str
    mode: str
    status: str
    city: str | None
    created_at: datetime
    lat: float | None
    lon: float | None
    public_lat: float | None
    public_lon: float | None
    author_id: str
    region_id: str | None
    lang: str | None
    language_codes: list[str]


def card_statement(stmt: Select[Any]) -> Select[Any]:
    """A select of posts (from the guardian or the search) reading only a card's columns."""
    return stmt.with_only_columns(*_COLUMNS)


async def read_cards(session: AsyncSession, stmt: Select[Any]) -> list[Card]:
    """The cards of a select of posts, in its order: two plain statements."""
    return await read_card_statement(session, card_statement(stmt))


async def read_card_statement(session: AsyncSession, stmt: Select[Any]) -> list[Card]:
    """The cards of a card_statement (one a caller built once and keeps)."""
    # On the session's connection, as Core: plain columns need none of the ORM's result
    # machinery (entities, identity map, autoflush), and a list page has nothing to flush.
    connection = await session.connection()
    rows = (await connection.execute(stmt)).all()
    if not rows:
        return []
    codes: dict[str, list[str]] = defaultdict(list)
    ids = [row[0] for row in rows]
    for post_id, code in await connection.execute(
        _LANGUAGES.where(PostLanguage.__table__.c.post_id.in_(ids))
    ):
        codes[post_id].append(code)
    return [Card(*row, language_codes=codes.get(row[0], [])) for row in rows]  # type: ignore[misc]
