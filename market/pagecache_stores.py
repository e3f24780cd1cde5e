"""Where market.pagecache keeps its entries: one process's LRU, or Redis shared by all processes.

Both keep a generation counter next to the entries; an entry drawn under an older generation is
stale (see market.pagecache for when the counter moves).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

LOCAL_ENTRIES = 512
REDIS_PREFIX = "anlauf:pagecache:"
GENERATION_KEY = REDIS_PREFIX + "generation"
# Seconds; a cache that waits longer is worse than none. Not much less: a busy event loop alone
# can hold a reply back for a few hundred milliseconds.
REDIS_TIMEOUT = 1.0
# Seconds a process answers from its own copy of a Redis entry without asking Redis again. A hit
# was one Redis round trip; under load that round trip was most of the hit. Another process's
# invalidation reaches this one at most this much later (still within the cache's lifetime);
# this process's own invalidations clear its copies at once.
NEAR_SECONDS = 1.0


class LocalStore:
    """One process: a bounded LRU and a generation counter in memory."""

    def __init__(self, size: int = LOCAL_ENTRIES) -> None:
        self.size = size
        self.generation = 0
        self.entries: OrderedDict[str, bytes] = OrderedDict()

    async def load(self, key: str) -> tuple[int, bytes | None]:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return self.generation, entry

    async def save(self, key: str, entry: bytes, lifetime: int) -> None:
        self.entries[key] = entry
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    async def bump(self) -> None:
        self.generation += 1
        self.entries.clear()

    async def close(self) -> None:
        return None


class RedisStore:
    """All web processes: entries expire in Redis after the lifetime; one shared counter."""

    def __init__(self, url: str, clock: Callable[[], float]) -> None:
        # The clock of the near copies (market.pagecache.near_clock; a test moves it on).
        self.clock = clock
        from redis.asyncio import Redis

        self.redis = Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        # key -> (until, generation, entry): this process's copies, NEAR_SECONDS each.
        self.near: OrderedDict[str, tuple[float, int, bytes]] = OrderedDict()

    async def load(self, key: str) -> tuple[int, bytes | None]:
        now = self.clock()
        copy = self.near.get(key)
        if copy is not None and copy[0] > now:
            return copy[1], copy[2]
        raw_generation, entry = await self.redis.mget([GENERATION_KEY, REDIS_PREFIX + key])
        generation = int(raw_generation or 0)
        if entry is not None:
            self.near[key] = (now + NEAR_SECONDS, generation, entry)
            self.near.move_to_end(key)
            while len(self.near) > LOCAL_ENTRIES:
                self.near.popitem(last=False)
        else:
            self.near.pop(key, None)
        return generation, entry

    async def save(self, key: str, entry: bytes, lifetime: int) -> None:
        await self.redis.set(REDIS_PREFIX + key, entry, ex=lifetime)

    async def bump(self) -> None:
        self.near.clear()
        await self.redis.incr(GENERATION_KEY)

    async def close(self) -> None:
        await self.redis.aclose()
