"""Two-factor sign-in (TOTP) and API token bookkeeping

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import market.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _add_public_id(table: str) -> None:
    """A public id for each row; existing rows get a random one before the unique index."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_id", sa.String(length=32), nullable=True))
    bind = op.get_bind()
    t = sa.table(table, sa.column("id", sa.String), sa.column("public_id", sa.String))
    for (row_id,) in bind.execute(sa.select(t.c.id)).all():
        bind.execute(
            sa.update(t).where(t.c.id == row_id).values(public_id=secrets.token_hex(16))
        )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.alter_column("public_id", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f(f"uq_{table}_public_id"), ["public_id"])


def upgrade() -> None:
    op.create_table(
        "two_factor",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("confirmed_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_two_factor_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_two_factor")),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)

    _add_public_id("api_tokens")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_used_at", market.db.UTCDateTime(timezone=True), nullable=True)
        )
    _add_public_id("web_sessions")


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_web_sessions_public_id"), type_="unique")
        batch_op.drop_column("public_id")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_api_tokens_public_id"), type_="unique")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("public_id")
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))
    op.drop_table("recovery_codes")
    op.drop_table("two_factor")
