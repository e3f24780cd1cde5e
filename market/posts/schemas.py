"""Input shapes for offers and needs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from market.posts import taxonomy
from market.validation import LanguageCode, Strict, fail


def _category(value: str) -> str:
    if taxonomy.get(value) is None:
        raise fail("category", "Please choose a category from the list.")
    return value


def _unique(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))


Category = Annotated[str, AfterValidator(_category)]
Languages = Annotated[
    list[LanguageCode], Field(min_length=1, max_length=10), AfterValidator(_unique)
]


class LocationIn(Strict):
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    postcode: str | None = Field(default=None, max_length=16)
    city: str | None = Field(default=None, max_length=120)
    country: str | None = Field(default=None, max_length=2)

    @field_validator("postcode", "city", "country")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_form(self) -> LocationIn:
        if (self.lat is None) != (self.lon is None):
            missing = "lat" if self.lat is None else "lon"
            raise fail("location", f"Give both lat and lon (missing: {missing}).")
        if self.lat is None and not self.postcode and not self.city:
            raise fail("location", "Give coordinates, a postcode or a city.")
        return self


_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"


class SlotIn(Strict):
    """A weekly time window; weekday 0 is Monday."""

    weekday: int = Field(ge=0, le=6)
    start: str = Field(pattern=_TIME)
    end: str = Field(pattern=_TIME)

    @model_validator(mode="after")
    def _order(self) -> SlotIn:
        if minutes(self.end) <= minutes(self.start):
            raise fail("slot_order", "The end time must be after the start time.")
        return self


def minutes(hhmm: str) -> int:
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


Slots = Annotated[list[SlotIn], Field(max_length=21)]


class PostIn(Strict):
    kind: Literal["offer", "need"]
    category: Category
    title: str = Field(min_length=3, max_length=120)
    body: str = Field(default="", max_length=4000)
    languages: Languages
    mode: Literal["in_person", "remote", "either"] = "in_person"
    location: LocationIn | None = None
    radius_km: float | None = Field(default=None, ge=0, le=200)
    organisation_id: str | None = Field(default=None, max_length=32)
    seats: int | None = Field(default=None, ge=1, le=100)
    availability: Slots = Field(default_factory=list)

    @field_validator("title", mode="before")
    @classmethod
    def _strip_title(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value


class PostPatch(Strict):
    availability: Slots | None = None
    category: Category | None = None
    title: str | None = Field(default=None, min_length=3, max_length=120)
    body: str | None = Field(default=None, max_length=4000)
    languages: Languages | None = None
    mode: Literal["in_person", "remote", "either"] | None = None
    location: LocationIn | None = None
    radius_km: float | None = Field(default=None, ge=0, le=200)
    seats: int | None = Field(default=None, ge=1, le=100)


class SearchIn(Strict):
    kind: Literal["offer", "need"] | None = None
    category: Category | None = None
    language: LanguageCode | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    radius_km: float | None = Field(default=None, gt=0, le=500)
    place: str | None = Field(default=None, max_length=120)
    q: str | None = Field(default=None, max_length=200)
