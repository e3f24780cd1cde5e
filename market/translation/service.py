"""Translation on read: the cache first, then the server within the page's budget, never failing.

A page (or API answer) asks `for_posts` / `for_messages` for the reader's language. Texts in the
cache are answered from it. The rest are sent to the server in one call per source language,
all of it under one deadline per request (`BUDGET_SECONDS`, kept in the session's info, so a page
that lists posts and then messages shares it). If the server is slow, down or refuses, the
reader gets the originals (translation None) and a job (`translation.fill`) translates them in
the background, so the next view finds them in the cache. Nothing here writes through the
request's session: a GET must not hold SQLite's write lock, and a failed cache write must never
turn a page into an error; writes run in tasks of their own after the answer is computed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from market import events, i18n
from market.db import for_writing
from market.settings import Settings
from market.translation.client import (
    PermanentTranslatorError,
    Translated,
    Translator,
    TranslatorError,
    make_translator,
)
from market.translation.models import CachedTranslation

log = logging.getLogger(__name__)


# Translation sits below the features whose texts it translates (posts, conversations): it is
# given their rows through these protocols and reads them again through market.translation.sources.
class Message(Protocol):
    """A conversation message as far as translation cares (market.conversations.models)."""

    @property
    def id(self) -> str: ...

    @property
    def body(self) -> str: ...

    @property
    def author_id(self) -> str | None: ...


class Post(Protocol):
    """A post as far as translation cares (market.posts.models)."""

    @property
    def id(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def body(self) -> str: ...

    @property
    def lang(self) -> str | None: ...

    @property
    def author_id(self) -> str | None: ...


# The most a page waits for the translation server, in all (API.md: never more than 2 s).
BUDGET_SECONDS = 1.5
DEADLINE_KEY = "translation_deadline"
# After a failure the server is left alone for a while: pages show originals at once instead of
# each waiting for the same timeout; jobs keep trying with their own backoff.
PAUSE_SECONDS = 30.0
# A text queued for the background job is not queued again for this long by other views.
REQUEUE_SECONDS = 300.0
FILL_JOB = "translation.fill"
DETECT_JOB = "translation.detect_post"

_paused_until: dict[str, float] = {}
_queued: dict[tuple[str, str, str], float] = {}
_background: set[asyncio.Task[None]] = set()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Item:
    """One text to translate, and where it came from (so a job can read it again)."""

    text: str
    source: str | None  # declared or detected language; None: the server detects it
    ref: tuple[str, str]  # ("post", id) or ("message", id)


def settings_of(session: AsyncSession) -> Settings | None:
    found = session.info.get("settings")
    return found if isinstance(found, Settings) else None


def reader_language(target: str | None = None) -> str:
    """The page language (or Accept-Language in the API): what the reader reads."""
    return target if target in i18n.LOCALES else i18n.get_locale()


def post_items(post: Post) -> list[Item]:
    ref = ("post", post.id)
    items = [Item(post.title, post.lang, ref)]
    if post.body.strip():
        items.append(Item(post.body, post.lang, ref))
    return items


def message_items(message: Message) -> list[Item]:
    return [Item(message.body, None, ("message", message.id))] if message.body.strip() else []


async def for_posts(
    session: AsyncSession,
    posts: Sequence[Post],
    target: str | None = None,
    *,
    reader_id: str | None = None,
) -> dict[str, dict[str, Any] | None]:
    """post id -> {"lang", "title", "body"} in the reader's language, or None (no translation
    needed, none configured, not available within the budget, or the reader wrote it)."""
    target = reader_language(target)
    result: dict[str, dict[str, Any] | None] = {p.id: None for p in posts}
    wanted = [
        p for p in posts if p.lang != target and (reader_id is None or p.author_id != reader_id)
    ]
    if not wanted or make_translator(settings_of(session)) is None:
        return result
    found = await translate(session, [i for p in wanted for i in post_items(p)], target)
    for post in wanted:
        title = found.get(post.title)
        body = found.get(post.body) if post.body.strip() else ""
        if title is None and not body:
            continue
        result[post.id] = {
            "lang": target,
            "title": title if title is not None else post.title,
            "body": body if body is not None else post.body,
        }
    return result


async def for_messages(
    session: AsyncSession,
    messages: Sequence[Message],
    target: str | None = None,
    *,
    reader_id: str | None = None,
) -> dict[str, dict[str, Any] | None]:
    """message id -> {"lang", "body"} in the reader's language, or None; the reader's own
    messages (`reader_id`) are never translated for them."""
    target = reader_language(target)
    result: dict[str, dict[str, Any] | None] = {m.id: None for m in messages}
    messages = [m for m in messages if reader_id is None or m.author_id != reader_id]
    if not messages or make_translator(settings_of(session)) is None:
        return result
    found = await translate(session, [i for m in messages for i in message_items(m)], target)
    for message in messages:
        body = found.get(message.body)
        if body is not None:
            result[message.id] = {"lang": target, "body": body}
    return result


async def translate(session: AsyncSession, items: Sequence[Item], target: str) -> dict[str, str]:
    """text -> its translation into `target`, for the texts that have one (cached or fetched
    now); a text already in `target` has none. Never raises for the server's faults."""
    settings = settings_of(session)
    translator = make_translator(settings)
    if translator is None or settings is None or not items:
        return {}
    cached = await cached_rows(session, {i.text for i in items}, target)
    out = {text: row.text for text, row in cached.items() if row.source != target}
    missing = [i for i in items if i.text not in cached]
    if not missing:
        return out
    loop = asyncio.get_running_loop()
    deadline: float = session.info.setdefault(DEADLINE_KEY, loop.time() + BUDGET_SECONDS)
    remaining = deadline - loop.time()
    key = settings.translate_url or ""
    fetched: list[tuple[Item, Translated]] | None = None
    if remaining > 0.05 and _paused_until.get(key, 0.0) <= time.monotonic():
        try:
            async with asyncio.timeout(remaining):
                fetched = await fetch(translator, missing, target)
        except (TimeoutError, TranslatorError) as exc:
            log.info("translation unavailable within the page's budget: %r", exc)
            _paused_until[key] = time.monotonic() + PAUSE_SECONDS
            session.info[DEADLINE_KEY] = 0.0  # the rest of this page does not wait either
    engine = session.bind
    if not isinstance(engine, AsyncEngine):
        return out
    if fetched is None:
        _spawn(_queue_fill(engine, missing, target))
        return out
    out |= {item.text: done.text for item, done in fetched if done.source != target}
    _spawn(store(engine, fetched, target))
    return out


async def cached_rows(
    session: AsyncSession, texts: set[str], target: str
) -> dict[str, CachedTranslation]:
    by_hash = {text_hash(t): t for t in texts}
    rows = await session.scalars(
        select(CachedTranslation).where(
            CachedTranslation.target == target, CachedTranslation.text_hash.in_(by_hash)
        )
    )
    return {by_hash[row.text_hash]: row for row in rows}


async def fetch(
    translator: Translator, items: Sequence[Item], target: str
) -> list[tuple[Item, Translated]]:
    """Translate, one request per source language, all at once."""
    unique: dict[str, Item] = {}
    for item in items:
        unique.setdefault(item.text, item)
    groups: dict[str | None, list[Item]] = {}
    for item in unique.values():
        groups.setdefault(item.source, []).append(item)

    async def one(source: str | None, group: list[Item]) -> list[tuple[Item, Translated]]:
        if source == target:  # written in the reader's language: nothing to ask
            return [(i, Translated(i.text, target)) for i in group]
        try:
            done = await translator.translate([i.text for i in group], source, target)
        except PermanentTranslatorError:
            if source is None:
                raise
            # The declared language is one the server does not know: let it detect instead.
            done = await translator.translate([i.text for i in group], None, target)
        return list(zip(group, done, strict=True))

    results = await asyncio.gather(*(one(s, g) for s, g in groups.items()))
    return [pair for result in results for pair in result]


async def store(
    engine: AsyncEngine | AsyncSession, fetched: Iterable[tuple[Item, Translated]], target: str
) -> None:
    """Put translations into the cache; a row someone else stored first is kept."""
    fetched = list(fetched)
    rows = {
        text_hash(item.text): {
            "text_hash": text_hash(item.text),
            "target": target,
            "source": (done.source or "")[:16],
            "text": done.text,
        }
        for item, done in fetched
    }
    if not rows:
        return
    if isinstance(engine, AsyncSession):
        await _insert(engine, list(rows.values()))
        await events.emit(engine, events.TRANSLATIONS_CACHED, fetched=fetched, target=target)
        return
    async with AsyncSession(for_writing(engine)) as session:
        await _insert(session, list(rows.values()))
        await events.emit(session, events.TRANSLATIONS_CACHED, fetched=fetched, target=target)
        await session.commit()


async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    bind = session.get_bind()
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(CachedTranslation).values(rows)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["text_hash", "target"]))


async def _queue_fill(engine: AsyncEngine, items: Sequence[Item], target: str) -> None:
    """One job for the texts no other view queued lately; the relay's sweep starts it."""
    from notifications.outbox import enqueue

    now = time.monotonic()
    for key, until in list(_queued.items()):
        if until <= now:
            del _queued[key]
    refs = sorted({i.ref for i in items if (i.ref[0], i.ref[1], target) not in _queued})
    if not refs:
        return
    async with AsyncSession(for_writing(engine)) as session:
        await enqueue(
            session,
            FILL_JOB,
            {
                "target": target,
                "posts": [ref_id for kind, ref_id in refs if kind == "post"],
                "messages": [ref_id for kind, ref_id in refs if kind == "message"],
            },
        )
        await session.commit()
    for kind, ref_id in refs:
        _queued[(kind, ref_id, target)] = now + REQUEUE_SECONDS


def _spawn(work: Any) -> None:
    """Run cache writes and queueing after the answer; their failure is logged, never shown."""

    async def guarded() -> None:
        try:
            await work
        except Exception:
            log.warning("translation cache or queue write failed", exc_info=True)

    task = asyncio.get_running_loop().create_task(guarded())
    _background.add(task)
    task.add_done_callback(_background.discard)


async def settled() -> None:
    """Wait for the background writes started so far (tests, shutdown)."""
    while _background:
        await asyncio.gather(*list(_background), return_exceptions=True)


def reset() -> None:
    """Forget pauses and queued marks (tests start each case fresh)."""
    _paused_until.clear()
    _queued.clear()
