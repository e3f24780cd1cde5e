"""A short cache for what anonymous visitors see (home, search, post pages, public API, widget).

Only GET and HEAD without a session cookie or an Authorization header are looked up; only 200
answers that set no cookie but the CSRF cookie are kept, for ANLAUF_PUBLIC_CACHE_SECONDS (0: off).
The key is method, host, path, the sorted query string and the page language that
market.web.LocaleMiddleware chose (?lang=, the language cookie or Accept-Language), so languages
never mix.

The CSRF token. Pages for anonymous visitors carry forms (the language picker is a GET form, but a
post page has a POST form) with the visitor's own double-submit token. Caching a body with one
visitor's token would hand it to everyone. So the token is cut out of the stored body (replaced
by a placeholder) and put back on every hit: the visitor's own `anlauf_csrf` cookie, or, for a
visitor without one, a fresh token that the hit also sets as the cookie, exactly as
market.web.render() would have. Every visitor keeps a token of their own and the cache still
serves visitors without cookies (search engines, first visits, the benchmark). Answers that carry
a token go out `private` (a shared proxy must not keep someone's token); the others `public`.

Invalidation: posts announce state changes with events.POST_PUBLISHED and events.POST_CLOSED
(published, edited, closed, expired, rejected, deleted). We note that on the session and, after
its commit (never for a rollback), bump a generation counter. Every entry remembers the
generation it was drawn under and is stale once the counter moved; the entry and the counter are
read in one round trip (MGET). The response of the request that changed a post goes out only after
the bump, so whoever sees "closed" next is never served the old page. Changes committed where no
cache runs (the arq worker's expiry) are not bumped: they show once entries age out, within the
lifetime, which is what we promise for everyone anyway.

Shared by all web processes through Redis (ANLAUF_REDIS_URL), else a bounded in-process LRU. A
Redis that is slow or down never fails a request: the cache steps aside for a few seconds and the
app answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gzip
import json
import logging
import re
import time
import weakref
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market import events
from market.pagecache_stores import GENERATION_KEY as GENERATION_KEY
from market.pagecache_stores import NEAR_SECONDS as NEAR_SECONDS
from market.pagecache_stores import REDIS_PREFIX as REDIS_PREFIX
from market.pagecache_stores import LocalStore, RedisStore
from market.security import new_secret
from market.settings import Settings

log = logging.getLogger(__name__)

CACHEABLE = re.compile(
    r"^/(?:|posts|posts/[^/]+|api/v1/posts|api/v1/posts/[^/]+|api/v1/categories"
    r"|api/v1/languages|api/v1/map|organisations/[^/]+/widget(?:\.json)?)$"
)
SESSION_COOKIE = b"anlauf_session="
CSRF_COOKIE = "anlauf_csrf"
# Stands for the visitor's CSRF token in stored bodies; cannot be a token (those are url-safe).
PLACEHOLDER = b"\x00anlauf-csrf\x00"
MAX_BODY = 1_000_000  # bigger answers are not worth a Redis round trip
DECODED_KEPT = 512  # entries whose decoded form a process keeps (as many as near copies)
_TOKEN_STAND_IN = "anlaufcsrftokenstandin"  # noqa: S105 (a stand-in, replaced per visitor)
REDIS_BACKOFF = 5.0  # seconds without Redis after it failed
# The app's compression (GZipMiddleware in market/app.py). A hit whose body is the same for every
# visitor goes out compressed from a copy made once per stored entry and process, instead of
# being compressed again for every visitor: browsers all ask for gzip, and compressing the 33 KB
# start page costs nine times what the rest of its hit costs (0.55 against 0.06 ms of CPU).
GZIP_MINIMUM_SIZE = 500
GZIP_LEVEL = 6
# Bodies this big are compressed in a thread, as Starlette's GZipMiddleware does.
GZIP_THREAD_SIZE = 128 * 1024


def near_clock() -> float:
    """The clock of the near copies (a test moves it on without waiting)."""
    return time.monotonic()


STALE_KEY = "pagecache_stale"
# What market.security.new_secret() makes (url-safe base64); anything else is not put in a page.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")
WAIT_FOR_LEADER = 5.0  # seconds a request waits for another one drawing the same page
VARY = "Accept-Language, Cookie, Authorization"
VARY_RAW = VARY.encode()
VARY_GZIP = (VARY + ", Accept-Encoding").encode()
# Headers worth keeping; per-request ones (date, set-cookie) are not stored.
KEPT_HEADERS = frozenset(
    {
        b"content-type",
        b"content-language",
        b"etag",
        b"last-modified",
        b"link",
        b"x-robots-tag",
        b"content-security-policy",
        b"x-frame-options",
        b"access-control-allow-origin",
    }
)

_caches: weakref.WeakSet[PageCache] = weakref.WeakSet()


# --- Invalidation -----------------------------------------------------------------------------


@events.subscribe(events.POST_PUBLISHED)
@events.subscribe(events.POST_CLOSED)
async def _post_changed(session: AsyncSession, **_: Any) -> None:
    session.info[STALE_KEY] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(STALE_KEY, None):
        for cache in list(_caches):
            cache.invalidate_soon()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(STALE_KEY, None)


# --- The middleware -------------------------------------------------------------------------------


class PageCache:
    """Pure ASGI middleware; sits inside LocaleMiddleware (it needs the chosen language) and
    outside RequestTransaction (a hit opens no database session)."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.lifetime = max(0, settings.public_cache_seconds)
        self.redis_url = settings.redis_url
        self._store: LocalStore | RedisStore | None = None
        self._down_until = 0.0
        self._bumps: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight: dict[str, asyncio.Future[bytes | None]] = {}
        # key -> (the stored bytes, their decoded entry); see _decode.
        self._decoded: OrderedDict[str, tuple[bytes, dict[str, Any]]] = OrderedDict()
        self._cookie_template: str | None = None
        _caches.add(self)

    @property
    def store(self) -> LocalStore | RedisStore:
        # Made on first use, inside the server's event loop (redis-py binds to it).
        if self._store is None:
            self._store = RedisStore(self.redis_url, near_clock) if self.redis_url else LocalStore()
            self._loop = asyncio.get_running_loop()
        return self._store

    # -- invalidation

    def invalidate_soon(self) -> None:
        if isinstance(self._store, LocalStore):
            self._store.generation += 1  # at once, in this process
            self._store.entries.clear()
            return
        if isinstance(self._store, RedisStore):
            self._store.near.clear()  # at once, in this process; others within NEAR_SECONDS
        if not self.redis_url or self.lifetime <= 0:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._store is not None and loop is not self._loop:
            return  # another app's event loop (tests): its own cache is bumped instead
        self.store  # noqa: B018 (made here if this process has served nothing cacheable yet)
        task = loop.create_task(self._bump())
        self._bumps.add(task)
        task.add_done_callback(self._bumps.discard)

    async def _bump(self) -> None:
        try:
            await self.store.bump()
        except Exception as exc:
            # Entries still die after the lifetime; stop serving them early until Redis is back.
            log.warning("page cache: could not invalidate: %r", exc)
            self._down_until = time.monotonic() + max(REDIS_BACKOFF, self.lifetime)

    async def settle(self) -> None:
        """Wait for invalidations in flight (before a response that caused one goes out)."""
        if self._bumps:
            await asyncio.gather(*list(self._bumps), return_exceptions=True)

    # -- serving

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._cacheable(scope):
            await self.app(scope, receive, self._settling(send))
            return
        key = self._key(scope)
        cached: tuple[int, bytes | None] | None = None
        if time.monotonic() >= self._down_until:
            try:
                cached = await self.store.load(key)
            except Exception as exc:
                self._redis_failed(exc)
        if cached is not None and cached[1] is not None:
            answer = self._fresh(cached[1], cached[0], key)
            if answer is not None:
                await self._serve(scope, send, answer)
                return
        generation = cached[0] if cached is not None else None
        # One request per key and process draws the page; the others wait for its copy (when an
        # entry expires under load, 16 visitors would otherwise draw the same page 16 times).
        leader = self._inflight.get(key)
        if leader is not None and generation is not None:
            with contextlib.suppress(Exception):
                raw = await asyncio.wait_for(asyncio.shield(leader), timeout=WAIT_FOR_LEADER)
                answer = self._fresh(raw, generation) if raw is not None else None
                if answer is not None:
                    await self._serve(scope, send, answer)
                    return
            await self._draw(scope, receive, send, key, generation)
            return
        drawn: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = drawn
        try:
            drawn.set_result(await self._draw(scope, receive, send, key, generation))
        finally:
            if not drawn.done():
                drawn.set_result(None)
            if self._inflight.get(key) is drawn:
                del self._inflight[key]

    def _settling(self, send: Send) -> Send:
        async def wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self.settle()
            await send(message)

        return wrapper

    def _cacheable(self, scope: Scope) -> bool:
        return self.lifetime > 0 and public_read(scope)

    def _key(self, scope: Scope) -> str:
        query = _sorted_query(scope.get("query_string", b""))
        locale = (scope.get("state") or {}).get("locale", "")
        if (scope.get("state") or {}).get("choose_language"):
            locale += "?"  # the page carries the language chooser (a first visit)
        host = ""
        for name, value in scope.get("headers", ()):
            if name == b"host":
                host = value.decode("latin-1")
        # The host is part of it so a made-up Host header cannot write into others' pages.
        return f"GET {host} {scope['path']}?{query} {locale}"

    def _redis_failed(self, exc: Exception) -> None:
        log.warning("page cache unavailable for %.0f s: %r", REDIS_BACKOFF, exc)
        self._down_until = time.monotonic() + REDIS_BACKOFF

    def _fresh(self, raw: bytes, generation: int, key: str | None = None) -> dict[str, Any] | None:
        decoded = self._decode(raw, key)
        if decoded is None or decoded.get("generation") != generation:
            return None
        age = time.time() - float(decoded.get("stored", 0))
        if age < 0 or age >= self.lifetime:
            return None
        return {**decoded, "age": int(age)}

    def _decode(self, raw: bytes, key: str | None) -> dict[str, Any] | None:
        """The entry's meta and body, split and its headers encoded once per stored copy: a hit
        on the same copy (the store's near copy is the same bytes object) reuses them."""
        if key is not None:
            known = self._decoded.get(key)
            # The same copy, or the same entry read from Redis again (its near copy expired).
            if known is not None and (known[0] is raw or known[0] == raw):
                return known[1]
        meta, _, body = raw.partition(b"\n")
        try:
            entry: dict[str, Any] = json.loads(meta)
        except ValueError:
            return None
        entry["body"] = body
        # The body is the same for every visitor unless it holds their CSRF token.
        entry["shared"] = PLACEHOLDER not in body
        # Filled on the first hit that asks for it (_compressed); shared by the entry's copies.
        entry["compressed"] = {}
        entry["raw_headers"] = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in entry.get("headers", [])
        ]
        kind = next((v for k, v in entry.get("headers", []) if k == "content-type"), "")
        entry["cache_control"] = self._cache_control(kind).encode()
        # What GZipMiddleware would compress: the cached answers are HTML or JSON.
        entry["compressible"] = kind.startswith("text/") or "json" in kind
        if key is not None:
            self._decoded[key] = (raw, entry)
            self._decoded.move_to_end(key)
            while len(self._decoded) > DECODED_KEPT:
                self._decoded.popitem(last=False)
        return entry

    def _csrf_cookie(self, token: str) -> str:
        """The Set-Cookie value market.web.render() would send for this token (made once by
        Starlette with a stand-in; tokens are url-safe, so nothing in them needs quoting)."""
        if self._cookie_template is None:
            cookie = Response()
            cookie.set_cookie(
                CSRF_COOKIE,
                _TOKEN_STAND_IN,
                httponly=True,
                samesite="lax",
                secure=self.settings.secure_cookies,
                path="/",
            )
            self._cookie_template = cookie.headers["set-cookie"]
        return self._cookie_template.replace(_TOKEN_STAND_IN, token)

    async def _serve(self, scope: Scope, send: Send, entry: dict[str, Any]) -> None:
        body: bytes = entry["body"]
        # The stored headers never include the ones added here (KEPT_HEADERS): appended as they
        # are, without MutableHeaders' look-up of each name (a hit is only a few of these steps).
        raw: list[tuple[bytes, bytes]] = list(entry["raw_headers"])
        if entry.get("csrf"):
            token = _cookie(scope, CSRF_COOKIE)
            if not token:
                token = new_secret()
                raw.append((b"set-cookie", self._csrf_cookie(token).encode("latin-1")))
            if not entry.get("shared"):
                body = body.replace(PLACEHOLDER, token.encode("ascii"))
        compressed = await self._compressed(scope, entry)
        if compressed is not None:
            body = compressed
            # GZipMiddleware passes an encoded answer on untouched, Vary included.
            raw.append((b"content-encoding", b"gzip"))
        # HEAD is answered from the GET entry: the same headers, no body.
        raw.append((b"content-length", str(len(body)).encode()))
        raw.append((b"age", str(entry["age"]).encode()))
        raw.append((b"x-anlauf-cache", b"hit"))
        raw.append((b"cache-control", entry["cache_control"]))
        raw.append((b"vary", VARY_GZIP if compressed is not None else VARY_RAW))
        await send({"type": "http.response.start", "status": 200, "headers": raw})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    async def _compressed(self, scope: Scope, entry: dict[str, Any]) -> bytes | None:
        """The entry's body gzipped (made once), when this hit may have it: a GET from a client
        that takes gzip (GZipMiddleware's test), a body the same for everyone, text or JSON that
        the middleware would have compressed. None: the hit goes out as before, and the
        middleware compresses it for this visitor."""
        body: bytes = entry["body"]
        if scope["method"] != "GET" or not entry.get("shared") or len(body) < GZIP_MINIMUM_SIZE:
            return None
        if not _accepts_gzip(scope):
            return None
        if not entry["compressible"]:
            return None
        variants: dict[str, bytes] = entry["compressed"]
        found = variants.get("gzip")
        if found is None:
            if len(body) >= GZIP_THREAD_SIZE:
                found = await asyncio.to_thread(gzip.compress, body, GZIP_LEVEL, mtime=0)
            else:
                found = gzip.compress(body, GZIP_LEVEL, mtime=0)
            variants["gzip"] = found
        return found

    def _describe(self, headers: MutableHeaders) -> None:
        headers["cache-control"] = self._cache_control(headers.get("content-type", ""))
        headers["vary"] = VARY

    def _cache_control(self, content_type: str) -> str:
        # Pages carry the visitor's own CSRF token (and set it as a cookie on a first visit): a
        # shared proxy must not keep them, the browser may. JSON is the same for everyone.
        scope_word = "private" if content_type.startswith("text/html") else "public"
        return f"{scope_word}, max-age={self.lifetime}"

    async def _draw(
        self, scope: Scope, receive: Receive, send: Send, key: str, generation: int | None
    ) -> bytes | None:
        """Let the app answer, pass it on as it comes, and keep a copy if it may be kept."""
        start: Message | None = None
        chunks: list[bytes] = []
        # HEAD answers come from GET entries; a HEAD itself has no body to keep.
        keep = generation is not None and scope["method"] == "GET"
        size = 0
        stored_at = time.time()

        async def wrapper(message: Message) -> None:
            nonlocal start, keep, size
            if message["type"] == "http.response.start":
                await self.settle()
                # A copy: the middlewares outside add to the same message after us (the
                # language cookie), and what they add is theirs to add on every answer.
                start = {**message, "headers": list(message.get("headers", []))}
                keep = keep and message["status"] == 200 and not _personal(message)
                if keep:
                    self._describe(MutableHeaders(scope=message))
            elif message["type"] == "http.response.body" and keep:
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > MAX_BODY:
                    keep = False
                    chunks.clear()
                else:
                    chunks.append(chunk)
            await send(message)

        await self.app(scope, receive, wrapper)
        if not keep or start is None or generation is None:
            return None
        entry = self._entry(scope, start, b"".join(chunks), generation, stored_at)
        if entry is None:
            return None
        try:
            await self.store.save(key, entry, self.lifetime)
        except Exception as exc:
            self._redis_failed(exc)
        return entry

    def _entry(
        self, scope: Scope, start: Message, body: bytes, generation: int, stored_at: float
    ) -> bytes | None:
        kept: list[tuple[str, str]] = []
        token: str | None = _cookie(scope, CSRF_COOKIE)
        for name, value in start.get("headers", []):
            name = name.lower()
            if name == b"set-cookie":
                cookie_name, _, rest = value.decode("latin-1").partition("=")
                if cookie_name.strip() != CSRF_COOKIE:
                    return None  # a session or anything else personal: never shared
                token = rest.split(";", 1)[0]
            elif name in KEPT_HEADERS:
                kept.append((name.decode("latin-1"), value.decode("latin-1")))
        if token is None and _has_cookie(scope, CSRF_COOKIE):
            return None  # a made-up token the page may repeat: not for anyone else
        if token is not None and not TOKEN_SHAPE.fullmatch(token):
            return None
        csrf = token is not None and token.encode("ascii") in body
        if token is not None and csrf:
            body = body.replace(token.encode("ascii"), PLACEHOLDER)
        # The CSRF cookie of a visitor without one is set again on a hit, from their own token.
        csrf = csrf or any(n == b"set-cookie" for n, _ in start.get("headers", []))
        meta = {"generation": generation, "stored": stored_at, "headers": kept, "csrf": csrf}
        # One line of JSON (json.dumps writes no raw newline), then the body as it is.
        return json.dumps(meta).encode() + b"\n" + body

    async def aclose(self) -> None:
        if self._store is not None:
            with contextlib.suppress(Exception):
                await self._store.close()


def public_read(scope: Scope) -> bool:
    """A GET or HEAD of a public page (CACHEABLE) by an anonymous visitor: no session cookie, no
    Authorization header. Such a request is the same for everyone and only reads."""
    if scope["method"] not in ("GET", "HEAD") or not CACHEABLE.match(scope.get("path", "")):
        return False
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return False
        if name == b"cookie" and SESSION_COOKIE in value:
            return False
    return True


def _sorted_query(query: bytes) -> str:
    """The query string with its parameters in order: the same page under either order. Short
    ones (every real page's) are remembered: the same few addresses are asked again and again."""
    return _sorted_short(query) if len(query) <= 512 else _sort_query(query)


@functools.lru_cache(maxsize=2048)
def _sorted_short(query: bytes) -> str:
    return _sort_query(query)


def _sort_query(query: bytes) -> str:
    return urlencode(sorted(parse_qsl(query.decode("latin-1"), keep_blank_values=True)))


def _accepts_gzip(scope: Scope) -> bool:
    """GZipMiddleware's own test of Accept-Encoding, so that a hit is encoded as a miss is."""
    return any(
        name == b"accept-encoding" and b"gzip" in value for name, value in scope.get("headers", ())
    )


def _personal(start: Message) -> bool:
    """An answer that sets a cookie other than the CSRF cookie (a session, say)."""
    for name, value in start.get("headers", []):
        cookie_name = value.decode("latin-1").partition("=")[0].strip()
        if name.lower() == b"set-cookie" and cookie_name != CSRF_COOKIE:
            return True
    return False


def _cookie(scope: Scope, name: str) -> str | None:
    prefix = name + "="
    for header, value in scope.get("headers", ()):
        if header != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            part = part.strip()
            if part.startswith(prefix):
                token = part[len(prefix) :]
                # Only a token we could have issued is put into a page (no markup from a cookie).
                return token if TOKEN_SHAPE.fullmatch(token) else None
    return None


def _has_cookie(scope: Scope, name: str) -> bool:
    prefix = name + "="
    return any(
        part.strip().startswith(prefix)
        for header, value in scope.get("headers", ())
        if header == b"cookie"
        for part in value.decode("latin-1").split(";")
    )
