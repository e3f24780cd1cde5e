"""Post cards for the lists of the pages (start page, search, my posts): plain rows, not Posts.

A list page drew 6 to 20 cards from Post objects: the ORM built each post and each of its
language rows (about 60 objects for 20 posts), tracked them and marked them expired at the end
of the request, which cost more than drawing the cards. A card needs a few columns; they are
read with the statement the guardian or the search built (its WHERE untouched, only the
columns replaced), with each post's languages aggregated in the same round trip, as plain rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
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


def language_codes(dialect: str) -> ColumnElement[Any]:
    """The post's language codes in their order, aggregated in a correlated subquery: an array
    on PostgreSQL, a comma-joined text on SQLite (3.40 knows no ORDER BY inside group_concat;
    it concatenates in the order of the ordered subquery it reads). Codes hold no commas.
    `codes` reads either."""
    if dialect == "postgresql":
        return (
            select(func.array_agg(aggregate_order_by(PostLanguage.code, PostLanguage.position)))
            .where(PostLanguage.post_id == Post.id)
            .scalar_subquery()
        )
    ordered = (
        select(PostLanguage.code)
        .where(PostLanguage.post_id == Post.id)
        .order_by(PostLanguage.position)
        .correlate(Post)
        .subquery()
    )
    return select(func.group_concat(ordered.c.code, ",")).scalar_subquery()


def codes(value: list[str] | str | None) -> list[str]:
    """The codes of a `language_codes` column as a list."""
    if value is None:
        return []
    return value.split(",") if isinstance(value, str) else list(value)


@cache
def _columns(dialect: str) -> tuple[ColumnElement[Any], ...]:
    # Built once per dialect: the subquery is immutable and costs more to build than to run.
    return (*_COLUMNS, language_codes(dialect).label("language_codes"))


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


def card_statement(stmt: Select[Any], dialect: str) -> Select[Any]:
    """A select of posts (from the guardian or the search) reading only a card's columns and
    the post's languages, on the database `dialect` names ("postgresql" or "sqlite")."""
    return stmt.with_only_columns(*_columns(dialect))


async def read_cards(session: AsyncSession, stmt: Select[Any]) -> list[Card]:
    """The cards of a select of posts, in its order: one plain statement."""
    return await read_card_statement(session, card_statement(stmt, session.get_bind().dialect.name))


async def read_card_statement(
    session: AsyncSession, stmt: Select[Any], params: dict[str, Any] | None = None
) -> list[Card]:
    """The cards of a card_statement (one a caller built once and keeps), with the values of
    the parameters bound at execution, if any."""
    # On the session's connection, as Core: plain columns need none of the ORM's result
    # machinery (entities, identity map, autoflush), and a list page has nothing to flush.
    connection = await session.connection()
    return [
        Card(*row[:-1], language_codes=codes(row[-1]))  # type: ignore[misc]
        for row in await connection.execute(stmt, params or {})
    ]
