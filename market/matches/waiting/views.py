"""Pages of the follow-through: the coordinators' "waiting for an answer" queue with its
one-click actions, and the link a paused volunteer follows to say they are available again."""

from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.actor import actor_of, staff_actor
from market.db import utcnow
from market.errors import Invalid
from market.forms import page
from market.i18n import N_
from market.matches import followthrough, guardian, regional, services
from market.matches.models import Match
from market.matches.views import decline_label
from market.posts.models import Post
from market.web import (
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
    settings_of,
    with_flash,
)

MSG_REMINDED = N_("We reminded everyone who has not answered yet.")
MSG_WITHDRAWN = N_("The match was withdrawn. Both posts are proposed to someone else.")
MSG_AVAILABLE = N_("Thank you. You will get new match suggestions again.")
LINK_SPENT = N_("This link is not valid any more. You can say you are available on your page.")


async def waiting(request: Request) -> Response:
    if await current_user(request) is None:
        return login_redirect(request)
    actor = await staff_actor(request)
    session = db(request)
    rows = list((await session.execute(guardian.waiting_for_answer(actor).limit(200))).all())
    offer_ids = sorted({m.offer_id for m, _ in rows})
    offers = {p.id: p for p in await session.scalars(select(Post).where(Post.id.in_(offer_ids)))}
    # Earlier declines of the same need, by reason: a hint why it is hard to match.
    declines = await regional.decline_counts(session, sorted({need.id for _, need in rows}))
    context = {
        "rows": rows,
        "offers": offers,
        "declines": declines,
        "decline_label": decline_label,
    }
    return await page(request, "followthrough/waiting.html", context)


async def _action(request: Request, action: str) -> Response:
    if await current_user(request) is None:
        return login_redirect(request)
    actor = await staff_actor(request)
    await form_with_csrf(request)
    session, settings = db(request), settings_of(request)
    match = await guardian.waiting_match(session, actor, request.path_params["match_id"])
    if action == "remind":
        await followthrough.remind(session, settings, match.id)
        return redirect(with_flash("/review/waiting", MSG_REMINDED))
    await services.withdraw(session, match, "coordinator")
    for post_id in (match.need_id, match.offer_id):
        post = await session.get(Post, post_id)
        if post is not None:
            await services.match_post(session, settings, post)
    return redirect(with_flash("/review/waiting", MSG_WITHDRAWN))


async def remind(request: Request) -> Response:
    return await _action(request, "remind")


async def withdraw(request: Request) -> Response:
    return await _action(request, "withdraw")


async def available(request: Request) -> Response:
    """The link in the "paused" mail. GET asks, POST records: a mail scanner that opens the
    link changes nothing."""
    session, settings = db(request), settings_of(request)
    token = request.query_params.get("token", "")
    if request.method == "POST":
        form = await form_with_csrf(request)
        token = str(form.get("token", ""))
    user = await followthrough.user_from_token(session, settings, token)
    if user is None and not token:
        # Without a link: the logged-in volunteer (the in-app notification leads here).
        me = await current_user(request)
        if me is None:
            return login_redirect(request)
        user = me if guardian.may_set_availability(await actor_of(request), me.id) else None
        if user is not None and user.available:
            return redirect(with_flash("/my/matches", MSG_AVAILABLE))
    if user is None:
        raise Invalid.one("token", LINK_SPENT)
    if request.method == "GET":
        return await page(request, "followthrough/available.html", {"token": token, "person": user})
    await followthrough.set_available(session, settings, user, True)
    target = "/my/matches" if await current_user(request) is not None else "/"
    return redirect(with_flash(target, MSG_AVAILABLE))


MSG_OUTCOME = N_("Thank you for your answer.")


async def met(request: Request) -> Response:
    """The links in the "Did you meet?" mail: GET asks, POST records (a mail scanner that opens
    both links records nothing). A spent link or an ended match answers a friendly 409 page."""
    session, settings = db(request), settings_of(request)
    token, answer = request.query_params.get("token", ""), request.query_params.get("met", "")
    if request.method == "POST":
        form = await form_with_csrf(request)
        token, answer = str(form.get("token", "")), str(form.get("met", ""))
    found = followthrough.outcome_from_token(settings, token)
    if found is None or found[0] != request.path_params["match_id"] or answer not in ("0", "1"):
        raise Invalid.one("token", LINK_SPENT)
    match = await session.get(Match, found[0])
    if match is None:
        raise Invalid.one("token", LINK_SPENT)
    if request.method == "GET":
        context = {"token": token, "met": answer == "1", "match_id": match.id}
        return await page(request, "followthrough/met.html", context)
    await followthrough.record_outcome(session, match, found[1], answer == "1", None, utcnow())
    target = f"/matches/{match.id}" if await current_user(request) is not None else "/"
    return redirect(with_flash(target, MSG_OUTCOME))


routes = [
    Route("/matches/{match_id}/met", met, methods=["GET", "POST"]),
    Route("/review/waiting", waiting, methods=["GET"]),
    Route("/review/waiting/{match_id}/remind", remind, methods=["POST"]),
    Route("/review/waiting/{match_id}/withdraw", withdraw, methods=["POST"]),
    Route("/me/available", available, methods=["GET", "POST"]),
]
