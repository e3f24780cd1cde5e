#!/usr/bin/env bash
# Lighthouse (frontend/ devDependency) on the four pages of issue 14 -- home, search, a post and
# the new-post form -- in German and Arabic, as a phone (Lighthouse's default mobile emulation
# and slow-4G simulation), in Debian's Chromium. Prints the four scores of each page and every
# audit that did not pass; exits 1 when any score is below 100.
#
#   bash scripts/lighthouse.sh                # starts `anlauf serve --demo` on SQLite in a temp dir
#   bash scripts/lighthouse.sh --url http://127.0.0.1:8000   # audits a server already running
#
# Environment: CHROME_PATH (default /usr/bin/chromium), LIGHTHOUSE_RUNS (runs per page, default 1;
# the run with the median performance score is reported, as Lighthouse's docs advise for a noisy
# machine), LIGHTHOUSE_LOCALES (default "de ar"), LIGHTHOUSE_EMAIL / LIGHTHOUSE_PASSWORD (who
# signs in for the form; default the demo newcomer), LIGHTHOUSE_JSON (a file for all results).
# The map's tiles come from a blank-tile server on loopback (this machine may not reach the
# internet; a failed tile would be a console error that is not the app's).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv-test/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
export CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"
[ -d "$ROOT/frontend/node_modules/lighthouse" ] || npm ci --prefix "$ROOT/frontend" --no-audit --no-fund --loglevel=error

BASE=""
if [ "${1:-}" = "--url" ]; then BASE="${2:?--url needs an address}"; fi

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

if [ -z "$BASE" ]; then
  TILES_PORT="$(free_port)"
  # Any tile is one blank 256 px PNG.
  "$PYTHON" - "$TILES_PORT" >"$WORK/tiles.log" 2>&1 <<'PY' &
import struct, sys, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

rows = b"".join(b"\x00" + b"\xf2\xef\xe9" * 256 for _ in range(256))
PNG = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 256, 256, 8, 2, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))

class Tile(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.send_header("Cache-Control", "public, max-age=86400")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Tile).serve_forever()
PY
  PIDS+=($!)
  PORT="$(free_port)"
  BASE="http://127.0.0.1:$PORT"
  echo "Starting anlauf serve --demo on $BASE (SQLite in $WORK) ..."
  (
    cd "$WORK"
    env -u ANLAUF_REDIS_URL -u ANLAUF_SMTP_URL \
      ANLAUF_DATABASE_URL="sqlite+aiosqlite:///$WORK/anlauf.db" \
      ANLAUF_MAP_TILES_URL="http://127.0.0.1:$TILES_PORT/{z}/{x}/{y}.png" \
      PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
      "$PYTHON" -m market.cli serve --demo --port "$PORT"
  ) >"$WORK/serve.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 240); do
    curl -fs -o /dev/null "$BASE/healthz" && break
    if ! kill -0 "${PIDS[-1]}" 2>/dev/null; then cat "$WORK/serve.log" >&2; exit 2; fi
    sleep 1
  done
  curl -fs -o /dev/null "$BASE/healthz" || { tail -20 "$WORK/serve.log" >&2; exit 2; }
fi

cd "$ROOT/frontend"
BASE="$BASE" node --input-type=module - <<'JS'
import lighthouse from "lighthouse";
import puppeteer from "puppeteer-core";
import { writeFileSync } from "node:fs";

const base = process.env.BASE;
const runs = Number(process.env.LIGHTHOUSE_RUNS || 1);
const locales = (process.env.LIGHTHOUSE_LOCALES || "de ar").split(/\s+/).filter(Boolean);
const email = process.env.LIGHTHOUSE_EMAIL || "seeker@demo.anlauf.local";
const password = process.env.LIGHTHOUSE_PASSWORD || "demo-password-2026";
const categories = ["performance", "accessibility", "best-practices", "seo"];

const browser = await puppeteer.launch({
  executablePath: process.env.CHROME_PATH,
  headless: true,
  args: ["--headless=new", "--no-sandbox"],
});
const page = await browser.newPage();

// A post to audit: the first one the listing shows.
await page.goto(`${base}/posts?lang=de`);
const postPath = await page.evaluate(() => {
  const a = [...document.querySelectorAll('main a[href^="/posts/"]')]
    .find((el) => /^\/posts\/[0-9a-f-]{32,36}$/.test(el.getAttribute("href")));
  return a ? a.getAttribute("href") : null;
});
if (!postPath) { console.error("no post to audit on /posts"); process.exit(2); }

async function audit(name, url) {
  const results = [];
  for (let i = 0; i < runs; i++) {
    const r = await lighthouse(url, { logLevel: "error", output: "json", onlyCategories: categories }, undefined, page);
    if (new URL(r.lhr.finalDisplayedUrl).pathname !== new URL(url).pathname) {
      throw new Error(`${name}: ended at ${r.lhr.finalDisplayedUrl}, not ${url}`);
    }
    results.push(r.lhr);
  }
  results.sort((a, b) => a.categories.performance.score - b.categories.performance.score);
  return results[Math.floor(results.length / 2)];
}

const report = [];
let below = 0;
function show(name, lhr) {
  const scores = Object.fromEntries(categories.map((c) => [c, Math.round(lhr.categories[c].score * 100)]));
  const metric = (id) => lhr.audits[id].displayValue;
  console.log(`${name.padEnd(16)} ${categories.map((c) => `${c} ${scores[c]}`).join("  ")}` +
    `   (FCP ${metric("first-contentful-paint")}, LCP ${metric("largest-contentful-paint")}, ` +
    `SI ${metric("speed-index")}, TBT ${metric("total-blocking-time")}, CLS ${metric("cumulative-layout-shift")})`);
  const failed = [];
  for (const c of categories) {
    for (const ref of lhr.categories[c].auditRefs) {
      const a = lhr.audits[ref.id];
      if (a.score !== null && a.score < 1 && (ref.weight > 0 || c !== "performance")) {
        failed.push({ category: c, id: a.id, score: a.score, value: a.displayValue || "", title: a.title });
        console.log(`    ${c}: ${a.id} ${a.score} ${a.displayValue || ""} -- ${a.title}`);
      }
    }
  }
  if (Object.values(scores).some((s) => s < 100)) below++;
  report.push({ page: name, url: lhr.finalDisplayedUrl, scores, failed });
}

const anonymous = { home: "/", search: "/posts?q=Arzt", post: postPath };
for (const locale of locales) {
  for (const [name, path] of Object.entries(anonymous)) {
    const url = `${base}${path}${path.includes("?") ? "&" : "?"}lang=${locale}`;
    show(`${name} (${locale})`, await audit(name, url));
  }
}
// Signed in (the cookie is in this browser's jar, so every request of the page carries it).
await page.goto(`${base}/login?lang=de`);
await page.type("main input[name=email]", email);
await page.type("main input[name=password]", password);
await Promise.all([page.waitForNavigation(), page.click("main form button[type=submit]")]);
for (const locale of locales) {
  show(`new-post (${locale})`, await audit("new-post", `${base}/posts/new?lang=${locale}`));
}
await browser.close();
if (process.env.LIGHTHOUSE_JSON) writeFileSync(process.env.LIGHTHOUSE_JSON, JSON.stringify(report, null, 2));
console.log(below ? `${below} page(s) below 100` : "All pages 100 in all four categories");
process.exit(below ? 1 : 0);
JS
