"""Text written by users: stored as plain characters, escaped where pages show it."""

from __future__ import annotations

import html

import nh3


def plain_text(text: str) -> str:
    """The text without any markup, stored as the characters people typed ("1 < 2", not "&lt;").

    Tags are removed with nh3, as for posts. Afterwards the entities nh3 wrote are turned back
    into characters, and that is repeated until nothing changes, so entities cannot smuggle in
    new markup ("&lt;b&gt;" does not become "<b>"). Pages escape the text when they show it.
    """
    current = text
    for _ in range(4):
        cleaned = html.unescape(nh3.clean(current, tags=set(), attributes={}))
        if cleaned == current:
            return cleaned
        current = cleaned
    # It did not settle: keep the escaped form, never markup.
    return nh3.clean(current, tags=set(), attributes={})
