"""A small LibreTranslate-compatible server on loopback for the tests (no model runs here).

`POST /translate` answers "[<target>] <text>" for each text, `POST /detect` guesses by script
(Arabic letters: ar, Cyrillic: uk, German umlauts or common words: de, else en), `GET /languages`
lists de, en, ar, fa, uk. Modes: "ok"; "slow" sleeps `slow_seconds` (5) before answering;
"error" answers 500. `stop()` takes it down (connections refused).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CODES = ("de", "en", "ar", "fa", "uk")
GERMAN = re.compile(r"[äöüß]|\b(der|die|das|und|mit|zum|ich|Begleitung|Hilfe)\b", re.IGNORECASE)


def guess(text: str) -> str:
    if re.search(r"[\u0600-\u06ff]", text):
        return "ar"
    if re.search(r"[\u0400-\u04ff]", text):
        return "uk"
    if GERMAN.search(text):
        return "de"
    return "en"


class TranslateServer:
    def __init__(self) -> None:
        self.mode = "ok"
        self.slow_seconds = 5.0
        self.api_key: str | None = None
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> TranslateServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def paths(self) -> list[str]:
        with self._lock:
            return [path for path, _ in self.calls]

    def _record(self, path: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.calls.append((path, body))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _answer(self, status: int, data: Any) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _delay(self) -> bool:
                if server.mode == "slow":
                    time.sleep(server.slow_seconds)
                if server.mode == "error":
                    self._answer(500, {"error": "broken on purpose"})
                    return False
                return True

            def do_GET(self) -> None:
                server._record(self.path, {})
                if not self._delay():
                    return
                if self.path == "/languages":
                    self._answer(
                        200, [{"code": c, "name": c, "targets": list(CODES)} for c in CODES]
                    )
                else:
                    self._answer(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server._record(self.path, body)
                if not self._delay():
                    return
                if server.api_key is not None and body.get("api_key") != server.api_key:
                    self._answer(403, {"error": "Invalid API key"})
                    return
                if self.path == "/detect":
                    self._answer(200, [{"confidence": 90.0, "language": guess(body["q"])}])
                elif self.path == "/translate":
                    target = body["target"]
                    if target not in CODES:
                        self._answer(400, {"error": f"{target} is not supported"})
                        return
                    texts = body["q"] if isinstance(body["q"], list) else [body["q"]]
                    out = [f"[{target}] {t}" for t in texts]
                    data: dict[str, Any] = {
                        "translatedText": out if isinstance(body["q"], list) else out[0]
                    }
                    if body.get("source") == "auto":
                        found = [{"confidence": 90.0, "language": guess(t)} for t in texts]
                        data["detectedLanguage"] = (
                            found if isinstance(body["q"], list) else found[0]
                        )
                    self._answer(200, data)
                else:
                    self._answer(404, {"error": "not found"})

        return Handler
