"""The translation cache: one row per source text (by hash) and target language."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from market.db import Base, utcnow


class CachedTranslation(Base):
    """A machine translation of one text. Keyed by the SHA-256 of the text, so an edited title or
    body is simply a new key; rows of texts that no longer exist are harmless and small."""

    __tablename__ = "translation_cache"

    text_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    target: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The language the text was written in, as declared or detected ("" unknown). Equal to
    # target: the text needs no translation for this reader.
    source: Mapped[str] = mapped_column(String(16), default="")
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
