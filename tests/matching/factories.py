"""Small builders for matching facts, so that each test states only what it is about.

A plain module rather than fixtures: hypothesis strategies and plain tests both call it.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from hypothesis import strategies as st

from matching import (
    EARTH_RADIUS_KM,
    Candidate,
    LanguageSkill,
    Mode,
    PostFacts,
    TimeSlot,
    VolunteerFacts,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TODAY = date(2025, 3, 1)
BERLIN = (52.52, 13.405)


def north_of_berlin(km: float) -> tuple[float, float]:
    """A point `km` kilometres due north of BERLIN (exact along a meridian)."""
    return BERLIN[0] + math.degrees(km / EARTH_RADIUS_KM), BERLIN[1]


def skills(*languages: str | LanguageSkill) -> tuple[LanguageSkill, ...]:
    return tuple(x if isinstance(x, LanguageSkill) else LanguageSkill(x) for x in languages)


def _post(
    kind: str,
    id: str,
    category: tuple[str, ...],
    languages: tuple[str | LanguageSkill, ...],
    mode: Mode,
    km: float | None,
    radius_km: float | None,
    published: bool,
    waited_days: float,
    slots: tuple[TimeSlot, ...],
) -> PostFacts:
    lat, lon = north_of_berlin(km) if km is not None else (None, None)
    return PostFacts(
        id=id,
        kind=kind,  # type: ignore[arg-type]
        category=category[-1],
        category_path=category,
        languages=skills(*languages),
        mode=mode,
        lat=lat,
        lon=lon,
        radius_km=radius_km,
        published=published,
        published_at=NOW - timedelta(days=waited_days),
        slots=slots,
    )


def offer(
    id: str = "o1",
    *,
    category: tuple[str, ...] = ("housing",),
    languages: tuple[str | LanguageSkill, ...] = ("de",),
    mode: Mode = "in_person",
    km: float | None = 0.0,
    radius_km: float | None = 10.0,
    published: bool = True,
    slots: tuple[TimeSlot, ...] = (),
) -> PostFacts:
    """An offer `km` kilometres north of Berlin's centre."""
    return _post("offer", id, category, languages, mode, km, radius_km, published, 40.0, slots)


def need(
    id: str = "n1",
    *,
    category: tuple[str, ...] = ("housing",),
    languages: tuple[str | LanguageSkill, ...] = ("de",),
    mode: Mode = "in_person",
    km: float | None = 0.0,
    radius_km: float | None = None,
    published: bool = True,
    waited_days: float = 0.0,
    slots: tuple[TimeSlot, ...] = (),
) -> PostFacts:
    """A need `km` kilometres north of Berlin's centre, published `waited_days` before NOW."""
    return _post(
        "need", id, category, languages, mode, km, radius_km, published, waited_days, slots
    )


def volunteer(
    id: str = "v1",
    *,
    approved: bool = True,
    certificate_until: date | None = None,
    open_matches: int = 0,
    max_open_matches: int = 5,
) -> VolunteerFacts:
    return VolunteerFacts(
        id=id,
        approved=approved,
        police_certificate_until=certificate_until,
        open_matches=open_matches,
        max_open_matches=max_open_matches,
    )


def pair(
    offer_post: PostFacts | None = None,
    need_post: PostFacts | None = None,
    *,
    by: VolunteerFacts | None = None,
    requires_certificate: bool = False,
    declined_before: bool = False,
) -> Candidate:
    """A candidate pair; everything not given is a plain match."""
    return Candidate(
        offer=offer_post if offer_post is not None else offer(),
        need=need_post if need_post is not None else need(),
        volunteer=by if by is not None else volunteer(),
        requires_certificate=requires_certificate,
        declined_before=declined_before,
    )


# Hypothesis strategies ----------------------------------------------------------------------

CATEGORY_PATHS: tuple[tuple[str, ...], ...] = (
    ("education",),
    ("education", "education-homework"),
    ("accompaniment",),
    ("accompaniment", "accompaniment-doctor"),
    ("accompaniment", "accompaniment-authorities"),
    ("housing",),
)
LANGUAGES = ("de", "ar", "fa", "uk", "en")
MODES: tuple[Mode, ...] = ("in_person", "remote", "either")

language_skills = st.lists(
    st.builds(
        LanguageSkill,
        st.sampled_from(LANGUAGES),
        st.sampled_from(("native", "fluent", "basic")),
    ),
    min_size=1,
    max_size=3,
).map(tuple)


@st.composite
def time_slots(draw: st.DrawFn) -> TimeSlot:
    start = draw(st.integers(0, 1439))
    end = draw(st.integers(start + 1, 1440))
    return TimeSlot(draw(st.integers(0, 6)), start, end)


slot_lists = st.lists(time_slots(), max_size=4).map(tuple)


@st.composite
def candidates(draw: st.DrawFn, likely_match: bool = False) -> Candidate:
    """Any pair at all, matching or not; with `likely_match` only the distance, the modes and
    the languages are left to chance, so that most pairs pass the rules."""
    offer_category = draw(st.sampled_from(CATEGORY_PATHS))
    subtree = [p for p in CATEGORY_PATHS if p[: len(offer_category)] == offer_category]
    need_category = draw(st.sampled_from(subtree if likely_match else CATEGORY_PATHS))
    chance = st.just(True) if likely_match else st.booleans()
    the_offer = offer(
        draw(st.sampled_from(("o1", "o2", "o3"))),
        category=offer_category,
        languages=draw(language_skills),
        mode=draw(st.sampled_from(MODES)),
        km=draw(st.none() | st.floats(0, 60)),
        radius_km=draw(st.none() | st.floats(0, 50)),
        published=draw(chance),
        slots=draw(slot_lists),
    )
    the_need = need(
        draw(st.sampled_from(("n1", "n2", "n3"))),
        category=need_category,
        languages=draw(language_skills),
        mode=draw(st.sampled_from(MODES)),
        km=draw(st.none() | st.floats(0, 60)),
        radius_km=draw(st.none() | st.floats(0, 50)),
        published=draw(chance),
        waited_days=draw(st.floats(-2, 400)),
        slots=draw(slot_lists),
    )
    return pair(
        the_offer,
        the_need,
        by=volunteer(
            approved=draw(chance),
            certificate_until=draw(st.none() | st.dates()),
            open_matches=draw(st.integers(0, 6)),
        ),
        requires_certificate=not draw(chance),
        declined_before=not draw(chance),
    )
