"""Live updates: tell a person's open pages at once that a notification arrived or was read.

What travels is tiny, `{"user_id", "type": "notification"|"read", "notification_id"?}`, never
the notification itself: whoever shows it (the server-sent events stream in the web app) reads
the row and the unread count from the database. So a stale or repeated event is harmless: a
notification that is not in the database is simply not shown.

Only committed work is announced. `notify()` and `mark_read()` note an event in
`session.info`; a SQLAlchemy `after_commit` hook hands the noted events to the session's broker
(`session.info["live"]`, set on the sessionmaker by the web app), and a rollback drops them. A
process that dies between its commit and the publish loses the live update, not the
notification: pages re-read the count whenever their stream (re)connects.

Between processes the events go through Redis pub/sub (ANLAUF_REDIS_URL set), else PostgreSQL
LISTEN/NOTIFY (several web processes on one database without Redis), else they stay in this
process. Every process delivers what it receives to its own subscribers (the open streams).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from market.settings import Settings

log = logging.getLogger(__name__)

LiveEvent = dict[str, Any]
CHANNEL = "anlauf_live"
# Keys in Session.info: the broker of the sessionmaker, and events waiting for the commit.
BROKER_KEY = "live"
PENDING_KEY = "live_events"
# Events a slow page may have waiting before newer ones are dropped (it re-reads the count).
QUEUE_SIZE = 100


def remember(session: AsyncSession | Session, item: LiveEvent) -> None:
    """Announce `item` when (and only if) the session's transaction commits."""
    session.info.setdefault(PENDING_KEY, []).append(item)


def pending(session: AsyncSession | Session) -> bool:
    """Whether the session's transaction has changes of notifications still to announce."""
    return bool(session.info.get(PENDING_KEY))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending: list[LiveEvent] | None = session.info.pop(PENDING_KEY, None)
    if not pending:
        return
    broker = session.info.get(BROKER_KEY)
    if isinstance(broker, Broker):
        broker.publish_soon(pending)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    # The outermost transaction rolled back: nothing it did may be announced. (Events of a
    # rolled-back savepoint stay; they point at rows that do not exist, which pages skip.)
    if previous_transaction.parent is None:
        session.info.pop(PENDING_KEY, None)


class Broker:
    """Local subscribers plus a transport; this base class is the in-process transport."""

    kind = "in-process"

    def __init__(self) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[LiveEvent]]] = defaultdict(set)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ready = asyncio.Event()

    # --- subscribers (the open streams of this process)

    def subscribe(self, user_id: str) -> asyncio.Queue[LiveEvent]:
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._subscribers[user_id].add(queue)
        return queue

    def unsubscribe(self, user_id: str, queue: asyncio.Queue[LiveEvent]) -> None:
        queues = self._subscribers.get(user_id)
        if queues is None:
            return
        queues.discard(queue)
        if not queues:
            del self._subscribers[user_id]

    def subscriber_count(self) -> int:
        return sum(len(q) for q in self._subscribers.values())

    def deliver(self, item: LiveEvent) -> None:
        """Hand a received event to this process's subscribers of its user."""
        for queue in list(self._subscribers.get(str(item.get("user_id")), ())):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(item)

    # --- publishing

    def publish_soon(self, items: Sequence[LiveEvent]) -> None:
        """Publish without waiting (called from the synchronous after-commit hook)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: a synchronous session; nobody is listening here
            return
        task = loop.create_task(self.publish(list(items)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def publish(self, items: Sequence[LiveEvent]) -> None:
        for item in items:
            self.deliver(item)

    # --- lifecycle

    async def start(self) -> None:
        self._ready.set()

    async def _keep_listening(self, what: str, listen: Callable[[], Awaitable[None]]) -> None:
        """Run `listen` again whenever its subscription is lost, waiting longer after each
        failure in a row (0.5 s doubling up to 10 s). `listen` sets _ready once it listens."""
        delay = 0.5
        while True:
            try:
                await listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._ready.is_set():
                    delay = 0.5  # it listened for a while: the first retry comes quickly
                self._ready.clear()
                log.warning("live updates: %s lost (%s); retrying", what, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def wait_ready(self) -> None:
        """Until the transport listens (events published before that may be missed)."""
        await self._ready.wait()

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2)
        for queues in self._subscribers.values():
            for queue in queues:
                # Wake the streams so they end (a None "user_id" is never delivered elsewhere).
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait({"type": "closing"})


async def _cancel(task: asyncio.Task[None] | None) -> None:
    """Stop a broker's listening task (if it runs) and wait until it has."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _encode(item: LiveEvent) -> str:
    return json.dumps(item, separators=(",", ":"))


def _decode(raw: str | bytes) -> LiveEvent | None:
    try:
        item = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return cast(LiveEvent, item) if isinstance(item, dict) else None


class RedisBroker(Broker):
    """Redis pub/sub on one channel; each process keeps one subscription and filters locally."""

    kind = "redis"

    def __init__(self, redis_url: str, channel: str | None = None) -> None:
        super().__init__()
        self.redis_url = redis_url
        # Pub/sub ignores Redis database numbers; naming the channel after the database keeps
        # instances that share a Redis server (each with its own database) apart.
        database = urlsplit(redis_url).path.strip("/") or "0"
        self.channel = channel or f"{CHANNEL}:{database}"
        self._client: Any = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from redis.asyncio import Redis

        self._client = Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=5)
        self._listener = asyncio.create_task(self._listen(), name="live-redis")

    async def _listen(self) -> None:
        await self._keep_listening("Redis subscription", self._listen_once)

    async def _listen_once(self) -> None:
        from redis.asyncio import Redis

        client: Any = Redis.from_url(self.redis_url, socket_connect_timeout=2)
        pubsub: Any = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            self._ready.set()
            while True:
                message = await pubsub.get_message(timeout=30.0)
                if message is None or message.get("type") != "message":
                    continue
                item = _decode(message["data"])
                if item is not None:
                    self.deliver(item)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            with contextlib.suppress(Exception):
                await client.aclose()

    async def publish(self, items: Sequence[LiveEvent]) -> None:
        if self._client is None:
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for item in items:
                    pipe.publish(self.channel, _encode(item))
                await pipe.execute()
        except Exception as exc:  # best effort: pages re-read the count when they reconnect
            log.warning("live updates: cannot publish to Redis: %s", exc)

    async def stop(self) -> None:
        await super().stop()
        await _cancel(self._listener)
        self._listener = None
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None


class PostgresBroker(Broker):
    """PostgreSQL LISTEN/NOTIFY: one listening connection per process, one for publishing."""

    kind = "postgresql"

    def __init__(self, database_url: str, channel: str = CHANNEL) -> None:
        super().__init__()
        self.dsn = (
            make_url(database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self.channel = channel
        self._listener: asyncio.Task[None] | None = None
        self._publisher: Any = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="live-postgres")

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        item = _decode(payload)
        if item is not None:
            self.deliver(item)

    async def _listen(self) -> None:
        await self._keep_listening("PostgreSQL LISTEN", self._listen_once)

    async def _listen_once(self) -> None:
        import asyncpg

        conn: Any = None
        try:
            conn = await asyncpg.connect(self.dsn, timeout=5)
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            await conn.add_listener(self.channel, self._on_notify)
            self._ready.set()
            while not lost.is_set():
                # A cheap query now and then notices a half-open connection.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), timeout=30)
                if not lost.is_set():
                    await conn.execute("SELECT 1", timeout=5)
            raise ConnectionError("listening connection closed")
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)

    async def publish(self, items: Sequence[LiveEvent]) -> None:
        import asyncpg

        async with self._lock:
            for attempt in (1, 2):
                try:
                    if self._publisher is None or self._publisher.is_closed():
                        self._publisher = await asyncpg.connect(self.dsn, timeout=5)
                    for item in items:
                        await self._publisher.execute(
                            "SELECT pg_notify($1, $2)", self.channel, _encode(item), timeout=5
                        )
                    return
                except Exception as exc:
                    with contextlib.suppress(Exception):
                        if self._publisher is not None:
                            self._publisher.terminate()
                    self._publisher = None
                    if attempt == 2:
                        log.warning("live updates: cannot NOTIFY: %s", exc)

    async def stop(self) -> None:
        await super().stop()
        await _cancel(self._listener)
        self._listener = None
        if self._publisher is not None:
            with contextlib.suppress(Exception):
                await self._publisher.close(timeout=2)
            self._publisher = None


def make_broker(settings: Settings) -> Broker:
    """Redis when configured, else PostgreSQL LISTEN/NOTIFY on PostgreSQL, else in-process."""
    if settings.redis_url:
        return RedisBroker(settings.redis_url)
    if settings.database_url.startswith("postgresql"):
        return PostgresBroker(settings.database_url)
    return Broker()
