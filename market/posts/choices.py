"""The posts' choice lists and names for forms and templates (categories).

They were in market.forms, which is foundation and so may not know the categories of posts.
`TEMPLATE_HELPERS` joins market.forms.HELPERS at start (market/features.py `helpers=`).
"""

from __future__ import annotations

from typing import Any

from market.posts import taxonomy


def category_options(blank: str | None = None) -> list[tuple[str, str]]:
    """Categories for a select: parents first, their children indented below them."""
    options = [("", blank)] if blank is not None else []
    for category in taxonomy.ordered():
        indent = "\u00a0\u00a0\u00a0– " if category.parent else ""
        options.append((category.slug, indent + taxonomy.category_name(category.slug)))
    return options


TEMPLATE_HELPERS: dict[str, Any] = {
    "category_name": taxonomy.category_name,
    "category_options": category_options,
}
