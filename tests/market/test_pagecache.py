"""The anonymous-page cache (market/pagecache.py) and compression, as a visitor sees them.

Every test runs twice: with the cache in Redis (ANLAUF_TEST_REDIS_URL, the way several web
processes share it) and in-process. What is promised: anonymous GETs of the public pages and
API are answered from the cache for ANLAUF_PUBLIC_CACHE_SECONDS; a post that is published or
closed shows at once; signed-in callers and answers that set a session are never cached or
served from it; languages never mix; each visitor keeps a CSRF token of their own; the security
headers stay; a Redis that is down fails nothing.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import update

from market.pagecache import REDIS_PREFIX
from market.posts.models import Post
from market.settings import Settings
from tests.factories import PASSWORD, make_user, post_body
from tests.market.test_headers import assert_page_headers
from tests.pages import running_app
from tests.smtp import free_port

REDIS_URL = os.environ.get("ANLAUF_TEST_REDIS_URL") or "redis://127.0.0.1:6379/4"
TOKEN = re.compile(r'name="csrf_token" value="([^"]*)"')


async def _clear_redis() -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in redis.scan_iter(REDIS_PREFIX + "*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.fixture(params=["redis", "in-process"])
async def cached(
    request: pytest.FixtureRequest, app: Any, settings: Settings
) -> AsyncIterator[Any]:
    """An app with the cache on (the `app` fixture empties the tables)."""
    redis_url = REDIS_URL if request.param == "redis" else None
    if redis_url:
        await _clear_redis()
    on = settings.model_copy(update={"public_cache_seconds": 30, "redis_url": redis_url})
    async with running_app(on) as application:
        yield application


def visitor(app: Any, **headers: str) -> httpx.AsyncClient:
    """A browser without cookies of its own (each request stands for a new visitor)."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers
    )


def hit(r: httpx.Response) -> bool:
    return r.headers.get("x-anlauf-cache") == "hit"


async def publish(client: httpx.AsyncClient, token_headers: dict[str, str], title: str) -> str:
    r = await client.post("/api/v1/posts", headers=token_headers, json=post_body(title=title))
    assert r.status_code == 201 and r.json()["status"] == "published", r.text
    return str(r.json()["id"])


async def test_anonymous_answers_come_from_the_cache_until_a_post_changes(cached: Any) -> None:
    async with visitor(cached) as c:
        seeker = await make_user(cached, c, "seeker")
        post_id = await publish(c, seeker.headers, "Begleitung zum Sozialamt")
        for path in (
            "/",
            "/posts",
            f"/posts/{post_id}",
            "/api/v1/posts",
            f"/api/v1/posts/{post_id}",
            "/api/v1/categories",
            "/api/v1/languages",
        ):
            first = await c.get(path)
            assert first.status_code == 200 and not hit(first), path
            again = await c.get(path)
            assert again.status_code == 200 and hit(again), path
            assert again.content == first.content or path in ("/", "/posts", f"/posts/{post_id}")
            assert int(again.headers["age"]) >= 0
            assert "max-age=30" in again.headers["cache-control"], path
            assert "Accept-Language" in again.headers["vary"] and "Cookie" in again.headers["vary"]
        assert (await c.get("/api/v1/posts")).headers["cache-control"] == "public, max-age=30"
        # Pages carry a CSRF token of their own visitor: browsers may keep them, proxies not.
        assert (await c.get("/")).headers["cache-control"] == "private, max-age=30"
        # HEAD is answered from the GET entry.
        head = await c.head("/api/v1/posts")
        assert hit(head) and head.content == b""

        # A change behind the app's back (no event): the cache still answers the old title,
        # which shows the answer really comes from the cache.
        async with cached.state.sessionmaker() as s, s.begin():
            await s.execute(update(Post).where(Post.id == post_id).values(title="Geändert"))
        assert "Begleitung zum Sozialamt" in (await c.get("/api/v1/posts")).text

        # Closing the post through the service: gone at once from every cached answer.
        closed = await c.post(f"/api/v1/posts/{post_id}/close", headers=seeker.headers)
        assert closed.status_code == 200
        listing = await c.get("/api/v1/posts")
        assert not hit(listing) and post_id not in listing.text
        assert post_id not in (await c.get("/")).text
        assert (await c.get(f"/api/v1/posts/{post_id}")).status_code == 404

        # A new post shows at once for everyone too (its author is signed in: never cached).
        fresh = await publish(c, seeker.headers, "Hilfe beim Umzug")
        assert fresh in (await c.get("/api/v1/posts")).text
        assert fresh in (await c.get("/")).text
        mine = await c.get("/api/v1/posts", headers=seeker.headers)
        assert fresh in mine.text and not hit(mine)


async def test_signed_in_callers_are_never_cached_nor_served_from_it(cached: Any) -> None:
    async with visitor(cached) as c:
        seeker = await make_user(cached, c, "seeker", name="Samira Geheim")
        await c.get("/")  # an anonymous copy is in the cache now
        assert hit(await c.get("/"))
        for _ in range(2):
            r = await c.get("/api/v1/posts", headers=seeker.headers)
            assert r.status_code == 200 and not hit(r)
            assert r.headers["cache-control"] == "no-store"
    # A browser with a session: its own page, with its name, never the anonymous copy.
    async with visitor(cached) as browser:
        page = await browser.get("/login")
        token = TOKEN.search(page.text)
        assert token
        r = await browser.post(
            "/login",
            data={"csrf_token": token.group(1), "email": seeker.email, "password": PASSWORD},
        )
        assert r.status_code == 303
        for _ in range(2):
            home = await browser.get("/")
            assert not hit(home) and "Samira Geheim" in home.text
            assert home.headers["cache-control"] == "no-store"
    # And nobody anonymous ever sees the signed-in page.
    async with visitor(cached) as c:
        assert "Samira Geheim" not in (await c.get("/")).text


async def test_each_visitor_keeps_a_csrf_token_of_their_own(cached: Any) -> None:
    async with visitor(cached) as c:
        seeker = await make_user(cached, c, "seeker")
        post_id = await publish(c, seeker.headers, "Begleitung zum Sozialamt")
    path = f"/posts/{post_id}"
    seen: set[str] = set()
    shapes: set[str] = set()
    for n in range(3):
        async with visitor(cached) as newcomer:  # no cookies: a first visit
            r = await newcomer.get(path)
            assert r.status_code == 200 and hit(r) == (n > 0)
            cookie = newcomer.cookies.get("anlauf_csrf")
            assert cookie and cookie not in seen
            seen.add(cookie)
            assert (
                "HttpOnly" in r.headers["set-cookie"] and "SameSite=lax" in r.headers["set-cookie"]
            )
            # A hit sets the cookie exactly as the drawn page did, with the visitor's own token.
            shapes.add(r.headers["set-cookie"].replace(cookie, "TOKEN"))
            assert set(TOKEN.findall(r.text)) <= {cookie}
            # Their next visit: served with their own token, no new cookie.
            again = await newcomer.get(path)
            assert hit(again) and "set-cookie" not in again.headers
            assert set(TOKEN.findall(again.text)) <= {cookie}
    assert len(shapes) == 1, shapes
    # A cookie that is not a token we could have issued is never written into the page.
    async with visitor(cached, cookie='anlauf_csrf="><script>alert(1)</script>') as hostile:
        r = await hostile.get(path)
        assert "<script>alert" not in r.text


async def test_languages_and_hosts_are_kept_apart(cached: Any) -> None:
    async with visitor(cached) as c:
        for _ in range(2):
            de = await c.get("/", headers={"Accept-Language": "de"})
            ar = await c.get("/", headers={"Accept-Language": "ar"})
            async with visitor(cached) as chooser:  # the choice is remembered in a cookie
                uk = await chooser.get("/?lang=uk")
            assert de.headers["content-language"] == "de" and 'lang="de"' in de.text
            assert ar.headers["content-language"] == "ar" and 'dir="rtl"' in ar.text
            assert uk.headers["content-language"] == "uk" and 'lang="uk"' in uk.text
            # The language choice still sets its cookie on a cached answer.
            assert "anlauf_lang=uk" in uk.headers["set-cookie"]
        assert hit(de) and hit(ar) and hit(uk)
        api_de = await c.get("/api/v1/categories", headers={"Accept-Language": "de"})
        api_ar = await c.get("/api/v1/categories", headers={"Accept-Language": "ar"})
        assert api_de.json() != api_ar.json()
        # Query order does not matter; another Host header is another entry.
        await c.get("/api/v1/posts?limit=5&kind=need")
        assert hit(await c.get("/api/v1/posts?kind=need&limit=5"))
        other = await c.get("/api/v1/posts?limit=5&kind=need", headers={"Host": "evil.example"})
        assert not hit(other)


async def test_cached_answers_keep_the_security_headers(cached: Any) -> None:
    async with visitor(cached) as c:
        await c.get("/")
        r = await c.get("/")
        assert hit(r)
        assert_page_headers(r)
        api = await c.get("/api/v1/categories")
        api = await c.get("/api/v1/categories")
        assert hit(api) and api.headers["x-content-type-options"] == "nosniff"


async def test_errors_other_pages_and_writes_are_not_cached(cached: Any) -> None:
    async with visitor(cached) as c:
        for path in ("/posts/no-such-post", "/api/v1/posts/no-such-post", "/login", "/healthz"):
            await c.get(path)
            assert not hit(await c.get(path)), path
        assert (await c.post("/api/v1/posts", json=post_body())).status_code == 401


async def test_cache_off_and_redis_down_answer_normally(app: Any, settings: Settings) -> None:
    off = settings.model_copy(update={"public_cache_seconds": 0})
    async with running_app(off) as application, visitor(application) as c:
        await c.get("/api/v1/posts")
        r = await c.get("/api/v1/posts")
        assert r.status_code == 200 and not hit(r) and "cache-control" not in r.headers
    down = settings.model_copy(
        update={"public_cache_seconds": 30, "redis_url": f"redis://127.0.0.1:{free_port()}/4"}
    )
    async with running_app(down) as application, visitor(application) as c:
        seeker = await make_user(application, c, "seeker")
        post_id = await publish(c, seeker.headers, "Begleitung zum Sozialamt")
        for _ in range(3):
            r = await c.get("/api/v1/posts")
            assert r.status_code == 200 and post_id in r.text and not hit(r)
        assert (
            await c.post(f"/api/v1/posts/{post_id}/close", headers=seeker.headers)
        ).status_code == 200
        assert post_id not in (await c.get("/api/v1/posts")).text


async def test_concurrent_visitors_get_whole_answers(cached: Any) -> None:
    async with visitor(cached) as c:
        seeker = await make_user(cached, c, "seeker")
        for n in range(3):
            await publish(c, seeker.headers, f"Begleitung Nummer {n}")
        answers = await asyncio.gather(*(c.get("/api/v1/posts") for _ in range(20)))
        bodies = {r.content for r in answers}
        assert all(r.status_code == 200 for r in answers)
        assert len(bodies) == 1 and len(answers[-1].json()["items"]) == 3
        # One of them drew the page, the others waited for its copy (not 20 queries at once).
        assert sum(not hit(r) for r in answers) <= 2
        # The same for pages, each visitor with a token of their own.
        newcomers = [visitor(cached) for _ in range(10)]
        pages = await asyncio.gather(*(v.get("/") for v in newcomers))
        for v in newcomers:
            await v.aclose()
        assert all(r.status_code == 200 for r in pages) and sum(not hit(r) for r in pages) <= 2
        tokens = [r.cookies.get("anlauf_csrf") for r in pages]
        assert len(set(tokens)) == 10


# --- Compression


async def test_text_answers_are_gzipped(cached: Any) -> None:
    async with visitor(cached) as c:
        for _ in range(2):  # a miss and a hit
            r = await c.get("/", headers={"Accept-Encoding": "gzip"})
            assert r.headers["content-encoding"] == "gzip" and "<html" in r.text
            assert "Accept-Encoding" in r.headers["vary"]
        raw = await c.get("/api/v1/categories", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in raw.headers
        small = await c.get("/healthz", headers={"Accept-Encoding": "gzip"})
        assert "content-encoding" not in small.headers  # under 500 bytes
        assert gzip.compress(b"x")  # the module a browser would use is there


async def test_the_event_stream_is_not_gzipped(client: httpx.AsyncClient, app: Any) -> None:
    from tests.notifications.test_live import EventReader, logged_in, serve

    seeker = await make_user(app, client, "seeker")
    async with serve(app) as base:
        browser = await logged_in(base, seeker)
        try:
            async with browser.stream(
                "GET", "/notifications/stream", headers={"Accept-Encoding": "gzip"}
            ) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                assert "content-encoding" not in response.headers
                first = await EventReader(response).until("count")
                assert first["unread"] == 0
        finally:
            await browser.aclose()


async def test_a_form_on_a_cached_page_carries_each_visitors_own_token(settings: Settings) -> None:
    """Today's public pages show anonymous visitors no POST form, so this uses a page that does
    (drawn as market.web.render() draws one: the visitor's token, or a new one set as cookie)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from market.pagecache import PageCache
    from market.security import new_secret

    drawn = 0

    async def page(request: Request) -> HTMLResponse:
        nonlocal drawn
        drawn += 1
        token = request.cookies.get("anlauf_csrf") or new_secret()
        response = HTMLResponse(f'<form method="post"><input name="csrf_token" value="{token}">')
        if request.cookies.get("anlauf_csrf") != token:
            response.set_cookie("anlauf_csrf", token, httponly=True, samesite="lax", path="/")
        return response

    on = settings.model_copy(update={"public_cache_seconds": 30, "redis_url": None})
    app = Starlette(routes=[Route("/posts", page)])
    app.add_middleware(PageCache, settings=on)
    tokens = []
    for _ in range(3):
        async with visitor(app) as newcomer:
            r = await newcomer.get("/posts")
            cookie = newcomer.cookies.get("anlauf_csrf")
            assert cookie and TOKEN.findall(r.text) == [cookie]
            tokens.append(cookie)
            again = await newcomer.get("/posts")
            assert hit(again) and TOKEN.findall(again.text) == [cookie]
            assert "set-cookie" not in again.headers
    assert len(set(tokens)) == 3 and drawn == 1
    async with visitor(app, cookie='anlauf_csrf="><b>x</b>') as hostile:
        r = await hostile.get("/posts")
        assert "<b>x</b>" not in r.text and TOKEN.findall(r.text)[0] == hostile.cookies.get(
            "anlauf_csrf"
        )


async def test_each_process_keeps_a_near_copy_of_redis_entries_for_a_second(
    app: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hit within NEAR_SECONDS asks Redis nothing; another process's invalidation (the shared
    generation counter moving) reaches this process once its copy is older than that."""
    from market import pagecache

    await _clear_redis()
    now = [1000.0]
    monkeypatch.setattr(pagecache, "near_clock", lambda: now[0])
    on = settings.model_copy(update={"public_cache_seconds": 30, "redis_url": REDIS_URL})
    before = set(pagecache._caches)  # other tests' apps may still be around
    async with running_app(on) as application, visitor(application) as c:
        assert not hit(await c.get("/api/v1/categories"))
        assert hit(await c.get("/api/v1/categories"))  # from Redis; the copy is kept now
        (ours,) = set(pagecache._caches) - before
        store = ours.store
        assert isinstance(store, pagecache.RedisStore) and store.near
        asked: list[object] = []
        real_mget = store.redis.mget

        async def counted(*args: Any, **kwargs: Any) -> Any:
            asked.append(args)
            return await real_mget(*args, **kwargs)

        monkeypatch.setattr(store.redis, "mget", counted)
        assert hit(await c.get("/api/v1/categories"))
        assert asked == []
        # Another process invalidates: this one answers its copy for at most NEAR_SECONDS...
        other = Redis.from_url(REDIS_URL)
        try:
            await other.incr(pagecache.GENERATION_KEY)
        finally:
            await other.aclose()
        assert hit(await c.get("/api/v1/categories"))
        assert asked == []
        # ...then asks Redis, sees the new generation and draws the answer again.
        now[0] += pagecache.NEAR_SECONDS + 0.01
        assert not hit(await c.get("/api/v1/categories"))
        assert len(asked) == 1


async def test_a_hit_the_same_for_everyone_is_compressed_once(
    cached: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Browsers all ask for gzip: a hit goes out compressed from a copy made once per entry,
    not compressed again for every visitor, and reads exactly as the uncompressed hit."""
    from market import pagecache

    compressed: list[int] = []
    real = gzip.compress

    def counted(data: bytes, *args: Any, **kwargs: Any) -> bytes:
        compressed.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(pagecache.gzip, "compress", counted)
    async with visitor(cached) as c:
        seeker = await make_user(cached, c, "seeker")
        await publish(c, seeker.headers, "Begleitung zum Jobcenter")
    async with visitor(cached) as c:
        plain = await c.get("/", headers={"Accept-Encoding": "identity"})  # the miss
        assert plain.status_code == 200 and not hit(plain)
        plain_hit = await c.get("/", headers={"Accept-Encoding": "identity"})
        assert hit(plain_hit) and "content-encoding" not in plain_hit.headers
    for _ in range(3):
        async with visitor(cached) as browser:  # new visitors, as a browser asks
            r = await browser.get("/", headers={"Accept-Encoding": "gzip, deflate, br"})
            assert hit(r) and r.headers["content-encoding"] == "gzip"
            assert r.headers["content-length"] == str(len(real(r.content, 6, mtime=0)))
            assert r.content == plain_hit.content and "Begleitung zum Jobcenter" in r.text
            assert r.headers["vary"].count("Accept-Encoding") == 1
            assert "Accept-Language" in r.headers["vary"]
            assert_page_headers(r)
    assert len(compressed) == 1 and compressed[0] == len(plain_hit.content)


async def test_a_hit_with_the_visitors_token_is_not_shared_compressed(settings: Settings) -> None:
    """A body that holds the visitor's own CSRF token differs per visitor: the cache never
    hands out a compressed copy of it (GZipMiddleware compresses each visitor's own)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    from market.pagecache import PageCache
    from market.security import new_secret

    async def page(request: Request) -> HTMLResponse:
        token = request.cookies.get("anlauf_csrf") or new_secret()
        padding = "<p>Begleitung zum Jobcenter</p>" * 40  # well over the 500 bytes compressed
        response = HTMLResponse(
            f'{padding}<form method="post"><input name="csrf_token" value="{token}">'
        )
        response.set_cookie("anlauf_csrf", token, httponly=True, samesite="lax", path="/")
        return response

    on = settings.model_copy(update={"public_cache_seconds": 30, "redis_url": None})
    app = Starlette(routes=[Route("/posts", page)])
    app.add_middleware(PageCache, settings=on)
    for n in range(3):
        async with visitor(app) as newcomer:
            r = await newcomer.get("/posts", headers={"Accept-Encoding": "gzip"})
            assert hit(r) == (n > 0) and "content-encoding" not in r.headers
            assert TOKEN.findall(r.text) == [newcomer.cookies.get("anlauf_csrf")]
