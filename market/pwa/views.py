"""The manifest, the service worker (served from the root so its scope is the whole site) and
the page the worker shows for a page that was never seen while online."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.assets import static_url
from market.forms import page
from market.i18n import get_locale, gettext

SW_TEMPLATE = Path(__file__).with_name("sw.js")
THEME = "#0b5fa5"
OFFLINE_PATH = "/offline"


async def manifest(request: Request) -> Response:
    locale = get_locale()
    body = {
        "name": gettext("Anlauf"),
        "short_name": gettext("Anlauf"),
        "description": gettext(
            "Volunteers and newcomers find each other: help with offices, language, housing,"
            " work and more."
        ),
        "lang": locale,
        "dir": "auto",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "theme_color": THEME,
        "background_color": "#f6f7f9",
        "icons": [
            {
                "src": static_url(f"icons/app-{size}.png"),
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any",
            }
            for size in (192, 512)
        ],
    }
    return Response(
        json.dumps(body, ensure_ascii=False),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


async def service_worker(request: Request) -> Response:
    # The shell's fingerprinted addresses go into the worker, so a new stylesheet means a new
    # worker (byte-different) and the browser installs it, fetching the offline page (whose
    # <style> holds the stylesheets, market/styles.py) anew.
    shell = [
        OFFLINE_PATH,
        static_url("anlauf.css"),
        static_url("layout.css"),
        static_url("app.js"),
        static_url("icons/app-192.png"),
    ]
    script = SW_TEMPLATE.read_text(encoding="utf-8").replace("__SHELL__", json.dumps(shell))
    return Response(
        script,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


async def offline(request: Request) -> Response:
    # Shown to whoever uses the browser later, so it is rendered as for a visitor.
    return await page(request, "pwa/offline.html", {"user": None})


# Search engines may read the public pages; a person's own pages and the staff's pages are nothing
# to index (they answer a crawler with the log-in page anyway). The new-post form, log-in and
# sign-up stay allowed: they are how a newcomer who searched for help starts.
ROBOTS = """User-agent: *
Disallow: /my/
Disallow: /account
Disallow: /matches/
Disallow: /conversations
Disallow: /notifications
Disallow: /review
Disallow: /admin
Disallow: /api/
Allow: /
"""


async def robots(request: Request) -> Response:
    return Response(
        ROBOTS, media_type="text/plain", headers={"Cache-Control": "public, max-age=86400"}
    )


routes = [
    Route("/robots.txt", robots, methods=["GET"]),
    Route("/manifest.webmanifest", manifest, methods=["GET"]),
    Route("/sw.js", service_worker, methods=["GET"]),
    Route(OFFLINE_PATH, offline, methods=["GET"]),
]
