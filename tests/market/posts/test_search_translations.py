"""Search finds posts by the words of their cached machine translations (issue 14), with no request
to the translation server at search time, and an edited text's old translation stops matching
(market/posts/translated_search.py, migration 0017)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from market.posts import search
from market.posts.models import Post
from market.settings import Settings
from market.translation import service
from market.translation.client import Translated
from tests.factories import make_user, post_body
from tests.translate_server import TranslateServer

TITLE = "Begleitung zum Jobcenter"
BODY = "Ich brauche Hilfe beim Termin im Jobcenter."
# What the loopback server answers for these texts (it otherwise answers "[ar] <text>").
GLOSSARY = {
    ("ar", TITLE): "مرافقة إلى مركز التوظيف",
    ("ar", BODY): "أحتاج مساعدة في الموعد",
    ("uk", TITLE): "Супровід до центру зайнятості",
}
TITLE_WORD_AR = "مركز"  # "centre": in the title's translation only, and names no category
BODY_WORD_AR = "مساعدة"  # "help": in the body's translation only
TITLE_WORD_UK = "центру"


class GlossaryServer(TranslateServer):
    """The loopback server, answering real words for the texts of GLOSSARY."""

    def _handler(self) -> Any:
        base: Any = super()._handler()

        class Handler(base):  # type: ignore[misc, valid-type]
            def _answer(self, status: int, data: Any) -> None:
                if self.path == "/translate" and isinstance(data, dict):
                    out = data.get("translatedText")
                    texts = out if isinstance(out, list) else [out]
                    mapped = [_glossary(t) for t in texts]
                    data["translatedText"] = mapped if isinstance(out, list) else mapped[0]
                super()._answer(status, data)

        return Handler


def _glossary(answer: str) -> str:
    target, _, text = answer.partition("] ")
    return GLOSSARY.get((target.lstrip("["), text), answer)


@pytest.fixture
def translate_server() -> Iterator[TranslateServer]:
    server = GlossaryServer().start()
    yield server
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


async def _found(client: httpx.AsyncClient, q: str) -> list[str]:
    r = await client.get("/api/v1/posts", params={"q": q, "limit": "50"})
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()["items"]]


async def _read_in(client: httpx.AsyncClient, post_id: str, lang: str) -> None:
    """A reader of `lang` opens the post: the translation is fetched and cached."""
    r = await client.get(f"/api/v1/posts/{post_id}", headers={"Accept-Language": lang})
    assert r.status_code == 200 and r.json()["translation"] is not None, r.text
    await service.settled()


def test_the_words_name_no_category_so_only_text_can_find_them() -> None:
    for word in (TITLE_WORD_AR, BODY_WORD_AR, TITLE_WORD_UK):
        assert search.understand(word).categories == ()


async def test_a_cached_translation_is_searched_without_asking_the_server(
    app: Any, client: httpx.AsyncClient, translate_server: TranslateServer
) -> None:
    author = await make_user(app, client, "seeker")
    r = await client.post("/api/v1/posts", headers=author.headers, json=post_body())
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]
    assert await _found(client, TITLE_WORD_AR) == []  # nothing translated yet

    await _read_in(client, post_id, "ar")
    await _read_in(client, post_id, "uk")
    asked = translate_server.paths().count("/translate")
    assert await _found(client, TITLE_WORD_AR) == [post_id]
    assert await _found(client, BODY_WORD_AR) == [post_id]
    assert await _found(client, TITLE_WORD_UK) == [post_id]
    assert await _found(client, f"{TITLE_WORD_AR} {BODY_WORD_AR}") == [post_id]
    assert await _found(client, TITLE) == [post_id]  # its own words still count
    assert translate_server.paths().count("/translate") == asked  # search asked nobody

    # A new title: its old translations stop matching at once; the body's stays (same body).
    r = await client.patch(
        f"/api/v1/posts/{post_id}", headers=author.headers, json={"title": "Hilfe beim Amt"}
    )
    assert r.status_code == 200, r.text
    assert await _found(client, TITLE_WORD_AR) == []
    assert await _found(client, TITLE_WORD_UK) == []
    assert await _found(client, BODY_WORD_AR) == [post_id]


async def test_the_fill_job_path_and_a_stale_translation(
    app: Any, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    """The cache written in a job's own session (service.store with a session) adds the words too;
    a translation of a text the post no longer says adds nothing."""
    author = await make_user(app, client, "seeker")
    r = await client.post("/api/v1/posts", headers=author.headers, json=post_body())
    post = await session.get(Post, r.json()["id"])
    assert post is not None
    ref = ("post", post.id)
    await service.store(
        session,
        [
            (service.Item(TITLE, "de", ref), Translated(GLOSSARY[("ar", TITLE)], "de")),
            (service.Item("Ein alter Titel", "de", ref), Translated("كلمة قديمة", "de")),
        ],
        "ar",
    )
    await session.commit()
    await session.refresh(post)
    assert search.words(TITLE_WORD_AR)[0] in post.search_text.split()
    assert "قدیمه" not in post.search_text  # folded "قديمة": the stale text's word
    assert list(post.search_translations or {}) == [service.text_hash(TITLE)]
