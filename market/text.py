"""Text written by users: stored as plain characters, escaped where pages show it."""

from __future__ import annotations

import html
import re
import unicodedata

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


# Characters that change how the text around them is shown without being seen themselves:
# bidi embeddings, overrides and isolates (U+202A-202E, U+2066-2069) can make "Anna" display as
# someone else's name; zero-width characters (U+200B-200D, U+2060, U+FEFF) make look-alikes.
# Unicode puts them, and the other invisible ones, in the categories Cf (format), Cc (control),
# Cs (surrogates), Co (private use) and Cn (unassigned).
_INVISIBLE = frozenset({"Cf", "Cc", "Cs", "Co", "Cn"})
_SPACES = re.compile(r"\s+")


def clean_name(text: str) -> str:
    """A one-line name as people see it: NFC, invisible and control characters removed,
    line breaks, tabs and other spaces as one plain space, no space at either end."""
    text = unicodedata.normalize("NFC", text)
    text = _SPACES.sub(" ", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _INVISIBLE)
    return _SPACES.sub(" ", text).strip()
