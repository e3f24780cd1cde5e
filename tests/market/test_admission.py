"""Fair admission (market.admission): reading requests are worked on a few at a time, in the
order they came, and nothing can hold the others up for long.

- at most `at_once` reading requests are in progress at once, and they start in arrival order;
- an answer that has started (a server-sent event stream) gives its place back at once;
- requests with a body are not limited;
- a request waits at most MAX_WAIT_SECONDS for a place, then goes ahead without one;
- 0 switches the limit off; the app is built with ANLAUF_REQUESTS_AT_ONCE.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from market import admission
from market.admission import FairAdmission
from market.pagecache import PageCache


class Recorder:
    """A toy app whose requests wait until released, and which notes what ran when."""

    def __init__(self) -> None:
        self.in_progress = 0
        self.most = 0
        self.started: list[str] = []
        self.go = asyncio.Event()

    async def page(self, request: Request) -> Response:
        self.in_progress += 1
        self.most = max(self.most, self.in_progress)
        self.started.append(request.path_params["name"])
        try:
            await self.go.wait()
        finally:
            self.in_progress -= 1
        return PlainTextResponse(request.path_params["name"])

    async def stream(self, request: Request) -> Response:
        async def events() -> Any:
            yield "event: hello\n\n"
            await asyncio.Event().wait()  # open until the client leaves

        return StreamingResponse(events(), media_type="text/event-stream")

    def app(self, at_once: int) -> Any:
        inner = Starlette(
            routes=[
                Route("/stream", self.stream),
                Route("/{name}", self.page, methods=["GET", "POST"]),
            ]
        )
        return FairAdmission(inner, at_once=at_once)


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def _until(condition: Any, timeout: float = 5.0) -> None:
    # Polling on purpose: the condition is the toy app's state, which no event announces.
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_a_few_at_once_in_the_order_they_came() -> None:
    recorder = Recorder()
    async with client(recorder.app(2)) as c:
        tasks = []
        for n in range(8):
            tasks.append(asyncio.create_task(c.get(f"/r{n}")))
            await asyncio.sleep(0.01)  # arrival order r0, r1, ...
        await _until(lambda: len(recorder.started) == 2)
        await asyncio.sleep(0.1)
        assert recorder.in_progress == 2 and recorder.started == ["r0", "r1"]
        recorder.go.set()
        answers = await asyncio.gather(*tasks)
    assert [a.text for a in answers] == [f"r{n}" for n in range(8)]
    assert recorder.most == 2
    assert recorder.started == [f"r{n}" for n in range(8)]


async def test_a_started_stream_gives_its_place_back() -> None:
    recorder = Recorder()
    recorder.go.set()
    app = recorder.app(1)
    started = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client stays
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/stream",
        "raw_path": b"/stream",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    # httpx's ASGI transport waits for the whole body, which a stream never ends: called directly.
    stream = asyncio.create_task(app(scope, receive, send))
    try:
        async with asyncio.timeout(2):
            await started.wait()
        async with client(app) as c, asyncio.timeout(0.5):
            r = await c.get("/page")  # the stream goes on; its place is free
        assert r.text == "page"
        assert not stream.done()
    finally:
        stream.cancel()


async def test_requests_with_a_body_are_not_limited() -> None:
    recorder = Recorder()
    async with client(recorder.app(1)) as c:
        tasks = [asyncio.create_task(c.post(f"/p{n}", content=b"x")) for n in range(3)]
        await _until(lambda: recorder.in_progress == 3)
        recorder.go.set()
        await asyncio.gather(*tasks)
    assert recorder.most == 3


async def test_nobody_waits_longer_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admission, "MAX_WAIT_SECONDS", 0.2)
    recorder = Recorder()
    async with client(recorder.app(1)) as c:
        stuck = asyncio.create_task(c.get("/stuck"))  # holds the one place, never answers
        await _until(lambda: recorder.in_progress == 1)
        late = asyncio.create_task(c.get("/late"))
        await asyncio.sleep(0.1)
        assert recorder.started == ["stuck"]  # still waiting for the place
        await _until(lambda: recorder.started == ["stuck", "late"], timeout=1.0)
        recorder.go.set()
        assert (await late).text == "late" and (await stuck).text == "stuck"
    # The one that went ahead without a place gave none back: one place, as before.
    recorder.go.clear()
    async with client(recorder.app(1)) as c:
        first = asyncio.create_task(c.get("/a"))
        await _until(lambda: recorder.in_progress == 1)
        second = asyncio.create_task(c.get("/b"))
        await asyncio.sleep(0.1)
        assert recorder.in_progress == 1
        recorder.go.set()
        await asyncio.gather(first, second)


async def test_zero_switches_the_limit_off() -> None:
    recorder = Recorder()
    async with client(recorder.app(0)) as c:
        tasks = [asyncio.create_task(c.get(f"/z{n}")) for n in range(6)]
        await _until(lambda: recorder.in_progress == 6)
        recorder.go.set()
        await asyncio.gather(*tasks)


def test_the_app_is_built_with_the_setting() -> None:
    from market.app import create_app
    from market.settings import Settings

    def places(at_once: int) -> Any:
        app = create_app(Settings(env="test", requests_at_once=at_once))
        classes = [m.cls for m in app.user_middleware]
        # Right inside the page cache: an answer from the cache never waits for a place.
        assert classes.count(FairAdmission) == 1
        assert classes[classes.index(FairAdmission) - 1] is PageCache
        return app.user_middleware[classes.index(FairAdmission)].kwargs["at_once"]

    assert places(4) == 4 and places(0) == 0
    assert Settings(env="test").requests_at_once == 4
