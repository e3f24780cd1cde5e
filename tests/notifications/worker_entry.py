"""Start the real arq worker (market.worker.WorkerSettings) for tests, with shorter timeouts.

    python tests/notifications/worker_entry.py

Environment: the usual ANLAUF_* settings, plus TEST_JOB_TIMEOUT (seconds; arq's in-progress
marker of a killed job lives this long plus 10 s).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from market.worker import run
from notifications.outbox import RetryPolicy

if __name__ == "__main__":
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s pid=%(process)d %(name)s %(levelname)s %(message)s",
    )
    # The same entry point as `anlauf worker` (which survives Redis outages), shorter timeouts.
    run(
        job_timeout=float(os.environ.get("TEST_JOB_TIMEOUT", "8")),
        poll_delay=0.05,
        ctx={"retry_policy": RetryPolicy(base_seconds=0.3, cap_seconds=2.0, jitter=0.0)},
    )
