"""The members' overview of their organisation: postings with their applicants, requests,
suggested volunteers, conversations and clients, and the same postings as a CSV table."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from market.i18n import gettext
from market.matches.models import Match
from market.organisations import guardian, queries, services
from market.organisations.models import Organisation
from market.organisations.pages.common import (
    applications_json,
    base_url,
    cleared,
    labelled_page,
    postings_with_details,
)
from market.posts.models import Post
from market.web import (
    db,
)

# --- The dashboard


async def dashboard(request: Request) -> Response:
    found = await cleared(request, guardian.for_overview)
    if isinstance(found, Response):
        return found
    user, actor, org, member = found
    session = db(request)
    mine = guardian.shows_private_parts(actor, org)
    posting_rows = list(
        (
            await session.execute(
                guardian.overview_posts(actor, org, queries.postings_of(org.id)).limit(100)
            )
        ).scalars()
    )
    postings = await postings_with_details(session, posting_rows)
    open_ids = [p.id for p in posting_rows if p.status in ("published", "pending_review")]
    waiting = list((await session.execute(queries.of_posts(open_ids, "pending"))).scalars())
    applicants: dict[str, list[dict[str, Any]]] = {}
    for item in await applications_json(session, waiting):
        applicants.setdefault(item["post_id"], []).append(item)
    needs = list(
        (
            await session.execute(
                guardian.overview_posts(actor, org, queries.needs_of(org.id)).limit(50)
            )
        ).scalars()
    )
    clients = await services.clients(session, org.id) if mine else []
    context = {
        "org": org,
        "member": member,
        "postings": postings,
        "applicants": applicants,
        "needs": needs,
        "matches": await _matches(session, guardian.overview_posts(actor, org, _org_posts(org))),
        "conversations": await services.conversations_of(session, org.id, user.id) if mine else [],
        "clients": clients,
        "client_posts": await services.client_posts(session, [c.id for c in clients]),
        "widget_snippet": _widget_snippet(request, org),
        "next": f"/organisations/{org.id}/dashboard",
    }
    return await labelled_page(request, "organisations/dashboard.html", context)


def _widget_snippet(request: Request, org: Organisation) -> str:
    src = f"{base_url(request)}/organisations/{org.id}/widget"
    title = gettext("Volunteer with %(name)s", name=org.name).replace('"', "&quot;")
    return (
        f'<iframe src="{src}" title="{title}" width="100%" height="420" '
        'style="border:0" loading="lazy"></iframe>'
    )


def _org_posts(org: Organisation) -> Select[Any]:
    return select(Post.id).where(Post.organisation_id == org.id)


async def _matches(session: AsyncSession, need_ids: Select[Any]) -> list[dict[str, Any]]:
    """The matches of the organisation's needs (`need_ids` as scoped by the guardian)."""
    stmt = (
        select(Match, Post)
        .join(Post, Post.id == Match.need_id)
        .where(Post.id.in_(need_ids))
        .order_by(Match.created_at.desc(), Match.id.desc())
        .limit(50)
    )
    return [{"match": m, "need": p} for m, p in (await session.execute(stmt)).all()]


# --- CSV export


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    """A spreadsheet cell that cannot start a formula (CSV injection)."""
    cell = "" if value is None else str(value)
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


async def postings_csv(request: Request) -> Response:
    found = await cleared(request, guardian.for_overview)
    if isinstance(found, Response):
        return found
    _user, actor, org, _seat = found
    session = db(request)
    stmt = guardian.overview_posts(actor, org, queries.postings_of(org.id))
    rows = list((await session.execute(stmt)).scalars())
    counts = await queries.application_counts(session, [p.id for p in rows])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "id",
            "title",
            "category",
            "status",
            "seats",
            "accepted",
            "pending_applications",
            "created_at",
        ]
    )
    for post in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    post.id,
                    post.title,
                    post.category,
                    post.status,
                    post.seats,
                    counts[post.id]["accepted"],
                    counts[post.id]["pending"],
                    post.created_at.isoformat(),
                )
            ]
        )
    # A byte order mark, so that spreadsheet programs read umlauts as UTF-8.
    body = "\ufeff" + buffer.getvalue()
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="postings-{org.id}.csv"',
            "Cache-Control": "no-store",
        },
    )
