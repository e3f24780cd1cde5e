"""Three more closed sets as named CHECK constraints: notification kinds, account-token
purposes and audit-log actions (issue 15: states as StrEnums).

Revision ID: 0019
Revises: 0018

The StrEnums are NotificationKind (notifications.models), TokenPurpose
(market.accounts.models) and AuditAction (market.admin.models); the values are written out here,
not imported, so that this migration stays what it was when it landed. As in 0016: a CHECK
constraint on PostgreSQL, and on SQLite (where adding one would recreate the table) a pair of
triggers of the same name that abort with "CHECK constraint failed: ck_<table>_<column>".
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

CHECKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "notifications",
        "kind",
        (
            "match.proposed",
            "match.connected",
            "match.reminder",
            "match.stalled",
            "match.expired",
            "match.paused",
            "match.outcome",
            "match.reopened",
            "message.new",
            "application.received",
            "application.accepted",
            "application.declined",
            "vetting.approved",
            "vetting.rejected",
            "service.suggested",
            "post.rejected",
            "need.confirm",
            "need.closed",
            "account.security",
        ),
    ),
    (
        "account_tokens",
        "purpose",
        ("verify_email", "reset_password", "delete_account", "link_oidc"),
    ),
    (
        "audit_log",
        "action",
        (
            "region.created",
            "region.changed",
            "coordinator.created",
            "coordinator.promoted",
            "coordinator.regions",
            "user.suspended",
            "user.unsuspended",
            "organisation.approved",
            "organisation.rejected",
            "report.resolved",
            "report.dismissed",
            "post.unpublished",
            "post.republished",
            "legal.changed",
        ),
    ),
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
