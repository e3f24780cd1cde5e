#!/usr/bin/env bash
# Lighthouse (frontend/ devDependency) on the four pages of issue 14 -- home, search, a post and
# the new-post form -- in German and Arabic, as a phone (Lighthouse's default mobile emulation
# and slow-4G simulation), in Debian's Chromium. Prints the four scores of each page and every
# audit that did not pass; exits 1 when any score is below 100.
#
#   bash scripts/lighthouse.sh                # starts `anlauf serve --demo` on SQLite in a temp dir
#   bash scripts/lighthouse.sh --url http://127.0.0.1:8000   # audits a server already running
#
# The audit itself is frontend/lighthouse.mjs; its environment variables (LIGHTHOUSE_RUNS: runs
# per page, the median kept, as Lighthouse's docs advise on a busy machine; LIGHTHOUSE_LOCALES;
# LIGHTHOUSE_PAGES; LIGHTHOUSE_JSON; CHROME_PATH; who signs in) pass through.
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
BASE="$BASE" node lighthouse.mjs
