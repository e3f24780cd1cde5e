"""Persistence foundation: declarative base, UTC timestamps, engine and session factory."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, MetaData, String, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """An opaque, URL-safe identifier (128 bits of randomness)."""
    return secrets.token_hex(16)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on PostgreSQL and SQLite alike.

    SQLite has no time zone type, so values come back naive; we store UTC and reattach it.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
    }


class IdMixin:
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One writer at a time; a generous busy timeout instead of "database is locked".
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # A pooled connection that died while the database was away is noticed and replaced before
    # use, so service returns by itself once the database is back (no restart).
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("postgresql+asyncpg"):
        # asyncpg waits 60 s for a connection by default; an unreachable host should end in a
        # quick 503, not a hanging request.
        kwargs["connect_args"] = {"timeout": 5, **kwargs.get("connect_args", {})}
    return create_async_engine(url, **kwargs)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached (refused, lost, shutting down, pool
    exhausted) rather than a fault of the request or of our code: such requests answer 503."""
    import asyncpg
    from sqlalchemy import exc as sa

    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        err = pending.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, sa.DBAPIError) and err.connection_invalidated:
            return True
        if isinstance(
            err,
            sa.OperationalError  # SQLite: unable to open the file, disk I/O, locked too long
            | sa.InterfaceError  # "connection is closed"
            | sa.DisconnectionError
            | sa.TimeoutError  # no pooled connection free in time
            | asyncpg.PostgresConnectionError  # connection lost mid-query
            | asyncpg.exceptions.OperatorInterventionError  # shutting down, starting up
            | asyncpg.exceptions.TooManyConnectionsError
            | asyncpg.InterfaceError
            | ConnectionError  # refused, reset (raised unwrapped by the connect)
            | TimeoutError,
        ):
            return True
        # "Multiple exceptions: Connect call failed ..." from asyncio's connect: a plain OSError.
        if type(err) is OSError and "connect" in str(err).lower():
            return True
        pending += [err.__cause__, err.__context__, getattr(err, "orig", None)]
    return False


def make_sessionmaker(
    engine: AsyncEngine, settings: Any | None = None
) -> async_sessionmaker[AsyncSession]:
    # Services that render mail find the settings (base URL, sender) on the session.
    info = {"settings": settings} if settings is not None else None
    return async_sessionmaker(engine, expire_on_commit=False, info=info)
