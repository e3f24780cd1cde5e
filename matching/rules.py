"""The five matching rules of API.md, each failure named by a code the app can explain."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from matching.categories import levels_below
from matching.languages import shared_between
from matching.model import Candidate
from matching.reach import reach
from matching.score import Scored, scored


class Failure(StrEnum):
    """Why a pair is not a match; the values are stable and meant for the app to translate."""

    # Rule 1: the need's category is neither the offer's nor one of its subcategories.
    CATEGORY = "category"
    # Rule 2: no language in common.
    LANGUAGE = "language"
    # Rule 3: both could meet in person but are too far apart (or a location is missing), and
    # they cannot both meet remotely.
    DISTANCE = "distance"
    # Rule 3: one side only meets in person and the other only remotely.
    MODE = "mode"
    # Rule 4: the offer or the need is not published.
    NOT_PUBLISHED = "not_published"
    # Rule 4: the offer's author is not an approved volunteer.
    NOT_APPROVED = "not_approved"
    # Rule 4: the category asks for a police certificate and there is none valid today.
    CERTIFICATE = "certificate"
    # Rule 5: someone declined this pair before.
    DECLINED = "declined"


def check(candidate: Candidate, today: date) -> list[Failure]:
    """Every rule the pair breaks, in the order of API.md; empty when it is a match.

    All failures are reported, not just the first, so that the app can tell a seeker the most
    useful thing ("no offer in your language") whichever rule it looks at.
    """
    offer, need, volunteer = candidate.offer, candidate.need, candidate.volunteer
    failures: list[Failure] = []

    if levels_below(offer, need) is None:
        failures.append(Failure.CATEGORY)

    if not shared_between(offer, need):
        failures.append(Failure.LANGUAGE)

    where = reach(offer, need)
    if not (where.remote or where.in_person):
        failures.append(Failure.DISTANCE if where.in_person_capable else Failure.MODE)

    if not (offer.published and need.published):
        failures.append(Failure.NOT_PUBLISHED)
    if not volunteer.approved:
        failures.append(Failure.NOT_APPROVED)
    if candidate.requires_certificate and not _certificate_valid(
        volunteer.police_certificate_until, today
    ):
        failures.append(Failure.CERTIFICATE)

    if candidate.declined_before:
        failures.append(Failure.DECLINED)
    return failures


def is_match(candidate: Candidate, today: date) -> bool:
    """Whether the pair satisfies all five rules."""
    return not check(candidate, today)


def judge(candidate: Candidate, now: datetime, today: date) -> Scored | None:
    """`score(candidate, now)` when the pair is a match (`check(candidate, today)` is empty),
    else None.

    What a ranking calls for every pair: the cheap rules first, and the category fit, the shared
    languages and the reach worked out once for both the rules and the score.
    """
    offer, need, volunteer = candidate.offer, candidate.need, candidate.volunteer
    if candidate.declined_before or not (offer.published and need.published and volunteer.approved):
        return None
    if candidate.requires_certificate and not _certificate_valid(
        volunteer.police_certificate_until, today
    ):
        return None
    below = levels_below(offer, need)
    if below is None:
        return None
    shared = shared_between(offer, need)
    if not shared:
        return None
    where = reach(offer, need)
    if not (where.remote or where.in_person):
        return None
    return scored(candidate, now, below, shared, where)


def _certificate_valid(until: date | None, today: date) -> bool:
    # `until` is the last valid day, so a certificate running out today still counts today.
    return until is not None and until >= today
