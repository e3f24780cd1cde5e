"""The language page: every page language named in itself, one tap from the top of each page.

Choosing one is a plain link back to where the reader came from with `?lang=`, which
market.web.LocaleMiddleware remembers in a cookie; no JavaScript and no form needed.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from market import i18n
from market.web import render, safe_next

FAVICON = Path(__file__).resolve().parent.parent / "static" / "favicon.ico"


def with_language(target: str, code: str) -> str:
    """`target` (a local path with its query) opening in language `code`."""
    parts = urlsplit(safe_next(target))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "lang"]
    query.append(("lang", code))
    return f"{parts.path}?{urlencode(query)}"


async def language_page(request: Request) -> Response:
    back = safe_next(request.query_params.get("next"))
    suggested = i18n.negotiate(request.headers.get("accept-language"))
    choices = [
        {
            "code": code,
            "label": i18n.locale_label(code),
            "dir": "rtl" if i18n.is_rtl(code) else "ltr",
            "url": with_language(back, code),
            "current": code == i18n.get_locale(),
            "suggested": code == suggested and code != i18n.get_locale(),
        }
        for code in i18n.LOCALES
    ]
    return await render(request, "language.html", {"choices": choices, "back": back})


async def favicon(request: Request) -> Response:
    # Browsers ask for /favicon.ico whatever the page says; answer it rather than 404.
    return FileResponse(
        FAVICON, media_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"}
    )


routes = [
    Route("/language", language_page, methods=["GET"]),
    Route("/favicon.ico", favicon, methods=["GET"]),
]
