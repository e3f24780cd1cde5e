"""Retention: what is kept only for a while (API.md, Release 2), as periodic rules.

Three rules, one module each, all registered with market.maintenance (market.features) and all
taking `now` instead of reading the clock:

- `needs`: a need waiting 30 days without a match asks its author whether it is still needed,
  and is closed 7 days later without an answer (with the page behind the mail's link);
- `accounts`: inactive accounts are warned 30 and 7 days before, then deleted;
- `certificates`: police-certificate dates are deleted when their keeping time is over.

The names are re-exported here, so `market.retention:ask_stale_needs` and friends keep working.
"""

from market.retention.accounts import (
    WARN_FIRST,
    WARN_LAST,
    AccountRetention,
    add_months,
    last_active,
    retire_inactive_accounts,
)
from market.retention.certificates import (
    KEEP_AFTER_ACTIVITY,
    KEEP_WITHOUT_ACTIVITY,
    delete_certificate_facts,
)
from market.retention.needs import (
    BATCH,
    CLOSE_AFTER,
    LINK_MAX_AGE,
    STALE_AFTER,
    NeedConfirmation,
    ask_stale_needs,
    close_unconfirmed,
    confirm,
    confirm_token,
    read_token,
    routes,
    still_needed,
)

__all__ = [
    "BATCH",
    "CLOSE_AFTER",
    "KEEP_AFTER_ACTIVITY",
    "KEEP_WITHOUT_ACTIVITY",
    "LINK_MAX_AGE",
    "STALE_AFTER",
    "WARN_FIRST",
    "WARN_LAST",
    "AccountRetention",
    "NeedConfirmation",
    "add_months",
    "ask_stale_needs",
    "close_unconfirmed",
    "confirm",
    "confirm_token",
    "delete_certificate_facts",
    "last_active",
    "read_token",
    "retire_inactive_accounts",
    "routes",
    "still_needed",
]
