"""The five matching rules of API.md, one by one: a pair that just passes, one that just fails."""

from __future__ import annotations

from datetime import timedelta

import pytest

from matching import Failure, LanguageSkill, check, haversine_km, is_match
from tests.matching.factories import TODAY, need, offer, pair, volunteer


def test_a_plain_pair_is_a_match() -> None:
    assert check(pair(), TODAY) == []
    assert is_match(pair(), TODAY)


# Rule 1: category ---------------------------------------------------------------------------


def test_need_in_a_subcategory_of_the_offer_matches() -> None:
    candidate = pair(
        offer(category=("education",)), need(category=("education", "education-homework"))
    )
    assert check(candidate, TODAY) == []


def test_need_in_a_sibling_subcategory_does_not_match() -> None:
    candidate = pair(
        offer(category=("accompaniment", "accompaniment-doctor")),
        need(category=("accompaniment", "accompaniment-authorities")),
    )
    assert check(candidate, TODAY) == [Failure.CATEGORY]


def test_need_in_the_parent_of_the_offer_category_does_not_match() -> None:
    # An offer for homework help does not cover every education need.
    candidate = pair(
        offer(category=("education", "education-homework")), need(category=("education",))
    )
    assert check(candidate, TODAY) == [Failure.CATEGORY]


def test_different_top_categories_do_not_match() -> None:
    assert check(pair(offer(category=("housing",)), need(category=("work",))), TODAY) == [
        Failure.CATEGORY
    ]


# Rule 2: language ---------------------------------------------------------------------------


def test_one_shared_language_is_enough() -> None:
    candidate = pair(offer(languages=("de", "ar")), need(languages=("ar", "fa")))
    assert check(candidate, TODAY) == []


def test_no_shared_language_fails() -> None:
    candidate = pair(offer(languages=("de", "en")), need(languages=("ar", "fa")))
    assert check(candidate, TODAY) == [Failure.LANGUAGE]


@pytest.mark.parametrize(("ours", "theirs"), [("ar-SY", "ar"), ("AR", "ar"), ("uk", "UK-ua")])
def test_languages_compare_by_primary_tag_ignoring_case(ours: str, theirs: str) -> None:
    assert check(pair(offer(languages=(ours,)), need(languages=(theirs,))), TODAY) == []


def test_a_basic_level_still_counts_as_shared() -> None:
    candidate = pair(offer(languages=(LanguageSkill("ar", "basic"),)), need(languages=("ar",)))
    assert check(candidate, TODAY) == []


def test_distinct_languages_with_similar_tags_do_not_match() -> None:
    # Dari (prs) and Persian (fa) have separate tags; the matcher does not guess kinship.
    assert check(pair(offer(languages=("fa",)), need(languages=("prs",))), TODAY) == [
        Failure.LANGUAGE
    ]


# Rule 3: location and mode ------------------------------------------------------------------


def test_just_inside_the_offer_radius_matches() -> None:
    assert check(pair(offer(radius_km=10), need(km=9.99)), TODAY) == []


def test_just_outside_the_offer_radius_fails() -> None:
    assert check(pair(offer(radius_km=10), need(km=10.01)), TODAY) == [Failure.DISTANCE]


def test_the_need_radius_counts_when_given() -> None:
    assert check(pair(offer(radius_km=10), need(km=4.99, radius_km=5)), TODAY) == []
    assert check(pair(offer(radius_km=10), need(km=5.01, radius_km=5)), TODAY) == [Failure.DISTANCE]


def test_a_wider_need_radius_does_not_stretch_the_offer_radius() -> None:
    assert check(pair(offer(radius_km=10), need(km=10.01, radius_km=50)), TODAY) == [
        Failure.DISTANCE
    ]


def test_an_offer_without_radius_reaches_the_api_default_of_10_km() -> None:
    assert check(pair(offer(radius_km=None), need(km=9.99)), TODAY) == []
    assert check(pair(offer(radius_km=None), need(km=10.01)), TODAY) == [Failure.DISTANCE]


def test_in_person_without_coordinates_cannot_be_within_reach() -> None:
    assert check(pair(offer(), need(km=None)), TODAY) == [Failure.DISTANCE]


# Rows: offer mode, need mode, whether the need is far away (50 km, radius 10) -> failures.
MODES = [
    ("in_person", "in_person", False, []),
    ("in_person", "either", False, []),
    ("either", "in_person", False, []),
    ("either", "either", False, []),
    ("remote", "remote", False, []),
    ("remote", "either", False, []),
    ("either", "remote", False, []),
    ("in_person", "remote", False, [Failure.MODE]),
    ("remote", "in_person", False, [Failure.MODE]),
    ("in_person", "in_person", True, [Failure.DISTANCE]),
    ("in_person", "either", True, [Failure.DISTANCE]),
    ("either", "in_person", True, [Failure.DISTANCE]),
    ("either", "either", True, []),
    ("remote", "remote", True, []),
    ("either", "remote", True, []),
    ("in_person", "remote", True, [Failure.MODE]),
]


@pytest.mark.parametrize(("offer_mode", "need_mode", "far", "failures"), MODES)
def test_mode_combinations(
    offer_mode: str, need_mode: str, far: bool, failures: list[Failure]
) -> None:
    candidate = pair(
        offer(mode=offer_mode, radius_km=10),  # type: ignore[arg-type]
        need(mode=need_mode, km=50 if far else 1),  # type: ignore[arg-type]
    )
    assert check(candidate, TODAY) == failures


def test_remote_pairs_need_no_coordinates() -> None:
    assert check(pair(offer(mode="remote", km=None), need(mode="either", km=None)), TODAY) == []


# Rule 4: published, approved, certificate ---------------------------------------------------


@pytest.mark.parametrize(("offer_published", "need_published"), [(False, True), (True, False)])
def test_both_posts_must_be_published(offer_published: bool, need_published: bool) -> None:
    candidate = pair(offer(published=offer_published), need(published=need_published))
    assert check(candidate, TODAY) == [Failure.NOT_PUBLISHED]


def test_the_volunteer_must_be_approved() -> None:
    assert check(pair(by=volunteer(approved=False)), TODAY) == [Failure.NOT_APPROVED]


def test_a_certificate_valid_until_today_counts() -> None:
    candidate = pair(by=volunteer(certificate_until=TODAY), requires_certificate=True)
    assert check(candidate, TODAY) == []


def test_a_certificate_expired_yesterday_fails() -> None:
    yesterday = TODAY - timedelta(days=1)
    candidate = pair(by=volunteer(certificate_until=yesterday), requires_certificate=True)
    assert check(candidate, TODAY) == [Failure.CERTIFICATE]


def test_no_certificate_fails_only_where_one_is_required() -> None:
    assert check(pair(requires_certificate=True), TODAY) == [Failure.CERTIFICATE]
    assert check(pair(requires_certificate=False), TODAY) == []


# Rule 5: declined before --------------------------------------------------------------------


def test_a_declined_pair_is_never_a_match_again() -> None:
    assert check(pair(declined_before=True), TODAY) == [Failure.DECLINED]
    assert check(pair(declined_before=False), TODAY) == []


# All together -------------------------------------------------------------------------------


def test_every_failure_is_reported_in_rule_order() -> None:
    candidate = pair(
        offer(category=("work",), languages=("en",), mode="in_person", published=False),
        need(category=("housing",), languages=("ar",), mode="remote"),
        by=volunteer(approved=False),
        requires_certificate=True,
        declined_before=True,
    )
    assert check(candidate, TODAY) == [
        Failure.CATEGORY,
        Failure.LANGUAGE,
        Failure.MODE,
        Failure.NOT_PUBLISHED,
        Failure.NOT_APPROVED,
        Failure.CERTIFICATE,
        Failure.DECLINED,
    ]


def test_failure_codes_are_stable_strings() -> None:
    assert [f.value for f in Failure] == [
        "category",
        "language",
        "distance",
        "mode",
        "not_published",
        "not_approved",
        "certificate",
        "declined",
    ]


def test_haversine_known_distance() -> None:
    # Berlin Alexanderplatz to Munich Marienplatz: about 504 km.
    assert haversine_km(52.5219, 13.4132, 48.1374, 11.5755) == pytest.approx(504, abs=2)
    assert haversine_km(10.0, 20.0, 10.0, 20.0) == 0.0
    assert haversine_km(0.0, 0.0, 0.0, 180.0) == pytest.approx(20015, abs=1)
