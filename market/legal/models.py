"""Legal pages as admins edited them, one row per page and UI language."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base, checked, utcnow


class LegalKind(StrEnum):
    IMPRINT = "imprint"
    PRIVACY = "privacy"
    ACCESSIBILITY = "accessibility"


# The same values as plain strings (StrEnum members equal them).
KINDS = tuple(k.value for k in LegalKind)


class LegalText(Base):
    """An admin's text for one page in one language; without a row the default text is shown."""

    __tablename__ = "legal_texts"
    __table_args__ = (UniqueConstraint("kind", "locale"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[LegalKind] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# Closed sets of values, also CHECK constraints (migrations name them ck_<table>_<column>).
checked(LegalText.__table__, kind=LegalKind)
