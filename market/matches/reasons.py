"""Match reasons and unmatched causes in the reader's language."""

from __future__ import annotations

import math
from typing import Any, Protocol

from market import languages
from market.i18n import gettext, ngettext
from market.posts import taxonomy


class _Distanced(Protocol):
    # Read-only, so that a column typed with a StrEnum (a str) satisfies it.
    @property
    def status(self) -> str: ...

    distance_km: float | None
    connected_at: Any


def is_connected(match: _Distanced) -> bool:
    """Connected now or before (a connected match closed later keeps what it told)."""
    return match.status == "connected" or match.connected_at is not None


def whole_km(km: float) -> int:
    """Whole kilometres, at least 1 (half up, not to even): what a proposal tells of a distance."""
    return max(1, math.floor(km + 0.5))


def shown_distance_km(match: _Distanced) -> float | None:
    """The distance between a match's two posts as its parties and pages see it.

    Until the pair is connected it is whole kilometres and at least 1: the exact distance from
    one's own exact point to the partner's would be one more circle to trilaterate them with
    (API.md, Release 2, Privacy of places). Once connected they exchange contact anyway.
    """
    if match.distance_km is None:
        return None
    return match.distance_km if is_connected(match) else whole_km(match.distance_km)


def reason_text(reason: dict[str, Any], *, exact: bool = False) -> str:
    """One reason in words; `exact` (a connected match) says the distance to the tenth,
    otherwise it is whole kilometres, at least 1, as `shown_distance_km`."""
    code = reason.get("code")
    params = reason.get("params") or {}
    if code == "same_category":
        return gettext(
            "both about: %(category)s", category=taxonomy.category_name(params["category"])
        )
    if code == "parent_category":
        return gettext(
            "offer covers %(category)s",
            category=taxonomy.category_name(params["subcategory"]),
        )
    if code == "shared_language":
        return gettext("both speak %(language)s", language=languages.name(str(params["language"])))
    if code == "distance":
        km = float(params["km"])
        if not exact:
            return gettext("%(km)s km apart", km=f"{whole_km(km):d}")
        if km < 1:
            return gettext("less than 1 km apart")
        return gettext("%(km)s km apart", km=f"{round(km):d}")
    if code == "remote":
        return gettext("can meet online or by phone")
    if code == "time_overlap":
        return gettext("free at the same times")
    if code == "no_time_overlap":
        return gettext("no common free time yet")
    if code == "waiting":
        days = int(params["days"])
        return ngettext("waiting %(num)d day", "waiting %(num)d days", days)
    return str(code)


def texts(reasons: list[dict[str, Any]], *, exact: bool = False) -> list[str]:
    return [reason_text(r, exact=exact) for r in reasons]
