"""Search finds posts by the words of their cached machine translations (issue 14).

posts.search_translations: {sha256 of the title or body: {target language: folded words of its
translation}}, written when a translation is cached (market.posts.translated_search). Only the
entries whose hash is that of the post's current title or body are appended to search_text, so
an edited post's old translations stop matching. NULL: no translation known.

Existing cached translations are copied in once here (the hash is translation_cache's key). The
folding is copied, not imported, so that this migration does the same thing forever.

Only a column is added (no table rebuild on SQLite), so the FTS5 triggers of 0015 stay.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

import hashlib
import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WORD = re.compile(r"[^\W_]+")
_LETTERS = str.maketrans(
    {
        "ي": "ی",
        "ى": "ی",
        "ك": "ک",
        "ة": "ه",
        "ـ": None,
        "\u200c": " ",
        "ё": "е",
        "'": None,
        "’": None,
        "ʼ": None,
    }
)


def _words(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LETTERS))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(unicodedata.normalize("NFC", bare).translate(_LETTERS))


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _copy_cached() -> None:
    conn = op.get_bind()
    cache = sa.table(
        "translation_cache",
        sa.column("text_hash", sa.String),
        sa.column("target", sa.String),
        sa.column("source", sa.String),
        sa.column("text", sa.Text),
    )
    by_hash: dict[str, dict[str, str]] = {}
    rows = conn.execute(sa.select(cache.c.text_hash, cache.c.target, cache.c.source, cache.c.text))
    for text_hash, target, source, text in rows:
        if source != target and text:
            by_hash.setdefault(text_hash, {})[target] = " ".join(_words(text))
    if not by_hash:
        return
    posts = sa.table(
        "posts",
        sa.column("id", sa.String),
        sa.column("title", sa.String),
        sa.column("body", sa.Text),
        sa.column("city", sa.String),
        sa.column("search_text", sa.Text),
        sa.column("search_translations", sa.JSON),
    )
    update = (
        sa.update(posts)
        .where(posts.c.id == sa.bindparam("post_id"))
        .values(search_text=sa.bindparam("text"), search_translations=sa.bindparam("found"))
    )
    batch: list[dict[str, object]] = []
    found_rows = conn.execute(sa.select(posts.c.id, posts.c.title, posts.c.body, posts.c.city))
    for post_id, title, body, city in found_rows.fetchall():
        parts = [p for p in (title or "", body or "") if p.strip()]
        found = {_hash(p): by_hash[_hash(p)] for p in parts if _hash(p) in by_hash}
        if not found:
            continue
        own = _words(f"{title}\n{body or ''}\n{city or ''}")
        seen = set(own)
        extra = []
        for targets in found.values():
            for folded in targets.values():
                for word in folded.split():
                    if word not in seen:
                        seen.add(word)
                        extra.append(word)
        batch.append({"post_id": post_id, "text": " ".join(own + extra), "found": found})
        if len(batch) == 1000:
            conn.execute(update, batch)
            batch = []
    if batch:
        conn.execute(update, batch)


def upgrade() -> None:
    op.add_column("posts", sa.Column("search_translations", sa.JSON(none_as_null=True)))
    _copy_cached()


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place (no table rebuild), so the FTS5 triggers stay.
    op.drop_column("posts", "search_translations")
