"""Match pages and match objects in the reader's language (issue 14, API.md "Machine translation").

The partner's post on a match page (title and text), in "My matches" and in a post's matches is
machine-translated for a reader whose language differs, labelled, with the original one click
away; the reader's own post stays as written. Match objects in the API embed post objects and so
carry their "translation". A slow or stopped translation server neither delays these pages past
the budget nor fails them: the original is shown, unlabelled.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from market.settings import Settings
from market.translation import service
from tests.factories import Actor
from tests.market.conversations.helpers import connected_match
from tests.market.translation.test_machine_translation import lang_of, wait_for
from tests.pages import browser, translated
from tests.translate_server import TranslateServer

OFFER = "Ich begleite Sie zum Amt"  # the volunteer's post (connected_match)
NEED = "Hilfe beim Jobcenter"  # the seeker's own post
BODY = "Ich brauche Hilfe beim Termin im Jobcenter."  # both posts' text (post_body)


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


async def arabic_reader_of_a_german_match(
    app: Any, client: httpx.AsyncClient
) -> tuple[Actor, str, dict[str, Any]]:
    """A connected match of two German posts, read by the seeker in Arabic: (seeker, match id,
    the match object as the seeker's API answer gives it)."""
    _volunteer, seeker, match_id, _conversation = await connected_match(
        client, app, seeker_locale="ar"
    )
    r = await client.get(f"/api/v1/matches/{match_id}", headers=seeker.headers)
    assert r.status_code == 200, r.text
    match = r.json()
    for post in (match["offer"], match["need"]):
        # Detected on write, by a job.
        assert await wait_for(lambda: lang_of(app, post["id"])) == "de"
    return seeker, match_id, match


async def test_the_partners_post_is_translated_and_labelled_with_the_original_near(
    app: Any, client: httpx.AsyncClient
) -> None:
    seeker, match_id, match = await arabic_reader_of_a_german_match(app, client)
    label = translated("Machine-translated", "ar")
    async with browser(app, seeker) as c:
        r = await c.get(f"/matches/{match_id}?lang=ar")
        assert r.status_code == 200
        page = r.text
        assert f'<h1><bdi lang="ar">[ar] {OFFER}</bdi></h1>' in page
        assert f"<title>[ar] {OFFER}" in page
        assert label in page
        assert f'lang="ar">[ar] {BODY}</div>' in page  # the partner's text, translated
        # The original one click away, without script.
        original = page.split('<details class="original">', 1)[1].split("</details>", 1)[0]
        assert translated("Show the original", "ar") in original
        assert f"<strong>{OFFER}</strong>" in original and BODY in original
        # The reader's own post stays as written, unlabelled.
        assert f"<bdi>{NEED}</bdi>" in page and f"[ar] {NEED}" not in page
        assert page.count(label) == 1

        mine = (await c.get("/my/matches?lang=ar")).text
        assert f"[ar] {OFFER}" in mine and label in mine
        assert f"<bdi>{NEED}</bdi>" in mine  # "for your post": the reader's own, as written
        listing = (await c.get(f"/posts/{match['need']['id']}/matches?lang=ar")).text
        assert f"[ar] {OFFER}" in listing and label in listing

        # A reader of the posts' own language gets the originals, unlabelled.
        german = (await c.get(f"/matches/{match_id}?lang=de")).text
        assert "[de]" not in german and f"<bdi>{OFFER}</bdi>" in german
        assert translated("Machine-translated", "de") not in german


async def test_match_objects_carry_the_translation_of_their_posts(
    app: Any, client: httpx.AsyncClient
) -> None:
    seeker, match_id, _match = await arabic_reader_of_a_german_match(app, client)
    arabic = {**seeker.headers, "Accept-Language": "ar"}
    r = await client.get(f"/api/v1/matches/{match_id}", headers=arabic)
    assert r.status_code == 200
    body = r.json()
    assert body["offer"]["title"] == OFFER  # the original stays where it was
    assert body["offer"]["translation"] == {
        "lang": "ar",
        "title": f"[ar] {OFFER}",
        "body": f"[ar] {BODY}",
    }
    assert body["need"]["translation"] is None  # the reader wrote it
    (item,) = (await client.get("/api/v1/matches", headers=arabic)).json()["items"]
    assert item["offer"]["translation"]["title"] == f"[ar] {OFFER}"
    german = {**seeker.headers, "Accept-Language": "de"}
    r = await client.get(f"/api/v1/matches/{match_id}", headers=german)
    assert r.json()["offer"]["translation"] is None


@pytest.mark.parametrize("trouble", ["slow", "stopped"])
async def test_a_slow_or_stopped_server_shows_the_originals_in_time(
    app: Any, client: httpx.AsyncClient, translate_server: TranslateServer, trouble: str
) -> None:
    seeker, match_id, _match = await arabic_reader_of_a_german_match(app, client)
    if trouble == "stopped":
        translate_server.stop()
    translate_server.mode = trouble  # slow: every answer after 5 s
    async with browser(app, seeker) as c:
        for path in (f"/matches/{match_id}?lang=ar", "/my/matches?lang=ar"):
            started = time.monotonic()
            r = await c.get(path)
            took = time.monotonic() - started
            assert r.status_code == 200, path
            assert took < 4.0, (path, took)  # budget 1.5 s, generous slack on a busy machine
            assert f"<bdi>{OFFER}</bdi>" in r.text and "[ar]" not in r.text
            assert translated("Machine-translated", "ar") not in r.text
    r = await client.get(
        f"/api/v1/matches/{match_id}", headers={**seeker.headers, "Accept-Language": "ar"}
    )
    assert r.status_code == 200 and r.json()["offer"]["translation"] is None
