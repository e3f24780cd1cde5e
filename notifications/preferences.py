"""Which mail a person wants: for each kind of notification immediately, in a daily digest, or off.

The choice is about mail only: in-app notifications are always recorded (they are the record of
what happened, and the digest is made from them). Mail about matches and account security
(verification, password reset) cannot be switched off; those kinds are listed in FIXED and
never stored.

`queue_mail` consults this module itself (see notifications.mail), so callers that pass a
`kind` (or use one of the templates in TEMPLATE_KINDS) honour the choice without doing anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from market.db import utcnow
from notifications.models import DELIVERY_MODES, NotificationPreference

IMMEDIATE, DIGEST, OFF = DELIVERY_MODES
DEFAULT_MODE = IMMEDIATE

# Kinds a person may switch to the digest or off, in the order the settings page shows them.
SWITCHABLE: tuple[str, ...] = (
    "message.new",
    "application.received",
    "application.accepted",
    "application.declined",
    "vetting.approved",
    "vetting.rejected",
)
# Always mailed at once: a match waits for an answer, and security mail must arrive.
FIXED: tuple[str, ...] = ("match.proposed", "match.connected", "account.security")
KINDS: tuple[str, ...] = FIXED + SWITCHABLE

# Mail templates whose kind is known, so that callers of queue_mail need not name it.
TEMPLATE_KINDS: dict[str, str] = {
    "message_new": "message.new",
    "application_received": "application.received",
    "application_accepted": "application.accepted",
    "application_declined": "application.declined",
    "vetting_approved": "vetting.approved",
    "vetting_rejected": "vetting.rejected",
    "match_proposed": "match.proposed",
    "match_connected": "match.connected",
    "verify_email": "account.security",
    "reset_password": "account.security",
    "delete_account": "account.security",
    "already_registered": "account.security",
}


class PreferenceError(ValueError):
    """A choice that cannot be stored; `kind` names the offending entry."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def is_switchable(kind: str) -> bool:
    return kind in SWITCHABLE


async def mode_for(session: AsyncSession, user_id: str, kind: str) -> str:
    """How this person wants mail of this kind now ("immediate" for fixed and unknown kinds)."""
    if kind not in SWITCHABLE:
        return IMMEDIATE
    mode = await session.scalar(
        select(NotificationPreference.mode).where(
            NotificationPreference.user_id == user_id, NotificationPreference.kind == kind
        )
    )
    return mode if mode in DELIVERY_MODES else DEFAULT_MODE


async def modes_of(session: AsyncSession, user_id: str) -> dict[str, str]:
    """Every kind with this person's choice (fixed kinds: "immediate"), in display order."""
    rows = await session.execute(
        select(NotificationPreference.kind, NotificationPreference.mode).where(
            NotificationPreference.user_id == user_id
        )
    )
    stored = dict(rows.all())
    return {
        kind: (stored.get(kind, DEFAULT_MODE) if kind in SWITCHABLE else IMMEDIATE)
        for kind in KINDS
    }


def check_choices(choices: Mapping[str, Any]) -> dict[str, str]:
    """The choices if each names a known kind and a mode it may have; PreferenceError if not."""
    checked: dict[str, str] = {}
    for kind, mode in choices.items():
        if kind not in KINDS:
            raise PreferenceError(kind, f"Unknown kind of notification: {kind}.")
        if mode not in DELIVERY_MODES:
            raise PreferenceError(kind, "Choose immediate, digest or off.")
        if kind in FIXED and mode != IMMEDIATE:
            raise PreferenceError(kind, "Mail of this kind cannot be switched off.")
        checked[kind] = str(mode)
    return checked


async def set_modes(
    session: AsyncSession, user_id: str, choices: Mapping[str, Any]
) -> dict[str, str]:
    """Store some choices (the rest stay as they are); returns every kind's mode afterwards."""
    checked = check_choices(choices)
    now = utcnow()
    dialect = session.get_bind().dialect.name
    for kind, mode in checked.items():
        if kind in FIXED:
            continue
        if mode == DEFAULT_MODE:
            await session.execute(
                delete(NotificationPreference).where(
                    NotificationPreference.user_id == user_id,
                    NotificationPreference.kind == kind,
                )
            )
            continue
        values = {"user_id": user_id, "kind": kind, "mode": mode, "updated_at": now}
        # An upsert, so that two saves at once do not fail on the primary key.
        if dialect == "postgresql":
            pg = postgresql.insert(NotificationPreference).values(values)
            await session.execute(
                pg.on_conflict_do_update(
                    index_elements=["user_id", "kind"],
                    set_={"mode": pg.excluded.mode, "updated_at": pg.excluded.updated_at},
                )
            )
        elif dialect == "sqlite":
            lite = sqlite.insert(NotificationPreference).values(values)
            await session.execute(
                lite.on_conflict_do_update(
                    index_elements=["user_id", "kind"],
                    set_={"mode": lite.excluded.mode, "updated_at": lite.excluded.updated_at},
                )
            )
        else:  # pragma: no cover - Anlauf runs on PostgreSQL and SQLite only
            await session.merge(NotificationPreference(**values))
    await session.flush()
    return await modes_of(session, user_id)


async def digest_kinds(session: AsyncSession, user_id: str) -> list[str]:
    """The kinds this person wants in the daily digest."""
    rows = await session.scalars(
        select(NotificationPreference.kind).where(
            NotificationPreference.user_id == user_id, NotificationPreference.mode == DIGEST
        )
    )
    return [kind for kind in rows if kind in SWITCHABLE]
