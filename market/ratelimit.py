"""Rate limits for login, registration and password reset (the `limits` library).

With Redis the counters are shared by all web processes; without it they live in memory.
"""

from __future__ import annotations

import logging
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from market.errors import RateLimited
from market.settings import Settings

log = logging.getLogger(__name__)

# Per account and per IP address: 10 tries in 5 minutes, as OWASP suggests for login forms.
ACCOUNT_LIMIT = parse("10/5minutes")
IP_LIMIT = parse("30/5minutes")


class RateLimiter:
    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.rate_limit_enabled
        storage: Storage
        if settings.redis_url:
            uri = settings.redis_url.replace("redis://", "async+redis://", 1).replace(
                "rediss://", "async+rediss://", 1
            )
            storage = RedisStorage(uri, implementation="redispy", key_prefix="anlauf-limits")
        else:
            storage = MemoryStorage()
        self.storage = storage
        self.limiter = MovingWindowRateLimiter(storage)

    async def hit(self, action: str, *, account: str | None, ip: str) -> None:
        """Count one try; raise RateLimited (429 with Retry-After) beyond the limit."""
        if not self.enabled:
            return
        checks: list[tuple[RateLimitItem, str]] = [(IP_LIMIT, f"ip:{ip}")]
        if account:
            checks.append((ACCOUNT_LIMIT, f"account:{account.strip().lower()}"))
        for item, key in checks:
            try:
                allowed = await self.limiter.hit(item, action, key)
                if not allowed:
                    stats = await self.limiter.get_window_stats(item, action, key)
                    raise RateLimited(int(stats.reset_time - time.time()) + 1)
            except RateLimited:
                raise
            except Exception:  # Redis down: better to let people in than to lock everyone out.
                log.warning("rate limit storage unavailable", exc_info=True)
                return

    async def reset(self) -> None:
        await self.storage.reset()
