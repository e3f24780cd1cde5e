"""Password hashing (argon2id) and opaque secrets that are stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP: argon2id with at least 19 MiB of memory and 2 iterations; settings may only raise these.
MIN_MEMORY_KIB = 19 * 1024
MIN_TIME_COST = 2


@cache
def hasher(memory_kib: int, time_cost: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=max(time_cost, MIN_TIME_COST),
        memory_cost=max(memory_kib, MIN_MEMORY_KIB),
        parallelism=1,
        type=Type.ID,
    )


async def hash_password(password: str, memory_kib: int, time_cost: int) -> str:
    # Hashing takes tens of milliseconds of CPU: keep it off the event loop.
    return await anyio.to_thread.run_sync(hasher(memory_kib, time_cost).hash, password)


async def verify_password(
    stored: str | None, password: str, memory_kib: int, time_cost: int
) -> bool:
    ph = hasher(memory_kib, time_cost)
    if stored is None:
        # Spend the same time as a real check, so timing does not reveal unknown accounts.
        await anyio.to_thread.run_sync(ph.hash, password)
        return False

    def _verify() -> bool:
        try:
            return ph.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(_verify)


def needs_rehash(stored: str, memory_kib: int, time_cost: int) -> bool:
    return hasher(memory_kib, time_cost).check_needs_rehash(stored)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What we store for a session, token or link: a leaked table does not log anyone in."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
