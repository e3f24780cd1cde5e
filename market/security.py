"""Password hashing (argon2id) and opaque secrets that are stored only as hashes."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import re
import secrets
from functools import cache
from pathlib import Path

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


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What we store for a session, token or link: a leaked table does not log anyone in."""
    return hashlib.sha256(secret.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# --- Password rules beyond the length (API.md Release 2, Accounts and personal data)

BREACHED_PASSWORDS = Path(__file__).resolve().parent / "data" / "breached-passwords-100k.txt.gz"
# Parts of a name or address shorter than this are too common to forbid ("li", "de").
MIN_PERSONAL_PART = 3


@cache
def breached_passwords() -> frozenset[str]:
    """The 100,000 most common breached passwords, casefolded; read once per process."""
    with gzip.open(BREACHED_PASSWORDS, "rt", encoding="utf-8") as f:
        return frozenset(line.rstrip("\n").casefold() for line in f if line.strip())


def is_breached(password: str) -> bool:
    # Casefolded: "PASSWORD1234" is guessed as early as "password1234".
    return password.casefold() in breached_passwords()


def personal_parts(email: str | None, display_name: str | None) -> set[str]:
    """What a password may not contain: the email's local part and the display name, whole
    and word by word ("anna.schmidt" -> anna.schmidt, anna, schmidt), each of 3+ characters."""
    parts: set[str] = set()
    for source in (email.rpartition("@")[0] if email and "@" in email else email, display_name):
        if not source:
            continue
        folded = source.casefold().strip()
        for part in [folded, *re.split(r"[\W_]+", folded)]:
            if len(part) >= MIN_PERSONAL_PART:
                parts.add(part)
    return parts


def contains_personal(password: str, *, email: str | None, display_name: str | None) -> bool:
    folded = password.casefold()
    return any(part in folded for part in personal_parts(email, display_name))
