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
import time

from markupsafe import Markup

from market.assets import STATIC_DIR

STYLESHEETS = ("anlauf.css", "layout.css")
# A page's own stylesheet, inlined by that page as a <style> of its own ({{ inline_css(name) }}):
# each has its own hash in the policy, so only the names listed here can be inlined.
PAGE_STYLESHEETS = ("search.css", "topics.css")

_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_SPACE = re.compile(r"\s+")
_AROUND = re.compile(r"\s*([{};])\s*")
# url("vendor/...") in a file means /static/vendor/...; inlined into a page at /posts/7 it would
# mean /posts/vendor/..., so relative addresses are made absolute when a file is inlined.
_RELATIVE_URL = re.compile(r"""url\((["']?)(?![a-z][a-z0-9+.-]*:|/|#)""", re.IGNORECASE)

# the files' names and (mtime_ns, size) -> (css, CSP source)
_cache: dict[tuple[tuple[str, int, int], ...], tuple[str, str]] = {}
# names -> (when last looked at, the files' key): every page asks for the styles and the policy,
# so the files are looked at (stat) at most once a RECHECK_SECONDS per set, as market.assets does.
_seen: dict[tuple[str, ...], tuple[float, tuple[tuple[str, int, int], ...]]] = {}
RECHECK_SECONDS = 1.0


def minify(css: str) -> str:
    """Comments and white space out; nothing else changes (no string in the CSS holds them)."""
    css = _COMMENT.sub("", css)
    css = _SPACE.sub(" ", css)
    return _AROUND.sub(r"\1", css).strip()


def _absolute(css: str) -> str:
    """Relative url(...) addresses as the file in /static/ meant them."""
    return _RELATIVE_URL.sub(r"url(\1/static/", css)


def _key(names: tuple[str, ...]) -> tuple[tuple[str, int, int], ...]:
    now = time.monotonic()
    seen = _seen.get(names)
    if seen is not None and now - seen[0] < RECHECK_SECONDS:
        return seen[1]
    stats = [(name, (STATIC_DIR / name).stat()) for name in names]
    key = tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats)
    _seen[names] = (now, key)
    return key


def version() -> tuple[tuple[str, int, int], ...]:
    """The site stylesheets' current version (changes when one is edited)."""
    return _key(STYLESHEETS)


def _current(names: tuple[str, ...]) -> tuple[str, str]:
    key = _key(names)
    known = _cache.get(key)
    if known is None:
        paths = [STATIC_DIR / name for name in names]
        css = "\n".join(_absolute(minify(p.read_text(encoding="utf-8"))) for p in paths)
        digest = base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode("ascii")
        known = (css, f"'sha256-{digest}'")
        # One entry per set of files: an edited file replaces its set's old entry.
        for old in [k for k in _cache if [n for n, *_ in k] == list(names)]:
            del _cache[old]
        _cache[key] = known
    return known


def inline_css(page_stylesheet: str | None = None) -> Markup:
    """A <style> element's content: the site's stylesheets, or one page's own (listed in
    PAGE_STYLESHEETS). They are the project's own files, not user text."""
    if page_stylesheet is None:
        return Markup(_current(STYLESHEETS)[0])  # noqa: S704
    if page_stylesheet not in PAGE_STYLESHEETS:
        raise ValueError(
            f"{page_stylesheet} is not in PAGE_STYLESHEETS (the CSP has no hash for it)"
        )
    return Markup(_current((page_stylesheet,))[0])  # noqa: S704


def csp_source() -> str:
    """The style-src sources that allow exactly those <style> elements."""
    sets = [STYLESHEETS, *((name,) for name in PAGE_STYLESHEETS)]
    return " ".join(_current(names)[1] for names in sets)
