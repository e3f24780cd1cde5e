"""Posts: a public point per post, fixed once (privacy of places)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

Every search, distance and ordering shown to the public works on `public_lat`/`public_lon`, the
centre of the ~1 km cell holding the exact point (market.posts.geo.coarsen), so that repeated
radius searches reveal nothing finer. Existing posts get theirs here, from their exact point.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import market.db  # noqa: F401

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def upgrade() -> None:
    from market.posts.geo import coarsen

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("public_lon", sa.Float(), nullable=True))

    posts = sa.table(
        "posts",
        sa.column("id", sa.String),
        sa.column("lat", sa.Float),
        sa.column("lon", sa.Float),
        sa.column("public_lat", sa.Float),
        sa.column("public_lon", sa.Float),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(posts.c.id, posts.c.lat, posts.c.lon).where(
            posts.c.lat.is_not(None), posts.c.lon.is_not(None)
        )
    ).all()
    update = (
        sa.update(posts)
        .where(posts.c.id == sa.bindparam("b_id"))
        .values(public_lat=sa.bindparam("b_lat"), public_lon=sa.bindparam("b_lon"))
    )
    for start in range(0, len(rows), _BATCH):
        params = []
        for post_id, lat, lon in rows[start : start + _BATCH]:
            public_lat, public_lon = coarsen(lat, lon)
            params.append({"b_id": post_id, "b_lat": public_lat, "b_lon": public_lon})
        bind.execute(update, params)

    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_posts_status_public_point", ["status", "public_lat", "public_lon"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_status_public_point")
        batch_op.drop_column("public_lon")
        batch_op.drop_column("public_lat")
