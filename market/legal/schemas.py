"""Input of the accessibility feedback form."""

from __future__ import annotations

from pydantic import Field

from market.validation import Email, Strict


class FeedbackIn(Strict):
    message: str = Field(min_length=10, max_length=4000)
    email: Email | None = None
