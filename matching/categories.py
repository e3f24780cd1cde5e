"""Category fit between an offer and a need, by their paths in the category tree."""

from __future__ import annotations

from matching.model import PostFacts


def levels_below(offer: PostFacts, need: PostFacts) -> int | None:
    """How many levels the need's category lies below the offer's: 0 for the same category,
    1 for a direct subcategory, None when the need is outside the offer's subtree."""
    depth = len(offer.category_path)
    if need.category_path[:depth] != offer.category_path:
        return None
    return len(need.category_path) - depth
