"""Static files with fingerprinted addresses: `static_url("anlauf.css")` -> `/static/anlauf.css?v=3f2a9c1b0d4e`.

The fingerprint is the start of the file's SHA-256, so a changed file gets a new address and
browsers and proxies may keep each address for a year (`immutable`). An address whose `v` is not
the current fingerprint (a page drawn before a deployment, a made-up value) is served with a
short lifetime, so an old address can never pin new content for a year.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static"
LONG = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
FINGERPRINT_LENGTH = 12

# name -> (mtime_ns, size, fingerprint); a file edited while the server runs gets a new one.
_fingerprints: dict[str, tuple[int, int, str]] = {}


def fingerprint(name: str, directory: Path = STATIC_DIR) -> str | None:
    path = (directory / name).resolve()
    if directory.resolve() not in path.parents or not path.is_file():
        return None
    stat = path.stat()
    known = _fingerprints.get(name)
    if known and known[0] == stat.st_mtime_ns and known[1] == stat.st_size:
        return known[2]
    value = hashlib.sha256(path.read_bytes()).hexdigest()[:FINGERPRINT_LENGTH]
    _fingerprints[name] = (stat.st_mtime_ns, stat.st_size, value)
    return value


# name -> (monotonic time of the last look, address). Every page asks for about five addresses,
# each costing path resolution and stat calls; looking at the file once a second still notices
# an edit while the server runs.
_urls: dict[str, tuple[float, str]] = {}
RECHECK_SECONDS = 1.0


def static_url(name: str) -> str:
    """The address of a file in market/static, with its fingerprint (a Jinja global)."""
    now = time.monotonic()
    known = _urls.get(name)
    if known is not None and now - known[0] < RECHECK_SECONDS:
        return known[1]
    value = fingerprint(name)
    url = f"/static/{name}?v={value}" if value else f"/static/{name}"
    _urls[name] = (now, url)
    return url


class FingerprintedStatic(StaticFiles):
    """StaticFiles that says how long an answer may be kept."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            wanted = QueryParams(scope.get("query_string", b"")).get("v")
            current = fingerprint(path, Path(str(self.directory))) if wanted else None
            response.headers["Cache-Control"] = LONG if wanted and wanted == current else SHORT
        return response
