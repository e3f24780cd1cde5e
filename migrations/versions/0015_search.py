"""Search that understands (issue 14): full-text indexes over posts.search_text

PostgreSQL: a GIN index on to_tsvector('simple', search_text), the expression
market.posts.search matches with (the 'simple' configuration: no stemming for one language, as
posts are written in many). SQLite: the FTS5 table posts_fts (post id, search_text), kept in step
with posts by three triggers.

search_text is rewritten for every post as folded words (lower case, no accents or Arabic marks,
one spelling of ي/ی, ك/ک, ة/ه), as market.posts.search.stored_text writes it from now on. The
folding is copied here, not imported, so that this migration does the same thing forever.

A later migration that rebuilds posts on SQLite (op.batch_alter_table copies the table and drops
the old one) drops these triggers with it and must create them again (see _SQLITE_TRIGGERS);
tests/market/posts/test_search_understands.py fails if they are missing.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
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

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER posts_fts_insert AFTER INSERT ON posts BEGIN"
    " INSERT INTO posts_fts (post_id, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER posts_fts_delete AFTER DELETE ON posts BEGIN"
    " DELETE FROM posts_fts WHERE post_id = old.id; END",
    "CREATE TRIGGER posts_fts_update AFTER UPDATE OF id, search_text ON posts BEGIN"
    " DELETE FROM posts_fts WHERE post_id = old.id;"
    " INSERT INTO posts_fts (post_id, search_text) VALUES (new.id, new.search_text); END",
)


def _fold_words(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LETTERS))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_WORD.findall(unicodedata.normalize("NFC", bare).translate(_LETTERS)))


def _refold() -> None:
    conn = op.get_bind()
    posts = sa.table(
        "posts",
        sa.column("id", sa.String),
        sa.column("title", sa.String),
        sa.column("body", sa.Text),
        sa.column("city", sa.String),
        sa.column("search_text", sa.Text),
    )
    rows = conn.execute(sa.select(posts.c.id, posts.c.title, posts.c.body, posts.c.city))
    update = (
        sa.update(posts)
        .where(posts.c.id == sa.bindparam("post_id"))
        .values(search_text=sa.bindparam("text"))
    )
    batch: list[dict[str, str]] = []
    for post_id, title, body, city in rows.fetchall():
        text = _fold_words(f"{title}\n{body or ''}\n{city or ''}")
        batch.append({"post_id": post_id, "text": text})
        if len(batch) == 1000:
            conn.execute(update, batch)
            batch = []
    if batch:
        conn.execute(update, batch)


def upgrade() -> None:
    _refold()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_posts_search_fts ON posts"
            " USING gin (to_tsvector('simple', search_text))"
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE posts_fts USING fts5("
            "post_id UNINDEXED, search_text, tokenize = 'unicode61 remove_diacritics 2')"
        )
        op.execute("INSERT INTO posts_fts (post_id, search_text) SELECT id, search_text FROM posts")
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_posts_search_fts")
    else:
        for name in ("posts_fts_insert", "posts_fts_delete", "posts_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS posts_fts")
