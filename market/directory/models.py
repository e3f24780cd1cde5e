"""The directory ("Wegweiser"): services and events of organisations and the city.

Services and events share one table (`kind`): they are written, reviewed, searched and shown
alike, and differ only in opening hours against a start and an end. Topics and languages are
kept as "|a|b|" text, so that filtering by one works with LIKE on PostgreSQL and SQLite alike
(a directory holds hundreds of entries, not millions).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base, IdMixin, TimestampMixin, checked, utcnow


class EntryKind(StrEnum):
    SERVICE = "service"
    EVENT = "event"


class EntryStatus(StrEnum):
    PENDING_REVIEW = "pending_review"
    PUBLISHED = "published"
    REJECTED = "rejected"
    ARCHIVED = "archived"


# The same values as plain strings (StrEnum members equal them).
KINDS = tuple(k.value for k in EntryKind)
STATUSES = tuple(s.value for s in EntryStatus)


def pack(codes: list[str]) -> str:
    """["ar", "de"] -> "|ar|de|" (see the module docstring)."""
    return "|" + "|".join(codes) + "|" if codes else ""


def unpack(text: str | None) -> list[str]:
    return [c for c in (text or "").split("|") if c]


class Entry(IdMixin, TimestampMixin, Base):
    __tablename__ = "directory_entries"
    __table_args__ = (
        Index("ix_directory_entries_kind_status", "kind", "status"),
        Index("ix_directory_entries_region_status", "region_id", "status"),
    )

    kind: Mapped[EntryKind] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(120))
    # An approved organisation's entry; None for the city's own, which names its operator in
    # `organisation_name` (an imported catalogue names organisations that have no account).
    organisation_id: Mapped[str | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    organisation_name: Mapped[str] = mapped_column(String(120), default="")
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    topics: Mapped[str] = mapped_column(String(400), default="")
    languages: Mapped[str] = mapped_column(String(400), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str] = mapped_column(String(200))
    # Services are public places: the exact point is shown to everyone.
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    region_id: Mapped[str | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"))
    # Weekly hours [{"weekday": 0-6, "start": "HH:MM", "end": "HH:MM"}], Monday 0, Europe/Berlin.
    opening_hours: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    website: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[EntryStatus] = mapped_column(String(16), default=EntryStatus.PENDING_REVIEW)
    published_at: Mapped[datetime | None]
    # Freshness: when its organisation last said it is still right, and when we last asked.
    confirmed_at: Mapped[datetime | None]
    confirm_asked_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]
    search_text: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def topic_list(self) -> list[str]:
        return unpack(self.topics)

    @property
    def language_list(self) -> list[str]:
        return unpack(self.languages)


class Referral(IdMixin, TimestampMixin, Base):
    """A service suggested to a person (from a need or a match), shown on their dashboard."""

    __tablename__ = "directory_referrals"

    entry_id: Mapped[str] = mapped_column(
        ForeignKey("directory_entries.id", ondelete="CASCADE"), index=True
    )
    to_user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    from_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    post_id: Mapped[str | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text, default="")


# Closed sets of values, also CHECK constraints (migrations name them ck_<table>_<column>).
checked(Entry.__table__, kind=EntryKind, status=EntryStatus)
