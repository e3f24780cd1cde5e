"""judge_pairs must give exactly what judge gives, pair by pair: the same pairs, the same scores
to the last bit."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import (
    FAILURE_ORDER,
    Candidate,
    Failure,
    PostFacts,
    TimeSlot,
    VolunteerFacts,
    assign,
    check,
    first_failures,
    judge,
    judge_pairs,
    max_weight_matching,
    nearby_pairs,
    rank,
)
from tests.matching.factories import NOW, TODAY, candidates, need, offer, pair, volunteer


def region_of(
    drawn: list[Candidate],
) -> tuple[list[PostFacts], list[PostFacts], list[VolunteerFacts], list[bool]]:
    """The needs, offers, volunteers and certificate flags of the region the drawn pairs make up:
    need i and offer j of pair (i, j) come from drawn[i] and drawn[j]."""
    return (
        [c.need for c in drawn],
        [c.offer for c in drawn],
        [c.volunteer for c in drawn],
        [c.requires_certificate for c in drawn],
    )


def candidate_at(
    drawn: list[Candidate], i: int, j: int, declined: set[tuple[int, int]]
) -> Candidate:
    return Candidate(
        offer=drawn[j].offer,
        need=drawn[i].need,
        volunteer=drawn[j].volunteer,
        requires_certificate=drawn[i].requires_certificate,
        declined_before=(i, j) in declined,
    )


def scalar(
    drawn: list[Candidate], pairs: list[tuple[int, int]], declined: set[tuple[int, int]]
) -> dict[tuple[int, int], float]:
    """judge, pair by pair, on the region the drawn candidates make up."""
    found = {}
    for i, j in pairs:
        judged = judge(candidate_at(drawn, i, j, declined), NOW, TODAY)
        if judged is not None:
            found[(i, j)] = judged.score
    return found


def bulk(
    drawn: list[Candidate], pairs: list[tuple[int, int]], declined: set[tuple[int, int]]
) -> dict[tuple[int, int], float]:
    result = judge_pairs(*region_of(drawn), declined, pairs, NOW, TODAY)
    return {
        (i, j): score
        for i, j, score in zip(
            result.need.tolist(), result.offer.tolist(), result.score.tolist(), strict=True
        )
    }


@settings(deadline=None, max_examples=300)  # timing varies on shared CI machines
@given(
    st.lists(candidates() | candidates(likely_match=True), min_size=1, max_size=8),
    st.randoms(use_true_random=False),
)
def test_the_same_pairs_and_scores_as_judge(drawn: list[Candidate], rng: random.Random) -> None:
    every = [(i, j) for i in range(len(drawn)) for j in range(len(drawn))]
    declined = {p for p in every if drawn[p[0]].declined_before and rng.random() < 0.5}
    pairs = rng.sample(every, rng.randint(0, len(every)))
    expected = scalar(drawn, pairs, declined)
    got = bulk(drawn, pairs, declined)
    assert got == expected  # float equality on purpose: the very same bits
    # The order of the pairs given is kept.
    assert list(got) == [p for p in pairs if p in expected]


@settings(deadline=None, max_examples=10)  # timing varies on shared CI machines
@given(st.lists(candidates(likely_match=True), min_size=30, max_size=30))
def test_many_likely_matches_agree(drawn: list[Candidate]) -> None:
    """Enough pairs that many pass, with slots, certificates and waiting times drawn."""
    every = [(i, j) for i in range(len(drawn)) for j in range(len(drawn))]
    expected = scalar(drawn, every, set())
    assert bulk(drawn, every, set()) == expected


def test_bad_input_is_refused() -> None:
    one = pair()
    need, offer, volunteer = one.need, one.offer, one.volunteer
    assert (
        judge_pairs([need], [offer], [volunteer], [False], set(), [(0, 0)], NOW, TODAY).score.size
        == 1
    )
    with pytest.raises(ValueError, match="not given"):
        judge_pairs([need], [offer], [volunteer], [False], set(), [(0, 1)], NOW, TODAY)
    with pytest.raises(ValueError, match="one volunteer per offer"):
        judge_pairs([need], [offer], [], [False], set(), [(0, 0)], NOW, TODAY)
    with pytest.raises(ValueError, match="timezone-aware"):
        judge_pairs(
            [need], [offer], [volunteer], [False], set(), [], NOW.replace(tzinfo=None), TODAY
        )


def test_the_edges_agree() -> None:
    """At the very edge of the radius (here 0 km apart with a radius of 0) a pair still meets in
    person; slots that just touch do not overlap."""
    same_spot = pair(offer(radius_km=0.0, km=0.0), need(km=0.0))
    assert bulk([same_spot], [(0, 0)], set()) == scalar([same_spot], [(0, 0)], set())
    assert bulk([same_spot], [(0, 0)], set())[(0, 0)] > 0.0
    touching = pair(offer(slots=(TimeSlot(0, 600, 660),)), need(slots=(TimeSlot(0, 660, 720),)))
    assert bulk([touching], [(0, 0)], set()) == scalar([touching], [(0, 0)], set())


def test_a_region_run_gives_the_total_of_the_full_ranking() -> None:
    """nearby_pairs + judge_pairs + max_weight_matching, as a region's run does it, find an
    assignment as good as ranking every pair with judge and assigning those."""
    rng = random.Random(5)
    categories = [("housing",), ("education",), ("education", "education-homework")]

    def post(kind: str, k: int) -> PostFacts:
        lat, lon = 51.34 + rng.gauss(0, 0.1), 12.37 + rng.gauss(0, 0.15)
        return dataclasses.replace(
            (offer if kind == "offer" else need)(
                f"{kind}{k}",
                category=rng.choice(categories),
                languages=tuple(rng.sample(["de", "ar", "uk", "fa"], 2)),
                mode=rng.choice(["in_person", "in_person", "either", "remote"]),
                radius_km=rng.choice([None, 5.0, 10.0, 20.0]),
                slots=tuple(
                    TimeSlot(d, 600, 600 + 60 * rng.randint(1, 4)) for d in range(rng.randint(0, 2))
                ),
            ),
            lat=lat,
            lon=lon,
        )

    needs = [post("need", k) for k in range(150)]
    offers = [post("offer", k) for k in range(120)]
    volunteers = [volunteer(f"v{k}", approved=rng.random() < 0.9) for k in range(len(offers))]
    requires = [n.category == "education-homework" for n in needs]

    judged = judge_pairs(
        needs, offers, volunteers, requires, set(), nearby_pairs(needs, offers), NOW, TODAY
    )
    chosen = max_weight_matching(judged.need, judged.offer, judged.score, (len(needs), len(offers)))
    everything = [
        Candidate(offer=o, need=n, volunteer=v, requires_certificate=r, declined_before=False)
        for n, r in zip(needs, requires, strict=True)
        for o, v in zip(offers, volunteers, strict=True)
    ]
    reference = assign([n.id for n in needs], [o.id for o in offers], rank(everything, NOW, TODAY))
    assert len(chosen) > 50
    assert math.isclose(
        float(judged.score[chosen].sum()), sum(p.score for p in reference), rel_tol=1e-12
    )


STAGE_OF = {
    Failure.CATEGORY: "category",
    Failure.LANGUAGE: "language",
    Failure.DISTANCE: "reach",
    Failure.MODE: "reach",
    Failure.NOT_PUBLISHED: "volunteer",
    Failure.NOT_APPROVED: "volunteer",
    Failure.CERTIFICATE: "certificate",
    Failure.DECLINED: "declined",
}


@settings(deadline=None, max_examples=300)  # timing varies on shared CI machines
@given(
    st.lists(candidates() | candidates(likely_match=True), min_size=1, max_size=6),
    st.randoms(use_true_random=False),
)
def test_first_failures_name_the_first_rule_check_names(
    drawn: list[Candidate], rng: random.Random
) -> None:
    every = [(i, j) for i in range(len(drawn)) for j in range(len(drawn))]
    declined = {p for p in every if rng.random() < 0.2}
    first = first_failures(*region_of(drawn), declined, every, TODAY)
    for (i, j), got in zip(every, first.tolist(), strict=True):
        failures = check(candidate_at(drawn, i, j, declined), TODAY)
        stages = [FAILURE_ORDER.index(STAGE_OF[f]) for f in failures]
        assert got == min(stages, default=len(FAILURE_ORDER))
