"""The public point's index gains created_at.

Revision ID: 0021
Revises: 0020

A search kept to a place counts its results in the window of the newest posts
(market.posts.search.count). With (status, public_lat, public_lon) the database either read the
window from the date index and every row of it from the table (10,000 rows for 41 counted), or
the band of latitude around the earth from this one. With created_at as the last column the
window is tested inside the index, at each public latitude of the band
(market.posts.distance.coarse_latitudes), and for the posts without a place (public_lat
NULL). The old index is a prefix of the new one, so it goes.

Measured with benchmarks/search_plans.py on 200,000 published posts, the count of
place=Leipzig, 25 km + q=Deutsch: see benchmarks/README.md ("Search kept to a place").
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_posts_status_public_point_created",
            ["status", "public_lat", "public_lon", "created_at"],
            unique=False,
        )
        batch_op.drop_index("ix_posts_status_public_point")


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_posts_status_public_point", ["status", "public_lat", "public_lon"], unique=False
        )
        batch_op.drop_index("ix_posts_status_public_point_created")
