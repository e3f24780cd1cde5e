"""HTML form helpers: validate with the API's pydantic schemas, errors as plain message ids.

A form is read into a dict (blank inputs left out, so a required field says "Please fill in
this field." rather than "This is too short."), validated with the same model as the JSON API,
and every problem is turned into one message per form field. Messages are gettext ids; the
templates translate them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse

from market import languages
from market.errors import Invalid
from market.i18n import N_
from market.validation import FRIENDLY
from market.web import render

M = TypeVar("M", bound=BaseModel)
Rename = Callable[[str], str]
Errors = dict[str, str]


# --- Reading a form


def text(form: FormData | Mapping[str, Any], name: str) -> str:
    """One text input, stripped; "" when absent."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def getlist(form: FormData, name: str) -> list[str]:
    """A multi-value input (checkboxes, a multiple select): the non-blank values, in order."""
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]


def checked(form: FormData, name: str) -> bool:
    return bool(text(form, name))


def present(**fields: Any) -> dict[str, Any]:
    """Only the fields that were filled in: blank text, None and empty lists are left out."""
    return {k: v for k, v in fields.items() if v is not None and v != "" and v != [] and v != {}}


LEVEL_SLOTS = 20  # the most language rows any form reads (a user may have saved more than 3)


def language_slots(form: FormData) -> tuple[list[dict[str, str]], list[int]]:
    """Spoken languages from rows language_N / level_N: the skills and the row of each."""
    skills: list[dict[str, str]] = []
    rows: list[int] = []
    for n in range(1, LEVEL_SLOTS + 1):
        code = text(form, f"language_{n}")
        if not code:
            continue
        skills.append({"code": code, "level": text(form, f"level_{n}") or "fluent"})
        rows.append(n)
    return skills, rows


def slot_values(
    form: FormData | None, skills: Iterable[Any] = (), minimum: int = 3
) -> list[dict[str, str]]:
    """The rows to show in a language picker: what was submitted, else what is stored."""
    rows: list[dict[str, str]] = []
    if form is not None:
        for n in range(1, LEVEL_SLOTS + 1):
            code, level = text(form, f"language_{n}"), text(form, f"level_{n}")
            if code or f"language_{n}" in form:
                rows.append({"code": code, "level": level or "fluent"})
        while rows and not rows[-1]["code"] and len(rows) > minimum:
            rows.pop()
    else:
        rows = [{"code": s.code, "level": s.level} for s in skills]
    while len(rows) < minimum:
        rows.append({"code": "", "level": "fluent"})
    return rows


# --- Errors


def _clean_loc(loc: Iterable[Any]) -> list[str]:
    parts: list[str] = []
    for part in loc:
        # Union branches and validators put their tag names into loc; keep the real path only.
        if isinstance(part, str) and (
            part.startswith(("function-", "json-or-python", "lax-or-strict"))
            or "[" in part
            or part in {"str", "int", "float", "bool", "none"}
            or part.endswith(("Location", "Language", "LanguageSkill", "In"))
        ):
            continue
        parts.append(str(part))
    return parts


def default_field(path: str) -> str:
    """A dotted error path to a form field; list items name their list: languages.0 -> languages."""
    parts = path.split(".")
    for i, part in enumerate(parts):
        if part.isdigit():
            return ".".join(parts[:i])
    return path


def _message(err: Mapping[str, Any]) -> str:
    # An empty text field is "missing" to the person filling the form, not "too short".
    if err.get("type") == "string_too_short" and not str(err.get("input") or "").strip():
        return FRIENDLY["missing"]
    friendly = FRIENDLY.get(str(err.get("type")))
    if friendly:
        return friendly
    message = str(err.get("msg", ""))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return message or FRIENDLY["missing"]


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, message)  # the first problem of a field is the one to fix first


def parse(
    model: type[M], data: dict[str, Any], rename: Rename | None = None
) -> tuple[M | None, Errors]:
    """Validate with an API schema: (the object, {}) or (None, {form field: message id})."""
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        errors: Errors = {}
        for err in exc.errors():
            path = ".".join(_clean_loc(err["loc"]))
            _add(errors, (rename or default_field)(path), _message(err))
        return None, errors


def errors_of(exc: Invalid, rename: Rename | None = None) -> Errors:
    """A service's Invalid as {form field: message id}."""
    errors: Errors = {}
    for e in exc.errors:
        _add(errors, (rename or default_field)(e.field), e.message or exc.detail)
    return errors


def renamer(mapping: Mapping[str, str], fallback: Rename | None = None) -> Rename:
    """A rename function: exact paths first, then their prefixes, then `fallback`."""

    def rename(path: str) -> str:
        probe = path
        while probe:
            if probe in mapping:
                return mapping[probe]
            probe = probe.rpartition(".")[0]
        return (fallback or default_field)(path)

    return rename


def slot_renamer(rows: list[int], mapping: Mapping[str, str] | None = None) -> Rename:
    """Errors on languages.N... go to the picker row the N-th language came from."""

    def rename(path: str) -> str:
        parts = path.split(".")
        if parts[0] == "languages":
            if len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(rows):
                row = rows[int(parts[1])]
                return f"level_{row}" if parts[-1] == "level" else f"language_{row}"
            return "language_1"
        return renamer(mapping or {})(path)

    return rename


# --- Labels shown in pages (message ids, translated in templates with _())

ROLE_LABELS = {
    "volunteer": N_("I want to help as a volunteer"),
    "seeker": N_("I am looking for help"),
    "organisation": N_("I work for an organisation"),
    "coordinator": N_("Coordinator"),
    "admin": N_("Administrator"),
}
ROLE_NAMES = {
    "volunteer": N_("Volunteer"),
    "seeker": N_("Looking for help"),
    "organisation": N_("Organisation"),
    "coordinator": N_("Coordinator"),
    "admin": N_("Administrator"),
}
LEVEL_LABELS = {
    "native": N_("Mother tongue"),
    "fluent": N_("Good"),
    "basic": N_("A little"),
}
KIND_LABELS = {"offer": N_("Offers help"), "need": N_("Looks for help")}
MODE_LABELS = {
    "in_person": N_("Meet in person"),
    "remote": N_("Online or by phone"),
    "either": N_("In person or online"),
}
STATUS_LABELS = {
    "pending_review": N_("Waiting for review"),
    "published": N_("Published"),
    "closed": N_("Closed"),
    "expired": N_("Expired"),
    "rejected": N_("Not accepted"),
}
VETTING_LABELS = {
    "pending": N_("Waiting for a meeting"),
    "approved": N_("Approved"),
    "rejected": N_("Not approved"),
}
ORG_STATUS_LABELS = {
    "pending": N_("Waiting for review"),
    "approved": N_("Approved"),
    "rejected": N_("Not approved"),
}
DECISION_LABELS = {
    "approve": N_("Approved"),
    "reject": N_("Not approved"),
    "publish": N_("Published"),
}


def language_label(code: str) -> str:
    """A language named in the reader's language, plus its own name: "Arabisch (العربية)"."""
    name = languages.name(code)
    native = languages.native_name(code)
    if not native or native.casefold() == name.casefold():
        return name
    # First-strong isolates keep the brackets in place when the scripts differ (<bdi> cannot be
    # used inside <option>).
    return f"{name} (\u2068{native}\u2069)"


def language_options() -> list[tuple[str, str]]:
    return [(code, language_label(code)) for code in languages.COMMON]


# What every page template may use. The features add theirs at start (market/features.py
# `helpers=`: categories from posts, rejection reasons from vetting), since this foundation
# module may not import them; the start fails if one of HELPERS_FROM_FEATURES is missing.
HELPERS: dict[str, Any] = {
    "lang_name": languages.name,
    "language_label": language_label,
    "ROLE_LABELS": ROLE_LABELS,
    "ROLE_NAMES": ROLE_NAMES,
    "LEVEL_LABELS": LEVEL_LABELS,
    "KIND_LABELS": KIND_LABELS,
    "MODE_LABELS": MODE_LABELS,
    "STATUS_LABELS": STATUS_LABELS,
    "VETTING_LABELS": VETTING_LABELS,
    "ORG_STATUS_LABELS": ORG_STATUS_LABELS,
    "DECISION_LABELS": DECISION_LABELS,
}

HELPERS_FROM_FEATURES = (
    "category_name",
    "category_options",
    "reason_text",
    "rejection_reason_options",
)


async def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """render() with the label tables and name functions every page of ours uses."""
    return await render(request, template, {**HELPERS, **(context or {})}, status_code=status_code)
