"""Spoken languages offered in pickers: BCP 47 tags, named through Babel in the reader's language.

Foundation: accounts (a person's languages), posts, matches and the pages all speak of them.
"""

from __future__ import annotations

import re

from market.i18n import N_, get_locale, gettext, language_name, native_language_name, use_locale

# The languages most spoken by newcomers and volunteers in Germany, in a sensible order.
COMMON: tuple[str, ...] = (
    "de",
    "en",
    "ar",
    "fa",
    "prs",
    "ps",
    "uk",
    "ru",
    "tr",
    "ku",
    "kmr",
    "ckb",
    "ti",
    "so",
    "fr",
    "es",
    "it",
    "pl",
    "ro",
    "bg",
    "sq",
    "sr",
    "hr",
    "bs",
    "el",
    "ur",
    "hi",
    "bn",
    "ta",
    "vi",
    "zh",
    "am",
    "ha",
    "yo",
    "ig",
    "sw",
    "ln",
    "wo",
    "pt",
    "nl",
    "hy",
    "ka",
    "az",
    "uz",
    "tk",
    "tg",
    "ky",
    "kk",
    "mn",
    "ne",
    "si",
    "my",
    "th",
    "id",
    "tl",
    "he",
    "sgn-de",
)

# CLDR has no name for a few languages in some locales; these English names fill the gap.
_FALLBACK_NAMES = {
    "prs": N_("Dari"),
    "kmr": N_("Kurmanji (Northern Kurdish)"),
    "ckb": N_("Sorani (Central Kurdish)"),
    "sgn-de": N_("German Sign Language"),
}
_NATIVE_FALLBACK = {"prs": "دری", "kmr": "Kurmancî", "sgn-de": "Deutsche Gebärdensprache"}

_TAG = re.compile(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")


def normalise(code: str) -> str | None:
    """A well-formed BCP 47 tag in canonical case, or None."""
    code = code.strip().replace("_", "-")
    if not _TAG.match(code) or len(code) > 16:
        return None
    parts = code.split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 2:
            out.append(part.upper())
        elif len(part) == 4:
            out.append(part.title())
        else:
            out.append(part.lower())
    return "-".join(out)


def is_known(code: str) -> bool:
    """Known to CLDR (or our fallbacks): rejects well-formed nonsense such as "xx"."""
    if code.lower() in _FALLBACK_NAMES:
        return True
    primary = code.split("-")[0]
    return language_name(primary, "en") != primary


def name(code: str, locale: str | None = None) -> str:
    locale = locale or get_locale()
    found = language_name(code, locale)
    if code.lower() in _FALLBACK_NAMES and (found == code or found == language_name(code, "en")):
        # CLDR has no name in this language: use ours, translated through the catalogs.
        with use_locale(locale):
            return gettext(_FALLBACK_NAMES[code.lower()])
    return found


def native_name(code: str) -> str:
    if code.lower() in _NATIVE_FALLBACK:
        return _NATIVE_FALLBACK[code.lower()]
    found = native_language_name(code)
    return found if found != code else name(code, "en")


def reference(locale: str | None = None) -> list[dict[str, str]]:
    return [{"code": c, "name": name(c, locale), "native_name": native_name(c)} for c in COMMON]
