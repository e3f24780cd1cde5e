"""Every page carries the stylesheets inline, and its Content-Security-Policy allows exactly that
<style> by its hash and no other inline style (market/styles.py; issue 14, Lighthouse)."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx
import pytest

from market.styles import inline_css, minify


async def test_page_style_is_inline_and_allowed_by_its_hash(client: httpx.AsyncClient) -> None:
    r = await client.get("/?lang=de")
    assert r.status_code == 200
    (css, *_page_own) = re.findall(r"<style>(.*?)</style>", r.text, re.DOTALL)  # the site's first
    assert ".visually-hidden" in css and "@media" in css  # both files, as rules
    assert 'rel="stylesheet" href="/static/anlauf.css' not in r.text
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    style_src = re.search(r"style-src ([^;]*);", r.headers["content-security-policy"])
    assert style_src is not None
    sources = style_src.group(1).split()
    assert sources[0] == "'self'" and f"'sha256-{digest}'" in sources
    assert all(s.startswith("'sha256-") for s in sources[1:])  # no 'unsafe-inline'


async def test_search_page_inlines_its_own_stylesheet_too(client: httpx.AsyncClient) -> None:
    r = await client.get("/posts?lang=de")
    styles = re.findall(r"<style>(.*?)</style>", r.text, re.DOTALL)
    assert len(styles) == 3  # the site's, then the page's own (search.css, topics.css)
    policy = r.headers["content-security-policy"]
    for css in styles:
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "/static/search.css" not in r.text


def test_only_listed_page_stylesheets_can_be_inlined() -> None:
    with pytest.raises(ValueError, match="PAGE_STYLESHEETS"):
        inline_css("map.css")


def test_minify_keeps_rules_and_strings() -> None:
    css = '/* why */\n.a ,\n.b {\n  color : red;\n}\n.c::before { content: "✓ x"; }\n'
    assert minify(css) == '.a , .b{color : red;}.c::before{content: "✓ x";}'
