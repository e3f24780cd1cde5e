"""Persistence foundation: declarative base, UTC timestamps, engine and session factory."""

from __future__ import annotations

import secrets
import weakref
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

from sqlalchemy import JSON, CheckConstraint, DateTime, MetaData, String, Table, event, select, text
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, ORMExecuteState, Session, mapped_column
from sqlalchemy.sql import FromClause
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


def checked(table: FromClause, **columns: type[StrEnum]) -> None:
    """A CHECK constraint for each column that holds one of a closed set of values (a StrEnum),
    named ck_<table>_<column> by the naming convention, as the migrations create it. NULL passes
    (a nullable column may stay empty)."""
    if not isinstance(table, Table):
        raise TypeError(f"{table!r} is not a table")
    for column, values in columns.items():
        allowed = ", ".join(f"'{v.value}'" for v in values)
        table.append_constraint(CheckConstraint(f"{column} IN ({allowed})", name=column))


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


# An execution option: the transaction will write, so on SQLite it takes the write lock at BEGIN.
WRITE_INTENT = "anlauf_write_intent"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One writer at a time; a generous busy timeout instead of "database is locked".
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # SQLite has no row locks (FOR UPDATE renders nothing), and the driver opens its
            # transaction lazily at the first write, so whatever a request read before that may
            # be stale by then. A request that writes takes the single write lock before its
            # first read instead: writing requests run one after the other, reads stay parallel.
            # Other transactions keep the driver's own lazy BEGIN (a mail job must not hold the
            # write lock through an SMTP conversation).
            if conn.get_execution_options().get(WRITE_INTENT):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if url.startswith("postgresql+asyncpg"):
        # asyncpg waits 60 s for a connection by default; an unreachable host should end in a
        # quick 503, not a hanging request.
        kwargs["connect_args"] = {"timeout": 5, **kwargs.get("connect_args", {})}
        if "pool_pre_ping" not in kwargs:
            engine = create_async_engine(url, **kwargs)
            event.listen(engine.sync_engine, "checkout", _closed_is_gone)
            return engine
    # A pooled connection that died while the database was away is noticed and replaced before
    # use, so service returns by itself once the database is back (no restart).
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def _closed_is_gone(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """The pool's check of an asyncpg connection at checkout, without a round trip.

    pool_pre_ping costs three round trips per checkout with asyncpg (BEGIN, a ping, ROLLBACK):
    more than a whole public page asks the database. A server that stops or restarts closes its
    connections, and asyncpg notices the closed socket by itself (is_closed()); such a
    connection is replaced here before use, so service returns once the database is back. A
    connection lost without a word (a cut network) fails its first statement instead: that
    request answers 503 and SQLAlchemy drops the whole pool, so the next one connects afresh.
    """
    raw = getattr(dbapi_connection, "_connection", None)
    if raw is not None and raw.is_closed():
        raise DisconnectionError("the database closed this connection")


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


_writers: weakref.WeakKeyDictionary[Engine, AsyncEngine] = weakref.WeakKeyDictionary()


def for_writing(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool), its transactions marked as writing (BEGIN IMMEDIATE on SQLite).

    Given the autocommit engine of a public read (for_reading; a page that stores translations
    in a session of its own starts from its request's engine), the ordinary engine: writes
    always run in a transaction."""
    base = _bases.get(engine.sync_engine)
    engine = (base() if base is not None else None) or engine
    if engine.dialect.name != "sqlite":
        return engine
    writer = _writers.get(engine.sync_engine)
    if writer is None:
        writer = engine.execution_options(**{WRITE_INTENT: True})
        _writers[engine.sync_engine] = writer
    return writer


_readers: weakref.WeakKeyDictionary[Engine, AsyncEngine] = weakref.WeakKeyDictionary()
# reader's sync engine -> the engine it was made from (weakly: engines of finished apps go).
_bases: weakref.WeakKeyDictionary[Engine, weakref.ref[AsyncEngine]] = weakref.WeakKeyDictionary()
# session.info key: the session only reads, each statement on its own (no BEGIN, no ROLLBACK).
READ_ONLY = "anlauf_read_only"


class ReadOnlyViolation(RuntimeError):
    """A request that was promised to only read tried to write (a bug, never the caller's)."""


def for_reading(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (and pool) in autocommit mode, on PostgreSQL only.

    A public page asks one or two SELECTs; wrapped in a transaction that is two more round
    trips (BEGIN and ROLLBACK), the biggest part of such a request's time in the database.
    SQLite has no round trips to save and keeps its own rules (see make_engine).
    """
    if engine.dialect.name != "postgresql":
        return engine
    reader = _readers.get(engine.sync_engine)
    if reader is None:
        reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        _readers[engine.sync_engine] = reader
        _bases[reader.sync_engine] = weakref.ref(engine)
    return reader


def request_session(
    maker: async_sessionmaker[AsyncSession], method: str, *, public_read: bool = False
) -> AsyncSession:
    """The session of one HTTP request: one that may write holds SQLite's write lock throughout.

    public_read: an anonymous GET of a public page (market.pagecache.public_read), which only
    reads: its statements run without a transaction, and a write raises ReadOnlyViolation
    instead of being stored piecemeal.
    """
    bind = maker.kw.get("bind")
    if method.upper() in WRITE_METHODS and isinstance(bind, AsyncEngine):
        return maker(bind=for_writing(bind))
    if public_read and isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        session = maker(bind=for_reading(bind))
        session.info[READ_ONLY] = True
        return session
    return maker()


@event.listens_for(Session, "before_flush")
def _flush_refused(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise ReadOnlyViolation("a public page tried to store something")


@event.listens_for(Session, "do_orm_execute")
def _statement_refused(state: ORMExecuteState) -> None:
    if state.session.info.get(READ_ONLY) and (
        state.is_insert or state.is_update or state.is_delete
    ):
        raise ReadOnlyViolation("a public page tried to change rows")


M = TypeVar("M")


async def lock_row(session: AsyncSession, model: type[M], row_id: str) -> M | None:
    """The row, read fresh and locked until the end of the transaction; None if it is gone.

    Every state change (accept, decide, close, ...) reads the state it decides on through this,
    so two requests at once act as if one came after the other. PostgreSQL: SELECT ... FOR
    UPDATE. SQLite: a request that writes holds the database's write lock already (see
    make_engine); any other transaction takes it here with a no-op UPDATE of the row, then reads.
    """
    bind = session.get_bind()
    if bind.dialect.name == "sqlite" and not bind.get_execution_options().get(WRITE_INTENT):
        # Plain SQL, not update(): that would also bump columns with onupdate (updated_at).
        # The table name is our own model's, never input.
        table = model.__table__  # type: ignore[attr-defined]
        await session.execute(
            text(f"UPDATE {table.name} SET id = id WHERE id = :id"),  # noqa: S608
            {"id": row_id},
        )
    stmt = (
        select(model)
        .where(model.id == row_id)  # type: ignore[attr-defined]
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    row: M | None = (await session.execute(stmt)).scalar_one_or_none()
    return row


def make_sessionmaker(
    engine: AsyncEngine, settings: Any | None = None
) -> async_sessionmaker[AsyncSession]:
    # Services that render mail find the settings (base URL, sender) on the session.
    info = {"settings": settings} if settings is not None else None
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


async def insert_unless_taken(session: AsyncSession, row: Any) -> bool:
    """Add and flush `row` under a savepoint; False when a concurrent insert holds its unique key.

    Only this insert is undone then, and the caller reads the other one's row (PostgreSQL and
    SQLite make this insert wait until theirs committed, so it is there to read)."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        return False
    return True
