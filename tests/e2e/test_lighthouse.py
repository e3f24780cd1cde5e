"""Lighthouse (frontend/lighthouse.mjs, the script behind scripts/lighthouse.sh) on the four pages
of issue 14 -- home, search with a result, a post and the new-post form -- as a phone in German:
accessibility, best practices and SEO are 100. Performance is printed, not asserted: it is a
speed figure from a simulated slow-4G phone on a shared machine (it varies with the load), and
speed is measured in benchmarks/ and scripts/lighthouse.sh, never asserted in a test
(docs/audits.md has the figures). One run of the four pages takes about 40 s."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import shutil
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from market.settings import Settings
from tests.e2e.audit_pages import ONCE_PER_SUITE, arrange
from tests.e2e.conftest import CHROMIUM
from tests.factories import PASSWORD
from tests.smtp import free_port

pytestmark = ONCE_PER_SUITE

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "frontend" / "lighthouse.mjs"
ASSERTED = ("accessibility", "best-practices", "seo")


def _tile() -> bytes:
    """One blank 256 px PNG (a smaller one, stretched, is a 'low resolution image' finding)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 256, 256, 8, 0, 0, 0, 0)  # 8-bit greyscale
    pixels = zlib.compress(b"".join(b"\x00" + b"\xee" * 256 for _ in range(256)), 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.fixture
def tiles_url() -> Iterator[str]:
    """A tile server on loopback: a tile this machine cannot fetch from the internet would be a
    console error (best practices), which is not the app's."""
    png = _tile()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args: Any) -> None:
            return None

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png"
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(settings: Settings, tiles_url: str) -> Settings:
    return settings.model_copy(update={"map_tiles_url": tiles_url})


async def test_lighthouse_accessibility_best_practices_seo_100(
    live_server: str, client: httpx.AsyncClient, app: Any, tmp_path: Path
) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("no Node.js on this machine (Lighthouse runs on Node)")
    assert (ROOT / "frontend" / "node_modules" / "lighthouse").exists(), (
        "frontend/node_modules/lighthouse is missing: run `npm ci --prefix frontend`"
    )
    world = await arrange(client, app)
    pages = [
        {"name": "home", "path": "/"},
        {"name": "search", "path": "/posts?q=Arzt"},
        {"name": "post", "path": world.pages["post"]},
        {"name": "new-post", "path": "/posts/new", "signedIn": True},
    ]
    out = tmp_path / "lighthouse.json"
    env = {
        **os.environ,
        "BASE": live_server,
        "CHROME_PATH": CHROMIUM,
        "LIGHTHOUSE_PAGES": json.dumps(pages),
        "LIGHTHOUSE_LOCALES": "de",
        "LIGHTHOUSE_EMAIL": world.seeker.email,
        "LIGHTHOUSE_PASSWORD": PASSWORD,
        "LIGHTHOUSE_JSON": str(out),
    }
    # The server runs on this event loop: wait for Lighthouse without blocking it.
    proc = await asyncio.create_subprocess_exec(
        node,
        str(RUNNER),
        cwd=ROOT / "frontend",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=600)
    text = output.decode()
    print(text)
    assert proc.returncode in (0, 1), text  # 1: some score below 100, judged below
    report = json.loads(out.read_text())
    assert [r["page"] for r in report] == [f"{p['name']} (de)" for p in pages]
    low = [
        (r["page"], c, r["scores"][c], [f for f in r["failed"] if f["category"] == c])
        for r in report
        for c in ASSERTED
        if r["scores"][c] < 100
    ]
    assert low == [], text
