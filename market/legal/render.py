"""Legal texts as admins write them: plain text with blank lines between paragraphs and links
written [words](https://...). Rendered to <p> and <a> only, then cleaned with nh3, so a
pasted script or style never reaches a page."""

from __future__ import annotations

import html
import re

import nh3
from markupsafe import Markup

# [words](url): http(s) and mailto only; nh3 drops anything else that slips through.
LINK = re.compile(r"\[([^\[\]\n]{1,200})\]\(((?:https?://|mailto:)[^\s()<>\"]{1,500})\)")
TAGS = {"p", "a"}
ATTRIBUTES = {"a": {"href"}}
SCHEMES = {"http", "https", "mailto"}


def _paragraph(text: str) -> str:
    joined = " ".join(line.strip() for line in text.splitlines() if line.strip())
    escaped = html.escape(joined, quote=True)
    # The pattern runs on escaped text, so no quote or angle bracket can end the attribute.
    return "<p>" + LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', escaped) + "</p>"


def render(body: str) -> Markup:
    paragraphs = [p for p in re.split(r"\n\s*\n", body.replace("\r\n", "\n")) if p.strip()]
    raw = "\n".join(_paragraph(p) for p in paragraphs)
    cleaned = nh3.clean(
        raw,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes=SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(cleaned)  # noqa: S704  (cleaned by nh3 just above)
