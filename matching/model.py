"""The facts the matcher works on: plain frozen values, filled in by the app from its database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Literal

Level = Literal["native", "fluent", "basic"]
Kind = Literal["offer", "need"]
Mode = Literal["in_person", "remote", "either"]

MINUTES_PER_DAY = 24 * 60

# How well two people can talk in a language is bounded by the weaker of the two, so a pair of
# levels is worth the smaller of these weights.
LEVEL_WEIGHT: dict[Level, float] = {"native": 1.0, "fluent": 0.85, "basic": 0.4}

# The API gives an offer a radius of 10 km when its author names none; the matcher mirrors that
# default so that an offer stored without a radius behaves exactly as the API promised.
DEFAULT_OFFER_RADIUS_KM = 10.0

# Open matches a volunteer may hold at once unless told otherwise, so nobody is swamped.
DEFAULT_MAX_OPEN_MATCHES = 5


# A region has a few dozen distinct codes and a global assignment compares them millions of times.
@lru_cache(maxsize=1024)
def primary_tag(code: str) -> str:
    """The primary language subtag: "ar-SY" and "AR" both become "ar"."""
    return code.strip().replace("_", "-").split("-", 1)[0].lower()


def best_levels(skills: Iterable[LanguageSkill]) -> Mapping[str, Level]:
    """The best level per primary tag: a post may list "ar" and "ar-SY"; the better one counts."""
    best: dict[str, Level] = {}
    for skill in skills:
        tag = primary_tag(skill.code)
        known = best.get(tag)
        if known is None or LEVEL_WEIGHT[skill.level] > LEVEL_WEIGHT[known]:
            best[tag] = skill.level
    return best


@dataclass(frozen=True, slots=True)
class LanguageSkill:
    """One language of a post, with its author's level in it; a bare tag means fluent."""

    code: str
    level: Level = "fluent"

    def __post_init__(self) -> None:
        if not self.code.strip():
            raise ValueError("language code must not be empty")
        if self.level not in ("native", "fluent", "basic"):
            raise ValueError(f"unknown language level {self.level!r}")


@dataclass(frozen=True, slots=True)
class TimeSlot:
    """A weekly window of availability: weekday 0 = Monday, minutes since local midnight.

    A window across midnight is given as two slots, one per day, so that every slot is a plain
    interval within its day.
    """

    weekday: int
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0-6, got {self.weekday}")
        if not 0 <= self.start_minute < self.end_minute <= MINUTES_PER_DAY:
            raise ValueError(
                "need 0 <= start_minute < end_minute <= 1440, "
                f"got {self.start_minute}-{self.end_minute}"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class PostFacts:
    """What the matcher needs to know about one offer or need."""

    id: str
    kind: Kind
    category: str
    # Slugs from the root down to `category`, e.g. ("education", "education-homework"); it lets
    # the matcher see subcategories without a category table.
    category_path: tuple[str, ...]
    languages: tuple[LanguageSkill, ...]
    mode: Mode = "in_person"
    lat: float | None = None
    lon: float | None = None
    radius_km: float | None = None
    published: bool = True
    # Must be timezone-aware: the need's waiting time is measured from it.
    published_at: datetime
    slots: tuple[TimeSlot, ...] = ()
    # `best_levels(languages)`, worked out once: a region's run compares each post's languages
    # with thousands of others. Read-only by its type (a proxy would make every lookup slower).
    levels: Mapping[str, Level] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", best_levels(self.languages))
        if self.kind not in ("offer", "need"):
            raise ValueError(f"unknown post kind {self.kind!r}")
        if self.mode not in ("in_person", "remote", "either"):
            raise ValueError(f"unknown mode {self.mode!r}")
        if not self.category_path or self.category_path[-1] != self.category:
            raise ValueError(
                f"category_path must end with the category {self.category!r}, "
                f"got {self.category_path!r}"
            )
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be given together")
        if self.lat is not None and not -90.0 <= self.lat <= 90.0:
            raise ValueError(f"lat must be within -90..90, got {self.lat}")
        if self.lon is not None and not -180.0 <= self.lon <= 180.0:
            raise ValueError(f"lon must be within -180..180, got {self.lon}")
        if self.radius_km is not None and self.radius_km < 0:
            raise ValueError(f"radius_km must not be negative, got {self.radius_km}")
        if self.published_at.tzinfo is None:
            raise ValueError("published_at must be timezone-aware")

    @property
    def meets_in_person(self) -> bool:
        return self.mode in ("in_person", "either")

    @property
    def meets_remotely(self) -> bool:
        return self.mode in ("remote", "either")


@dataclass(frozen=True, slots=True, kw_only=True)
class VolunteerFacts:
    """The author of an offer, as far as matching is concerned."""

    id: str
    approved: bool
    # The last day on which the police certificate is valid; None when there is none.
    police_certificate_until: date | None = None
    open_matches: int = 0
    max_open_matches: int = DEFAULT_MAX_OPEN_MATCHES

    def __post_init__(self) -> None:
        if self.open_matches < 0 or self.max_open_matches < 0:
            raise ValueError("open_matches and max_open_matches must not be negative")

    @property
    def room_for_matches(self) -> int:
        """How many more matches this volunteer may be proposed now."""
        return max(0, self.max_open_matches - self.open_matches)


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """One offer-need pair the app wants judged, with the facts that live outside the two posts."""

    offer: PostFacts
    need: PostFacts
    volunteer: VolunteerFacts
    # Whether the need's category asks for a police certificate (childcare, homework help ...).
    # Required on purpose: a forgotten flag must not let an unchecked volunteer through.
    requires_certificate: bool
    # Whether either side declined this very pair before; such a pair is never proposed again.
    declined_before: bool

    def __post_init__(self) -> None:
        if self.offer.kind != "offer":
            raise ValueError(f"post {self.offer.id!r} given as the offer is a {self.offer.kind}")
        if self.need.kind != "need":
            raise ValueError(f"post {self.need.id!r} given as the need is an {self.need.kind}")
