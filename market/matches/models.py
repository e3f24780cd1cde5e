"""Matches: an offer and a need proposed to each other, and what each side answered."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base, IdMixin, TimestampMixin, checked, utcnow


class MatchStatus(StrEnum):
    PROPOSED = "proposed"
    CONNECTED = "connected"
    DECLINED = "declined"
    CLOSED = "closed"
    EXPIRED = "expired"


class Response(StrEnum):
    """One side's answer to a proposed match."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class DeclineReason(StrEnum):
    NOT_AVAILABLE = "not_available"
    TOO_FAR = "too_far"
    LANGUAGE = "language"
    NOT_SUITABLE = "not_suitable"
    OTHER = "other"


class RunKind(StrEnum):
    """A regional run (market.matches.runs): confirming a plan, the unmatched view, or the
    preview of a plan (migration 0018)."""

    CONFIRM = "confirm"
    UNMATCHED = "unmatched"
    PREVIEW = "preview"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


# The same values as plain strings (StrEnum members equal them).
MATCH_STATUSES = tuple(s.value for s in MatchStatus)
DECLINE_REASONS = tuple(r.value for r in DeclineReason)
RESPONSES = tuple(r.value for r in Response)
OPEN = (MatchStatus.PROPOSED.value, MatchStatus.CONNECTED.value)


class Match(IdMixin, TimestampMixin, Base):
    __tablename__ = "matches"
    __table_args__ = (
        # One row per pair for ever: a declined pair stays declined and is never proposed again.
        UniqueConstraint("offer_id", "need_id"),
        Index("ix_matches_volunteer_status", "volunteer_id", "status"),
        Index("ix_matches_need_author_status", "need_author_id", "status"),
        Index("ix_matches_need_status", "need_id", "status"),
        # The follow-through rules find proposed and connected matches by age.
        Index("ix_matches_status_created", "status", "created_at"),
    )

    offer_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    need_id: Mapped[str] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    volunteer_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    need_author_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    distance_km: Mapped[float | None] = mapped_column(Float)
    status: Mapped[MatchStatus] = mapped_column(String(12), default=MatchStatus.PROPOSED)
    offer_response: Mapped[Response] = mapped_column(String(10), default=Response.PENDING)
    need_response: Mapped[Response] = mapped_column(String(10), default=Response.PENDING)
    declined_by: Mapped[str | None] = mapped_column(String(32))
    # Why a match was withdrawn: a post closed or expired, approval revoked, certificate expired.
    closed_reason: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    connected_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Follow-through (market.matches.followthrough): each step happens once, so each has its time.
    reminded_at: Mapped[datetime | None]
    stalled_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    # Proposal to connected, for the statistics (time to first contact).
    first_contact_seconds: Mapped[int | None]
    decline_reason: Mapped[DeclineReason | None] = mapped_column(String(16))
    decline_note: Mapped[str | None] = mapped_column(String(500))
    # "Did you meet?": asked once, seven days after connected; each side's answer.
    outcome_asked_at: Mapped[datetime | None]
    offer_met: Mapped[bool | None]
    offer_met_at: Mapped[datetime | None]
    need_met: Mapped[bool | None]
    need_met_at: Mapped[datetime | None]
    outcome_note: Mapped[str | None] = mapped_column(String(500))


# Closed sets of values, also CHECK constraints (migrations name them ck_<table>_<column>).
checked(
    Match.__table__,
    status=MatchStatus,
    offer_response=Response,
    need_response=Response,
    decline_reason=DeclineReason,
)
