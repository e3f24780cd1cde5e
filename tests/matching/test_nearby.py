"""nearby_pairs must find exactly the pairs that pass the category, language and reach rules."""

from __future__ import annotations

import math
import random
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from matching import (
    EARTH_RADIUS_KM,
    Candidate,
    Failure,
    LanguageSkill,
    Mode,
    PostFacts,
    check,
    judge,
    nearby_pairs,
    rank,
    score,
)
from tests.matching.factories import (
    CATEGORY_PATHS,
    LANGUAGES,
    MODES,
    NOW,
    TODAY,
    candidates,
    language_skills,
    north_of_berlin,
    pair,
)

# The rules nearby_pairs answers for; the others (published, vetting, certificate, declined)
# are left to judge.
PLACE_RULES = {Failure.CATEGORY, Failure.LANGUAGE, Failure.DISTANCE, Failure.MODE}


def pairs_of(needs: list[PostFacts], offers: list[PostFacts]) -> list[tuple[int, int]]:
    found = nearby_pairs(needs, offers)
    assert found.shape == (len(found), 2)
    return [(i, j) for i, j in found.tolist()]


def brute_force(needs: list[PostFacts], offers: list[PostFacts]) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i, n in enumerate(needs)
        for j, o in enumerate(offers)
        if not PLACE_RULES & set(check(pair(o, n), TODAY))
    ]


def post(
    kind: str,
    index: int,
    lat: float | None,
    lon: float | None,
    *,
    category: tuple[str, ...],
    languages: tuple[LanguageSkill, ...],
    mode: Mode,
    radius_km: float | None,
) -> PostFacts:
    return PostFacts(
        id=f"{kind}{index}",
        kind=kind,  # type: ignore[arg-type]
        category=category[-1],
        category_path=category,
        languages=languages,
        mode=mode,
        lat=lat,
        lon=lon,
        radius_km=radius_km,
        published_at=NOW - timedelta(days=index % 40),
    )


@st.composite
def places(draw: st.DrawFn) -> tuple[float, float] | None:
    """Around Berlin mostly, but also near a pole and on both sides of the date line."""
    centre = draw(
        st.sampled_from(
            [(52.52, 13.405), (89.5, 0.0), (-89.9, 40.0), (10.0, 179.9), (10.0, -179.9)]
        )
    )
    if draw(st.integers(0, 9)) == 0:
        return None
    lat = max(-90.0, min(90.0, centre[0] + draw(st.floats(-1.5, 1.5))))
    lon = (centre[1] + draw(st.floats(-2.0, 2.0)) + 180.0) % 360.0 - 180.0
    return lat, lon


@st.composite
def posts(draw: st.DrawFn, kind: str) -> list[PostFacts]:
    result = []
    for index in range(draw(st.integers(0, 12))):
        where = draw(places())
        radius = draw(st.none() | st.floats(0, 200) | st.sampled_from([0.0, 5.0, 10.0, 200.0]))
        result.append(
            post(
                kind,
                index,
                where[0] if where else None,
                where[1] if where else None,
                category=draw(st.sampled_from(CATEGORY_PATHS)),
                languages=draw(language_skills),
                mode=draw(st.sampled_from(MODES)),
                radius_km=radius,
            )
        )
    return result


@settings(deadline=None, max_examples=300)  # timing varies on shared CI machines
@given(posts("need"), posts("offer"))
def test_the_same_pairs_as_the_rules(needs: list[PostFacts], offers: list[PostFacts]) -> None:
    assert pairs_of(needs, offers) == brute_force(needs, offers)


def test_a_city_at_random_gives_the_same_pairs_as_the_rules() -> None:
    """A denser case than hypothesis draws: 300 needs and 300 offers around Berlin, radii
    across every class, so that many pairs sit near the edge of their radius or of a cell."""
    rng = random.Random(7)

    def spot() -> tuple[float, float]:
        return north_of_berlin(0)[0] + rng.gauss(0, 0.25), 13.405 + rng.gauss(0, 0.4)

    def some(kind: str) -> list[PostFacts]:
        return [
            post(
                kind,
                k,
                *spot(),
                category=rng.choice(CATEGORY_PATHS),
                languages=tuple(LanguageSkill(c) for c in rng.sample(LANGUAGES, 2)),
                mode=rng.choice(MODES),
                radius_km=rng.choice([None, 2.0, 5.0, 7.5, 10.0, 30.0, 60.0, 150.0]),
            )
            for k in range(300)
        ]

    needs, offers = some("need"), some("offer")
    found = pairs_of(needs, offers)
    assert found == brute_force(needs, offers)
    assert 1_000 < len(found) < 300 * 300 / 2  # a real test: many pairs, far from all


def destination(lat: float, lon: float, km: float, bearing: float) -> tuple[float, float]:
    """The point `km` away from (lat, lon) in the direction `bearing` (degrees from north)."""
    phi, lam, theta = math.radians(lat), math.radians(lon), math.radians(bearing)
    delta = km / EARTH_RADIUS_KM
    phi2 = math.asin(
        math.sin(phi) * math.cos(delta) + math.cos(phi) * math.sin(delta) * math.cos(theta)
    )
    lam2 = lam + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi),
        math.cos(delta) - math.sin(phi) * math.sin(phi2),
    )
    return math.degrees(phi2), (math.degrees(lam2) + 540.0) % 360.0 - 180.0


def test_offers_just_within_reach_in_every_direction_are_found() -> None:
    """Offers at 99.9 % of their radius all around needs at many places, so that many lie just
    across a cell border in every direction, are all found; those at 100.1 % never."""
    rng = random.Random(3)
    common = {"category": ("housing",), "languages": (LanguageSkill("de"),), "mode": "in_person"}
    needs: list[PostFacts] = []
    offers: list[PostFacts] = []
    within: set[tuple[int, int]] = set()
    beyond: set[tuple[int, int]] = set()
    for i in range(300):
        lat, lon = rng.uniform(-70, 70), rng.uniform(-180, 180)
        needs.append(post("need", i, lat, lon, radius_km=None, **common))  # type: ignore[arg-type]
        # Radii at the top of their class, where the search is tightest.
        radius = rng.choice([1.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 200.0])
        for bearing in range(0, 360, 10):
            for share, into in ((0.999, within), (1.001, beyond)):
                spot = destination(lat, lon, radius * share, bearing)
                into.add((i, len(offers)))
                offers.append(post("offer", len(offers), *spot, radius_km=radius, **common))  # type: ignore[arg-type]
    found = set(pairs_of(needs, offers))
    assert within <= found
    assert not beyond & found


def test_the_edge_of_the_radius_counts_as_within() -> None:
    centre = north_of_berlin(0)
    away = north_of_berlin(10.0)
    common = {"category": ("housing",), "languages": (LanguageSkill("de"),), "mode": "in_person"}
    need = post("need", 0, *centre, radius_km=None, **common)  # type: ignore[arg-type]
    at_edge = post("offer", 0, *away, radius_km=math.nextafter(10.0, math.inf), **common)  # type: ignore[arg-type]
    short = post("offer", 1, *away, radius_km=9.999, **common)  # type: ignore[arg-type]
    assert pairs_of([need], [at_edge, short]) == [(0, 0)]


@settings(deadline=None, max_examples=300)  # timing varies on shared CI machines
@given(candidates() | candidates(likely_match=True))
def test_judge_is_check_then_score(candidate: Candidate) -> None:
    judged = judge(candidate, NOW, TODAY)
    if check(candidate, TODAY):
        assert judged is None
    else:
        assert judged == score(candidate, NOW)


def test_rank_of_nearby_pairs_equals_rank_of_all_pairs() -> None:
    rng = random.Random(11)

    def some(kind: str, radii: list[float | None]) -> list[PostFacts]:
        return [
            post(
                kind,
                k,
                *north_of_berlin(rng.uniform(0, 40)),
                category=rng.choice(CATEGORY_PATHS),
                languages=(LanguageSkill(rng.choice(LANGUAGES)),),
                mode=rng.choice(MODES),
                radius_km=rng.choice(radii),
            )
            for k in range(60)
        ]

    needs, offers = some("need", [None]), some("offer", [5.0, 15.0])
    everything = [pair(o, n) for n in needs for o in offers]
    near = [pair(offers[j], needs[i]) for i, j in pairs_of(needs, offers)]
    assert rank(near, NOW, TODAY) == rank(everything, NOW, TODAY)
    assert len(rank(near, NOW, TODAY)) > 20
