"""Every visible string is translated into every page language (de, ar, fa, uk, ru, tr, ...),
with the same placeholders.

The strings are extracted from the code and templates here, as scripts/i18n.sh does, so a new
string without a translation fails the suite instead of showing English to a newcomer.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from market import i18n

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "N_": None,
    "lazy_gettext": None,
    "one": (2,),
    "fail": (2,),
    "Forbidden": None,
    "Conflict": None,
    "NotFound": None,
    "Unauthorized": None,
    "BadRequest": None,
    "GeoError": (2,),
}
JINJA = {"extensions": "jinja2.ext.i18n", "trim_blocks": "True", "lstrip_blocks": "True"}
METHODS = [
    ("market/**.py", "python"),
    ("notifications/**.py", "python"),
    ("templates/**.html", "jinja2"),
    ("templates/**.txt", "jinja2"),
]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _scanned(path: str) -> bool:
    """Babel's default skips folders starting with "_" too, and with them templates/_partials."""
    name = Path(path).name
    return not (name.startswith(".") or name in ("__pycache__", "node_modules"))


def extracted() -> set[str]:
    found: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT),
        METHODS,
        options_map={"templates/**.html": JINJA, "templates/**.txt": JINJA},
        keywords=KEYWORDS,
        directory_filter=_scanned,
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return {m for m in found if m}


@pytest.fixture(scope="module")
def messages() -> set[str]:
    return extracted()


# Every page language but English (the msgids are English): a language switched on in
# market.i18n.LOCALES (ru, tr) is checked like the first ones.
@pytest.mark.parametrize("locale", [code for code in i18n.LOCALES if code != "en"])
def test_every_string_is_translated(messages: set[str], locale: str) -> None:
    with (ROOT / "market/locales" / locale / "LC_MESSAGES/messages.po").open("rb") as f:
        catalog = read_po(f, locale=locale)
    missing, broken = [], []
    for msgid in sorted(messages):
        entry = catalog.get(msgid)
        if entry is None:
            missing.append(msgid)
            continue
        forms = entry.string if isinstance(entry.string, (list, tuple)) else [entry.string]
        if not all(forms):
            missing.append(msgid)
            continue
        wanted = set(PLACEHOLDER.findall(msgid))
        plural = isinstance(entry.id, (list, tuple))
        for form in forms:
            got = set(PLACEHOLDER.findall(form))
            # A name the text does not have fails at run time. A plural form may leave out the
            # number ("one new message", Arabic's dual); a plain message must keep every name.
            if got - wanted - {"num"} or (not plural and wanted - got):
                broken.append((msgid, form))
    assert not missing, (
        f"{len(missing)} untranslated in {locale} (run scripts/i18n.sh): {missing[:10]}"
    )
    assert not broken, f"placeholders lost in {locale}: {broken[:5]}"
