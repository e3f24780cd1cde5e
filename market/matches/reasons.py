"""Match reasons and unmatched causes in the reader's language."""

from __future__ import annotations

from typing import Any

from market.i18n import gettext, ngettext
from market.posts import languages, taxonomy


def reason_text(reason: dict[str, Any]) -> str:
    code = reason.get("code")
    params = reason.get("params") or {}
    if code == "same_category":
        return gettext("both about: %(category)s", category=taxonomy.category_name(params["category"]))
    if code == "parent_category":
        return gettext(
            "offer covers %(category)s",
            category=taxonomy.category_name(params["subcategory"]),
        )
    if code == "shared_language":
        return gettext("both speak %(language)s", language=languages.name(str(params["language"])))
    if code == "distance":
        km = float(params["km"])
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


def texts(reasons: list[dict[str, Any]]) -> list[str]:
    return [reason_text(r) for r in reasons]
