"""The features built on the foundation: imported once so they subscribe to events and jobs."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

from starlette.routing import BaseRoute

# Each module may define `routes` (JSON API under /api/v1); importing it registers its handlers.
API_MODULES: tuple[str, ...] = (
    "market.matches.api",
    "market.matches.review_api",
    "market.matches.waiting.api",
    "market.conversations.api",
    "market.inbox.api",
)


def api_routes() -> Iterator[BaseRoute]:
    for name in API_MODULES:
        module = importlib.import_module(name)
        yield from getattr(module, "routes", [])


def load_features() -> None:
    """Import every feature module, so its event handlers and jobs are registered."""
    for name in API_MODULES:
        importlib.import_module(name)
