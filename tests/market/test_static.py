"""Static files: pages link them by fingerprinted addresses (`?v=` + the start of the file's
SHA-256), which may be kept for a year; any other address of a static file only briefly."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import httpx

from market.assets import STATIC_DIR, fingerprint, static_url
from tests.factories import make_user
from tests.pages import browser

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LINK = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def test_the_fingerprint_is_the_content_hash() -> None:
    css = (STATIC_DIR / "anlauf.css").read_bytes()
    assert (
        static_url("anlauf.css") == f"/static/anlauf.css?v={hashlib.sha256(css).hexdigest()[:12]}"
    )
    assert static_url("no-such-file.css") == "/static/no-such-file.css"
    assert fingerprint("../settings.py") is None  # nothing outside the folder


def test_a_changed_file_gets_a_new_address(tmp_path: Path) -> None:
    (tmp_path / "a.css").write_text("body { color: red }")
    first = fingerprint("a.css", tmp_path)
    (tmp_path / "a.css").write_text("body { color: blue; }")
    assert fingerprint("a.css", tmp_path) not in (None, first)


def test_templates_link_static_files_only_through_static_url() -> None:
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r'(?:href|src)="/static/', text), template


async def test_pages_link_fingerprinted_files_kept_for_a_year(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    async with browser(app, seeker) as c:
        page = await c.get("/")
    links = LINK.findall(page.text)
    # Every file a page links, whichever the features add (the live badge's script and the app
    # icon at least; the stylesheets are inline, market/styles.py).
    assert {link.split("?")[0] for link in links} >= {
        "/static/icons/app-192.png",
        "/static/notifications.js",
    }
    for link in links:
        assert "?v=" in link
        r = await client.get(link)
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert "no-store" not in r.headers["cache-control"]
        # A revalidation keeps the long lifetime too.
        again = await client.get(link, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
        assert again.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_other_addresses_are_kept_briefly(client: httpx.AsyncClient) -> None:
    for link in (
        "/static/anlauf.css",
        "/static/anlauf.css?v=0000000000ab",
        "/static/anlauf.css?v=",
    ):
        r = await client.get(link)
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=300", link
    assert (await client.get("/static/no-such.css?v=1")).status_code == 404
    css = await client.get(static_url("anlauf.css"), headers={"Accept-Encoding": "gzip"})
    assert css.headers.get("content-encoding") == "gzip"  # text is compressed
