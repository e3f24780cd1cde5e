"""Shared languages between two posts, compared by BCP 47 primary tag."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from matching.model import LEVEL_WEIGHT, LanguageSkill, Level, PostFacts, best_levels, primary_tag

__all__ = ["LEVEL_WEIGHT", "SharedLanguage", "primary_tag", "shared_between", "shared_languages"]


@dataclass(frozen=True, slots=True)
class SharedLanguage:
    language: str
    offer_level: Level
    need_level: Level

    @property
    def weight(self) -> float:
        return min(LEVEL_WEIGHT[self.offer_level], LEVEL_WEIGHT[self.need_level])


def shared_languages(
    offer: Iterable[LanguageSkill], need: Iterable[LanguageSkill]
) -> list[SharedLanguage]:
    """The languages both sides speak, best pair first, then by tag."""
    return _shared(best_levels(offer), best_levels(need))


def shared_between(offer: PostFacts, need: PostFacts) -> list[SharedLanguage]:
    """`shared_languages` of two posts, from the levels each post worked out once."""
    return _shared(offer.levels, need.levels)


def _shared(offer: Mapping[str, Level], need: Mapping[str, Level]) -> list[SharedLanguage]:
    shared = [SharedLanguage(tag, offer[tag], need[tag]) for tag in offer.keys() & need.keys()]
    if len(shared) > 1:
        shared.sort(key=lambda s: (-s.weight, s.language))
    return shared
