"""Requests are worked on a few at a time, first come first served.

One web process runs its requests on one event loop. Without a limit, every open connection's
request is in progress at once: each await (a statement, a lock) puts a request at the back of
the loop's queue, behind the steps of every other request, and an unlucky one waits behind
dozens of them many times over. Under load the slowest answers then take several times as long
as the typical one (signed-in `/my/posts` at 16 connections: p50 69 ms, p99 236 ms), although
the process does the same work in the same time.

So at most `ANLAUF_REQUESTS_AT_ONCE` reading requests (GET, HEAD) are worked on at once; the
others wait in arrival order. A few at once keep the processor busy while some wait for the
database; the wait of the rest is a queue, not a lottery. A request holds its place until its
answer starts, so a long-lived stream (server-sent events) gives it back at once. Requests with a
body are not limited: a client sending one slowly would hold a place meanwhile. A request waits
for a place at most `MAX_WAIT_SECONDS` and then goes ahead without one, so that a few requests
that wait on something slow (a sign-in at a slow identity provider) can hold up the others no
longer than that. 0 switches the limit off. It sits inside the page cache (market.app): an
answer from the cache never waits.

Measured (benchmarks/README.md, "Fair admission"): at 16 connections on the 20,000-post
database, signed-in `/my/posts` p99 213 -> 80 ms, the start page without the cache 306 -> 643
req/s with p99 207 -> 26 ms.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_READING = frozenset({"GET", "HEAD"})
MAX_WAIT_SECONDS = 1.0


class FairAdmission:
    def __init__(self, app: ASGIApp, *, at_once: int) -> None:
        self.app = app
        # asyncio.Semaphore wakes its waiters in the order they came (FIFO).
        self._places = asyncio.Semaphore(at_once) if at_once > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        places = self._places
        if places is None or scope["type"] != "http" or scope["method"] not in _READING:
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(MAX_WAIT_SECONDS):
                # Cancelled by the timeout, acquire() gives back a place it was just handed.
                await places.acquire()
            held = True
        except TimeoutError:
            held = False

        def give_back() -> None:
            nonlocal held
            if held:
                held = False
                places.release()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                give_back()
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            give_back()
