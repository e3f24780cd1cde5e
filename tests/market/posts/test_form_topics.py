"""The new-post form's topic tiles and language filter, as the server writes them (issue 14).

Every topic has an icon that is vendored and drawn by topics.css; the tiles are radio buttons
named "category" (subtopics in a group behind their topic); a wrong form comes back with the
chosen topic ticked and the error at the tiles; the "More languages" filter is markup a script
switches on, never sent with the form.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from market.posts import taxonomy
from tests.factories import make_user
from tests.pages import browser, checked_of, error_of, submit, translated

ROOT = Path(__file__).resolve().parents[3]
STATIC = ROOT / "market" / "static"


def form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "need",
        "category": "accompaniment-doctor",
        "title": "Begleitung zum Arzt",
        "body": "",
        "languages": ["de"],
        "mode": "in_person",
        "city": "Leipzig",
        "country": "DE",
    }
    data.update(overrides)
    return data


def tiles(page: str) -> dict[str, str]:
    """slug -> the tile's markup (its radio and label)."""
    found = re.findall(
        r'<div class="tile">(<input type="radio" id="topic-([^"]+)"[^>]*>.*?</label>)</div>', page
    )
    return {slug: markup for markup, slug in found}


async def test_every_topic_is_a_radio_tile_with_a_vendored_icon(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    async with browser(app, seeker) as c:
        page = (await c.get("/posts/new?lang=de")).text
    found = tiles(page)
    assert list(found) == [c.slug for c in taxonomy.ordered()]
    css = (STATIC / "topics.css").read_text(encoding="utf-8")
    assert ".ic-stethoscope{" in page  # topics.css, inlined (market/styles.py)
    for slug, markup in found.items():
        assert f'name="category" value="{slug}"' in markup
        assert taxonomy.category_name(slug) in markup  # the text label, never the icon alone
        icon = re.search(r'class="topic-icon ic-([a-z0-9-]+)" aria-hidden="true"', markup)
        assert icon, (slug, markup)
        name = icon.group(1)
        assert f'.ic-{name} {{ -webkit-mask-image: url("vendor/lucide/{name}.svg")' in css
        assert (STATIC / "vendor" / "lucide" / f"{name}.svg").is_file(), name
    # Subtopics sit in a group right behind their topic, so they can wait until it is chosen.
    for category in taxonomy.CATEGORIES:
        if category.parent:
            group = re.search(
                rf'<div class="subs" role="group" aria-labelledby="sub-{category.parent}">(.*?)</div>\s*</div>\s*(?=<div class="tile"|</div>)',
                page,
                re.S,
            )
            assert group and f'value="{category.slug}"' in group.group(1), category.slug
    assert checked_of(page, "category") == []
    # A seeker reads the question for a need, not a word for the other role.
    assert translated("What do you need help with?", "de") in page


async def test_a_wrong_form_keeps_the_topic_and_shows_its_error(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    async with browser(app, seeker) as c:
        r = await submit(c, "/posts/new?lang=ar", form(title=""), action="/posts/new")
        assert r.status_code == 422
        assert checked_of(r.text, "category") == ["accompaniment-doctor"]
        assert error_of(r.text, "category") is None
        r = await submit(c, "/posts/new?lang=ar", form(category=""), action="/posts/new")
        assert r.status_code == 422
        assert checked_of(r.text, "category") == []
        assert error_of(r.text, "category") == translated(
            "Please choose a category from the list.", "ar"
        )
        fieldset = re.search(r'<fieldset class="topics has-error" id="f-category"([^>]*)>', r.text)
        assert fieldset and 'aria-describedby="e-category"' in fieldset.group(1)
        assert all('aria-invalid="true"' in tile for tile in tiles(r.text).values())
        r = await submit(c, "/posts/new", form(category="astrology"), action="/posts/new")
        assert r.status_code == 422 and checked_of(r.text, "category") == []


@pytest.mark.parametrize("role", ["volunteer", "seeker"])
async def test_more_languages_have_a_filter_that_a_script_switches_on(
    client: httpx.AsyncClient, app: Any, role: str
) -> None:
    user = await make_user(app, client, role, approved=True)
    async with browser(app, user) as c:
        page = (await c.get("/posts/new?lang=de")).text
    box = re.search(
        r"<div class=\"field lang-filter\" data-lang-filter hidden>(.*?)</div>", page, re.S
    )
    assert box, "the filter waits hidden for its script"
    search = re.search(r"<input [^>]*type=\"search\"[^>]*>", box.group(1))
    assert search and " name=" not in search.group(0)  # never sent with the post
    assert '<script src="/static/langfilter.js' in page and "defer" in page
    more = re.search(r'<div class="lang-list" id="more-languages">(.*?)</div>', page, re.S)
    assert more
    labels = re.findall(
        r'<label data-terms="([^"]*)"><input type="checkbox" name="languages" value="([^"]+)"',
        more.group(1),
    )
    assert len(labels) > 40
    for terms, code in labels:
        assert terms.startswith(code + " "), (code, terms)
