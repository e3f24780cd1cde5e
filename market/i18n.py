"""Page and mail languages: gettext catalogs through Babel, the reader's locale in a context var."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from contextvars import ContextVar
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, NullTranslations, Translations
from markupsafe import Markup

LOCALES: tuple[str, ...] = ("de", "en", "ar", "fa", "uk", "ru", "tr")
RTL_LOCALES = frozenset({"ar", "fa"})
DEFAULT_LOCALE = "de"
LOCALE_DIR = Path(__file__).parent / "locales"

_current: ContextVar[str] = ContextVar("anlauf_locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> NullTranslations:
    """The catalog for a locale, compiled from its .po file in memory (no stale .mo files)."""
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf)


def get_locale() -> str:
    return _current.get()


def set_locale(locale: str) -> None:
    _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)


@contextlib.contextmanager
def use_locale(locale: str) -> Iterator[None]:
    """Render something (a mail, a notification) in another person's language."""
    token = _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current.reset(token)


def _isolated(variables: dict[str, object]) -> dict[str, object]:
    """On a right-to-left page, each interpolated text (a German title in «…», a name) is
    wrapped in Unicode isolates (FSI … PDI), so its own direction cannot turn the sentence
    around it ("«Hilfe beim Amt» ..." stays in order). Numbers are left alone."""
    if not is_rtl():
        return variables
    return {k: f"\u2068{v}\u2069" if isinstance(v, str) else v for k, v in variables.items()}


def gettext(message: str, **variables: object) -> str:
    text = translations(get_locale()).ugettext(message)
    return text % _isolated(variables) if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = translations(get_locale()).ungettext(singular, plural, n)
    variables.setdefault("num", n)
    return text % _isolated(variables)


def lazy_gettext(message: str, **variables: object) -> LazyProxy:
    return LazyProxy(gettext, message, enable_cache=False, **variables)


_ = gettext


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated later, where it is shown."""
    return message


def is_rtl(locale: str | None = None) -> bool:
    return (locale or get_locale()) in RTL_LOCALES


# Reader languages we have no catalogue for, and what to show instead (keys lower-case).
# SAME: the same written language under another tag, as good as an exact match.
# NEAR: the catalogue most of its readers also read; used only when the reader lists nothing
# we have, and the language chooser is still offered. Languages in neither (ps, ur, tr, ...)
# fall through to the reader's next listed choice, else DEFAULT_LOCALE.
# Adding a catalogue is one line: its code in LOCALES. An exact match comes first, so since
# ru has its own catalogue this table's ru -> uk is no longer used (kept for a deployment
# that drops ru again).
SAME: dict[str, str] = {"prs": "fa", "fa-af": "fa"}
NEAR: dict[str, str] = {"ru": "uk", "be": "uk"}


def _wanted(accept_language: str | None) -> list[str]:
    """The tags of an Accept-Language header, best first (stable for equal q), q=0 dropped."""
    wanted: list[tuple[float, str]] = []
    for part in (accept_language or "").split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _sep, params = piece.partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        wanted.append((quality, tag.strip().replace("_", "-").lower()))
    wanted.sort(key=lambda item: -item[0])
    return [tag for quality, tag in wanted if quality > 0]


def _exact(tag: str) -> str | None:
    primary = tag.split("-")[0]
    for candidate in (tag, primary):
        if candidate in LOCALES:
            return candidate
        if candidate in SAME:
            return SAME[candidate]
    return None


def negotiate_detail(accept_language: str | None) -> tuple[str, bool]:
    """The best of our locales for an Accept-Language header, and whether the header named it
    (False: a guess or the default, so the page offers the language chooser)."""
    if accept_language is not None and len(accept_language) > CACHED_HEADER_LENGTH:
        return _negotiated.__wrapped__(accept_language, LOCALES)  # a made-up one: not kept
    return _negotiated(accept_language, LOCALES)


CACHED_HEADER_LENGTH = 256


# Browsers send a handful of distinct headers; each request asked twice (the page language and
# whether to offer the chooser), parsing the header each time. Keyed by the locales too.
@lru_cache(maxsize=1024)
def _negotiated(accept_language: str | None, _locales: tuple[str, ...]) -> tuple[str, bool]:
    tags = _wanted(accept_language)
    for tag in tags:
        found = _exact(tag)
        if found:
            return found, True
    for tag in tags:
        near = NEAR.get(tag) or NEAR.get(tag.split("-")[0])
        if near:
            return near, False
    return DEFAULT_LOCALE, False


def negotiate(accept_language: str | None) -> str:
    """The best of our locales for an Accept-Language header."""
    return negotiate_detail(accept_language)[0]


def needs_chooser(cookie: str | None, accept_language: str | None) -> bool:
    """A first visit (no language cookie) whose Accept-Language names no page language: offer
    the choice instead of silently showing German. Browsers always send the header; a client
    without one (a crawler, a script) gets no chooser."""
    if cookie in LOCALES or not (accept_language or "").strip():
        return False
    return not negotiate_detail(accept_language)[1]


@cache
def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


def babel_locale(locale: str | None = None) -> Locale:
    return _babel_locale(locale or get_locale())


def language_name(code: str, locale: str | None = None) -> str:
    """A language's name in the reader's language (Babel's CLDR data), e.g. ar -> Arabisch."""
    names = babel_locale(locale).languages
    primary = code.replace("_", "-")
    name = names.get(primary) or names.get(primary.split("-")[0])
    return name or code


def native_language_name(code: str) -> str:
    try:
        loc = Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return language_name(code, "en")
    return loc.get_display_name(loc) or code


def locale_label(locale: str) -> str:
    """How a page language names itself in the language picker: CLDR writes Russian and
    Ukrainian names in lower case (as inside a sentence), a list item starts with a capital."""
    name = native_language_name(locale)
    return name[:1].upper() + name[1:]


# Quotation marks per page language (CLDR's delimiters; Babel does not expose them).
QUOTES: dict[str, tuple[str, str]] = {
    "de": ("\u201e", "\u201c"),  # „…“
    "en": ("\u201c", "\u201d"),  # “…”
    "ar": ("\u00ab", "\u00bb"),  # «…»
    "fa": ("\u00ab", "\u00bb"),
    "uk": ("\u00ab", "\u00bb"),
    "ru": ("\u00ab", "\u00bb"),
    "tr": ("\u201c", "\u201d"),
}


def quoted(text: object, locale: str | None = None) -> Markup:
    """A user-written text in the reader's quotation marks („…“, «…», “…”), isolated with <bdi>
    so that a German title inside Persian quotes is not turned around."""
    start, end = QUOTES.get(locale or get_locale(), QUOTES["en"])
    return Markup("{}<bdi>{}</bdi>{}").format(start, text, end)
