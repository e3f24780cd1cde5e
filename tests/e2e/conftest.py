"""Browser tests: the real app served by uvicorn on loopback, driven by Debian's Chromium.

The server runs as an asyncio task on the session event loop, the same loop that ran the app's
lifespan (its database engine and outbox relay live there). Each test gets a fresh database
(the root conftest's `app` truncates it), its own server and a new browser context.

ANLAUF_SHOTS_DIR, when set, also keeps every screenshot there so a person can look at them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from market.settings import Settings
from tests.smtp import free_port

CHROMIUM = os.environ.get("ANLAUF_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)
            if not Path(CHROMIUM).exists():
                item.add_marker(
                    pytest.mark.skip(reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")
                )


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers, so Ctrl-C still stops pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest.fixture
def live_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, live_port: int) -> Settings:
    """The root conftest's settings, with mail links pointing at the live server."""
    return settings.model_copy(update={"base_url": f"http://127.0.0.1:{live_port}"})


@pytest.fixture
async def live_server(app: Any, live_port: int) -> AsyncIterator[str]:
    """The app (lifespan already running) served over HTTP on 127.0.0.1; yields its base URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=live_port,
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()  # raises the reason it did not start
    assert server.started, "uvicorn did not start within 5 s"
    yield f"http://127.0.0.1:{live_port}"
    server.should_exit = True
    await asyncio.wait_for(task, timeout=10)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def context(browser: Any, live_server: str) -> AsyncIterator[Any]:
    """A fresh browser context (no cookies) for one test, desktop sized."""
    ctx = await browser.new_context(base_url=live_server, viewport=DESKTOP)
    ctx.set_default_timeout(10_000)
    yield ctx
    await ctx.close()


@pytest.fixture
async def page(context: Any) -> Any:
    return await context.new_page()


class Shots:
    """Full-page screenshots into the test's tmp folder, and into ANLAUF_SHOTS_DIR when set."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder = folder
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", prefix).strip("-")
        self.extra = (
            Path(os.environ["ANLAUF_SHOTS_DIR"]) if os.environ.get("ANLAUF_SHOTS_DIR") else None
        )
        self.taken: list[Path] = []
        self.n = 0

    async def take(self, page: Any, name: str) -> Path:
        self.n += 1
        path = self.folder / f"{self.prefix}-{self.n:02d}-{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        if self.extra is not None:
            self.extra.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, self.extra / path.name)
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest, tmp_path: Path) -> Shots:
    folder = tmp_path / "shots"
    folder.mkdir()
    return Shots(folder, request.node.name.replace("test_", "", 1))


@pytest.fixture
async def make_post(app: Any, client: Any) -> Any:
    """Arrange a published need through the API; returns its id. The author is a seeker."""
    from tests.factories import make_user, post_body

    async def make(title: str, body: str = "", locale: str = "de", name: str | None = None) -> str:
        author = await make_user(app, client, "seeker", locale=locale, name=name)
        payload = post_body(
            title=title,
            body=body or "Ich brauche Hilfe beim Termin.",
            location={"city": "Leipzig", "country": "DE"},
        )
        response = await client.post("/api/v1/posts", json=payload, headers=author.headers)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "published", response.json()
        post_id: str = response.json()["id"]
        return post_id

    return make
