"""Volunteer vetting decisions, post reviews and reports."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base, IdMixin, TimestampMixin, checked


class VolunteerVerdict(StrEnum):
    """A coordinator's decision about a volunteer."""

    APPROVE = "approve"
    REJECT = "reject"


class PostVerdict(StrEnum):
    """A coordinator's decision about a post under review."""

    PUBLISH = "publish"
    REJECT = "reject"


class ReportTarget(StrEnum):
    POST = "post"
    MESSAGE = "message"
    USER = "user"


class ReportStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


# The same values as plain strings (StrEnum members equal them).
REPORT_TARGETS = tuple(t.value for t in ReportTarget)


class VettingDecision(IdMixin, TimestampMixin, Base):
    """One coordinator decision about a volunteer; the latest counts, all stay as history."""

    __tablename__ = "vetting_decisions"
    __table_args__ = (Index("ix_vetting_decisions_volunteer", "volunteer_id", "created_at"),)

    volunteer_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    coordinator_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision: Mapped[VolunteerVerdict] = mapped_column(String(8))
    identity: Mapped[bool] = mapped_column(Boolean, default=False)
    interview: Mapped[bool] = mapped_column(Boolean, default=False)
    code_of_conduct: Mapped[bool] = mapped_column(Boolean, default=False)
    police_certificate_until: Mapped[date | None]
    # The other two police-certificate facts § 72a SGB VIII lets us keep (API.md, Follow-through):
    # the certificate's own date and the day a coordinator saw it. All three go on the same
    # schedule (market.retention.delete_certificate_facts).
    police_certificate_issued_on: Mapped[date | None]
    police_certificate_seen_on: Mapped[date | None]
    note: Mapped[str | None] = mapped_column(Text)


class PostReview(IdMixin, TimestampMixin, Base):
    __tablename__ = "post_reviews"

    post_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    coordinator_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision: Mapped[PostVerdict] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)


class Report(IdMixin, TimestampMixin, Base):
    __tablename__ = "reports"

    reporter_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target_type: Mapped[ReportTarget] = mapped_column(String(8))
    target_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[ReportStatus] = mapped_column(String(8), default=ReportStatus.OPEN, index=True)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(Text)


# Closed sets of values, also CHECK constraints (migrations name them ck_<table>_<column>).
checked(VettingDecision.__table__, decision=VolunteerVerdict)
checked(PostReview.__table__, decision=PostVerdict)
checked(Report.__table__, target_type=ReportTarget, status=ReportStatus)
