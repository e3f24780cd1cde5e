"""Machine translation: posts.lang (detected after each write) and the translation cache

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import market.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lang", sa.String(length=16), nullable=True))
    op.create_table(
        "translation_cache",
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("text_hash", "target", name=op.f("pk_translation_cache")),
    )


def downgrade() -> None:
    op.drop_table("translation_cache")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_column("lang")
