"""posts is vacuumed after 1 % of its rows changed, not 20 %.

Revision ID: 0022
Revises: 0021

The matcher (ix_posts_match_cover), the map and the search read posts by index-only scans. Such
a scan reads the table only for pages the visibility map does not mark all-visible, and only
VACUUM sets those marks again once a row on a page was written. PostgreSQL's default waits for
20 % of the rows to change (48,000 of 240,000 posts) before vacuuming, so a city's worth of
changed posts (a confirmed regional run, expiries) can leave most pages unmarked for weeks.

Measured with benchmarks/matching.py at 200,000 published posts after 10,000 posts were written
(and rolled back): new-post matching p95 rose from 22 to 30 ms; VACUUM brought it back. With
these settings autovacuum runs after about 2,450 changed rows, within its naptime (a minute).
Inserted rows count too (autovacuum_vacuum_insert_scale_factor): new posts' pages get their marks
without waiting for 48,000 more. On SQLite there is nothing to set.
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0.01",
    "autovacuum_vacuum_insert_scale_factor": "0.01",
    "autovacuum_analyze_scale_factor": "0.02",
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    values = ", ".join(f"{name} = {value}" for name, value in SETTINGS.items())
    op.execute(f"ALTER TABLE posts SET ({values})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE posts RESET ({', '.join(SETTINGS)})")
