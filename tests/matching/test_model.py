"""The facts refuse values that would make the rules quietly wrong."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from matching import LanguageSkill, PostFacts, TimeSlot, primary_tag
from tests.matching.factories import NOW, need, offer, pair, volunteer


def test_time_slots_stay_within_one_day() -> None:
    TimeSlot(6, 0, 1440)
    for bad in [(7, 0, 60), (-1, 0, 60), (0, 60, 60), (0, 120, 60), (0, 0, 1441)]:
        with pytest.raises(ValueError):
            TimeSlot(*bad)


def test_language_skill_defaults_to_fluent_and_checks_its_level() -> None:
    assert LanguageSkill("ar").level == "fluent"
    with pytest.raises(ValueError, match="unknown language level"):
        LanguageSkill("ar", "expert")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be empty"):
        LanguageSkill(" ")


def test_primary_tag() -> None:
    assert [primary_tag(c) for c in ("ar", "AR-sy", "de_AT", " uk ")] == ["ar", "ar", "de", "uk"]


def test_category_path_must_end_with_the_category() -> None:
    with pytest.raises(ValueError, match="category_path must end with the category"):
        dataclasses.replace(offer(), category="education")
    with pytest.raises(ValueError, match="category_path must end with the category"):
        dataclasses.replace(offer(), category_path=())


def test_coordinates_come_in_pairs_and_within_range() -> None:
    with pytest.raises(ValueError, match="together"):
        dataclasses.replace(offer(), lat=None)
    with pytest.raises(ValueError, match="lat must be within"):
        dataclasses.replace(offer(), lat=91.0)
    with pytest.raises(ValueError, match="lon must be within"):
        dataclasses.replace(offer(), lon=-181.0)


def test_radius_is_not_negative_and_times_are_aware() -> None:
    with pytest.raises(ValueError, match="radius_km must not be negative"):
        dataclasses.replace(offer(), radius_km=-1.0)
    with pytest.raises(ValueError, match="timezone-aware"):
        dataclasses.replace(need(), published_at=datetime(2025, 1, 1))


def test_kind_and_mode_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown post kind"):
        dataclasses.replace(offer(), kind="wish")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown mode"):
        dataclasses.replace(offer(), mode="telepathy")  # type: ignore[arg-type]


def test_a_candidate_puts_the_offer_first() -> None:
    with pytest.raises(ValueError, match="post 'n1' given as the offer is a need"):
        pair(need(), need())
    with pytest.raises(ValueError, match="post 'o1' given as the need is an offer"):
        pair(offer(), offer())


def test_room_for_matches() -> None:
    assert volunteer().room_for_matches == 5
    assert volunteer(open_matches=4).room_for_matches == 1
    assert volunteer(open_matches=7).room_for_matches == 0
    with pytest.raises(ValueError, match="must not be negative"):
        volunteer(open_matches=-1)


def test_facts_are_frozen() -> None:
    post: PostFacts = offer()
    with pytest.raises(dataclasses.FrozenInstanceError):
        post.published = False  # type: ignore[misc]
    assert post.published_at < NOW
