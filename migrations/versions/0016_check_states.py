"""Closed sets of values as named CHECK constraints (issue 15: states as StrEnums).

Revision ID: 0016
Revises: 0015

Every status, kind, role, level, response and decision column holds one of a closed set of
values (the StrEnums in each feature's models module, which declare the same constraints through
market.db.checked). The values are written out here, not imported, so that this migration stays
what it was when it landed.

PostgreSQL gets real CHECK constraints, ck_<table>_<column>. On SQLite a constraint can only be
added by recreating the table (batch mode), which on a populated database would drop the posts'
full-text triggers (0015) and, with foreign keys on, cascade the implicit DELETE of a dropped
table such as users into every table that refers to it. So SQLite gets the same rule, under the
same name, as a pair of triggers per column (BEFORE INSERT and BEFORE UPDATE OF the column) that
abort with "CHECK constraint failed: ck_<table>_<column>"; NULL passes, as with CHECK.
"""

from __future__ import annotations

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

CHECKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ('organisations', 'status', ('pending', 'approved', 'rejected')),
    ('users', 'role', ('volunteer', 'seeker', 'organisation', 'coordinator', 'admin')),
    ('users', 'vetting_status', ('pending', 'approved', 'rejected')),
    ('directory_entries', 'kind', ('service', 'event')),
    ('directory_entries', 'status', ('pending_review', 'published', 'rejected', 'archived')),
    ('legal_texts', 'kind', ('imprint', 'privacy', 'accessibility')),
    ('organisation_invitations', 'role', ('owner', 'member')),
    ('organisation_members', 'role', ('owner', 'member')),
    ('posts', 'kind', ('offer', 'need')),
    ('posts', 'mode', ('in_person', 'remote', 'either')),
    ('posts', 'status', ('pending_review', 'published', 'closed', 'expired', 'rejected')),
    ('regional_runs', 'kind', ('confirm', 'unmatched')),
    ('regional_runs', 'status', ('queued', 'running', 'done', 'failed')),
    ('reports', 'status', ('open', 'resolved')),
    ('reports', 'target_type', ('post', 'message', 'user')),
    ('user_languages', 'level', ('native', 'fluent', 'basic')),
    ('vetting_decisions', 'decision', ('approve', 'reject')),
    ('applications', 'status', ('pending', 'accepted', 'declined', 'withdrawn')),
    ('matches', 'decline_reason', ('not_available', 'too_far', 'language', 'not_suitable', 'other')),
    ('matches', 'need_response', ('pending', 'accepted', 'declined')),
    ('matches', 'offer_response', ('pending', 'accepted', 'declined')),
    ('matches', 'status', ('proposed', 'connected', 'declined', 'closed', 'expired')),
    ('post_reviews', 'decision', ('publish', 'reject')),
)


def _allowed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, values in CHECKS:
        name = f"ck_{table}_{column}"
        condition = f"{column} IN ({_allowed(values)})"
        if not sqlite:
            # op.f: the name is final (the naming convention would prefix it again).
            op.create_check_constraint(op.f(name), table, condition)
            continue
        for when, event in (("insert", "INSERT"), ("update", f"UPDATE OF {column}")):
            op.execute(
                f"CREATE TRIGGER {name}_{when} BEFORE {event} ON {table} "
                f"WHEN NEW.{column} IS NOT NULL AND NEW.{column} NOT IN ({_allowed(values)}) "
                f"BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: {name}'); END"
            )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, column, _values in reversed(CHECKS):
        name = f"ck_{table}_{column}"
        if not sqlite:
            op.drop_constraint(op.f(name), table, type_="check")
            continue
        for when in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}_{when}")
