"""Input shapes for accounts, shared by the JSON API and the HTML forms."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from market.validation import (
    DisplayName,
    Email,
    LanguageSkill,
    LocaleCode,
    Password,
    Skill,
    Strict,
    unique_skills,
)

Skills = Annotated[list[Skill], Field(max_length=20), AfterValidator(unique_skills)]


class OrganisationIn(Strict):
    name: str = Field(min_length=2, max_length=160)
    website: str | None = Field(default=None, max_length=300)

    @field_validator("website")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            value = "https://" + value
        if "." not in value or " " in value:
            raise ValueError("Please enter a web address like https://example.org.")
        return value


class RegisterIn(Strict):
    email: Email
    password: Password
    display_name: DisplayName
    role: Literal["volunteer", "seeker", "organisation"]
    locale: LocaleCode = "de"
    languages: Skills = Field(default_factory=list)
    organisation: OrganisationIn | None = None


class TokenIn(Strict):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    # With two-factor sign-in on: a current authenticator code or a recovery code.
    otp: str | None = Field(default=None, max_length=64)


class OtpIn(Strict):
    """A current authenticator code (or, where it says so, a recovery code)."""

    code: str = Field(min_length=1, max_length=64)


class TwoFactorOffIn(Strict):
    """Switching two-factor sign-in off: a current code, or the password."""

    code: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, max_length=1024)


class VerifyIn(Strict):
    token: str = Field(min_length=10, max_length=200)


class ResetRequestIn(Strict):
    email: Email


class ResetIn(Strict):
    token: str = Field(min_length=10, max_length=200)
    password: Password


class MePatch(Strict):
    display_name: DisplayName | None = None
    locale: LocaleCode | None = None
    languages: Skills | None = None


class PasswordChangeIn(Strict):
    current_password: str = Field(max_length=1024)
    new_password: Password


class DeleteIn(Strict):
    password: str = Field(max_length=1024)


def skills_as_tuples(skills: list[LanguageSkill]) -> list[tuple[str, str]]:
    return [(s.code, s.level) for s in skills]
