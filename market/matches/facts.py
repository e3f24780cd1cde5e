"""Turns database rows into the matcher's plain facts.

Two kinds of input: ORM objects (`post_facts`, `volunteer_facts`) and the plain column values
that `market.matches.candidates` reads without building ORM objects (`skills`, `slots_of`,
`volunteer_facts_of`). Both go through the same rules, so a post judged either way gets the same
facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, Protocol

from market.accounts.models import User
from market.db import utcnow
from market.posts import taxonomy
from matching import LanguageSkill, PostFacts, TimeSlot, VolunteerFacts


def skills(
    codes: Iterable[str], author_levels: Sequence[tuple[str, str]]
) -> tuple[LanguageSkill, ...]:
    """A post's languages with its author's level in each (`author_levels`: the author's
    (code, level) pairs in the author's order); fluent where the author gave none.

    The exact code counts first, then any of the author's codes with the same primary subtag (the
    last of them in the author's order), then fluent.
    """
    levels = dict(author_levels)
    primary_levels = {code.split("-")[0]: level for code, level in author_levels}
    return tuple(
        LanguageSkill(
            code,
            levels.get(code) or primary_levels.get(code.split("-")[0]) or "fluent",  # type: ignore[arg-type]
        )
        for code in codes
    )


class PostColumns(Protocol):
    """What `post_facts` reads of a post: a `Post`, or the plain row of
    `market.matches.regional.OfferRow`."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def lat(self) -> float | None: ...
    @property
    def lon(self) -> float | None: ...
    @property
    def radius_km(self) -> float | None: ...
    @property
    def status(self) -> str: ...
    @property
    def published_at(self) -> datetime | None: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def availability(self) -> list[dict[str, Any]] | None: ...
    @property
    def language_codes(self) -> list[str]: ...


def post_facts(post: PostColumns, author: User | None) -> PostFacts:
    # A post's languages carry its author's level in them, when the author gave one.
    author_levels = [(lang.code, lang.level) for lang in (author.languages if author else [])]
    return post_facts_of(post, author_levels)


def post_facts_of(post: PostColumns, author_levels: Sequence[tuple[str, str]]) -> PostFacts:
    """`post_facts` with the author's (code, level) pairs given instead of the author."""
    return PostFacts(
        id=post.id,
        kind=post.kind,  # type: ignore[arg-type]
        category=post.category,
        category_path=taxonomy.path(post.category) or (post.category,),
        languages=skills(post.language_codes, author_levels),
        mode=post.mode,  # type: ignore[arg-type]
        lat=post.lat,
        lon=post.lon,
        radius_km=post.radius_km,
        published=post.status == "published",
        published_at=post.published_at or post.created_at or utcnow(),
        slots=slots(post),
    )


def _minutes(hhmm: str) -> int:
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


def slots_of(availability: list[dict[str, Any]] | None) -> tuple[TimeSlot, ...]:
    return tuple(
        TimeSlot(int(s["weekday"]), _minutes(s["start"]), _minutes(s["end"]))
        for s in availability or []
    )


def slots(post: PostColumns) -> tuple[TimeSlot, ...]:
    return slots_of(post.availability)


def volunteer_facts_of(
    user_id: str,
    role: str,
    vetting_status: str | None,
    police_certificate_until: date | None,
    max_open_matches: int,
    open_matches: int,
) -> VolunteerFacts:
    return VolunteerFacts(
        id=user_id,
        approved=role in ("volunteer", "coordinator", "admin")
        and (vetting_status == "approved" or role != "volunteer"),
        police_certificate_until=police_certificate_until,
        open_matches=open_matches,
        max_open_matches=max_open_matches,
    )


def volunteer_facts(user: User, open_matches: int) -> VolunteerFacts:
    return volunteer_facts_of(
        user.id,
        user.role,
        user.vetting_status,
        user.police_certificate_until,
        user.max_open_matches,
        open_matches,
    )


def published_at_of(published_at: datetime | None, created_at: datetime | None) -> datetime:
    """The moment a post's waiting time counts from (as in `post_facts`)."""
    return published_at or created_at or utcnow()
