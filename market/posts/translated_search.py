"""Search finds a post by the words of its cached machine translations (issue 14).

When market.translation caches translations (events.TRANSLATIONS_CACHED), the folded words of
each translation of a post's title or body are kept in posts.search_translations under the
SHA-256 of the text they translate and the target language, and appended to posts.search_text,
which both databases' full-text indexes cover. So a German post read once in Arabic is found by
an Arabic word of its translation, with no request to the translation server at search time.

An edit changes the title's or body's hash: only entries of the current hashes are appended
(the services write the post's own words, then events.POST_PUBLISHED lets this module add the
translations still valid), so an old translation stops matching the moment the text changes.
The hash is the translation cache's own key (market.translation.service.text_hash), so a text
that is translated already counts again as soon as a post says it again.

Translations arrive from the translation feature, which sits above posts; this module reads
them only from the event, never imports it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market import events
from market.posts import search
from market.posts.models import Post

Entries = dict[str, dict[str, str]]


class _Item(Protocol):
    text: str
    ref: tuple[str, str]


class _Translated(Protocol):
    text: str
    source: str | None


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _current(title: str, body: str) -> set[str]:
    return {text_hash(part) for part in (title, body) if part.strip()}


def current_entries(
    title: str, body: str, entries: Mapping[str, Mapping[str, str]] | None
) -> Entries:
    """The entries that translate the post's text as it is now."""
    if not entries:
        return {}
    valid = _current(title, body)
    return {h: dict(by_target) for h, by_target in entries.items() if h in valid}


def text_of(
    title: str, body: str, city: str | None, entries: Mapping[str, Mapping[str, str]] | None
) -> str:
    """search_text: the post's own folded words, then each word of its current translations
    that the own text does not hold already (the index needs every word once, not each time)."""
    own = search.stored_text(title, body, city)
    seen = set(own.split())
    extra: list[str] = []
    for by_target in current_entries(title, body, entries).values():
        for folded in by_target.values():
            for word in folded.split():
                if word not in seen:
                    seen.add(word)
                    extra.append(word)
    return " ".join([own, *extra]) if extra else own


@events.subscribe(events.POST_PUBLISHED)
async def _post_written(session: AsyncSession, post: Post, **_: Any) -> None:
    """A published post was created or edited: its own words are in search_text (services);
    add the translations that still translate its text."""
    text = text_of(post.title, post.body, post.city, post.search_translations)
    if text != post.search_text:
        post.search_text = text


@events.subscribe(events.TRANSLATIONS_CACHED)
async def _translations_cached(
    session: AsyncSession,
    fetched: Iterable[tuple[_Item, _Translated]],
    target: str,
    **_: Any,
) -> None:
    """Translations were cached: those of a post's current title or body join its search."""
    by_post: dict[str, dict[str, str]] = {}
    for item, done in fetched:
        kind, ref_id = item.ref
        if kind != "post" or done.source == target or not done.text.strip():
            continue  # a message, or a text written in the target language already
        by_post.setdefault(ref_id, {})[text_hash(item.text)] = " ".join(search.words(done.text))
    if not by_post:
        return
    # FOR UPDATE (PostgreSQL; SQLite writes one at a time anyway): two languages cached at once
    # for the same post must not overwrite each other's entry.
    rows = await session.execute(
        select(Post.id, Post.title, Post.body, Post.city, Post.search_translations)
        .where(Post.id.in_(sorted(by_post)))
        .order_by(Post.id)
        .with_for_update()
    )
    for post_id, title, body, city, entries in rows.all():
        kept = current_entries(title, body, entries)
        valid = _current(title, body)
        for found_hash, folded in by_post[post_id].items():
            if found_hash in valid:
                kept.setdefault(found_hash, {})[target] = folded
        if kept == (entries or {}):
            continue
        await session.execute(
            update(Post)
            .where(Post.id == post_id)
            # Not through the ORM, and updated_at kept: a cached translation is no edit.
            .values(
                search_translations=kept or None,
                search_text=text_of(title, body, city, kept),
                updated_at=Post.updated_at,
            )
            .execution_options(synchronize_session=False)
        )
