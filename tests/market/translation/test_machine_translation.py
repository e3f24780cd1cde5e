"""Machine translation against a LibreTranslate-compatible server on loopback (tests/translate_server).

Detect on write (an outbox job sets posts.lang), translate on read with a cache, labelled on
pages with the original one click away; a slow or stopped server never delays a page past the
budget nor fails it, and what it could not translate is queued so that the next view has it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from market.db import make_sessionmaker
from market.posts.models import Post
from market.settings import Settings
from market.translation import service
from market.translation.models import CachedTranslation
from notifications.models import OutboxItem
from tests.factories import Actor, make_user, post_body
from tests.market.conversations.helpers import connected_match, write
from tests.translate_server import TranslateServer

TITLE = "Begleitung zum Jobcenter"
BODY = "Ich brauche Hilfe beim Termin im Jobcenter."


@pytest.fixture
def translate_server() -> Iterator[TranslateServer]:
    server = TranslateServer().start()
    yield server
    if server.mode != "stopped":
        server.stop()


@pytest.fixture
def settings(settings: Settings, translate_server: TranslateServer) -> Settings:
    return settings.model_copy(update={"translate_url": translate_server.url})


@pytest.fixture(autouse=True)
async def fresh_state() -> AsyncIterator[None]:
    service.reset()
    yield
    await service.settled()
    service.reset()


async def wait_for(check: Any, timeout: float = 20.0) -> Any:
    """Poll an async check until it returns something truthy (a job's effect)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def lang_of(app: Any, post_id: str) -> str | None:
    async with make_sessionmaker(app.state.engine)() as session:
        post = await session.get(Post, post_id)
        return post.lang if post else None


async def cached(app: Any, target: str) -> int:
    async with make_sessionmaker(app.state.engine)() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(CachedTranslation)
                .where(CachedTranslation.target == target)
            )
            or 0
        )


async def jobs(app: Any, name: str) -> list[OutboxItem]:
    async with make_sessionmaker(app.state.engine)() as session:
        return list(await session.scalars(select(OutboxItem).where(OutboxItem.job == name)))


async def german_post(app: Any, client: httpx.AsyncClient) -> tuple[Actor, str]:
    seeker = await make_user(app, client, "seeker")
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    assert r.status_code == 201, r.text
    post_id = str(r.json()["id"])
    # Detected on write, by a job: posts.lang is set after the request, not in it.
    assert await wait_for(lambda: lang_of(app, post_id)) == "de"
    return seeker, post_id


async def test_a_post_is_detected_on_write_and_translated_on_read_from_the_cache(
    app: Any, client: httpx.AsyncClient, translate_server: TranslateServer
) -> None:
    _seeker, post_id = await german_post(app, client)
    assert "/detect" in translate_server.paths()

    r = await client.get(f"/api/v1/posts/{post_id}", headers={"Accept-Language": "ar"})
    assert r.status_code == 200
    assert r.json()["title"] == TITLE  # the original stays where it was
    assert r.json()["translation"] == {
        "lang": "ar",
        "title": f"[ar] {TITLE}",
        "body": f"[ar] {BODY}",
    }
    # The post's language is known, so the server was asked to translate from German.
    (asked,) = [c for path, c in translate_server.calls if path == "/translate"]
    assert asked["source"] == "de" and asked["target"] == "ar"

    await service.settled()
    assert await cached(app, "ar") == 2
    before = translate_server.paths().count("/translate")
    r = await client.get("/api/v1/posts", headers={"Accept-Language": "ar"})
    (item,) = r.json()["items"]
    assert item["translation"]["title"] == f"[ar] {TITLE}"
    assert translate_server.paths().count("/translate") == before  # from the cache

    # A reader of the post's own language gets no translation.
    r = await client.get(f"/api/v1/posts/{post_id}", headers={"Accept-Language": "de"})
    assert r.json()["translation"] is None


async def test_pages_label_the_translation_and_keep_the_original_one_click_away(
    app: Any, client: httpx.AsyncClient
) -> None:
    _seeker, post_id = await german_post(app, client)
    page = (await client.get(f"/posts/{post_id}?lang=ar")).text
    assert f"[ar] {TITLE}" in page and f"[ar] {BODY}" in page
    assert '<details class="original">' in page and TITLE in page  # the original, no script
    from tests.pages import translated

    assert translated("Machine-translated", "ar") in page
    listing = (await client.get("/posts?lang=ar")).text
    assert f"[ar] {TITLE}" in listing and translated("Machine-translated", "ar") in listing
    german = (await client.get(f"/posts/{post_id}?lang=de")).text
    assert "[de]" not in german and translated("Machine-translated", "de") not in german


async def test_a_slow_server_does_not_hold_the_page_and_the_next_view_has_the_translation(
    app: Any, client: httpx.AsyncClient, translate_server: TranslateServer
) -> None:
    _seeker, post_id = await german_post(app, client)
    translate_server.mode = "slow"  # every answer after 5 s
    started = time.monotonic()
    r = await client.get(f"/posts/{post_id}?lang=ar")
    took = time.monotonic() - started
    assert r.status_code == 200
    assert took < 4.0, took  # the 5 s server did not block it (budget 1.5 s, generous slack)
    assert TITLE in r.text and "[ar]" not in r.text  # the original, unlabelled
    r = await client.get(f"/api/v1/posts/{post_id}", headers={"Accept-Language": "ar"})
    assert r.json()["translation"] is None

    # What was missing went to the outbox; the job fills the cache once the server answers.
    await service.settled()
    assert await jobs(app, service.FILL_JOB)
    translate_server.mode = "ok"
    assert await wait_for(lambda: cached(app, "ar"), timeout=30) == 2
    r = await client.get(f"/posts/{post_id}?lang=ar")
    assert f"[ar] {TITLE}" in r.text


async def test_a_stopped_server_never_fails_a_page_or_the_api(
    app: Any, client: httpx.AsyncClient, translate_server: TranslateServer
) -> None:
    _seeker, post_id = await german_post(app, client)
    translate_server.stop()
    translate_server.mode = "stopped"
    for path in (f"/posts/{post_id}?lang=fa", "/posts?lang=fa", "/?lang=fa"):
        r = await client.get(path)
        assert r.status_code == 200, path
        assert TITLE in r.text
    r = await client.get(f"/api/v1/posts/{post_id}", headers={"Accept-Language": "fa"})
    assert r.status_code == 200 and r.json()["translation"] is None
    await service.settled()
    assert await cached(app, "fa") == 0


async def test_a_server_error_shows_the_original(
    app: Any, client: httpx.AsyncClient, translate_server: TranslateServer
) -> None:
    _seeker, post_id = await german_post(app, client)
    translate_server.mode = "error"
    r = await client.get(f"/api/v1/posts/{post_id}", headers={"Accept-Language": "uk"})
    assert r.status_code == 200 and r.json()["translation"] is None


async def test_messages_are_translated_for_the_reader_but_not_for_their_writer(
    app: Any, client: httpx.AsyncClient, translate_server: TranslateServer
) -> None:
    volunteer, seeker, match_id, conversation_id = await connected_match(client, app)
    r = await write(client, volunteer, conversation_id, "Ich komme um 9 Uhr mit zum Amt.")
    assert r.status_code == 201 and r.json()["translation"] is None
    r = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages",
        headers={**seeker.headers, "Accept-Language": "ar"},
    )
    (message,) = r.json()["items"]
    assert message["translation"] == {"lang": "ar", "body": "[ar] Ich komme um 9 Uhr mit zum Amt."}
    r = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages",
        headers={**volunteer.headers, "Accept-Language": "ar"},
    )
    assert r.json()["items"][0]["translation"] is None  # one's own words stay as written

    # The match page shows it to the seeker, labelled, with the original behind <details>.
    from tests.pages import login, translated

    await login(client, seeker.email)
    page = (await client.get(f"/matches/{match_id}?lang=ar")).text
    assert "[ar] Ich komme um 9 Uhr mit zum Amt." in page
    assert translated("Show the original", "ar") in page


async def test_a_message_in_the_readers_language_is_not_translated(
    app: Any, client: httpx.AsyncClient
) -> None:
    volunteer, seeker, _match_id, conversation_id = await connected_match(client, app)
    await write(client, volunteer, conversation_id, "مرحبا، أنا قادم غدا")
    r = await client.get(
        f"/api/v1/conversations/{conversation_id}/messages",
        headers={**seeker.headers, "Accept-Language": "ar"},
    )
    assert r.json()["items"][0]["translation"] is None


@pytest.fixture
async def arq_app(settings: Settings, app: Any) -> AsyncIterator[Any]:
    """A second web app on the same database whose relay hands jobs to arq (Redis)."""
    import os

    redis_url = os.environ.get("ANLAUF_TEST_REDIS_URL")
    if not redis_url or not settings.database_url.startswith("postgresql"):
        pytest.skip("the arq worker runs with PostgreSQL and Redis")
    from market.app import create_app

    application = create_app(settings.model_copy(update={"redis_url": redis_url}))
    async with application.router.lifespan_context(application):
        yield application


async def test_a_real_arq_worker_detects_and_fills_the_cache(
    client: httpx.AsyncClient,
    app: Any,
    arq_app: Any,
    settings: Settings,
    translate_server: TranslateServer,
    tmp_path: Any,
) -> None:
    import os

    from tests.notifications.procs import Workers, worker_env

    seeker = await make_user(app, client, "seeker")
    await app.state.relay.stop()  # only the worker runs jobs
    env = worker_env(
        database_url=settings.database_url,
        redis_url=os.environ["ANLAUF_TEST_REDIS_URL"],
        smtp_url=str(settings.smtp_url),
        folder=tmp_path,
        job_timeout=20,
    )
    env["ANLAUF_TRANSLATE_URL"] = translate_server.url
    transport = httpx.ASGITransport(app=arq_app)
    with Workers(tmp_path, env) as workers:
        workers.spawn()
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as web:
            r = await web.post("/api/v1/posts", headers=seeker.headers, json=post_body())
            post_id = str(r.json()["id"])
            assert await wait_for(lambda: lang_of(app, post_id), timeout=30) == "de"
            translate_server.mode = "error"  # the page cannot have it now ...
            r = await web.get(f"/api/v1/posts/{post_id}", headers={"Accept-Language": "uk"})
            assert r.json()["translation"] is None
            await service.settled()
            translate_server.mode = "ok"  # ... the worker's job can
            assert await wait_for(lambda: cached(app, "uk"), timeout=30) == 2, workers[0].tail(80)
            r = await web.get(f"/api/v1/posts/{post_id}", headers={"Accept-Language": "uk"})
            assert r.json()["translation"]["title"] == f"[uk] {TITLE}"
        log = workers[0].tail(400)
    assert service.DETECT_JOB in log and service.FILL_JOB in log, log
