"""The Jinja environment of the pages: translations, the post-card cache and the filters.

Built once at start (market.app); market.web re-exports make_environment.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemLoader,
    pass_context,
    pass_environment,
    select_autoescape,
)
from jinja2.bccache import Bucket
from jinja2.runtime import Context
from markupsafe import Markup

from market import i18n
from market.web_frame import frame_foot, frame_head, frame_top

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"


class _ProcessBytecode(BytecodeCache):
    """Compiled templates kept for the life of the process, shared by every environment in it.

    An app builds its environment once, but the tests build an app (and so an environment) per
    test: without this, every test compiled the templates it drew again (about a tenth of the
    suite's time). Jinja checks each entry against the template source's checksum, so an edited
    template is compiled afresh."""

    def __init__(self) -> None:
        self._compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        data = self._compiled.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._compiled[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = _ProcessBytecode()


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        bytecode_cache=_BYTECODE,
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    # The same functions as Jinja's newstyle ones, one call deep: Jinja's `_` resolved
    # `gettext` and called it through the context, which called ours through the context
    # again. A page asks about 25 of them; they were a third of drawing the page frame.
    env.globals.update(_=_page_gettext, gettext=_page_gettext, ngettext=_page_ngettext)
    env.globals.update(
        LOCALES=i18n.LOCALES,
        locale_label=_locale_label,
        language_name=i18n.language_name,
        quoted=i18n.quoted,
    )
    env.globals["cached_post_card"] = _cached_post_card
    # The page frame's parts, each drawn once per language and person (market.web_frame).
    env.globals.update(frame_head=frame_head, frame_top=frame_top, frame_foot=frame_foot)
    env.filters["join_list"] = _join_list
    env.filters["language_list"] = _language_list
    env.filters["date"] = _format_date
    env.filters["datetime"] = _format_datetime
    return env


@pass_context
def _page_gettext(context: Context, string: str, **variables: Any) -> str:
    """jinja2.ext's newstyle gettext: always a format string, escaped in autoescaped templates."""
    text: str = i18n.gettext(string)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 (our own catalogue, as Jinja's own gettext does)
    return text % variables


@pass_context
def _page_ngettext(context: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
    variables.setdefault("num", num)
    text: str = i18n.ngettext(singular, plural, num)
    if context.eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704 (our own catalogue, as Jinja's own ngettext does)
    return text % variables


# Rendered post cards, keyed by everything a card shows (the post's shown fields, the page
# language, the arguments): a list page drew 20 cards through the Jinja macro on every request,
# the biggest part of drawing /posts. A changed post has a new key, so nothing is ever stale.
_cards: OrderedDict[tuple[Any, ...], Markup] = OrderedDict()
CARDS_KEPT = 10_000


@pass_environment
def _cached_post_card(
    env: Environment,
    post: Any,
    distance: int | None,
    show_status: bool,
    level: int,
    translations: dict[str, Any] | None,
) -> Markup:
    tr = translations.get(post.id) if translations else None
    key = (
        i18n.get_locale(),
        post.id,
        post.title,
        post.kind,
        post.category,
        post.mode,
        post.status,
        tuple(post.language_codes),
        post.city,
        post.created_at,
        distance,
        show_status,
        level,
        tuple(sorted(tr.items())) if tr else None,
    )
    known = _cards.get(key)
    if known is not None:
        _cards.move_to_end(key)
        return known
    from market.forms import HELPERS  # forms imports this module

    module = env.get_template("posts/_macros.html").make_module(
        vars={**HELPERS, "translations": {post.id: tr} if tr else None}
    )
    macro = getattr(module, "post_card")  # noqa: B009 (a template attribute mypy cannot see)
    card = Markup(macro(post, distance, show_status, level))  # noqa: S704 (the macro escaped it)
    _cards[key] = card
    if len(_cards) > CARDS_KEPT:
        _cards.popitem(last=False)
    return card


def _join_list(items: list[str]) -> str:
    """ "Arabisch, Deutsch und Farsi" / "العربية والألمانية": lists as each language writes them."""
    from babel.lists import format_list

    return (
        format_list([str(i) for i in items], style="standard", locale=i18n.babel_locale())
        if items
        else ""
    )


# Babel builds names, lists and dates from CLDR data on every call; a page of 20 posts asked it
# the same few questions about 60 times (the language picker alone parsed a locale per entry).
# Their answers depend only on the arguments and the page language, so each is worked out once
# per process. Bounded: post languages and dates have many combinations.
@functools.cache
def _locale_label(locale: str) -> str:
    return i18n.locale_label(locale)


@functools.lru_cache(maxsize=4096)
def _language_list_in(codes: tuple[str, ...], locale: str) -> str:
    from market import languages

    with i18n.use_locale(locale):
        return _join_list([languages.name(code, locale) for code in codes])


def _language_list(codes: list[str]) -> str:
    return _language_list_in(tuple(codes), i18n.get_locale())


@functools.lru_cache(maxsize=4096)
def _format_day(day: date, fmt: str, locale: str) -> str:
    from babel.dates import format_date

    return format_date(day, fmt, locale=i18n.babel_locale(locale))


def _format_date(value: date | datetime | None, fmt: str = "medium") -> str:
    # format_date shows a datetime's own calendar day (no time zone conversion): the same here.
    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    return _format_day(day, fmt, i18n.get_locale())


def _format_datetime(value: datetime | None, fmt: str = "medium") -> str:
    from babel.dates import format_datetime, get_timezone

    if value is None:
        return ""
    return format_datetime(
        value, fmt, tzinfo=get_timezone("Europe/Berlin"), locale=i18n.babel_locale()
    )
