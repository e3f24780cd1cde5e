"""Who may see the app files: everyone. The manifest, the service worker and the offline page
hold nothing personal; the person's own pages are cached by their browser, not by this feature."""

from __future__ import annotations


def may_read() -> bool:
    return True
