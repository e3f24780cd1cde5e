"""The category taxonomy (API.md, Reference data). Names are gettext message ids."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from market.i18n import gettext


def N_(message: str) -> str:
    return message


@dataclass(frozen=True)
class Category:
    slug: str
    parent: str | None
    name: str  # English message id; translate with category_name()
    requires_police_certificate: bool = False


CATEGORIES: tuple[Category, ...] = (
    Category("accompaniment", None, N_("Going along to appointments")),
    Category("accompaniment-authorities", "accompaniment", N_("Going along to offices")),
    Category("accompaniment-doctor", "accompaniment", N_("Going along to the doctor")),
    Category("language", None, N_("Learning German")),
    Category("language-tandem", "language", N_("Language tandem")),
    Category("translation", None, N_("Translating")),
    Category("housing", None, N_("Finding a flat")),
    Category("work", None, N_("Work and jobs")),
    Category("education", None, N_("School and training")),
    Category("education-homework", "education", N_("Homework help"), True),
    Category("childcare", None, N_("Childcare"), True),
    Category("mentoring", None, N_("Mentoring")),
    Category("leisure", None, N_("Free time and sport")),
    Category("goods", None, N_("Things to give away")),
    Category("transport", None, N_("Transport and moving")),
    Category("digital", None, N_("Phone, computer and internet")),
    Category("health", None, N_("Health")),
)

BY_SLUG: dict[str, Category] = {c.slug: c for c in CATEGORIES}


def get(slug: str) -> Category | None:
    return BY_SLUG.get(slug)


def category_name(slug: str) -> str:
    category = BY_SLUG.get(slug)
    return gettext(category.name) if category else slug


@cache
def path(slug: str) -> tuple[str, ...]:
    """Slugs from the root down to this category, e.g. ("education", "education-homework")."""
    chain: list[str] = []
    current = BY_SLUG.get(slug)
    while current is not None:
        chain.append(current.slug)
        current = BY_SLUG.get(current.parent) if current.parent else None
    return tuple(reversed(chain))


@cache
def subtree(slug: str) -> tuple[str, ...]:
    """The category and all its descendants: a category filter includes its subcategories."""
    found = [slug]
    for category in CATEGORIES:
        if slug in path(category.slug) and category.slug != slug:
            found.append(category.slug)
    return tuple(found)


def requires_police_certificate(slug: str) -> bool:
    return any(BY_SLUG[s].requires_police_certificate for s in path(slug) if s in BY_SLUG)


def ordered() -> list[Category]:
    """Top-level categories, each followed by its children: the order used in pickers."""
    result: list[Category] = []
    for category in CATEGORIES:
        if category.parent is None:
            result.append(category)
            result.extend(c for c in CATEGORIES if c.parent == category.slug)
    return result
