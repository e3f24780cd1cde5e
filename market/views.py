"""Collects the HTML routes of every feature."""

from __future__ import annotations

import importlib

from starlette.routing import BaseRoute

VIEW_MODULES = ("market.posts.views", "market.accounts.views", "market.vetting.views")


def _collect() -> list[BaseRoute]:
    found: list[BaseRoute] = []
    for name in VIEW_MODULES:
        try:  # TEMPORARY while pages are being built
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        found.extend(getattr(module, "routes", []))
    return found


routes: list[BaseRoute] = _collect()
