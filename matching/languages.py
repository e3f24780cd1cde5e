"""Shared languages between two posts, compared by BCP 47 primary tag."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from matching.model import LanguageSkill, Level

# How well two people can talk in a language is bounded by the weaker of the two, so a pair of
# levels is worth the smaller of these weights.
LEVEL_WEIGHT: dict[Level, float] = {"native": 1.0, "fluent": 0.85, "basic": 0.4}


# A region has a few dozen distinct codes and a global assignment compares them millions of times.
@lru_cache(maxsize=1024)
def primary_tag(code: str) -> str:
    """The primary language subtag: "ar-SY" and "AR" both become "ar"."""
    return code.strip().replace("_", "-").split("-", 1)[0].lower()


@dataclass(frozen=True, slots=True)
class SharedLanguage:
    language: str
    offer_level: Level
    need_level: Level

    @property
    def weight(self) -> float:
        return min(LEVEL_WEIGHT[self.offer_level], LEVEL_WEIGHT[self.need_level])


def _best_levels(skills: Iterable[LanguageSkill]) -> dict[str, Level]:
    # A post may list "ar" and "ar-SY"; the better level counts.
    best: dict[str, Level] = {}
    for skill in skills:
        tag = primary_tag(skill.code)
        known = best.get(tag)
        if known is None or LEVEL_WEIGHT[skill.level] > LEVEL_WEIGHT[known]:
            best[tag] = skill.level
    return best


def shared_languages(
    offer: Iterable[LanguageSkill], need: Iterable[LanguageSkill]
) -> list[SharedLanguage]:
    """The languages both sides speak, best pair first, then by tag."""
    offer_levels = _best_levels(offer)
    need_levels = _best_levels(need)
    shared = [
        SharedLanguage(tag, offer_levels[tag], need_levels[tag])
        for tag in offer_levels.keys() & need_levels.keys()
    ]
    shared.sort(key=lambda s: (-s.weight, s.language))
    return shared
