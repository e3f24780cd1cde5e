"""The audit log: every change an admin makes in the console, for other admins to read."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base, IdMixin, TimestampMixin


class AuditEntry(IdMixin, TimestampMixin, Base):
    """Who did what to which object, and when. `detail` is short and holds no personal data
    beyond ids (a region's name or a changed field's name, never an email address)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_created", "created_at", "id"),)

    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(200))
