"""Turns database rows into the matcher's plain facts."""

from __future__ import annotations

from market.accounts.models import User
from market.db import utcnow
from market.posts import taxonomy
from market.posts.models import Post
from matching import LanguageSkill, PostFacts, TimeSlot, VolunteerFacts


def post_facts(post: Post, author: User | None) -> PostFacts:
    # A post's languages carry its author's level in them, when the author gave one.
    levels = {lang.code: lang.level for lang in (author.languages if author else [])}
    primary_levels = {code.split("-")[0]: level for code, level in levels.items()}
    skills = tuple(
        LanguageSkill(
            code,
            levels.get(code) or primary_levels.get(code.split("-")[0]) or "fluent",  # type: ignore[arg-type]
        )
        for code in post.language_codes
    )
    return PostFacts(
        id=post.id,
        kind=post.kind,  # type: ignore[arg-type]
        category=post.category,
        category_path=taxonomy.path(post.category) or (post.category,),
        languages=skills,
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


def slots(post: Post) -> tuple[TimeSlot, ...]:
    return tuple(
        TimeSlot(int(s["weekday"]), _minutes(s["start"]), _minutes(s["end"]))
        for s in post.availability or []
    )


def volunteer_facts(user: User, open_matches: int) -> VolunteerFacts:
    return VolunteerFacts(
        id=user.id,
        approved=user.role in ("volunteer", "coordinator", "admin")
        and (user.vetting_status == "approved" or user.role != "volunteer"),
        police_certificate_until=user.police_certificate_until,
        open_matches=open_matches,
        max_open_matches=user.max_open_matches,
    )
