#!/usr/bin/env bash
# Extracts every translatable string and updates the catalogs of all page languages.
# Usage: bash scripts/i18n.sh [python]   (python: the interpreter with Babel, default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3}"
# --ignore-dirs: Babel's default also skips folders starting with "_", such as templates/_partials.
"$PY" -m babel.messages.frontend extract -F babel.cfg -k N_ -k lazy_gettext -k gettext -k ngettext:1,2 -k one:2 -k fail:2 -k Forbidden -k Conflict -k NotFound -k Unauthorized -k BadRequest -k GeoError:2 \
  --ignore-dirs ".* __pycache__ node_modules" \
  --no-location --sort-output -o market/locales/messages.pot . >/dev/null 2>&1
for locale in de en ar fa uk; do
  po="market/locales/$locale/LC_MESSAGES/messages.po"
  if [ -f "$po" ]; then
    "$PY" -m babel.messages.frontend update -i market/locales/messages.pot -d market/locales -l "$locale" --no-fuzzy-matching >/dev/null 2>&1
  else
    "$PY" -m babel.messages.frontend init -i market/locales/messages.pot -d market/locales -l "$locale" >/dev/null 2>&1
  fi
done
"$PY" - <<'PY'
from babel.messages.pofile import read_po
# English is the source language: its msgids are the text, so it needs no translation.
for locale in ("de", "ar", "fa", "uk"):
    with open(f"market/locales/{locale}/LC_MESSAGES/messages.po", "rb") as f:
        cat = read_po(f)
    missing = sum(1 for m in cat if m.id and not (m.string if isinstance(m.string, str) else all(m.string)))
    print(f"{locale}: {len(cat)} messages, {missing} untranslated")
PY
