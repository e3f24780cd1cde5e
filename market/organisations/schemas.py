"""Input shapes for organisations, invitations, postings, applications and clients."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from market.accounts.schemas import Skills
from market.posts.schemas import Languages
from market.validation import DisplayName, Email, LocaleCode, Password, Strict, fail


def _blank_is_none(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


OptionalText = BeforeValidator(_blank_is_none)


class OrganisationPatch(Strict):
    """What an owner may change; the name only until a coordinator has approved it."""

    name: str | None = Field(default=None, min_length=2, max_length=160)
    website: Annotated[str | None, OptionalText] = Field(default=None, max_length=300)
    description: Annotated[str | None, OptionalText] = Field(default=None, max_length=4000)
    address: Annotated[str | None, OptionalText] = Field(default=None, max_length=300)

    @field_validator("name", mode="before")
    @classmethod
    def _strip_name(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("website")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # The rule of registration (accounts.schemas.OrganisationIn).
        if not value.startswith(("http://", "https://")):
            value = "https://" + value
        if "." not in value or " " in value:
            raise ValueError("Please enter a web address like https://example.org.")
        return value


class InvitationIn(Strict):
    email: Email
    role: Literal["owner", "member"] = "member"


class TokenIn(Strict):
    token: str = Field(min_length=10, max_length=200)


class InvitationSignupIn(Strict):
    """An invitee without an account signs up through the invitation (see services)."""

    token: str = Field(min_length=10, max_length=200)
    password: Password
    display_name: DisplayName
    locale: LocaleCode = "de"
    languages: Skills = Field(default_factory=list)


class MemberPatch(Strict):
    role: Literal["owner", "member"]


class PostingIn(Strict):
    training: Annotated[str | None, OptionalText] = Field(default=None, max_length=300)
    police_certificate: bool = False
    hours_per_week: float | None = Field(default=None, gt=0, le=60)
    duration: Annotated[str | None, OptionalText] = Field(default=None, max_length=120)


class ApplicationIn(Strict):
    message: str = Field(default="", max_length=2000)


class DecisionIn(Strict):
    decision: Literal["accept", "decline"]
    message: Annotated[str | None, OptionalText] = Field(default=None, max_length=2000)


def _label(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise fail("label", "Please give a first name or initials.")
    return value


def _consent(value: bool) -> bool:
    if value is not True:
        raise fail("consent", "The person must agree before you store anything about them.")
    return value


class ClientIn(Strict):
    first_name_or_initials: Annotated[
        str, Field(min_length=1, max_length=40), AfterValidator(_label)
    ]
    languages: Languages
    consent: Annotated[bool, Field(strict=True), AfterValidator(_consent)]


__all__ = [
    "ApplicationIn",
    "ClientIn",
    "DecisionIn",
    "InvitationIn",
    "InvitationSignupIn",
    "MemberPatch",
    "OrganisationPatch",
    "PostingIn",
    "TokenIn",
]
