"""HTML pages for matches: my matches, a post's matches, one match with its conversation
(`people`), and the coordinators' matching run and unmatched needs (`review`); words and helpers
they share (`common`)."""

from starlette.routing import Route

from market.matches.views.common import HELPERS, decline_label
from market.matches.views.people import (
    accept,
    decline,
    match_detail,
    my_matches,
    outcome,
    post_matches,
    reopen,
    write_message,
)
from market.matches.views.review import matching_run, run_progress, unmatched

__all__ = ["HELPERS", "decline_label", "routes"]

routes = [
    Route("/my/matches", my_matches, methods=["GET"]),
    Route("/matches/{match_id}", match_detail, methods=["GET"]),
    Route("/matches/{match_id}/accept", accept, methods=["POST"]),
    Route("/matches/{match_id}/decline", decline, methods=["POST"]),
    Route("/matches/{match_id}/messages", write_message, methods=["POST"]),
    Route("/matches/{match_id}/outcome", outcome, methods=["POST"]),
    Route("/matches/{match_id}/reopen", reopen, methods=["POST"]),
    Route("/posts/{post_id}/matches", post_matches, methods=["GET"]),
    Route("/review/matching", matching_run, methods=["GET", "POST"]),
    Route("/review/unmatched", unmatched, methods=["GET"]),
    Route("/review/runs/{run_id}", run_progress, methods=["GET"]),
]
