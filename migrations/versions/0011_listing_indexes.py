"""Posts: indexes for every public listing, newest first

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

Every public listing (the start page, /posts, GET /api/v1/posts, an author's own posts) orders
by (created_at, id), its keyset. Without an index for that order, each page sorted all
published posts (0.85-1.1 s per page at 200,000). With these, PostgreSQL walks the newest
entries of one index backwards and stops after a page; benchmarks/README.md shows the plans.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_posts_status_created": ["status", "created_at", "id"],
    "ix_posts_status_kind_created": ["status", "kind", "created_at", "id"],
    "ix_posts_status_category_created": ["status", "category", "created_at", "id"],
    "ix_posts_author_created": ["author_id", "created_at", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "posts", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="posts")
