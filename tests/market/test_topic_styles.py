"""topics.css is inlined where topic icons are drawn (issue 14, Lighthouse: a linked stylesheet held
the new-post form's first paint for one more round trip), allowed by its hash, and its icon
addresses still point into /static/ although the text now lives in a page at another path."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import httpx

from tests.factories import make_user, post_body
from tests.pages import browser


def styles_allowed(r: httpx.Response) -> list[str]:
    styles = re.findall(r"<style>(.*?)</style>", r.text, re.DOTALL)
    for css in styles:
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in r.headers["content-security-policy"]
    return styles


async def icon_urls_load(client: httpx.AsyncClient, css: str) -> None:
    urls = re.findall(r'url\("([^"]+)"\)', css)
    assert urls and all(u.startswith("/static/vendor/lucide/") for u in urls), urls
    for url in urls[:3]:
        assert (await client.get(url)).status_code == 200, url


async def test_the_new_post_form_inlines_topics_css(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker")
    async with browser(app, seeker) as c:
        r = await c.get("/posts/new?lang=de")
    assert r.status_code == 200
    assert "/static/topics.css" not in r.text
    (topics,) = [css for css in styles_allowed(r) if ".ic-stethoscope" in css]
    await icon_urls_load(client, topics)


async def test_the_post_page_inlines_topics_css(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker")
    created = await client.post("/api/v1/posts", headers=seeker.headers, json=post_body())
    assert created.status_code == 201, created.text
    r = await client.get(f"/posts/{created.json()['id']}?lang=ar")
    assert r.status_code == 200
    assert "/static/topics.css" not in r.text
    assert [css for css in styles_allowed(r) if ".ic-stethoscope" in css]


async def test_the_site_stylesheet_icons_point_into_static(client: httpx.AsyncClient) -> None:
    r = await client.get("/posts?lang=de")
    (site, *_) = styles_allowed(r)
    await icon_urls_load(client, site)
