"""Scores and their reasons."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matching import Candidate, LanguageSkill, PostFacts, Reason, Scored, TimeSlot, score
from matching.score import (
    EDGE_OF_RADIUS_FIT,
    WEIGHT_AVAILABILITY,
    WEIGHT_CATEGORY,
    WEIGHT_DISTANCE,
    WEIGHT_LANGUAGE,
    WEIGHT_WAITING,
)
from tests.matching.factories import NOW, candidates, need, north_of_berlin, offer, pair

REASON_CODES = {
    "same_category",
    "parent_category",
    "shared_language",
    "distance",
    "remote",
    "time_overlap",
    "no_time_overlap",
    "waiting",
}


def codes(scored: Scored) -> list[str]:
    return [r.code for r in scored.reasons]


def test_weights_sum_to_one() -> None:
    weights = [
        WEIGHT_CATEGORY,
        WEIGHT_LANGUAGE,
        WEIGHT_DISTANCE,
        WEIGHT_AVAILABILITY,
        WEIGHT_WAITING,
    ]
    assert sum(weights) == pytest.approx(1.0)


def test_a_perfect_pair_scores_one() -> None:
    native = LanguageSkill("ar", "native")
    evening = (TimeSlot(2, 17 * 60, 21 * 60),)
    candidate = pair(
        offer(languages=(native,), slots=evening),
        need(languages=(native,), slots=evening, waited_days=30),
    )
    result = score(candidate, NOW)
    assert result.score == pytest.approx(1.0)
    assert result.reasons == (
        Reason("same_category", {"category": "housing"}),
        Reason("shared_language", {"language": "ar"}),
        Reason("distance", {"km": 0.0}),
        Reason("time_overlap", {"hours": 4.0}),
        Reason("waiting", {"days": 30}),
    )
    assert (result.offer_id, result.need_id, result.distance_km) == ("o1", "n1", 0.0)


def test_same_category_beats_parent_category() -> None:
    same = score(
        pair(
            offer(category=("education", "education-homework")),
            need(category=("education", "education-homework")),
        ),
        NOW,
    )
    parent = score(
        pair(offer(category=("education",)), need(category=("education", "education-homework"))),
        NOW,
    )
    assert same.score > parent.score
    assert Reason("same_category", {"category": "education-homework"}) in same.reasons
    assert (
        Reason("parent_category", {"category": "education", "subcategory": "education-homework"})
        in parent.reasons
    )


def test_fluent_on_both_sides_beats_basic() -> None:
    fluent = score(pair(offer(languages=("ar",)), need(languages=("ar",))), NOW)
    basic = score(
        pair(offer(languages=(LanguageSkill("ar", "basic"),)), need(languages=("ar",))), NOW
    )
    native = score(
        pair(
            offer(languages=(LanguageSkill("ar", "native"),)),
            need(languages=(LanguageSkill("ar", "native"),)),
        ),
        NOW,
    )
    assert native.score > fluent.score > basic.score


def test_the_best_shared_language_counts_and_all_are_named_best_first() -> None:
    candidate = pair(
        offer(languages=(LanguageSkill("de", "native"), LanguageSkill("ar", "basic"))),
        need(languages=(LanguageSkill("ar", "native"), LanguageSkill("DE-at", "fluent"))),
    )
    only_german = pair(
        offer(languages=(LanguageSkill("de", "native"),)),
        need(languages=(LanguageSkill("de", "fluent"),)),
    )
    result = score(candidate, NOW)
    assert [r for r in result.reasons if r.code == "shared_language"] == [
        Reason("shared_language", {"language": "de"}),
        Reason("shared_language", {"language": "ar"}),
    ]
    assert result.score == score(only_german, NOW).score


def test_distance_decays_to_a_little_at_the_edge() -> None:
    at_zero = score(pair(offer(radius_km=10), need(km=0)), NOW)
    halfway = score(pair(offer(radius_km=10), need(km=5)), NOW)
    at_edge = score(pair(offer(radius_km=10), need(km=10)), NOW)
    assert at_zero.score > halfway.score > at_edge.score
    assert at_zero.score - at_edge.score == pytest.approx(
        WEIGHT_DISTANCE * (1 - EDGE_OF_RADIUS_FIT)
    )
    assert Reason("distance", {"km": 5.0}) in halfway.reasons
    assert halfway.distance_km == pytest.approx(5.0)


def test_remote_only_pairs_get_a_neutral_distance_and_no_km() -> None:
    result = score(pair(offer(mode="remote", km=None), need(mode="remote", km=None)), NOW)
    assert Reason("remote", {}) in result.reasons
    assert "distance" not in codes(result)
    assert result.distance_km is None
    in_person = score(pair(offer(radius_km=10), need(km=5)), NOW)
    # Halfway to the edge: 1 - 0.9 * 0.5 = 0.55 against the neutral 0.5.
    assert in_person.score - result.score == pytest.approx(WEIGHT_DISTANCE * 0.05)


def test_either_on_both_sides_names_distance_and_remote() -> None:
    result = score(pair(offer(mode="either"), need(mode="either", km=3)), NOW)
    assert codes(result)[2:4] == ["distance", "remote"]
    assert result.distance_km == pytest.approx(3.0)


def test_time_overlap_counts_hours_shared_in_the_week() -> None:
    offer_slots = (TimeSlot(0, 9 * 60, 12 * 60), TimeSlot(3, 18 * 60, 20 * 60))
    need_slots = (TimeSlot(0, 11 * 60, 14 * 60), TimeSlot(3, 17 * 60, 19 * 60 + 30))
    result = score(pair(offer(slots=offer_slots), need(slots=need_slots)), NOW)
    assert Reason("time_overlap", {"hours": 2.5}) in result.reasons


def test_overlapping_slots_of_one_post_count_once() -> None:
    offer_slots = (TimeSlot(1, 600, 720), TimeSlot(1, 660, 720))
    need_slots = (TimeSlot(1, 0, 1440),)
    result = score(pair(offer(slots=offer_slots), need(slots=need_slots)), NOW)
    assert Reason("time_overlap", {"hours": 2.0}) in result.reasons


def test_no_overlap_ranks_below_unknown_availability() -> None:
    apart = score(pair(offer(slots=(TimeSlot(0, 0, 60),)), need(slots=(TimeSlot(1, 0, 60),))), NOW)
    unknown = score(pair(offer(slots=(TimeSlot(0, 0, 60),)), need()), NOW)
    assert "no_time_overlap" in codes(apart)
    assert "time_overlap" not in codes(unknown) and "no_time_overlap" not in codes(unknown)
    assert apart.score < unknown.score


def test_waiting_saturates_at_thirty_days() -> None:
    fresh = score(pair(need_post=need(waited_days=0)), NOW)
    twelve = score(pair(need_post=need(waited_days=12.5)), NOW)
    month = score(pair(need_post=need(waited_days=30)), NOW)
    year = score(pair(need_post=need(waited_days=365)), NOW)
    assert fresh.score < twelve.score < month.score == year.score
    assert "waiting" not in codes(fresh)
    assert Reason("waiting", {"days": 12}) in twelve.reasons


def test_a_need_published_in_the_future_has_not_waited() -> None:
    assert score(pair(need_post=need(waited_days=-1)), NOW).score == score(pair(), NOW).score


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        score(pair(), datetime(2025, 3, 1, 12))


def test_reasons_are_frozen_and_hashable() -> None:
    reason = Reason("shared_language", {"language": "ar"})
    assert reason == Reason("shared_language", {"language": "ar"})
    assert len({reason, Reason("shared_language", {"language": "ar"})}) == 1
    with pytest.raises(TypeError):
        reason.params["language"] = "fa"  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        reason.code = "x"  # type: ignore[misc]


def test_scored_rejects_a_score_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        Scored("o1", "n1", 1.5, (), None)


# Properties ---------------------------------------------------------------------------------


@settings(deadline=None)  # timing varies on shared CI machines
@given(candidates())
def test_score_is_always_within_zero_and_one(candidate: Candidate) -> None:
    result = score(candidate, NOW)
    assert 0.0 <= result.score <= 1.0
    assert {r.code for r in result.reasons} <= REASON_CODES
    for reason in result.reasons:
        assert all(isinstance(v, str | int | float) for v in reason.params.values())


@settings(deadline=None)  # timing varies on shared CI machines
@given(candidates(), st.floats(0, 80), st.floats(0, 80))
def test_nearer_is_never_worse(candidate: Candidate, near: float, far: float) -> None:
    near, far = sorted((near, far))
    base = dataclasses.replace(candidate.offer, lat=52.52, lon=13.405)
    closer = dataclasses.replace(candidate, offer=base, need=_moved(candidate.need, near))
    further = dataclasses.replace(candidate, offer=base, need=_moved(candidate.need, far))
    assert score(closer, NOW).score >= score(further, NOW).score


@settings(deadline=None)  # timing varies on shared CI machines
@given(candidates(), st.floats(0, 400), st.floats(0, 400))
def test_longer_waiting_is_never_worse(candidate: Candidate, short: float, long: float) -> None:
    short, long = sorted((short, long))
    waited = [
        dataclasses.replace(
            candidate,
            need=dataclasses.replace(candidate.need, published_at=NOW - timedelta(days=days)),
        )
        for days in (short, long)
    ]
    assert score(waited[1], NOW).score >= score(waited[0], NOW).score


def _moved(post: PostFacts, km: float) -> PostFacts:
    lat, lon = north_of_berlin(km)
    return dataclasses.replace(post, lat=lat, lon=lon)
