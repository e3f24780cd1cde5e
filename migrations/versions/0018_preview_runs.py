"""Regional runs of a third kind: the preview of a matching run (worked out by a job).

Revision ID: 0018
Revises: 0017

The preview of a city-sized matching run takes seconds, so it runs as an outbox job like the
confirmation and the unmatched view; its row in regional_runs has kind "preview". The closed set
of kinds (0016: a CHECK constraint on PostgreSQL, a pair of triggers on SQLite) gets the new
value; the values are written out here so that this migration stays what it was.
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

NAME = "ck_regional_runs_kind"
BEFORE = ("confirm", "unmatched")
AFTER = ("confirm", "unmatched", "preview")


def _allowed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def _set(values: tuple[str, ...]) -> None:
    condition = f"kind IN ({_allowed(values)})"
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(NAME), "regional_runs", type_="check")
        op.create_check_constraint(op.f(NAME), "regional_runs", condition)
        return
    for when, event in (("insert", "INSERT"), ("update", "UPDATE OF kind")):
        op.execute(f"DROP TRIGGER IF EXISTS {NAME}_{when}")
        op.execute(
            f"CREATE TRIGGER {NAME}_{when} BEFORE {event} ON regional_runs "
            f"WHEN NEW.kind IS NOT NULL AND NEW.kind NOT IN ({_allowed(values)}) "
            f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {NAME}'); END"
        )


def upgrade() -> None:
    _set(AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM regional_runs WHERE kind = 'preview'")
    _set(BEFORE)
