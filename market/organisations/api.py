"""JSON API for organisations, members, invitations, clients, postings and applications.

Every access decision is the guardian's (market/organisations/guardian.py), as on the pages.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.actor import Actor, actor_of
from market.api import no_content, ok, page, page_params, paginate, read_action, read_json
from market.errors import Invalid, NotFound
from market.organisations import applications, guardian, queries, services
from market.organisations.models import Application, Client, Invitation, Posting
from market.organisations.schemas import (
    ApplicationIn,
    ClientIn,
    DecisionIn,
    InvitationIn,
    InvitationSignupIn,
    MemberPatch,
    OrganisationPatch,
    PostingIn,
    TokenIn,
)
from market.posts import services as posts
from market.posts.models import Post
from market.posts.schemas import PostIn
from market.web import client_ip, db, require_user, settings_of


async def _signed_in(request: Request) -> Actor:
    """The caller, who must be signed in (401 otherwise)."""
    await require_user(request)
    return await actor_of(request)


# --- The organisation


async def organisation(request: Request) -> Response:
    session = db(request)
    org_id = request.path_params["org_id"]
    if request.method == "PATCH":
        actor = await _signed_in(request)
        org = await guardian.for_owners(session, actor, org_id)
        patch = await read_json(request, OrganisationPatch)
        org = await services.update_profile(session, org, patch)
        return ok(await services.to_json(session, org))
    org = await guardian.readable(session, await actor_of(request), org_id)
    return ok(await services.to_json(session, org))


async def my_organisations(request: Request) -> Response:
    actor = await _signed_in(request)
    session = db(request)
    items = []
    for org in await services.organisations_of(session, actor.id or ""):
        found = guardian.seat(actor, org)
        items.append(await services.to_json(session, org) | {"my_role": found and found.role})
    return ok({"items": items, "next_cursor": None})


async def postings(request: Request) -> Response:
    """The organisation's postings: open ones for anyone who sees it, all for its members."""
    session = db(request)
    actor = await actor_of(request)
    org = await guardian.readable(session, actor, request.path_params["org_id"])
    limit, cursor = page_params(request)
    stmt = guardian.postings(actor, org, queries.postings_of(org.id))
    stmt = paginate(stmt.order_by(None), Post.created_at, Post.id, limit, cursor)
    rows = list((await session.execute(stmt)).scalars())
    items = await _postings_json(session, rows[:limit], actor.user)
    by_id = {i["id"]: i for i in items}
    return ok(page(rows, limit, lambda p: by_id[p.id], lambda p: (p.created_at, p.id)))


async def _postings_json(session: Any, rows: list[Post], viewer: Any) -> list[dict[str, Any]]:
    items = await posts.to_json_many(session, rows, viewer)
    counts = await queries.application_counts(session, [p.id for p in rows])
    for item, post in zip(items, rows, strict=True):
        posting = await applications.posting_of(session, post.id)
        item["posting"] = applications.posting_json(post, posting, counts[post.id]["accepted"])
    return items


# --- Members


async def members(request: Request) -> Response:
    actor = await _signed_in(request)
    session = db(request)
    org = await guardian.for_members(session, actor, request.path_params["org_id"])
    limit, cursor = page_params(request)
    created, user_id = services.member_cursor_columns()
    stmt = paginate(services.members_query(org.id), created, user_id, limit, cursor, ascending=True)
    rows = list((await session.execute(stmt)).all())
    return ok(
        page(
            rows,
            limit,
            lambda r: services.member_json(r[0], r[1]),
            lambda r: (r[0].created_at, r[0].user_id),
        )
    )


async def member(request: Request) -> Response:
    actor = await _signed_in(request)
    session = db(request)
    org_id, user_id = request.path_params["org_id"], request.path_params["user_id"]
    if request.method == "DELETE":
        org = await guardian.for_members(session, actor, org_id)
        guardian.may_remove(actor, org, user_id)
        await services.remove_member(session, org, user_id)
        return no_content()
    org = await guardian.for_owners(session, actor, org_id)
    data = await read_json(request, MemberPatch)
    target, target_user = await services.change_role(session, org, user_id, data.role)
    return ok(services.member_json(target, target_user))


# --- Invitations


async def invitations(request: Request) -> Response:
    user = await require_user(request)
    session = db(request)
    org = await guardian.for_owners(session, await actor_of(request), request.path_params["org_id"])
    if request.method == "POST":
        data = await read_json(request, InvitationIn)
        await request.app.state.limiter.hit("invite", account=None, ip=client_ip(request))
        invitation, _ = await services.invite(session, settings_of(request), user, org, data)
        return ok(services.invitation_json(invitation), 201)
    limit, cursor = page_params(request)
    stmt = paginate(
        services.pending_invitations_query(org.id),
        Invitation.created_at,
        Invitation.id,
        limit,
        cursor,
    )
    rows = list((await session.execute(stmt)).scalars())
    return ok(page(rows, limit, services.invitation_json, lambda i: (i.created_at, i.id)))


async def invitation(request: Request) -> Response:
    actor = await _signed_in(request)
    session = db(request)
    org = await guardian.for_owners(session, actor, request.path_params["org_id"])
    await services.revoke_invitation(session, org, request.path_params["invitation_id"])
    return no_content()


async def accept_invitation(request: Request) -> Response:
    user = await require_user(request)
    data = await read_json(request, TokenIn)
    session = db(request)
    org, member = await services.accept_invitation(session, user, data.token)
    return ok({"organisation": await services.to_json(session, org), "role": member.role})


async def signup_with_invitation(request: Request) -> Response:
    data = await read_json(request, InvitationSignupIn)
    await request.app.state.limiter.hit("register", account=None, ip=client_ip(request))
    session = db(request)
    user, org, member = await services.signup_with_invitation(session, settings_of(request), data)
    return ok(
        {
            "user_id": user.id,
            "email": user.email,
            "organisation": await services.to_json(session, org),
            "role": member.role,
        },
        201,
    )


# --- Clients (caseworkers post needs for people without an account)


async def clients(request: Request) -> Response:
    user = await require_user(request)
    session = db(request)
    org = await guardian.for_members(
        session, await actor_of(request), request.path_params["org_id"]
    )
    if request.method == "POST":
        data = await read_json(request, ClientIn)
        client = await services.create_client(session, user, org, data)
        return ok(services.client_json(client), 201)
    limit, cursor = page_params(request)
    stmt = paginate(services.clients_query(org.id), Client.created_at, Client.id, limit, cursor)
    rows = list((await session.execute(stmt)).scalars())
    linked = await services.client_posts(session, [c.id for c in rows[:limit]])
    return ok(
        page(
            rows,
            limit,
            lambda c: services.client_json(c, linked[c.id]),
            lambda c: (c.created_at, c.id),
        )
    )


async def client(request: Request) -> Response:
    actor = await _signed_in(request)
    session = db(request)
    _org, found = await guardian.client(
        session, actor, request.path_params["org_id"], request.path_params["client_id"]
    )
    if request.method == "DELETE":
        await services.delete_client(session, found)
        return no_content()
    linked = await services.client_posts(session, [found.id])
    return ok(services.client_json(found, linked[found.id]))


async def client_posts(request: Request) -> Response:
    user = await require_user(request)
    session = db(request)
    org, found = await guardian.client(
        session,
        await actor_of(request),
        request.path_params["org_id"],
        request.path_params["client_id"],
    )
    data = await read_json(request, PostIn)
    post = await services.post_for_client(session, settings_of(request), user, org, found, data)
    body = (await posts.to_json_many(session, [post], user))[0]
    body["client_id"] = found.id
    return ok(body, 201)


# --- Postings and applications


async def posting(request: Request) -> Response:
    session = db(request)
    post_id = request.path_params["post_id"]
    details: Posting | None
    if request.method == "PUT":
        actor = await _signed_in(request)
        post = await guardian.managed_posting(session, actor, post_id)
        data = await read_json(request, PostingIn)
        details = await applications.set_posting(session, post, data)
    else:
        post = await guardian.posting(session, await actor_of(request), post_id)
        if not applications.is_posting(post):
            raise _not_a_posting()
        details = await applications.posting_of(session, post.id)
    accepted = await queries.accepted_count(session, post.id)
    return ok(applications.posting_json(post, details, accepted))


def _not_a_posting() -> Exception:
    return NotFound("This post is not a posting; it has no seats.")


async def post_applications(request: Request) -> Response:
    user = await require_user(request)
    actor = await actor_of(request)
    session = db(request)
    post_id = request.path_params["post_id"]
    if request.method == "POST":
        guardian.require_applicant(actor)
        data = await read_json(request, ApplicationIn, allow_empty=True)
        created = await applications.apply(session, settings_of(request), user, post_id, data)
        return ok((await applications.to_json_many(session, [created]))[0], 201)
    post, _ = await guardian.post_applications(session, actor, post_id)
    status = request.query_params.get("status") or None
    if status is not None and status not in ("pending", "accepted", "declined", "withdrawn"):
        raise Invalid.one("status", "status must be pending, accepted, declined or withdrawn.")
    limit, cursor = page_params(request)
    stmt = paginate(
        queries.of_post(post.id, status), Application.created_at, Application.id, limit, cursor
    )
    return ok(await _page(session, list((await session.execute(stmt)).scalars()), limit))


async def _page(session: Any, rows: list[Application], limit: int) -> dict[str, Any]:
    items = await applications.to_json_many(session, rows[:limit])
    by_id = {i["id"]: i for i in items}
    return page(rows, limit, lambda a: by_id[a.id], lambda a: (a.created_at, a.id))


async def application(request: Request) -> Response:
    user = await require_user(request)
    actor = await actor_of(request)
    session = db(request)
    application_id = request.path_params["application_id"]
    if request.method == "GET":
        found, _ = await guardian.application(session, actor, application_id)
    else:
        found, relation = await guardian.decidable(session, actor, application_id)
        data = await read_json(request, DecisionIn)
        found = await applications.decide(
            session, settings_of(request), user, found, relation, data
        )
    return ok((await applications.to_json_many(session, [found]))[0])


async def withdraw(request: Request) -> Response:
    actor = await _signed_in(request)
    session = db(request)
    found, relation = await guardian.withdrawable(
        session, actor, request.path_params["application_id"]
    )
    await read_action(request)
    found = await applications.withdraw(session, found, relation)
    return ok((await applications.to_json_many(session, [found]))[0])


async def my_applications(request: Request) -> Response:
    user = await require_user(request)
    session = db(request)
    limit, cursor = page_params(request)
    stmt = paginate(
        queries.of_volunteer(user.id), Application.created_at, Application.id, limit, cursor
    )
    return ok(await _page(session, list((await session.execute(stmt)).scalars()), limit))


routes = [
    Route("/organisations/invitations/accept", accept_invitation, methods=["POST"]),
    Route("/organisations/invitations/signup", signup_with_invitation, methods=["POST"]),
    Route("/organisations/{org_id}", organisation, methods=["GET", "PATCH"]),
    Route("/organisations/{org_id}/postings", postings, methods=["GET"]),
    Route("/organisations/{org_id}/members", members, methods=["GET"]),
    Route("/organisations/{org_id}/members/{user_id}", member, methods=["PATCH", "DELETE"]),
    Route("/organisations/{org_id}/invitations", invitations, methods=["GET", "POST"]),
    Route("/organisations/{org_id}/invitations/{invitation_id}", invitation, methods=["DELETE"]),
    Route("/organisations/{org_id}/clients", clients, methods=["GET", "POST"]),
    Route("/organisations/{org_id}/clients/{client_id}", client, methods=["GET", "DELETE"]),
    Route("/organisations/{org_id}/clients/{client_id}/posts", client_posts, methods=["POST"]),
    Route("/me/organisations", my_organisations, methods=["GET"]),
    Route("/me/applications", my_applications, methods=["GET"]),
    Route("/posts/{post_id}/posting", posting, methods=["GET", "PUT"]),
    Route("/posts/{post_id}/applications", post_applications, methods=["GET", "POST"]),
    Route("/applications/{application_id}", application, methods=["GET", "POST"]),
    Route("/applications/{application_id}/withdraw", withdraw, methods=["POST"]),
]
