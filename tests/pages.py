"""Helpers for tests of the HTML pages: a browser of one's own, forms with their CSRF token.

A `browser` is an httpx client on the app with its own cookie jar, as one person's browser has.
`submit` fills in a form the way a browser does: it opens the page with the form first and sends
the CSRF token of that page along. The other helpers read what a page shows: the value of an
input, the message next to a field, the attributes of a cookie.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import func, select

from market import i18n
from market.app import create_app
from market.db import make_sessionmaker
from market.settings import Settings
from tests.factories import PASSWORD, Actor

BASE_URL = "http://testserver"
FormData = Mapping[str, str | Sequence[str]]

_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]*)"')
_TAG_RE = re.compile(r"<[^>]+>")


# --- Browsers


@asynccontextmanager
async def browser(
    app: Any,
    actor: Actor | None = None,
    *,
    base_url: str = BASE_URL,
    headers: Mapping[str, str] | None = None,
    password: str = PASSWORD,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of its own that keeps cookies; logged in through the login form if `actor`."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=base_url, headers=dict(headers or {})
    ) as c:
        if actor is not None:
            r = await login(c, actor.email, password)
            assert r.status_code == 303, r.text
        yield c


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Any]:
    """A second app with other settings (say env=production), its lifespan running.

    It shares the database of the `app` fixture; use that fixture too, so the tables are empty.
    """
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


# --- Forms


def csrf(page: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _CSRF_RE.search(page)
    assert found, page[:2000]
    return found.group(1)


async def login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, next_url: str | None = None
) -> httpx.Response:
    """Log in through the form; the answer is returned unchecked (303 on success, else 422)."""
    data = {"email": email, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return await submit(client, "/login", data)


async def submit(
    client: httpx.AsyncClient,
    url: str,
    data: FormData | None = None,
    *,
    action: str | None = None,
) -> httpx.Response:
    """Open the page `url` and post `data` with its CSRF token to `action` (default: `url`)."""
    page = await client.get(url)
    assert page.status_code in (200, 409, 422), (url, page.status_code, page.text[:2000])
    return await client.post(action or url, data={"csrf_token": csrf(page.text), **(data or {})})


async def logout(client: httpx.AsyncClient) -> httpx.Response:
    return await submit(client, "/account", action="/logout")


# --- Reading pages


def text_of(page: str) -> str:
    """What a reader sees: the markup gone, entities turned back into characters."""
    return re.sub(r"\s+", " ", html.unescape(_TAG_RE.sub(" ", page)))


def without_csrf(page: str) -> str:
    """A page with its CSRF tokens blanked, to compare two answers that should be the same."""
    return _CSRF_RE.sub('name="csrf_token" value=""', page)


def form_of(page: str, action: str) -> str:
    """The first <form> of a page that posts to `action`, with everything in it."""
    found = re.search(rf'<form [^>]*action="{re.escape(action)}"[^>]*>.*?</form>', page, re.S)
    assert found, f"no form for {action!r} in the page"
    return found.group(0)


def input_tag(page: str, name: str) -> str:
    found = re.search(rf'<input [^>]*name="{re.escape(name)}"[^>]*>', page)
    assert found, f"no input {name!r} in the page"
    return found.group(0)


def value_of(page: str, name: str) -> str:
    """The value attribute of the input `name`, unescaped."""
    found = re.search(r'value="([^"]*)"', input_tag(page, name))
    return html.unescape(found.group(1)) if found else ""


def textarea_of(page: str, name: str) -> str:
    found = re.search(rf'<textarea [^>]*name="{re.escape(name)}"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, f"no textarea {name!r} in the page"
    return html.unescape(found.group(1))


def selected_of(page: str, name: str) -> list[str]:
    """The selected options of the select `name`."""
    found = re.search(rf'<select [^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', page, re.S)
    assert found, f"no select {name!r} in the page"
    return re.findall(r'<option value="([^"]*)" selected>', found.group(1))


def checked_of(page: str, name: str) -> list[str]:
    """The values of the ticked checkboxes or radio buttons called `name`."""
    tags = re.findall(rf'<input [^>]*name="{re.escape(name)}"[^>]*>', page)
    return [
        html.unescape(m.group(1))
        for tag in tags
        if re.search(r"\schecked[\s>]", tag) and (m := re.search(r'value="([^"]*)"', tag))
    ]


def error_of(page: str, field: str) -> str | None:
    """The message shown next to a form field (the <p class="error" id="e-FIELD">), if any."""
    found = re.search(rf'<p class="error" id="e-{re.escape(field)}">(.*?)</p>', page, re.S)
    return html.unescape(found.group(1)).strip() if found else None


def html_lang(page: str) -> tuple[str, str]:
    """The lang and dir attributes of the <html> element."""
    found = re.search(r'<html lang="([^"]*)" dir="([^"]*)">', page)
    assert found, page[:300]
    return found.group(1), found.group(2)


def translated(message: str, locale: str, **variables: object) -> str:
    """A message id in a page language, as the catalogs have it."""
    with i18n.use_locale(locale):
        return i18n.gettext(message, **variables)


# --- Cookies


def set_cookie(response: httpx.Response, name: str) -> str | None:
    """The Set-Cookie header that sets (or deletes) the cookie `name`, if the response has one."""
    for header in response.headers.get_list("set-cookie"):
        if header.split("=", 1)[0].strip() == name:
            return header
    return None


def cookie_attributes(header: str) -> dict[str, str]:
    """The attributes of a Set-Cookie header, names in lower case: {"httponly": "", ...}."""
    attrs: dict[str, str] = {}
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        attrs[key.lower()] = value
    return attrs


def cookie_value(header: str) -> str:
    return header.split(";", 1)[0].split("=", 1)[1].strip('"')


# --- The database


async def count(app: Any, model: Any, *where: Any) -> int:
    """How many rows of `model` (matching `where`) the database holds now."""
    async with make_sessionmaker(app.state.engine)() as s:
        stmt = select(func.count()).select_from(model)
        for clause in where:
            stmt = stmt.where(clause)
        return int((await s.execute(stmt)).scalar_one())


async def fetch(app: Any, model: Any, ident: str | None) -> Any:
    """A fresh copy of one row (a session of its own, so nothing is cached)."""
    assert ident is not None
    async with make_sessionmaker(app.state.engine)() as s:
        return await s.get(model, ident)
