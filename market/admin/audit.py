"""Writing and reading the audit log. Every admin change calls `record` in its transaction, so
the entry and the change commit together (or neither)."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.admin.models import AuditEntry


async def record(
    session: AsyncSession,
    actor_id: str | None,
    action: str,
    object_type: str,
    object_id: str | None,
    detail: str | None = None,
) -> AuditEntry:
    """One entry. `detail` must hold no personal data beyond ids (see AuditEntry)."""
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        detail=(detail or None) and detail[:200],
    )
    session.add(entry)
    await session.flush()
    return entry


def newest_first() -> Select[AuditEntry]:
    return select(AuditEntry)
