#!/usr/bin/env bash
# Third-party browser assets come from npm packages, never a CDN: install the versions pinned in
# frontend/package-lock.json and copy the files the pages use into market/static/vendor/ (and
# the axe-core accessibility checker the browser tests use into tests/e2e/vendor/).
# Run it after changing frontend/package.json; the copies are committed, so serving needs no npm.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
npm ci --no-audit --no-fund
dest=../market/static/vendor/leaflet
rm -rf "$dest"
mkdir -p "$dest/images"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$dest/"
cp node_modules/leaflet/dist/images/*.png "$dest/images/"
cp node_modules/leaflet/LICENSE "$dest/LICENSE"
# The accessibility checker the browser tests run on pages (tests/e2e/a11y.py); not served.
mkdir -p ../tests/e2e/vendor
cp node_modules/axe-core/axe.min.js ../tests/e2e/vendor/axe.min.js
cp node_modules/axe-core/LICENSE ../tests/e2e/vendor/axe-core.LICENSE
echo "axe-core $(node -p 'require("axe-core/package.json").version') -> tests/e2e/vendor"
echo "leaflet $(node -p 'require("leaflet/package.json").version') -> market/static/vendor/leaflet"
# Icons beside text labels (lucide-static, ISC licence): the menu's (layout.css) and the topics'
# (topics.css). Only the ones a stylesheet names, so adding an icon is one line of CSS and a rerun.
dest=../market/static/vendor/lucide
rm -rf "$dest"
mkdir -p "$dest"
for icon in $(grep -oh 'vendor/lucide/[a-z0-9-]*\.svg' ../market/static/*.css | sed 's|.*/||; s|\.svg$||' | sort -u); do
  cp "node_modules/lucide-static/icons/$icon.svg" "$dest/"
done
cp node_modules/lucide-static/LICENSE "$dest/LICENSE"
echo "lucide-static $(node -p 'require("lucide-static/package.json").version') -> market/static/vendor/lucide"
