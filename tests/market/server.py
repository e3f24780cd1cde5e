"""A real uvicorn server on loopback, in a thread of its own, for tests that need real HTTP:
keep-alive connections, what the server does after an error, a database that goes away."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from tests.smtp import free_port


class ServerThread:
    """`uvicorn.Server` serving `app` on 127.0.0.1 (its own event loop, in a thread)."""

    def __init__(self, app: Any, **config: Any) -> None:
        self.port = free_port()
        # A long idle timeout: a test that pauses must not see its connection closed for that.
        config.setdefault("timeout_keep_alive", 120)
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", **config)
        )
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
