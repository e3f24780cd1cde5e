"""Offers and needs, their languages, regions and the offline postcode gazetteer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, event, func, literal_column
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from market.db import Base, IdMixin, TimestampMixin, checked, utcnow


class PostKind(StrEnum):
    OFFER = "offer"
    NEED = "need"


class PostMode(StrEnum):
    IN_PERSON = "in_person"
    REMOTE = "remote"
    EITHER = "either"


class PostStatus(StrEnum):
    PENDING_REVIEW = "pending_review"
    PUBLISHED = "published"
    CLOSED = "closed"
    EXPIRED = "expired"
    REJECTED = "rejected"


# The same values as plain strings (StrEnum members equal them).
KINDS = tuple(k.value for k in PostKind)
MODES = tuple(m.value for m in PostMode)
STATUSES = tuple(s.value for s in PostStatus)


class Region(IdMixin, TimestampMixin, Base):
    """A city or district served by this installation: a circle around a centre."""

    __tablename__ = "regions"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    radius_km: Mapped[float] = mapped_column(Float, default=25.0)


class Post(IdMixin, TimestampMixin, Base):
    __tablename__ = "posts"
    __table_args__ = (
        Index("ix_posts_status_kind_category", "status", "kind", "category"),
        Index("ix_posts_status_cell", "status", "cell_lat", "cell_lon"),
        Index("ix_posts_author_id", "author_id"),
        Index("ix_posts_region_status", "region_id", "status"),
        # Every public distance filter: each public latitude of the band, then a range of
        # public_lon, read from here; created_at last, so that a search's window of the newest
        # posts is tested in the index (migration 0021).
        Index(
            "ix_posts_status_public_point_created",
            "status",
            "public_lat",
            "public_lon",
            "created_at",
        ),
        # Every public listing is newest first with (created_at, id) as its keyset: these let
        # the database walk the newest rows of an index and stop after one page, instead of
        # sorting every published post (migration 0011). Ascending columns serve the
        # descending order by a backward scan.
        Index("ix_posts_status_created", "status", "created_at", "id"),
        Index("ix_posts_status_kind_created", "status", "kind", "created_at", "id"),
        Index("ix_posts_status_category_created", "status", "category", "created_at", "id"),
        Index("ix_posts_author_created", "author_id", "created_at", "id"),
        # Statistics (market.stats): the needs created in a period, an index-only scan
        # (migration 0020; SQLite ignores INCLUDE).
        Index(
            "ix_posts_kind_created_cover",
            "kind",
            "created_at",
            postgresql_include=["status", "category", "region_id", "id"],
        ),
        # Matching (market.matches.candidates): the published posts of one kind in a few
        # categories, meeting in person within a box of grid cells or remotely anywhere, with
        # every column the score's upper bound needs, so that ranking thousands of candidates
        # reads only this index (PostgreSQL: an index-only scan; SQLite ignores INCLUDE).
        Index(
            "ix_posts_match_cover",
            "status",
            "kind",
            "category",
            "mode",
            "cell_lat",
            "cell_lon",
            postgresql_include=[
                "lat",
                "lon",
                "radius_km",
                "published_at",
                "availability",
                "author_id",
                "id",
            ],
        ),
        # Full-text search (market.posts.search, migration 0015), PostgreSQL only: SQLite has
        # the FTS5 table posts_fts, kept in step by triggers, which no model describes.
        Index(
            "ix_posts_search_fts",
            func.to_tsvector(literal_column("'simple'"), literal_column("search_text")),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )

    kind: Mapped[PostKind] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(48))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text, default="")
    mode: Mapped[PostMode] = mapped_column(String(16), default=PostMode.IN_PERSON)
    radius_km: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    # A coarse grid (0.1 degree, about 11 km north-south) so that distance filters use an index.
    cell_lat: Mapped[int | None]
    cell_lon: Mapped[int | None]
    # The point everyone but the author and the region's coordinators sees, searches and is
    # measured against: the centre of the ~1 km cell holding (lat, lon) (geo.coarsen). Set
    # whenever the exact point is written (see _fix_public_point), never per request, so that
    # repeated searches cannot average their way to the exact point.
    public_lat: Mapped[float | None] = mapped_column(Float)
    public_lon: Mapped[float | None] = mapped_column(Float)
    city: Mapped[str | None] = mapped_column(String(120))
    postcode: Mapped[str | None] = mapped_column(String(16))
    country: Mapped[str | None] = mapped_column(String(2))
    status: Mapped[PostStatus] = mapped_column(String(16), default=PostStatus.PENDING_REVIEW)
    author_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organisation_id: Mapped[str | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    region_id: Mapped[str | None] = mapped_column(ForeignKey("regions.id", ondelete="SET NULL"))
    seats: Mapped[int | None]
    # The language the title and body are written in, detected after each write by a job
    # (market.translation); None until then or when no translation server is configured.
    lang: Mapped[str | None] = mapped_column(String(16))
    # Lower-cased title and body for free-text search that works on both databases.
    search_text: Mapped[str] = mapped_column(Text, default="")
    # Folded words of the title's and body's cached machine translations, by the text's hash and
    # target language; appended to search_text while the hash is current (posts.translated_search).
    search_translations: Mapped[dict[str, dict[str, str]] | None] = mapped_column(
        JSON(none_as_null=True)
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    reminder_sent_at: Mapped[datetime | None]
    # Weekly availability: [{"weekday": 0-6, "start": "HH:MM", "end": "HH:MM"}], Monday = 0.
    availability: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    languages: Mapped[list[PostLanguage]] = relationship(
        back_populates="post",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="PostLanguage.position",
    )

    @property
    def language_codes(self) -> list[str]:
        return [lang.code for lang in self.languages]


@event.listens_for(Post, "before_insert")
@event.listens_for(Post, "before_update")
def _fix_public_point(_mapper: Mapper[Post], _connection: Connection, post: Post) -> None:
    """The public point follows the exact one on every write, whoever writes the post
    (the services, the demo, a test), so that no post is ever searchable by its exact point."""
    from market.posts.geo import coarsen  # geo imports this module

    if post.lat is None or post.lon is None:
        public: tuple[float | None, float | None] = (None, None)
    else:
        public = coarsen(post.lat, post.lon)
    if (post.public_lat, post.public_lon) != public:
        post.public_lat, post.public_lon = public


class PostLanguage(Base):
    __tablename__ = "post_languages"
    __table_args__ = (Index("ix_post_languages_code_post", "code", "post_id"),)

    post_id: Mapped[str] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)

    post: Mapped[Post] = relationship(back_populates="languages")


class Postcode(Base):
    """One row of a GeoNames postal-code file (imported with `anlauf geo import-postcodes`)."""

    __tablename__ = "postcodes"

    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    postcode: Mapped[str] = mapped_column(String(16), primary_key=True)
    place: Mapped[str] = mapped_column(String(180), primary_key=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


# Closed sets of values, also CHECK constraints (migrations name them ck_<table>_<column>).
checked(Post.__table__, kind=PostKind, mode=PostMode, status=PostStatus)
