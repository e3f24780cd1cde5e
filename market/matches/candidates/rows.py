"""The aggregated text columns of a row (languages, levels), back into lists."""

from __future__ import annotations


def parse_languages(text: str | None) -> list[str]:
    if not text:
        return []
    items = []
    for item in text.split(","):
        position, _, code = item.partition(":")
        items.append((int(position), code))
    return [code for _, code in sorted(items)]


def parse_levels(text: str | None) -> list[tuple[str, str]]:
    if not text:
        return []
    items = []
    for item in text.split(","):
        position, code, level = item.split(":", 2)
        items.append((int(position), code, level))
    return [(code, level) for _, code, level in sorted(items)]
