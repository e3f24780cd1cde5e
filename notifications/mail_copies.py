"""Copies of mail are personal data too (API.md, Release 2, Accounts and personal data).

A finished mail's outbox row is redacted after MAIL_COPY_DAYS; an erased account's mails at once
(market.accounts.erasure). Re-exported by notifications.outbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.models import OutboxItem

# What a row of the "send_mail" job holds about the person: blanked by redact().
MAIL_COPY_FIELDS = ("to", "subject", "text", "html")
# A finished mail's copy is kept this long (to answer "did you get my mail?"), then redacted.
MAIL_COPY_DAYS = 30


def redact(item: OutboxItem, now: datetime) -> None:
    """Blank the address, subject and bodies; template, locale and status stay for counting."""
    payload = {k: v for k, v in item.payload.items() if k not in MAIL_COPY_FIELDS}
    payload.update({k: "" for k in MAIL_COPY_FIELDS if k in item.payload})
    item.payload = payload
    item.redacted_at = now


async def redact_mail_copies(
    session: AsyncSession,
    now: datetime,
    *,
    older_than: timedelta = timedelta(days=MAIL_COPY_DAYS),
    limit: int = 500,
) -> int:
    """Redact up to `limit` rows finished longer than `older_than` ago; returns how many.

    Finished means delivered (`done`, by `done_at`) or given up (`failed`, by the time of its
    last try); a pending mail keeps its copy, since it still has to be sent. Rows of other
    jobs are only marked, so that they leave the partial index ix_outbox_unredacted.
    """
    cutoff = now - older_than
    stmt = (
        select(OutboxItem)
        .where(
            OutboxItem.redacted_at.is_(None),
            or_(
                and_(OutboxItem.status == "done", OutboxItem.done_at <= cutoff),
                and_(OutboxItem.status == "failed", OutboxItem.available_at <= cutoff),
            ),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = list(await session.scalars(stmt))
    for item in rows:
        redact(item, now)
    await session.flush()
    return len(rows)
