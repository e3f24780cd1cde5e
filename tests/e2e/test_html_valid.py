"""The Nu HTML Checker (vnu-jar from npm, frontend/) finds no error in the HTML the app serves:
home, search with results, a post, the new-post form, sign-up, log-in, the dashboard, a match, the
conversations and one conversation, notifications, the directory, the language list and the
offline page, in German and Arabic (issue 14). Run once over all pages: the checker is a JVM that
takes seconds to start. Skipped only when there is no Java; a missing jar is a setup error."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.audit_pages import LOCALES, ONCE_PER_SUITE, arrange, with_lang
from tests.e2e.test_csp import log_in

pytestmark = ONCE_PER_SUITE

ROOT = Path(__file__).resolve().parents[2]
VNU = ROOT / "frontend" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def check(files: list[Path]) -> list[str]:
    """Each error the checker reports, as 'file line:column message'."""
    java = shutil.which("java")
    if java is None:
        pytest.skip("no Java on this machine (the Nu HTML Checker needs Java 11 or later)")
    assert VNU.exists(), f"{VNU} is missing: run `npm ci --prefix frontend`"
    done = subprocess.run(
        [java, "-jar", str(VNU), "--errors-only", "--format", "json", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # The report goes to stderr; exit 1 means "errors found", anything else is the checker's own.
    assert done.returncode in (0, 1), done.stderr[-2000:]
    messages = json.loads(done.stderr)["messages"]
    return [
        f"{Path(m.get('url', '?')).name} {m.get('lastLine', '?')}:{m.get('firstColumn', '?')} "
        f"{m['message']} [{m.get('extract', '').strip()}]"
        for m in messages
        if m["type"] in ("error", "non-document-error")
    ]


async def test_served_pages_have_no_html_errors(
    browser: Any, live_server: str, client: httpx.AsyncClient, app: Any, tmp_path: Path
) -> None:
    world = await arrange(client, app)
    ctx = await browser.new_context(base_url=live_server)
    try:
        page = await ctx.new_page()
        await log_in(page, world.seeker.email)
        files = []
        for locale in LOCALES:
            for signed_in, pages in ((False, world.pages), (True, world.signed_in)):
                for name, path in pages.items():
                    # The bytes the server sent, not the browser's re-serialised DOM.
                    if signed_in:
                        response = await ctx.request.get(with_lang(path, locale))
                        status, html = response.status, await response.text()
                    else:
                        r = await client.get(with_lang(path, locale))
                        status, html = r.status_code, r.text
                    assert status == 200, (name, locale, status)
                    assert html.lstrip().lower().startswith("<!doctype html>"), (name, locale)
                    file = tmp_path / f"{name}-{locale}.html"
                    file.write_text(html, encoding="utf-8")
                    files.append(file)
    finally:
        await ctx.close()
    assert len(files) == 2 * (len(world.pages) + len(world.signed_in))
    assert check(files) == []


def test_the_checker_finds_errors(tmp_path: Path) -> None:
    """The check is live: a page with a known error is reported."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html lang="de"><head><meta charset="utf-8"><title>x</title></head>'
        '<body><span aria-label="nope">1</span><time datetime="2026-01-01T10:00:00.123456">'
        "x</time></body></html>",
        encoding="utf-8",
    )
    errors = check([bad])
    assert len(errors) == 2, errors
