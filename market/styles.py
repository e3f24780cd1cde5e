"""The site's stylesheets, inlined into the <head> of every page (issue 14: Lighthouse 100).

Two linked stylesheets held the first paint of every page for one more round trip (about
0.7 s on Lighthouse's slow-4G phone, performance 96); inlined, the first paint comes with the
HTML. The files stay in market/static/ (edited there, fingerprinted, precached by the service
worker); this module reads them, drops comments and runs of white space, and gives the page the
text and the Content-Security-Policy the hash of exactly that text, so the policy still allows no
other inline style. A file edited while the server runs is read again (same rule as
market.assets), so text and hash always agree.
"""

from __future__ import annotations

import base64
import hashlib
import re

from markupsafe import Markup

from market.assets import STATIC_DIR

STYLESHEETS = ("anlauf.css", "layout.css")

_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_SPACE = re.compile(r"\s+")
_AROUND = re.compile(r"\s*([{};])\s*")

# (mtime_ns, size) of each file -> (css, CSP source)
_cache: dict[tuple[tuple[int, int], ...], tuple[str, str]] = {}


def minify(css: str) -> str:
    """Comments and white space out; nothing else changes (no string in the CSS holds them)."""
    css = _COMMENT.sub("", css)
    css = _SPACE.sub(" ", css)
    return _AROUND.sub(r"\1", css).strip()


def _current() -> tuple[str, str]:
    paths = [STATIC_DIR / name for name in STYLESHEETS]
    key = tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    known = _cache.get(key)
    if known is None:
        css = "\n".join(minify(p.read_text(encoding="utf-8")) for p in paths)
        digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
        known = (css, f"'sha256-{digest}'")
        _cache.clear()
        _cache[key] = known
    return known


def inline_css() -> Markup:
    """The <style> element's content (the stylesheets are the project's own, not user text)."""
    return Markup(_current()[0])  # noqa: S704


def csp_source() -> str:
    """The style-src source that allows exactly that <style> element."""
    return _current()[1]
