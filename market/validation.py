"""Shared field rules, with messages written as plain gettext ids so forms can translate them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from market import languages as langs
from market.errors import Invalid
from market.i18n import LOCALES, N_
from market.security import contains_personal, is_breached
from market.text import clean_name

# Messages for pydantic's own error types, in words a newcomer understands.
FRIENDLY: dict[str, str] = {
    "missing": N_("Please fill in this field."),
    "string_too_short": N_("This is too short."),
    "string_too_long": N_("This is too long."),
    "string_type": N_("Please enter text."),
    "literal_error": N_("Please choose one of the options."),
    "enum": N_("Please choose one of the options."),
    "bool_parsing": N_("Please answer yes or no."),
    "bool_type": N_("Please answer yes or no."),
    "int_parsing": N_("Please enter a whole number."),
    "int_type": N_("Please enter a whole number."),
    "float_parsing": N_("Please enter a number."),
    "float_type": N_("Please enter a number."),
    "greater_than_equal": N_("This number is too small."),
    "less_than_equal": N_("This number is too large."),
    "too_short": N_("Please choose at least one."),
    "too_long": N_("Please choose fewer."),
    "date_from_datetime_parsing": N_("Please enter a date like 2027-03-31."),
    "date_parsing": N_("Please enter a date like 2027-03-31."),
    "date_type": N_("Please enter a date like 2027-03-31."),
    "extra_forbidden": N_("This field is not allowed here."),
    "model_type": N_("Please send an object here."),
    "list_type": N_("Please send a list here."),
    "dict_type": N_("Please send an object here."),
}


def fail(code: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(code, message)


def _email(value: str) -> str:
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise fail("email", "Please enter a valid email address.") from None
    return result.normalized.lower()


BREACHED_PASSWORD = N_(
    "Many people use this password, and it is in lists of stolen passwords. Please choose another."
)
PERSONAL_PASSWORD = N_(
    "The password must not contain your name or the part of your email address before the @."
)


def _password(value: str) -> str:
    if len(value) < 12:
        raise fail("password_short", "Use at least 12 characters.")
    if len(value) > 256:
        raise fail("password_long", "Use at most 256 characters.")
    if is_breached(value):
        raise fail("password_breached", BREACHED_PASSWORD)
    return value


def check_password_personal(
    password: str, *, email: str | None, display_name: str | None, field: str = "password"
) -> None:
    """Refuse (422 on `field`) a password that holds the account's name or email local part.

    Every place that sets a password calls this once the address and name are known (for a
    reset or an invitation only after the token names the account)."""
    if contains_personal(password, email=email, display_name=display_name):
        raise Invalid.one(field, PERSONAL_PASSWORD)


def _display_name(value: Any) -> Any:
    return clean_name(value) if isinstance(value, str) else value


def _trimmed(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _locale(value: str) -> str:
    if value not in LOCALES:
        raise fail("locale", "Please choose one of the page languages.")
    return value


def _language_code(value: str) -> str:
    code = langs.normalise(value) if isinstance(value, str) else None
    if code is None or not langs.is_known(code):
        raise fail("language", "Please choose a language from the list.")
    return code


Email = Annotated[str, BeforeValidator(_trimmed), AfterValidator(_email)]
Password = Annotated[str, AfterValidator(_password)]
# Names are shown to other people: no bidi overrides or invisible characters (see clean_name).
# (The BeforeValidator is listed last so that it runs first, before the length rules.)
DisplayName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
    BeforeValidator(_display_name),
]
LocaleCode = Annotated[str, AfterValidator(_locale)]
LanguageCode = Annotated[str, AfterValidator(_language_code)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class LanguageSkill(Strict):
    code: LanguageCode
    level: Literal["native", "fluent", "basic"] = "fluent"


def _skill(value: Any) -> Any:
    # A bare tag means "fluent" (API.md).
    if isinstance(value, str):
        return {"code": value, "level": "fluent"}
    return value


Skill = Annotated[LanguageSkill, BeforeValidator(_skill)]


def unique_skills(skills: list[LanguageSkill]) -> list[LanguageSkill]:
    seen: dict[str, LanguageSkill] = {}
    for skill in skills:
        seen.setdefault(skill.code, skill)
    return list(seen.values())
