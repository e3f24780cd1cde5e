"""Add translations to the catalogs from a JSON file, without running the whole extraction.

Usage: python scripts/add_translations.py FILE.json [FILE.json ...]

Each file maps an English msgid to its translations:
    {"Your code is wrong.": {"de": "...", "ar": "...", "fa": "...", "uk": "..."}}
A file may carry any locale that has a catalogue (market/locales/<code>/LC_MESSAGES), and only
some of them: a language added later (ru, tr) is translated in files of its own, and the
translations test, not this script, reports what is still missing.
A plural entry uses a list as msgid key is not possible in JSON, so plurals are written as
    {"__plural__": [{"id": ["one", "many"], "de": ["...", "..."], "ar": [...], ...}]}
An entry already present is updated. Several people may run this at once: the catalogs are
changed under one lock file, each read fresh, so no one's entries are lost.
"""

from __future__ import annotations

import fcntl
import json
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "market" / "locales"


def locales() -> list[str]:
    """Every locale with a catalogue, so a new language needs no edit here."""
    return sorted(p.parent.parent.name for p in LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))


def put(catalog: Catalog, msgid: str | tuple[str, ...], text: object, flags: set[str]) -> None:
    """Catalog.add keeps the old msgstr of an entry it already has (it merges only comments
    and flags), so an existing entry, such as an empty one from `pybabel init`, gets its
    string set here."""
    current = catalog.get(msgid)
    if current is not None and catalog.locale_identifier == "en":
        return  # English falls back to the msgid: an entry there, empty or not, is enough.
    if current is None:
        catalog.add(msgid, text, flags=flags)  # type: ignore[arg-type]
        return
    current.string = text  # type: ignore[assignment]
    current.flags |= flags
    current.flags.discard("fuzzy")


def merge(entries: dict[str, object]) -> int:
    plurals = entries.pop("__plural__", [])
    changed = 0
    lock_path = LOCALE_DIR / ".catalogs.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for locale in locales():
            po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
            with po.open("rb") as f:
                catalog = read_po(f, locale=locale)
            for msgid, texts in entries.items():
                assert isinstance(texts, dict), msgid
                if locale != "en" and locale not in texts:
                    continue
                # English is the source language: its msgids are the text.
                text = msgid if locale == "en" else texts[locale]
                flags = {"python-format"} if "%(" in msgid else set()
                put(catalog, msgid, text, flags)
                changed += 1
            assert isinstance(plurals, list)
            for entry in plurals:
                ids = tuple(entry["id"])
                if locale != "en" and locale not in entry:
                    continue
                strings = tuple(ids) if locale == "en" else tuple(entry[locale])
                flags = {"python-format"} if any("%(" in i for i in ids) else set()
                put(catalog, ids, strings, flags)
                changed += 1
            # Written beside and renamed over, so a running app or test that reads the
            # catalogue meanwhile sees the old file or the new one, never half of one.
            fresh = po.with_suffix(".po.tmp")
            with fresh.open("wb") as f:
                write_po(f, catalog, sort_output=True, width=76)
            fresh.replace(po)
    return changed


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__)
        return 2
    total = 0
    for path in paths:
        total += merge(json.loads(Path(path).read_text(encoding="utf-8")))
    print(f"{total} catalog entries written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
