"""Input shapes for services and events (API.md, Directory of services and events)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from market.posts.schemas import Category, SlotIn
from market.validation import Email, LanguageCode, Strict, fail

BERLIN = ZoneInfo("Europe/Berlin")
_PHONE = re.compile(r"^\+?[0-9 ()/\-]{4,40}$")


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _blank_none(value: object) -> object:
    return (value.strip() or None) if isinstance(value, str) else value


def _phone(value: str) -> str:
    if not _PHONE.match(value):
        raise fail("phone", "Please enter a phone number with digits only, like +49 341 123456.")
    return value


def _website(value: str) -> str:
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE) or len(value) > 300:
        raise fail("website", "Please enter a web address starting with https://.")
    return value


Topics = Annotated[list[Category], Field(min_length=1, max_length=5), AfterValidator(_unique)]
Languages = Annotated[
    list[LanguageCode], Field(min_length=1, max_length=20), AfterValidator(_unique)
]
Phone = Annotated[
    str | None, BeforeValidator(_blank_none), AfterValidator(lambda v: v and _phone(v))
]
Website = Annotated[
    str | None, BeforeValidator(_blank_none), AfterValidator(lambda v: v and _website(v))
]
OptionalEmail = Annotated[Email | None, BeforeValidator(_blank_none)]
Hours = Annotated[list[SlotIn], Field(max_length=28)]


class PointIn(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


def _name(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class _Common(Strict):
    name: Annotated[str, BeforeValidator(_name), Field(min_length=3, max_length=120)]
    organisation_id: str | None = Field(default=None, max_length=32)
    topics: Topics
    description: str = Field(default="", max_length=4000)
    languages: Languages
    address: Annotated[str, BeforeValidator(_name), Field(min_length=3, max_length=200)]
    # Without it the address is placed by the offline gazetteer (a postcode or a city in it).
    location: PointIn | None = None
    phone: Phone = None
    email: OptionalEmail = None
    website: Website = None


class ServiceIn(_Common):
    opening_hours: Hours = Field(default_factory=list)


class ServicePatch(Strict):
    name: Annotated[str, BeforeValidator(_name), Field(min_length=3, max_length=120)] | None = None
    topics: Topics | None = None
    description: str | None = Field(default=None, max_length=4000)
    languages: Languages | None = None
    address: Annotated[str, BeforeValidator(_name), Field(min_length=3, max_length=200)] | None = (
        None
    )
    location: PointIn | None = None
    phone: Phone = None
    email: OptionalEmail = None
    website: Website = None
    opening_hours: Hours | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None


def in_berlin(value: datetime) -> datetime:
    """A time without a zone is meant in Europe/Berlin, where the events take place."""
    return value.replace(tzinfo=BERLIN) if value.tzinfo is None else value


class EventIn(_Common):
    starts_at: datetime
    ends_at: datetime

    @field_validator("starts_at")
    @classmethod
    def _zone(cls, value: datetime) -> datetime:
        return in_berlin(value)

    @field_validator("ends_at")
    @classmethod
    def _order(cls, value: datetime, info: ValidationInfo) -> datetime:
        # A field validator, so that the error names `ends_at` (a model validator names none).
        value = in_berlin(value)
        starts = info.data.get("starts_at")
        if isinstance(starts, datetime) and value <= starts:
            raise fail("ends_at", "The end must be after the start.")
        return value


def _day_or_time(value: object) -> object:
    """`from`/`to`: an ISO date (its midnight in Berlin) or an ISO timestamp."""
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            return value
        return datetime.combine(day, time(0), tzinfo=BERLIN)
    return value


When = Annotated[datetime, BeforeValidator(_day_or_time), AfterValidator(in_berlin)]


class ServiceSearch(Strict):
    topic: Category | None = None
    language: LanguageCode | None = None
    q: str | None = Field(default=None, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    radius_km: float | None = Field(default=None, gt=0, le=500)
    place: str | None = Field(default=None, max_length=120)
    open_now: bool = False


class EventSearch(Strict):
    topic: Category | None = None
    language: LanguageCode | None = None
    q: str | None = Field(default=None, max_length=200)
    from_: When | None = Field(default=None, alias="from")
    to: When | None = None


class DecisionIn(Strict):
    decision: Literal["publish", "reject"]
    reason: str = Field(default="", max_length=1000)


class ReferralIn(Strict):
    service_id: str = Field(min_length=1, max_length=32)
    need_id: str | None = Field(default=None, max_length=32)
    match_id: str | None = Field(default=None, max_length=32)
    note: str = Field(default="", max_length=1000)

    @model_validator(mode="after")
    def _one(self) -> ReferralIn:
        if bool(self.need_id) == bool(self.match_id):
            raise fail("need_id", "Give a need or a match.")
        return self
