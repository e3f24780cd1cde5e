"""Every page carries the stylesheets inline, and its Content-Security-Policy allows exactly that
<style> by its hash and no other inline style (market/styles.py; issue 14, Lighthouse)."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx

from market.styles import minify


async def test_page_style_is_inline_and_allowed_by_its_hash(client: httpx.AsyncClient) -> None:
    r = await client.get("/?lang=de")
    assert r.status_code == 200
    (css,) = re.findall(r"<style>(.*?)</style>", r.text, re.DOTALL)
    assert ".visually-hidden" in css and "@media" in css  # both files, as rules
    assert 'rel="stylesheet" href="/static/anlauf.css' not in r.text
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    style_src = re.search(r"style-src ([^;]*);", r.headers["content-security-policy"])
    assert style_src is not None
    assert style_src.group(1).split() == ["'self'", f"'sha256-{digest}'"]


def test_minify_keeps_rules_and_strings() -> None:
    css = '/* why */\n.a ,\n.b {\n  color : red;\n}\n.c::before { content: "✓ x"; }\n'
    assert minify(css) == '.a , .b{color : red;}.c::before{content: "✓ x";}'
