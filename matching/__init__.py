"""Anlauf's matcher: rules, scores, rankings and assignments over plain facts.

Pure on purpose: no database, no web, no queue. The app loads candidate pairs with cheap SQL
filters, hands them in as frozen dataclasses and gets ranked pairs with reasons back.
"""

from matching.assign import assign, max_weight_matching, max_weight_matching_capped
from matching.bulk import FAILURE_ORDER, Judged, first_failures, judge_pairs
from matching.geo import EARTH_RADIUS_KM, haversine_km
from matching.languages import primary_tag
from matching.model import (
    DEFAULT_MAX_OPEN_MATCHES,
    DEFAULT_OFFER_RADIUS_KM,
    Candidate,
    Kind,
    LanguageSkill,
    Level,
    Mode,
    PostFacts,
    TimeSlot,
    VolunteerFacts,
)
from matching.nearby import nearby_pairs
from matching.rank import best_needs_for_offer, best_offers_for_need, fair_key, rank
from matching.rules import Failure, check, is_match, judge
from matching.score import Reason, ReasonParam, Scored, score

__all__ = [
    "DEFAULT_MAX_OPEN_MATCHES",
    "DEFAULT_OFFER_RADIUS_KM",
    "EARTH_RADIUS_KM",
    "FAILURE_ORDER",
    "Candidate",
    "Failure",
    "Judged",
    "Kind",
    "LanguageSkill",
    "Level",
    "Mode",
    "PostFacts",
    "Reason",
    "ReasonParam",
    "Scored",
    "TimeSlot",
    "VolunteerFacts",
    "assign",
    "best_needs_for_offer",
    "best_offers_for_need",
    "check",
    "fair_key",
    "first_failures",
    "haversine_km",
    "is_match",
    "judge",
    "judge_pairs",
    "max_weight_matching",
    "max_weight_matching_capped",
    "nearby_pairs",
    "primary_tag",
    "rank",
    "score",
]
