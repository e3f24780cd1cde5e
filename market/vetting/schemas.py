"""Input shapes for coordinators' decisions and for reports."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from market.validation import Strict


class Checks(Strict):
    identity: bool = False
    interview: bool = False
    code_of_conduct: bool = False


class VolunteerDecisionIn(Strict):
    decision: Literal["approve", "reject"]
    checks: Checks = Checks()
    police_certificate_until: date | None = None
    # The certificate's own date and the day it was seen (docs/api-additions.md); the day seen
    # is today when left out and a certificate date is given.
    police_certificate_issued_on: date | None = None
    police_certificate_seen_on: date | None = None
    note: str | None = Field(default=None, max_length=4000)


class PostDecisionIn(Strict):
    decision: Literal["publish", "reject"]
    reason: str | None = Field(default=None, max_length=2000)


class OrganisationDecisionIn(Strict):
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=2000)


class ReportIn(Strict):
    target_type: Literal["post", "message", "user"]
    target_id: str = Field(min_length=1, max_length=32)
    reason: str = Field(min_length=3, max_length=2000)


class ResolveIn(Strict):
    resolution: str = Field(min_length=2, max_length=2000)
