"""Search that understands (issue 14): a query's words are read against a vocabulary per category
in every page language, and against the full text of titles and bodies.

Results come in three tiers, each newest first and keyset-paginated:
  0. posts of a category the query names ("طبيب", "лікар", "doctor", "Arzt" all name the doctor
     accompaniment), narrowed by the query's other words if there are any, whose text also
     holds every word of the query (a post titled "Begleitung zum Arzt" before one that only
     sits in the category);
  1. the category's other posts;
  2. other posts whose text holds every word of the query (a word also finds longer words
     starting with it: "arzt" finds "Arzttermin").
A cursor carries its tier ("0-", "1-" or "2-" before the post id), so the API's `q` keeps its
release-1 shape: the same items and `next_cursor`, only ordered by relevance first.

Text is folded the same way when stored (Post.search_text) and when searched: lower case,
without accents, umlauts or Arabic vowel marks, one spelling of the Arabic/Persian letters that
differ only by script (ي/ی, ك/ک, ة/ه). Folding in Python rather than with PostgreSQL's unaccent
gives both databases the same words and keeps the index expression immutable.

PostgreSQL matches with a GIN index on to_tsvector('simple', search_text) (migration 0015);
SQLite with the FTS5 table posts_fts, kept in step with posts by triggers. search_text also holds
the words of the post's cached machine translations (market.posts.translated_search).

Speed that does not grow with the data: a tier's page and the count look at the WINDOW newest
published posts first, testing each row's words with strpos (no index bitmap of every post holding
a common word); when the window holds a full page (or more than COUNT_CAP), that is the answer,
exactly, since the window is the newest part of the same order. Only otherwise (rare words) is the
full-text index asked, which is cheap for exactly those words (benchmarks/search_plans.py).

Cheap per request (issue 11): a query is read once (understand is remembered per folded words),
its tiers' conditions are built once, in both forms (the full-text index's and row by row), and
queries.search keeps its statements with their row-by-row twins, so nothing is rebuilt or
rewritten per request. The window's start and PostgreSQL's estimate of a word are reused for
REUSE_SECONDS: any start and any estimate give the same answers (only more or less work), so a
search sends its pages and its count and nothing else.
"""

from __future__ import annotations

import json
import re
import time
import tomllib
import unicodedata
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Select,
    and_,
    bindparam,
    func,
    literal,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import AsBoolean, BindParameter, BooleanClauseList
from sqlalchemy.sql.functions import FunctionElement

from market.api import decode_cursor, encode_cursor, paginate
from market.errors import Invalid
from market.posts import cards, taxonomy
from market.posts.models import Post

VOCABULARY_FILE = Path(__file__).resolve().parents[1] / "locales" / "search_vocabulary.toml"
MAX_WORDS = 8
MAX_WORD_LENGTH = 40
# Counting stops here, after two pages: "more than 40 results" is as useful as the exact figure,
# and it is found among the newest WINDOW posts for common searches (Leipzig + "Deutsch" has 101
# in the window at 200,000 posts; a cap of 1,000 needed a bitmap of every match: 115-135 ms,
# benchmarks/search_plans.py). Rarer searches are counted exactly, through the indexes.
COUNT_CAP = 40
# Searches look at the newest WINDOW published posts first, row by row (see ranked and count):
# work bounded by the window, not by how many posts hold a common word. Only when the window
# holds too few matches do they ask the full-text index for all of them.
WINDOW = 10_000

_WORD = re.compile(r"[^\W_]+")
_LETTERS = str.maketrans(
    {
        "ي": "ی",  # Arabic yeh -> Persian yeh
        "ى": "ی",  # alef maksura
        "ك": "ک",  # Arabic kaf -> Persian keheh
        "ة": "ه",  # teh marbuta
        "ـ": None,  # tatweel (stretching), not a letter
        "\u200c": " ",  # zero-width non-joiner separates parts of Persian words
        "ё": "е",
        "'": None,  # комп'ютер, здоров'я: typed with and without the apostrophe
        "’": None,
        "ʼ": None,
    }
)


def fold(text: str) -> str:
    """Lower case, without accents and marks, one spelling per letter (see the module doc)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LETTERS))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare).translate(_LETTERS)


def words(text: str) -> list[str]:
    """The folded words of a text, in order: letters and digits only, so nothing of a query can
    reach a full-text query's syntax (quotes, *, NEAR, &, |, !, :)."""
    return _WORD.findall(fold(text))


def stored_text(title: str, body: str, city: str | None, *extra: str) -> str:
    """What Post.search_text holds: the folded words of title, body, city and any translations."""
    return " ".join(words("\n".join((title, body, city or "", *extra))))


@cache
def vocabulary() -> dict[tuple[str, ...], frozenset[str]]:
    """Folded vocabulary entry (as words) -> the categories it names."""
    with VOCABULARY_FILE.open("rb") as f:
        data: dict[str, dict[str, list[str]]] = tomllib.load(f)
    found: dict[tuple[str, ...], set[str]] = {}
    for slug, by_language in data.items():
        for terms in by_language.values():
            for term in terms:
                key = tuple(words(term))
                if key:
                    found.setdefault(key, set()).add(slug)
    return {key: frozenset(slugs) for key, slugs in found.items()}


def _forms(word: str) -> tuple[str, ...]:
    # The Arabic article is written together with its noun: الطبيب is the طبيب.
    if word.startswith("ال") and len(word) > 4:
        return word, word[2:]
    return (word,)


@dataclass(frozen=True, eq=False)
class _Terms:
    """The vocabulary as lookups: the words of a term before its last -> its last word -> the
    categories it names; and how many words the terms have. A query word is then read with a
    few dictionary lookups instead of a test against every term (about 570 per query)."""

    by_head: dict[tuple[str, ...], dict[str, frozenset[str]]]
    lengths: tuple[int, ...]


@cache
def _terms() -> _Terms:
    by_head: dict[tuple[str, ...], dict[str, frozenset[str]]] = {}
    for term, slugs in vocabulary().items():
        last = by_head.setdefault(term[:-1], {})
        last[term[-1]] = last.get(term[-1], frozenset()) | slugs
    return _Terms(by_head, tuple(sorted({len(term) for term in vocabulary()})))


def _named_by(word: str, last_words: dict[str, frozenset[str]]) -> set[str]:
    """The categories of the terms whose last word the word says: the whole term, or a term of
    4+ letters that starts the word (inflections and compounds: doctors, лікаря, Ärztin,
    Arzttermin). Short terms (Amt, Job, ev) only as whole words."""
    found: set[str] = set()
    for form in _forms(word):
        for candidate in (form, *(form[:k] for k in range(4, len(form)))):
            found |= last_words.get(candidate, frozenset())
    return found


@dataclass(frozen=True)
class Understood:
    """A query read: its words, the categories it names, and the words no category explains."""

    words: tuple[str, ...]
    categories: tuple[str, ...]
    rest: tuple[str, ...]


def understand(q: str) -> Understood:
    """The query read against the vocabulary (a pure function of its folded words, which are
    remembered: the page and its count read the same query, and people search the same words)."""
    return _understood(tuple(w[:MAX_WORD_LENGTH] for w in words(q)[:MAX_WORDS]), _terms())


@lru_cache(maxsize=4096)
def _understood(found: tuple[str, ...], terms: _Terms) -> Understood:
    # terms is part of the key so that a vocabulary read again is never answered from the old.
    categories: set[str] = set()
    explained: set[int] = set()
    for start in range(len(found)):
        for n in terms.lengths:
            if start + n > len(found):
                break
            last_words = terms.by_head.get(found[start : start + n - 1])
            if last_words is None:
                continue
            slugs = _named_by(found[start + n - 1], last_words)
            if slugs:
                categories |= slugs
                explained.update(range(start, start + n))
    expanded = sorted({s for slug in categories for s in taxonomy.subtree(slug)})
    rest = tuple(w for i, w in enumerate(found) if i not in explained)
    return Understood(found, tuple(expanded), rest)


class _TextMatch(FunctionElement[bool]):
    """posts whose search_text holds every given word (as the start of a word there)."""

    type = Boolean()
    inherit_cache = True
    name = "text_match"


@compiles(_TextMatch, "postgresql")
def _text_match_pg(element: _TextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    tsquery, _fts5 = list(element.clauses)
    # The same expression as the index ix_posts_search_fts, or the planner cannot use it.
    return (
        "to_tsvector('simple', posts.search_text) @@ to_tsquery('simple', "
        f"{compiler.process(tsquery, **kw)})"
    )


class _TextWalk(FunctionElement[bool]):
    """The same test row by row, for the window of the newest posts: search_text is folded words
    joined by single spaces, so "a word starts with w" is strpos(' ' || search_text, ' w') > 0
    (SQLite: instr). That costs far less per row than to_tsvector, and no index is asked: a
    bitmap of every post holding a common word grows with the data. The planner guesses a third
    of the rows pass, so it walks the date index newest first and stops after a page (about 120
    rows for "hilfe"); LIKE '% w%', guessed rare, made it read and sort the whole window
    (benchmarks/search_plans.py)."""

    type = Boolean()
    inherit_cache = True
    name = "text_walk"


def _text_walk_with(function: str, element: _TextWalk, compiler: SQLCompiler, **kw: Any) -> str:
    tests = [
        f"{function}(' ' || posts.search_text, {compiler.process(p, **kw)}) > 0"
        for p in element.clauses
    ]
    return "(" + " AND ".join(tests) + ")"


@compiles(_TextWalk, "postgresql")
def _text_walk_pg(element: _TextWalk, compiler: SQLCompiler, **kw: Any) -> str:
    return _text_walk_with("strpos", element, compiler, **kw)


@compiles(_TextWalk)
def _text_walk(element: _TextWalk, compiler: SQLCompiler, **kw: Any) -> str:
    return _text_walk_with("instr", element, compiler, **kw)


@compiles(_TextMatch)
def _text_match_sqlite(element: _TextMatch, compiler: SQLCompiler, **kw: Any) -> str:
    _tsquery, fts5 = list(element.clauses)
    # Only a bound parameter goes into this text, never the query's words themselves.
    match = compiler.process(fts5, **kw)
    return f"posts.id IN (SELECT post_id FROM posts_fts WHERE posts_fts MATCH {match})"  # noqa: S608


def text_match(found: Iterable[str]) -> ColumnElement[bool]:
    """Every word, as a prefix: safe to build from words() output only (letters and digits)."""
    ws = list(found)
    tsquery = " & ".join(f"{w}:*" for w in ws)
    fts5 = " AND ".join(f'"{w}"*' for w in ws)
    return _TextMatch(tsquery, fts5)


def text_walk(found: Iterable[str]) -> ColumnElement[bool]:
    """text_match's test row by row (_TextWalk), for the window of the newest posts."""
    return _TextWalk(*(f" {w}" for w in found))


def scanning(stmt: Select[Any]) -> Select[Any]:
    """The statement with each full-text test done row by row (_TextWalk). A statement of
    queries.search has its twin built with it (remember_walk); any other is rewritten here."""
    known = _walks.get(stmt)
    if known is not None:
        return known

    def swap(element: Any, **_: Any) -> Any:
        if isinstance(element, _TextMatch):
            tsquery = next(iter(element.clauses))
            return text_walk(w.removesuffix(":*") for w in str(tsquery.value).split(" & "))
        return None

    swapped = visitors.replacement_traverse(stmt, {}, swap)
    assert isinstance(swapped, Select)
    return swapped


# A statement -> the same statement with its full-text tests done row by row. Weak: an entry
# lives as long as its statement (queries.search keeps its statements for repeated searches),
# and a statement derived from one (another .where) is another key, so it is never mistaken
# for its origin.
_walks: weakref.WeakKeyDictionary[Select[Any], Select[Any]] = weakref.WeakKeyDictionary()


def remember_walk(stmt: Select[Any], walk: Select[Any]) -> None:
    """walk is stmt with every text_match written as text_walk (what scanning would build)."""
    _walks[stmt] = walk


# How long a window start or a row estimate is reused. Neither changes any answer (see
# window_start and _too_rare), only how much work a search does; a minute of posts more or
# less in the window, or statistics a minute old, change that work by nothing measurable.
REUSE_SECONDS = 60.0
_window_starts: dict[tuple[URL, int], tuple[float, datetime | None]] = {}
_estimates: dict[tuple[URL, str], tuple[float, float, float]] = {}


async def window_start(
    session: AsyncSession, keyset: tuple[datetime, str] | None = None
) -> datetime | None:
    """created_at of the WINDOW-th newest published post (after the keyset); None when fewer
    are left, so the window holds them all. An index-only walk of WINDOW entries."""
    stmt = paginate(
        select(Post.created_at).where(Post.status == "published"),
        Post.created_at,
        Post.id,
        0,
        keyset,
    ).offset(WINDOW - 1)
    found: datetime | None = (await session.execute(stmt)).scalar_one_or_none()
    return found


async def _first_window_start(session: AsyncSession) -> datetime | None:
    """window_start() of the first page, asked at most once a REUSE_SECONDS per database.

    Any start is right for the answers: the window is every post from that date on, the newest
    part of the order, so the newest matches it holds are the newest of all, and the full-text
    index is asked whenever it holds too few. A start a minute old only makes the window hold
    the posts published since (or lack those taken down) besides its WINDOW."""
    key = (_database(session), WINDOW)
    now = time.monotonic()
    known = _window_starts.get(key)
    if known is not None and known[0] > now:
        return known[1]
    found = await window_start(session)
    _window_starts[key] = (now + REUSE_SECONDS, found)
    return found


def _database(session: AsyncSession) -> URL:
    return session.get_bind().engine.url


def _tier_conditions(
    understood: Understood, match: Callable[[Iterable[str]], ColumnElement[bool]]
) -> list[tuple[int, ColumnElement[bool] | None]]:
    result: list[tuple[int, ColumnElement[bool] | None]] = []
    if understood.categories:
        named = Post.category.in_(understood.categories)
        in_category = and_(named, match(understood.rest)) if understood.rest else named
        if understood.words:
            said = match(understood.words)
            result.append((0, and_(in_category, said)))
            result.append((1, and_(in_category, not_(said))))
            result.append((2, and_(said, not_(named))))
        else:  # no words beside the category's name: its posts, by the date index
            result.append((1, in_category))
    elif understood.words:
        result.append((2, match(understood.words)))
    return result


@dataclass(frozen=True, eq=False)  # one object per tier of a query read (_tiers): a cache key
class _Tier:
    """A tier's condition with the full-text index, and the same row by row for the window
    (None: the condition tests no text, so there is no window to look at first)."""

    number: int
    condition: ColumnElement[bool] | None
    walk: ColumnElement[bool] | None
    required: tuple[_TextMatch, ...]  # the full-text tests every row must pass (_too_rare)


@lru_cache(maxsize=1024)
def _tiers(understood: Understood) -> tuple[_Tier, ...]:
    # Built once per query read (the statements only add to them): conditions are immutable.
    indexed = _tier_conditions(understood, text_match)
    walked = _tier_conditions(understood, text_walk)
    return tuple(
        _Tier(
            number,
            condition,
            walk if condition is not None and _has_text(condition) else None,
            tuple(_required_matches(condition)),
        )
        for (number, condition), (_, walk) in zip(indexed, walked, strict=True)
    )


def tiers(understood: Understood) -> list[tuple[int, ColumnElement[bool] | None]]:
    """Conditions of tier 0 (named categories, text holding the words), tier 1 (the named
    categories' other posts) and tier 2 (text only); None: no condition."""
    return [(t.number, t.condition) for t in _tiers(understood)]


def _has_text(element: Any) -> bool:
    return any(isinstance(e, _TextMatch) for e in visitors.iterate(element))


def any_tier(understood: Understood) -> ColumnElement[bool] | None:
    return any_tiers(understood)[0]


@lru_cache(maxsize=1024)
def any_tiers(
    understood: Understood,
) -> tuple[ColumnElement[bool] | None, ColumnElement[bool] | None]:
    """Any tier's condition, with the full-text index and row by row (queries.search builds a
    statement with each: the count's window takes the second)."""
    indexed: list[ColumnElement[bool]] = []
    walked: list[ColumnElement[bool]] = []
    for tier in _tiers(understood):
        if tier.condition is not None:
            indexed.append(tier.condition)
            walked.append(tier.condition if tier.walk is None else tier.walk)
    if not indexed:
        return None, None
    if len(indexed) == 1:
        return indexed[0], walked[0]
    return or_(*indexed), or_(*walked)


def decode(cursor: str | None) -> tuple[int, tuple[datetime, str] | None]:
    if not cursor:
        return 0, None
    at, ident = decode_cursor(cursor)
    if len(ident) < 3 or ident[:2] not in ("0-", "1-", "2-"):
        raise Invalid.one("cursor", "The cursor is not valid.")
    return int(ident[0]), (at, ident[2:])


def encode(tier: int, post: Post | cards.Card) -> str:
    return encode_cursor(post.created_at, f"{tier}-{post.id}")


def _order(tier: int) -> Any:
    """The date a tier is ordered by. Text-only matches are found through the full-text index
    and then sorted: the planner cannot tell how rare a word is, and walking the date index
    while testing each post's text took seconds at 200,000 posts for a rare word
    (benchmarks/README.md, "Search"). coalesce(x, x) is the same date but no index's order.
    Tier 1 (a category's posts without the words) walks the category's date index."""
    return Post.created_at if tier == 1 else func.coalesce(Post.created_at, Post.created_at)


def statement(
    base: Select[Post],
    tier: int,
    condition: ColumnElement[bool] | None,
    limit: int,
    keyset: tuple[datetime, str] | None,
) -> Select[Post]:
    """One tier's page: `limit` posts (and one more, to know there are more) after `keyset`."""
    stmt = base if condition is None else base.where(condition)
    return paginate(stmt, _order(tier), Post.id, limit, keyset)


def plan_statements(
    base: Select[Post], understood: Understood, limit: int
) -> list[tuple[str, Select[Post]]]:
    """Every tier's first page, as ranked() would run it (benchmarks/search_plans.py)."""
    return [
        (f"tier {tier}", statement(base, tier, condition, limit, None))
        for tier, condition in tiers(understood)
    ]


# How a tier's rows are read: as Posts (the API's items need them) or as cards (the page's).
Reader = Callable[[AsyncSession, Select[Post], dict[str, Any]], Awaitable[list[Any]]]


async def _as_posts(session: AsyncSession, stmt: Select[Post], params: dict[str, Any]) -> list[Any]:
    return list((await session.execute(stmt, params)).scalars())


async def _as_cards(session: AsyncSession, stmt: Select[Post], params: dict[str, Any]) -> list[Any]:
    # Only a card's columns, the languages in the same statement: no Post objects to build,
    # track and expire (drawing the search page from Posts took about twice the CPU).
    dialect = session.get_bind().dialect.name
    return await cards.read_card_statement(session, cards.card_statement(stmt, dialect), params)


async def ranked(
    session: AsyncSession,
    base: Select[Post],
    understood: Understood,
    limit: int,
    cursor: str | None,
) -> tuple[list[Post], str | None]:
    """One page of results, tier by tier, and the cursor of the next page (None on the last).

    Each tier is its own keyset query (newest first within the tier), so each is an index walk
    that stops after a page, not a sort of every match."""
    return await _ranked(session, base, understood, limit, cursor, _as_posts)


async def ranked_cards(
    session: AsyncSession,
    base: Select[Post],
    understood: Understood,
    limit: int,
    cursor: str | None,
) -> tuple[list[cards.Card], str | None]:
    """ranked(), the page's way: the same posts in the same order, read as cards."""
    return await _ranked(session, base, understood, limit, cursor, _as_cards)


async def _ranked(
    session: AsyncSession,
    base: Select[Post],
    understood: Understood,
    limit: int,
    cursor: str | None,
    read: Reader,
) -> tuple[list[Any], str | None]:
    start, position = decode(cursor)
    page: list[tuple[int, Any]] = []
    windows: dict[tuple[datetime, str] | None, datetime | None] = {}
    for tier in _tiers(understood):
        if tier.number < start:
            continue
        want = limit + 1 - len(page)
        if want <= 0:
            break
        keyset = position if tier.number == start else None
        rows = await _tier_rows(session, base, tier, want - 1, keyset, windows, read)
        page.extend((tier.number, post) for post in rows)
    if len(page) <= limit:
        return [post for _, post in page], None
    number, last = page[limit - 1]
    return [post for _, post in page[:limit]], encode(number, last)


async def _tier_rows(
    session: AsyncSession,
    base: Select[Post],
    tier: _Tier,
    limit: int,
    keyset: tuple[datetime, str] | None,
    windows: dict[tuple[datetime, str] | None, datetime | None],
    read: Reader,
) -> list[Any]:
    """limit + 1 posts of a tier (fewer at its end): from the window of the newest posts when it
    holds that many, which are then the newest of all; else through the full-text index."""
    if tier.walk is not None:
        required = [*_required_matches(base), *tier.required]
        if await _too_rare(session, required, limit + 1):
            return await read(
                session, statement(base, tier.number, tier.condition, limit, keyset), {}
            )
        if keyset not in windows:
            windows[keyset] = (
                await _first_window_start(session)
                if keyset is None
                else await window_start(session, keyset)
            )
        start_at = windows[keyset]
        if start_at is not None:
            stmt = _window_page(base, tier, limit, keyset)
            found = await read(session, stmt, {"window_start": start_at})
            if len(found) > limit:
                return found
    return await read(session, statement(base, tier.number, tier.condition, limit, keyset), {})


def _required_matches(element: Any) -> list[_TextMatch]:
    """The full-text tests a statement's rows must all pass (inside ANDs, not ORs or NOTs)."""
    if isinstance(element, Select):
        return _required_matches(element.whereclause)
    if isinstance(element, AsBoolean):  # how a boolean function stands in a WHERE (or NOT)
        if element.operator is not operators.is_true:
            return []
        element = element.element
    if isinstance(element, _TextMatch):
        return [element]
    if isinstance(element, BooleanClauseList) and element.operator is operators.and_:
        return [m for c in element.clauses for m in _required_matches(c)]
    return []


async def _too_rare(session: AsyncSession, required: list[_TextMatch], need: int) -> bool:
    """PostgreSQL's estimate says the window cannot hold `need` posts with the words: then the
    full-text index answers at once ("xylophon": 0.04 ms) where the window would read all its
    rows for nothing. The estimate comes from the statistics of the index's expression (most
    common words and their frequencies), within a few per cent for single words; it only ever
    skips the window, so a wrong estimate costs time, never results (and so it is reused for
    REUSE_SECONDS: the statistics change when the table is analysed, not per request)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    for match in required:
        estimate, total = await _estimate(session, match)
        if total and total > 0 and estimate * WINDOW / total < need / 2:
            return True
    return False


async def _estimate(session: AsyncSession, match: _TextMatch) -> tuple[float, float]:
    """The planner's estimate of the posts holding the words, and of all posts."""
    bind = session.get_bind()
    tsquery = str(next(iter(match.clauses)).value)
    key = (_database(session), tsquery)
    now = time.monotonic()
    known = _estimates.get(key)
    if known is not None and known[0] > now:
        return known[1], known[2]
    probe = select(literal(1)).select_from(Post).where(match)
    sql = str(probe.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
    conn = await session.connection()
    plan = (await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql)).scalar_one()
    estimate = float((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"])
    total = await session.scalar(
        text("SELECT reltuples FROM pg_class WHERE oid = 'posts'::regclass")
    )
    if len(_estimates) >= 1024:  # bounded: words are the searchers' own
        _estimates.clear()
    _estimates[key] = (now + REUSE_SECONDS, estimate, float(total or 0))
    return estimate, float(total or 0)


def _window_page(
    base: Select[Post], tier: _Tier, limit: int, keyset: tuple[datetime, str] | None
) -> Select[Post]:
    """A tier's page in the window from :window_start on (a bound parameter): built once per
    search and tier for first pages, where nearly every request is."""
    if keyset is None:
        return _first_window_page(base, tier, limit)
    return _built_window_page(base, tier, limit, keyset)


@lru_cache(maxsize=1024)
def _first_window_page(base: Select[Post], tier: _Tier, limit: int) -> Select[Post]:
    return _built_window_page(base, tier, limit, None)


def _built_window_page(
    base: Select[Post], tier: _Tier, limit: int, keyset: tuple[datetime, str] | None
) -> Select[Post]:
    assert tier.walk is not None  # only tiers that test text look at the window
    inside = scanning(base).where(tier.walk, Post.created_at >= _WINDOW_START)
    return paginate(inside, Post.created_at, Post.id, limit, keyset)


# The window's start, given when a statement built once is run (its type is created_at's).
_WINDOW_START: BindParameter[Any] = bindparam("window_start")


@lru_cache(maxsize=1024)
def _capped(stmt: Select[Any], cap: int, *, in_window: bool = False) -> Select[Any]:
    """The count of stmt's posts up to cap + 1, or of those in the window (from :window_start
    on), built once per statement. Newest first in the window: the planner reads from the
    newest end of the date index and stops at the cap; unordered, it may scan the table from
    its oldest rows up to the window."""
    ids = stmt.with_only_columns(Post.id).order_by(None)
    if in_window:
        inside = scanning(stmt).where(Post.created_at >= _WINDOW_START)
        ids = inside.with_only_columns(Post.id).order_by(None).order_by(Post.created_at.desc())
    return select(func.count()).select_from(ids.limit(cap + 1).subquery())


async def count(session: AsyncSession, stmt: Select[Any]) -> int:
    """How many posts a listing holds, up to COUNT_CAP + 1 (see COUNT_CAP): counted in the
    window of the newest posts first, and in all of them only when the window holds too few."""
    rare = await _too_rare(session, _required_matches(stmt), COUNT_CAP + 1)
    start_at = None if rare else await _first_window_start(session)
    if start_at is not None:
        in_window = _capped(stmt, COUNT_CAP, in_window=True)
        found = int((await session.execute(in_window, {"window_start": start_at})).scalar_one())
        if found > COUNT_CAP:
            return found
    return int((await session.execute(_capped(stmt, COUNT_CAP))).scalar_one())
