"""Reasons a coordinator can give for rejecting a post, shown to the author in their language.

A coordinator picks one of these codes, or writes their own words (shown as written).
`TEMPLATE_HELPERS` joins market.forms.HELPERS at start (market/features.py `helpers=`).
"""

from __future__ import annotations

from typing import Any

from market.i18n import N_, gettext

POST_REJECTION_REASONS: dict[str, str] = {
    "incomplete": N_("Please say more clearly what you offer or need."),
    "contact_data": N_(
        "Please remove phone numbers, addresses and other contact data. "
        "You will see each other's contact after you both accept a match."
    ),
    "commercial": N_("Anlauf is for free help. Paid offers and advertising are not allowed."),
    "wrong_category": N_("Please choose the category that fits your post."),
    "duplicate": N_("You have posted this already."),
    "unsafe": N_("This post is not allowed because it could put someone at risk."),
}


def reason_text(reason: str | None) -> str | None:
    """The reason in the reader's language when it is a known code, else the coordinator's words."""
    if not reason:
        return None
    message = POST_REJECTION_REASONS.get(reason)
    return gettext(message) if message else reason


def rejection_reason_options() -> list[tuple[str, str]]:
    return [(code, gettext(message)) for code, message in POST_REJECTION_REASONS.items()]


def reason_choices() -> list[tuple[str, str]]:
    """The reason drop-down of the review and take-down forms: choose, a code, or own words."""
    return [
        ("", gettext("Please choose")),
        *rejection_reason_options(),
        ("other", gettext("Other reason (write it below)")),
    ]


def reason_from_form(code: str, own_words: str) -> str:
    """What a coordinator gave as the reason: a known code, their own words for "other", and ''
    for no choice or a code that is not on the list (the form then asks again)."""
    if code == "other":
        return own_words
    return code if code in POST_REJECTION_REASONS else ""


TEMPLATE_HELPERS: dict[str, Any] = {
    "reason_text": reason_text,
    "rejection_reason_options": rejection_reason_options,
}
