"""Upper bounds of `score`, for finding the best partners without judging every candidate.

`market.matches.candidates` computes these bounds in SQL for every candidate of a new post and
judges candidates best bound first. The maths lives here, next to the scorer it bounds, as the one
source: the SQL is built from these constants and transcribes these functions, and
tests/market/matches/test_bounds.py checks, over many random cases on both databases, that the
SQL gives the very values these functions give and that they bound `score`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from matching.model import LEVEL_WEIGHT, Candidate, LanguageSkill, PostFacts, VolunteerFacts
from matching.score import (
    EDGE_OF_RADIUS_FIT,
    FULL_WAITING_DAYS,
    REMOTE_FIT,
    UNKNOWN_AVAILABILITY_FIT,
    WEIGHT_AVAILABILITY,
    WEIGHT_CATEGORY,
    WEIGHT_DISTANCE,
    WEIGHT_LANGUAGE,
    WEIGHT_WAITING,
    score,
)

# Added to every bound that is a sum computed in SQL, so that rounding never puts it below the
# matcher's score (which is computed in a different order).
MARGIN = 1e-9
# A pair this far apart relative to its radius gets the remote credit (0.5), never more:
# 1 - 0.9 * 0.56 < 0.5 (see `distance_fit`).
FAR = 0.56
# The flat distance may exceed the great circle by 0.5 % + 10 m (market.matches.queries); the
# lower bound divides by a little more and subtracts a little more.
LOWER_BOUND_FACTOR = 1.01
LOWER_BOUND_KM = 0.02
# Shorter than the matcher's degree, so that distances measured with it are never too long.
KM_PER_DEGREE = 111.19
# The three language credits, best first; a language without a level counts as fluent.
LANGUAGE_WEIGHTS = tuple(sorted(set(LEVEL_WEIGHT.values()), reverse=True))
LEVEL_OF_WEIGHT = {weight: level for level, weight in LEVEL_WEIGHT.items()}
NEUTRAL_LANGUAGE = LEVEL_WEIGHT["fluent"]


def distance_fit(km: float, radius_km: float) -> float:
    """The distance credit of a pair `km` apart (matching.score's decay); given a lower bound of
    the distance, an upper bound of the credit."""
    if radius_km <= 0:
        return 1.0
    return 1.0 - (1.0 - EDGE_OF_RADIUS_FIT) * min(km / radius_km, 1.0)


def lower_km(flat_km: float) -> float:
    """A lower bound of the great-circle distance from a flat measure of it."""
    return max(flat_km / LOWER_BOUND_FACTOR - LOWER_BOUND_KM, 0.0)


def waiting_fit(published_at: datetime, now: datetime) -> float:
    """A need's waiting credit (matching.score's)."""
    days = max(0.0, (now - published_at).total_seconds() / 86400)
    return min(1.0, days / FULL_WAITING_DAYS)


def waiting_fit_at_most(days: float) -> float:
    """An upper bound of the waiting credit of a need published `days` ago, measured by a
    database clock: a minute more, for the databases' clocks round differently."""
    return min(max(days + 1 / 1440, 0.0) / FULL_WAITING_DAYS, 1.0)


def highest_sum(
    meets_in_person: bool,
    has_slots: bool,
    category_fit: float,
    best_language: float,
    waiting: float,
) -> float:
    """The largest value the summed bound can take for one category: every part at its most.
    A little generous: it only decides which categories a round reads."""
    distance = 1.0 if meets_in_person else REMOTE_FIT
    availability = 1.0 if has_slots else UNKNOWN_AVAILABILITY_FIT
    return (
        WEIGHT_CATEGORY * category_fit
        + WEIGHT_LANGUAGE * best_language
        + WEIGHT_DISTANCE * distance
        + WEIGHT_AVAILABILITY * availability
        + WEIGHT_WAITING * waiting
        + 2 * MARGIN
        + 1e-9
    )


def class_scores(
    me: PostFacts, category: str, category_path: tuple[str, ...], now: datetime
) -> dict[float, float]:
    """The score of a pair whose every component is known: remote only, no slots to compare, the
    candidate's `category`, each language credit, and (for a new offer) a need that has waited the
    full time. Computed by the scorer itself, so that it is the same float as for a real pair of
    that class (ties are broken by id, so the bound must equal the score bit for bit)."""
    volunteer = VolunteerFacts(id="v", approved=True)
    out = {}
    for weight in LANGUAGE_WEIGHTS:
        langs = (LanguageSkill("zz", LEVEL_OF_WEIGHT[weight]),)
        theirs = PostFacts(
            id="c",
            kind="offer" if me.kind == "need" else "need",
            category=category,
            category_path=category_path,
            languages=langs,
            mode="remote",
            published_at=now - timedelta(days=FULL_WAITING_DAYS),
        )
        mine = PostFacts(
            id="m",
            kind=me.kind,
            category=me.category,
            category_path=me.category_path,
            languages=langs,
            mode="remote",
            published_at=me.published_at if me.kind == "need" else now,
        )
        offer, need = (theirs, mine) if me.kind == "need" else (mine, theirs)
        pair = Candidate(
            offer=offer,
            need=need,
            volunteer=volunteer,
            requires_certificate=False,
            declined_before=False,
        )
        out[weight] = score(pair, now).score
    return out
