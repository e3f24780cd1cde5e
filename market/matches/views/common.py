"""Words, helpers and the page wrapper shared by the match pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from market import forms
from market.accounts.models import User
from market.conversations import messages
from market.errors import Invalid
from market.forms import page
from market.i18n import N_
from market.matches import (
    reasons,
)
from market.web import db, redirect, with_flash

PAGE_SIZE = 20
OLDER_SHOWN = 30  # declined and ended matches listed on /my/matches, newest first

MSG_ACCEPTED = N_("Thank you. We tell you when the other side says yes too.")
MSG_CONNECTED = N_("You both said yes. Open the match to see the contact and write a message.")
MSG_CONNECTED_HERE = N_("You both said yes. Now you can see the contact and write a message.")
MSG_DECLINED = N_("You said no, thank you. We do not suggest this pair again.")
MSG_TOO_LATE = N_("This match is not waiting for an answer any more.")
MSG_SENT = N_("Your message is sent.")
MSG_RUN_DONE = N_("The matches are made. Both sides get a message and can say yes or no.")
MSG_PLAN_CHANGED = N_(
    "Posts changed since you looked. Here is the new plan. Please check it and confirm again."
)
MSG_NOT_YET = N_("You can write to each other once you both said yes.")
MSG_REOPENED = N_("We look for someone else for your request and tell you when we find someone.")
MSG_OUTCOME_SAVED = N_("Thank you for your answer.")
MSG_OUTCOME_NOT_MET = N_(
    "Thank you for your answer. If you still need help, you can ask us to look for someone else."
)

# --- Words for pages (message ids, translated in templates with _())

MATCH_STATUS_LABELS = {
    "proposed": N_("Suggested"),
    "connected": N_("Connected"),
    "declined": N_("Declined"),
    "closed": N_("Ended"),
    "expired": N_("Ended without an answer"),
}
# Why a party said no (models.DECLINE_REASONS): the decline form's choices, shown to coordinators.
DECLINE_REASON_LABELS = {
    "not_available": N_("I have no time at the moment"),
    "too_far": N_("It is too far away"),
    "language": N_("We do not share a language"),
    "not_suitable": N_("It does not fit what I need or offer"),
    "other": N_("Another reason"),
}
RESPONSE_LABELS = {
    "pending": N_("Waiting for your answer"),
    "accepted": N_("You said yes"),
    "declined": N_("You said no"),
}
CLOSED_LABELS = {
    "post_closed": N_("One of the two posts was closed."),
    "expired": N_("One of the two posts has expired."),
    "rejected": N_("One of the two posts was taken down."),
    "unpublished": N_("One of the two posts was taken down."),
    # Follow-through (market.matches.followthrough).
    "no_answer": N_("Nobody answered within 7 days."),
    "coordinator": N_("A coordinator withdrew this match because nobody answered."),
    "reopened": N_("This match did not happen. We look for someone else."),
}
CLOSED_OTHER = N_("The two posts do not fit together any more.")


def fit_label(score: float) -> str:
    """The score in words: people understand "very good fit" better than 0.68."""
    if score >= 0.65:
        return N_("Very good fit")
    if score >= 0.45:
        return N_("Good fit")
    return N_("Possible fit")


def fit_percent(score: float) -> int:
    return max(5, min(100, round(score * 100)))


def closed_label(reason: str | None) -> str:
    return CLOSED_LABELS.get(reason or "", CLOSED_OTHER)


DECLINE_NONE = N_("No reason given")


def decline_label(reason: str | None) -> str:
    """A decline reason's words (a message id); "none" and unknown values: no reason given."""
    return DECLINE_REASON_LABELS.get(reason or "", DECLINE_NONE)


HELPERS: dict[str, Any] = {
    "MATCH_STATUS_LABELS": MATCH_STATUS_LABELS,
    "RESPONSE_LABELS": RESPONSE_LABELS,
    "DECLINE_REASON_LABELS": DECLINE_REASON_LABELS,
    "fit_label": fit_label,
    "fit_percent": fit_percent,
    "closed_label": closed_label,
    "decline_label": decline_label,
}


async def _page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    return await page(request, template, {**HELPERS, **context}, status_code=status_code)


def _reason_texts(items: list[dict[str, Any]]) -> list[str]:
    """The reasons in words; the distance is shown on its own (rounded), so it is left out."""
    return reasons.texts([r for r in items if r.get("code") != "distance"])


async def write_from_form(
    request: Request,
    user: User,
    form: FormData,
    conversation_id: str,
    back: str,
    show_again: Callable[[str, dict[str, str]], Awaitable[Response]],
) -> Response:
    """The form's message written into the conversation, then back to its page with a flash;
    bad input shows the page again (`show_again(body, errors)`, 422) with what was typed.
    The match page and the conversation page both write this way."""
    body = str(form.get("body") or "")
    try:
        await messages.post_message(db(request), user, conversation_id, body)
    except Invalid as exc:
        return await show_again(body, forms.errors_of(exc))
    return redirect(with_flash(back, MSG_SENT) + "#messages")
