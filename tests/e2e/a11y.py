"""axe-core (from npm, copied by scripts/vendor_assets.sh) run in the page: its violations.

The script is evaluated through the DevTools protocol, which the page's CSP does not govern, so
the pages are checked under their real policy.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
# WCAG 2.1 A and AA, which BITV 2.0 asks of a public body's pages, and axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


async def violations(page: Any) -> list[dict[str, Any]]:
    """Each violation as {id, impact, help, targets}; empty when axe finds nothing."""
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(_source())
    result = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
    ]
