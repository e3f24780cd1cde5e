"""Collects the HTML routes of every feature."""

from __future__ import annotations

import importlib

from starlette.routing import BaseRoute

from market.web import flash_key

VIEW_MODULES = (
    "market.posts.views",
    "market.accounts.views",
    "market.accounts.oidc",
    "market.vetting.views",
    "market.matches.views",
    "market.matches.waiting.views",
    "market.organisations.views",
    "market.inbox.views",
    "market.retention",
)


def _collect() -> list[BaseRoute]:
    found: list[BaseRoute] = []
    for name in VIEW_MODULES:
        module = importlib.import_module(name)
        found.extend(getattr(module, "routes", []))
        # Register the notices a module may show after a redirect (constants named MSG_*).
        for name in dir(module):
            if name.startswith("MSG_") and isinstance(getattr(module, name), str):
                flash_key(getattr(module, name))
    return found


routes: list[BaseRoute] = _collect()
