"""The rejection reason read from the review and take-down forms, one rule for both pages."""

from __future__ import annotations

from market.vetting.reasons import POST_REJECTION_REASONS, reason_choices, reason_from_form


def test_a_known_code_is_kept() -> None:
    assert reason_from_form("contact_data", "ignored") == "contact_data"


def test_other_takes_the_coordinators_own_words() -> None:
    assert reason_from_form("other", "Bitte ohne Preise.") == "Bitte ohne Preise."
    assert reason_from_form("other", "") == ""


def test_no_choice_or_an_unknown_code_gives_nothing_so_the_form_asks_again() -> None:
    assert reason_from_form("", "words") == ""
    assert reason_from_form("made-up", "words") == ""


def test_the_choices_are_choose_every_code_then_own_words() -> None:
    codes = [code for code, _label in reason_choices()]
    assert codes == ["", *POST_REJECTION_REASONS, "other"]
