"""The HTML routes of every feature, in the order of market/features.py (the one list)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from market.features import registry

routes: list[BaseRoute] = list(registry().page_routes)
