"""What the organisation pages share: their notices, status labels and how a page finds
the organisation the guardian cleared the caller for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from market.accounts.models import User
from market.actor import Actor, actor_of
from market.forms import page
from market.organisations import applications, guardian, queries
from market.organisations.models import Application, Organisation
from market.posts.models import Post
from market.posts.taxonomy import N_
from market.web import (
    current_user,
    db,
    login_redirect,
    settings_of,
)

MSG_APPLIED = N_("Your application is sent. The organisation will answer you here and by email.")
MSG_ACCEPTED = N_("The application is accepted. You can now write to the volunteer.")
MSG_DECLINED = N_("The application is declined. We tell the volunteer.")
MSG_WITHDRAWN = N_("Your application is withdrawn.")
MSG_SAVED = N_("Your changes are saved.")
MSG_INVITED = N_("The invitation is sent by email.")
MSG_REVOKED = N_("The invitation is cancelled.")
MSG_REMOVED = N_("The member is removed.")
MSG_LEFT = N_("You have left the organisation.")
MSG_JOINED = N_("Welcome! You are now a member of the organisation.")
MSG_CLIENT_ADDED = N_("The person is added. You can now post a request for them.")
MSG_CLIENT_ERASED = N_("Everything about this person is erased; their requests are closed.")
MSG_POSTED = N_("The request is saved.")
MSG_NOT_SAME = N_("The two passwords are not the same.")

APPLICATION_STATUS_LABELS = {
    "pending": N_("Waiting for an answer"),
    "accepted": N_("Accepted"),
    "declined": N_("Not accepted"),
    "withdrawn": N_("Withdrawn"),
}
MEMBER_ROLE_LABELS = {"owner": N_("Owner"), "member": N_("Member")}
MATCH_STATUS_LABELS = {
    "proposed": N_("Proposed"),
    "connected": N_("Connected"),
    "declined": N_("Declined"),
    "closed": N_("Ended"),
}
# The colours the stylesheet has for statuses: waiting, good, bad, over.
APPLICATION_STATUS_CLASSES = {
    "pending": "pending",
    "accepted": "approved",
    "declined": "rejected",
    "withdrawn": "closed",
}
LABELS = {
    "APPLICATION_STATUS_LABELS": APPLICATION_STATUS_LABELS,
    "APPLICATION_STATUS_CLASSES": APPLICATION_STATUS_CLASSES,
    "MEMBER_ROLE_LABELS": MEMBER_ROLE_LABELS,
    "MATCH_STATUS_LABELS": MATCH_STATUS_LABELS,
}
WIDGET_LIMIT = 50


async def labelled_page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    return await page(request, template, {**LABELS, **context}, status_code=status_code)


Clearance = Callable[[AsyncSession, Actor, str], Awaitable[Organisation]]


async def cleared(
    request: Request, clearance: Clearance
) -> tuple[User, Actor, Organisation, guardian.Seat | None] | Response:
    """The signed-in caller and the organisation the guardian cleared them for (`clearance` is
    guardian.for_members, for_owners or for_overview); anonymous visitors go to the login."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    actor = await actor_of(request)
    org = await clearance(db(request), actor, request.path_params["org_id"])
    return user, actor, org, guardian.seat(actor, org)


async def applications_json(session: AsyncSession, rows: list[Application]) -> list[dict[str, Any]]:
    """The API's view of applications, plus the dates as datetimes for the date filter."""
    items = await applications.to_json_many(session, rows)
    for item, row in zip(items, rows, strict=True):
        item["created"] = row.created_at
    return items


def base_url(request: Request) -> str:
    return settings_of(request).base_url.rstrip("/")


async def postings_with_details(session: AsyncSession, rows: list[Post]) -> list[dict[str, Any]]:
    counts = await queries.application_counts(session, [p.id for p in rows])
    found = []
    for post in rows:
        details = await applications.posting_of(session, post.id)
        found.append(
            {
                "post": post,
                "details": applications.posting_json(post, details, counts[post.id]["accepted"]),
                "pending": counts[post.id]["pending"],
            }
        )
    return found
