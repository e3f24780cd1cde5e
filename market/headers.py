"""Security headers on every response (API.md Release 2, Pages).

Pages get a Content-Security-Policy without inline script and may not be framed, so buttons such
as "accept match" or "delete account" cannot be clickjacked; only the organisation widget is
made to sit in an iframe on other sites. Every response gets nosniff, a Referrer-Policy and a
Permissions-Policy; production also gets HSTS. Answers for a signed-in caller are not cached.

Headers a handler set itself win (the widget sends its own, looser policy).
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market.styles import csp_source

# Scripts come only from /static; styles too, besides the one <style> of base.html whose hash
# page_csp adds; the pages have neither inline scripts nor inline style attributes. Images may be data: URLs (the QR code of the two-factor setup).
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
# The widget is a page for an iframe on an association's own website.
FRAMABLE = re.compile(r"^/organisations/[^/]+/widget/?$")
REFERRER_POLICY = "strict-origin-when-cross-origin"
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)
# Two years, the value the HSTS preload list asks for.
HSTS = "max-age=63072000; includeSubDomains"
SESSION_COOKIE = b"anlauf_session="
_RAW_REFERRER_POLICY = REFERRER_POLICY.encode()
_RAW_PERMISSIONS_POLICY = PERMISSIONS_POLICY.encode()
_RAW_HSTS = HSTS.encode()


def _signed_in(scope: Scope) -> bool:
    """A caller who sent a session cookie or a bearer token, or whom the handler recognised."""
    if (scope.get("state") or {}).get("user") is not None:
        return True
    for name, value in scope.get("headers", ()):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return True
        if name == b"cookie" and SESSION_COOKIE in value:
            return True
    return False


def _tiles_url(scope: Scope) -> str | None:
    settings = getattr(getattr(scope.get("app"), "state", None), "settings", None)
    return getattr(settings, "map_tiles_url", None)


@functools.cache
def page_csp(tiles_url: str | None, inline_style: str = "") -> str:
    """PAGE_CSP, with the map tile server (ANLAUF_MAP_TILES_URL) allowed as an image source and
    the hash of the one inline <style> (market/styles.py) as a style source."""
    csp = PAGE_CSP
    if inline_style:
        csp = csp.replace("style-src 'self';", f"style-src 'self' {inline_style};")
    if not tiles_url:
        return csp
    parts = urlsplit(tiles_url.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc or "{" in parts.netloc:
        return csp
    source = f"{parts.scheme}://{parts.netloc}"
    return csp.replace("img-src 'self' data:;", f"img-src 'self' data: {source};")


@functools.cache
def _page_csp_bytes(tiles_url: str | None, inline_style: str = "") -> bytes:
    return page_csp(tiles_url, inline_style).encode("latin-1")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, production: bool = False) -> None:
        self.app = app
        self.production = production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.add(MutableHeaders(scope=message), scope, path)
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def add(self, headers: MutableHeaders, scope: Scope, path: str) -> None:
        # On the raw list, each name looked up once: ASGI header names are lower-case bytes.
        raw = headers.raw
        present = {name for name, _ in raw}

        def default(name: bytes, value: bytes) -> None:
            if name not in present:
                raw.append((name, value))

        default(b"x-content-type-options", b"nosniff")
        default(b"referrer-policy", _RAW_REFERRER_POLICY)
        default(b"permissions-policy", _RAW_PERMISSIONS_POLICY)
        if self.production:
            default(b"strict-transport-security", _RAW_HSTS)
        content_type = next((value for name, value in raw if name == b"content-type"), b"")
        if content_type.startswith(b"text/html"):
            default(b"content-security-policy", _page_csp_bytes(_tiles_url(scope), csp_source()))
            if not FRAMABLE.match(path):
                # For browsers older than CSP level 2's frame-ancestors.
                default(b"x-frame-options", b"DENY")
        if (
            not path.startswith("/static/")
            and b"cache-control" not in present
            and _signed_in(scope)
        ):
            # Pages and API answers for a signed-in caller hold personal data: no shared or
            # back-button cache may keep them.
            raw.append((b"cache-control", b"no-store"))
