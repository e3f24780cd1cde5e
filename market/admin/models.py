"""The audit log: every change an admin makes in the console, for other admins to read."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base, IdMixin, TimestampMixin, checked


class AuditAction(StrEnum):
    """What a staff member did: <object>.<verb>, as the audit page shows it."""

    REGION_CREATED = "region.created"
    REGION_CHANGED = "region.changed"
    COORDINATOR_CREATED = "coordinator.created"
    COORDINATOR_PROMOTED = "coordinator.promoted"
    COORDINATOR_REGIONS = "coordinator.regions"
    USER_SUSPENDED = "user.suspended"
    USER_UNSUSPENDED = "user.unsuspended"
    ORGANISATION_APPROVED = "organisation.approved"
    ORGANISATION_REJECTED = "organisation.rejected"
    REPORT_RESOLVED = "report.resolved"
    REPORT_DISMISSED = "report.dismissed"
    POST_UNPUBLISHED = "post.unpublished"
    POST_REPUBLISHED = "post.republished"
    LEGAL_CHANGED = "legal.changed"


class AuditEntry(IdMixin, TimestampMixin, Base):
    """Who did what to which object, and when. `detail` is short and holds no personal data
    beyond ids (a region's name or a changed field's name, never an email address)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_created", "created_at", "id"),)

    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[AuditAction] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(16))
    object_id: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(200))


# A closed set, also a CHECK constraint (migration 0019 names it ck_audit_log_action).
checked(AuditEntry.__table__, action=AuditAction)
