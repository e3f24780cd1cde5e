"""Police certificate: the certificate's own date and the day it was seen, on vetting decisions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("vetting_decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("police_certificate_issued_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("police_certificate_seen_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vetting_decisions", schema=None) as batch_op:
        batch_op.drop_column("police_certificate_seen_on")
        batch_op.drop_column("police_certificate_issued_on")
