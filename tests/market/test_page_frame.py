"""The page frame (header, menus, footer) is drawn once per language, person and section and
kept (market.web_frame): what it shows must still be exactly each request's own.

- each person sees their own name, menu entries and logout token, never another's;
- the language link and the footer's language form carry this page's own address and query;
- the current section is marked wherever the page is (a sub-page too);
- a changed name or unread count shows at once, also when the page itself marked
  notifications read (the count read with the caller is then not used).
"""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from market import web_frame
from notifications.inapp import notify, unread_count
from tests.factories import make_user
from tests.market.conversations.helpers import connected_match, write
from tests.pages import browser


def _header(page: str) -> str:
    return page[page.index("<header") : page.index("</header>")]


def _footer(page: str) -> str:
    return page[page.index("<footer") : page.index("</footer>")]


def _current(page: str) -> list[str]:
    nav = _header(page).split('class="nav nav-wide"', 1)[1]
    return re.findall(r'<a href="([^"]+)" aria-current="page"', nav)


async def test_each_person_sees_their_own_header(app: Any, client: httpx.AsyncClient) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True, name="Vera Volunteer")
    coordinator = await make_user(app, client, "coordinator", name="Cora Coordinator")
    seeker = await make_user(app, client, "seeker", name="Sami Seeker")
    seen: dict[str, str] = {}
    for actor, own, not_own in (
        (volunteer, "/my/applications", "/review"),
        (coordinator, "/review", "/my/applications"),
        (seeker, "/my/posts", "/review"),
        (volunteer, "/my/applications", "/review"),  # the kept frame, asked again
    ):
        async with browser(app, actor) as b:
            r = await b.get("/my/posts")
            assert r.status_code == 200
            header = _header(r.text)
            assert f'href="{own}"' in header and f'href="{not_own}"' not in header
            name = {volunteer.email: "Vera", coordinator.email: "Cora", seeker.email: "Sami"}
            assert name[actor.email] in header
            for other in set(name.values()) - {name[actor.email]}:
                assert other not in header
            # The logout form carries this browser's own CSRF token (its cookie), not a kept one.
            token = re.search(r'name="csrf_token" value="([^"]+)"', header)
            assert token and token.group(1) == b.cookies.get("anlauf_csrf")
            seen.setdefault(actor.email, token.group(1))
    async with browser(app) as visitor:
        header = _header((await visitor.get("/")).text)
        assert "/logout" not in header and 'href="/login"' in header
        assert "Vera" not in header and "Cora" not in header


async def test_the_address_bits_are_this_pages_own(client: httpx.AsyncClient) -> None:
    for query in ("kind=need&category=language", "kind=offer&place=Leipzig&radius_km=25"):
        page = (await client.get(f"/posts?{query}")).text
        header, footer = _header(page), _footer(page)
        link = re.search(r'class="lang-button" href="/language\?next=([^"]+)"', header)
        assert link is not None
        assert html.unescape(link.group(1)) == "%2Fposts%3F" + query.replace("&", "%26").replace(
            "=", "%3D"
        )
        assert 'action="/posts"' in footer
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', footer))
        assert hidden == dict(pair.split("=") for pair in query.split("&"))
    # Hostile text in the address is escaped in both places, never drawn as markup.
    page = (await client.get('/posts?q="><script>x</script>')).text
    assert "<script>x" not in _header(page) + _footer(page)


async def test_the_current_section_follows_the_page(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client, "seeker")
    async with browser(app, seeker) as b:
        assert _current((await b.get("/posts")).text) == ["/posts"]
        assert _current((await b.get("/posts/new")).text) == ["/posts/new"]
        assert _current((await b.get("/my/posts")).text) == ["/my/posts"]
        assert _current((await b.get("/")).text) == []
        account = _header((await b.get("/account")).text)
        assert re.search(r'<a href="/account" aria-current="page"', account)


async def test_a_changed_unread_count_shows_at_once(app: Any, client: httpx.AsyncClient) -> None:
    seeker = await make_user(app, client, "seeker")
    async with browser(app, seeker) as b:
        before = _header((await b.get("/my/posts")).text)
        assert 'class="badge"' not in before
        async with app.state.sessionmaker() as session, session.begin():
            await notify(session, user_id=seeker.id, kind="vetting.approved", data={})
        after = _header((await b.get("/my/posts")).text)
        assert 'class="badge" aria-hidden="true">1<' in after


def _badge(page: str) -> int:
    found = re.search(r'class="badge" aria-hidden="true">(\d+)<', _header(page))
    return int(found.group(1)) if found else 0


async def test_a_page_that_marks_read_shows_the_count_after(
    app: Any, client: httpx.AsyncClient
) -> None:
    volunteer, seeker, match_id, conversation_id = await connected_match(client, app)
    for text in ("Hallo!", "Passt Dienstag?"):
        r = await write(client, volunteer, conversation_id, text)
        assert r.status_code == 201, r.text
    async with browser(app, seeker) as b:
        before = _badge((await b.get("/my/posts")).text)
        # The match page shows the conversation and marks its notification read while the
        # page is made.
        r = await b.get(f"/matches/{match_id}")
        assert r.status_code == 200, r.text
        async with app.state.sessionmaker() as session:
            now = await unread_count(session, seeker.id)
        assert now < before
        assert _badge(r.text) == now


def test_section_is_the_longest_menu_address_above_the_path() -> None:
    assert web_frame.section("/posts/new", "seeker") == "/posts/new"
    assert web_frame.section("/posts/abc", "seeker") == "/posts"
    assert web_frame.section("/postsx", "seeker") == ""
    assert web_frame.section("/review/posts", "coordinator") == "/review"
    assert web_frame.section("/review/posts", "seeker") == ""
