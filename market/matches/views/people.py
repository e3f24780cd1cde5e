"""Pages of the people in a match: my matches, answering, one match with its conversation,
"did you meet?", reopening, and a post's matches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from market.accounts.models import User
from market.actor import Actor, actor_of
from market.conversations import guardian as conversations_guardian
from market.conversations import messages
from market.db import utcnow
from market.errors import Conflict, Forbidden, Invalid
from market.forms import text
from market.matches import (
    followthrough,
    guardian,
    queries,
    reasons,
    services,
)
from market.matches.models import OPEN, Match
from market.matches.views.common import (
    DECLINE_REASON_LABELS,
    MSG_ACCEPTED,
    MSG_CONNECTED,
    MSG_CONNECTED_HERE,
    MSG_DECLINED,
    MSG_NOT_YET,
    MSG_OUTCOME_NOT_MET,
    MSG_OUTCOME_SAVED,
    MSG_REOPENED,
    MSG_TOO_LATE,
    OLDER_SHOWN,
    PAGE_SIZE,
    _page,
    _reason_texts,
    write_from_form,
)
from market.posts.models import Post
from market.translation import service as translation
from market.web import (
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
    safe_next,
    settings_of,
    with_flash,
)

# --- One match as a page shows it


@dataclass
class Card:
    match: Match
    side: str | None  # the viewer's side; None when the viewer looks on (a coordinator)
    mine: Post | None  # the viewer's post, or the post whose matches are listed
    other: Post  # the post on the other side
    my_response: str | None
    # The posts' title and body in the reader's language when they are written in another
    # ({"lang", "title", "body"}, market.translation), else None; the page labels them.
    other_translation: dict[str, Any] | None = None
    mine_translation: dict[str, Any] | None = None

    @property
    def can_answer(self) -> bool:
        return (
            self.side is not None
            and self.match.status == "proposed"
            and self.my_response == "pending"
        )

    @property
    def reasons(self) -> list[str]:
        return _reason_texts(self.match.reasons or [])

    @property
    def distance_km(self) -> float | None:
        """Whole km (at least 1) until the pair is connected, as the API says it."""
        return reasons.shown_distance_km(self.match)


async def _cards(
    session: AsyncSession, viewer: Actor, matches: list[Match], anchor: str | None = None
) -> list[Card]:
    ids = {m.offer_id for m in matches} | {m.need_id for m in matches}
    by_id = (
        {p.id: p for p in (await session.execute(select(Post).where(Post.id.in_(ids)))).scalars()}
        if ids
        else {}
    )
    cards = []
    for m in matches:
        side = await guardian.side_of(session, viewer, m)
        offer, need = by_id[m.offer_id], by_id[m.need_id]
        # The viewer's own post, or the post whose matches are listed; the other is the partner's.
        own_offer = side == "offer" if side is not None else anchor == offer.id
        mine: Post | None = offer if own_offer else need
        other = need if own_offer else offer
        if side is None and anchor is None:
            mine = None
        cards.append(Card(m, side, mine, other, services.my_response(m, side) if side else None))
    # One call for every post on the page, under the request's translation budget (a slow or
    # stopped server gives the originals, never an error; the same rule as the post page).
    shown = {p.id: p for c in cards for p in (c.other, c.mine) if p is not None}
    translated = await translation.for_posts(
        session, list(shown.values()), reader_id=viewer.user.id if viewer.user else None
    )
    for card in cards:
        card.other_translation = translated.get(card.other.id)
        card.mine_translation = translated.get(card.mine.id) if card.mine else None
    return cards


# --- My matches


async def my_matches(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    session = db(request)
    actor = await actor_of(request)
    stmt = guardian.visible(actor, select(Match))
    open_rows = list(
        (
            await session.execute(
                stmt.where(Match.status.in_(OPEN)).order_by(Match.created_at.desc(), Match.id)
            )
        ).scalars()
    )
    older_rows = list(
        (
            await session.execute(
                stmt.where(Match.status.not_in(OPEN))
                .order_by(Match.updated_at.desc(), Match.id)
                .limit(OLDER_SHOWN)
            )
        ).scalars()
    )
    groups: dict[str, list[Card]] = {"answer": [], "waiting": [], "connected": [], "older": []}
    for card in await _cards(session, actor, open_rows + older_rows):
        if card.match.status == "connected":
            groups["connected"].append(card)
        elif card.match.status == "proposed":
            groups["answer" if card.my_response == "pending" else "waiting"].append(card)
        else:
            groups["older"].append(card)
    return await _page(request, "matches/mine.html", {"groups": groups})


# --- Answering


async def _answer(request: Request, accept: bool) -> Response:
    match_id = request.path_params["match_id"]
    user = await current_user(request)
    if user is None:
        return redirect(f"/login?next={quote('/matches/' + match_id)}")
    form = await form_with_csrf(request)
    session = db(request)
    match, side = await guardian.readable(session, await actor_of(request), match_id)
    back = safe_next(text(form, "next") or f"/matches/{match.id}")
    reason = text(form, "reason") or None
    if reason is not None and reason not in DECLINE_REASON_LABELS:
        raise Invalid.one("reason", "Please choose one of the reasons.")
    try:
        match = await services.respond(
            session,
            settings_of(request),
            user,
            match,
            side,
            accept,
            reason=None if accept else reason,
        )
    except Conflict:
        return redirect(with_flash(back, MSG_TOO_LATE))
    if not accept:
        message = MSG_DECLINED
    elif match.status == "connected":
        message = MSG_CONNECTED_HERE if back == f"/matches/{match.id}" else MSG_CONNECTED
    else:
        message = MSG_ACCEPTED
    return redirect(with_flash(back, message))


async def accept(request: Request) -> Response:
    return await _answer(request, True)


async def decline(request: Request) -> Response:
    return await _answer(request, False)


# --- One match and its conversation


async def _match_page(
    request: Request,
    actor: Actor,
    match: Match,
    side: str,
    *,
    body: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    session = db(request)
    (card,) = await _cards(session, actor, [match])
    partner: User | None = None
    partner_deleted = False
    if match.status == "connected":
        partner = await session.get(
            User, match.need_author_id if side == "offer" else match.volunteer_id
        )
        partner_deleted = partner is None or partner.deleted_at is not None
    conversation_id = await services.conversation_id(session, match)
    thread: list[Any] | None = None
    authors: dict[str, User] = {}
    participant = (
        await conversations_guardian.participant_of(session, actor, conversation_id)
        if conversation_id
        else None
    )
    if conversation_id and participant is not None and actor.user is not None:
        thread = await messages.thread(session, conversation_id)
        authors = await queries.users_by_id(session, [m.author_id for m in thread if m.author_id])
        if status_code < 400:
            await messages.mark_read(session, actor.user, conversation_id)
    context = {
        "card": card,
        "match": match,
        # "Did you meet?" in the app (followthrough), and reopening a match that did not happen.
        "ask_outcome": followthrough.asks(match, side),
        "may_reopen": guardian.may_reopen(side) and services.may_be_reopened(match),
        "partner": partner,
        "partner_deleted": partner_deleted,
        "thread": thread,
        # Others' messages in the reader's language (market.translation), when configured.
        "msg_translations": await translation.for_messages(
            session, thread or [], reader_id=actor.user.id if actor.user else None
        ),
        "authors": authors,
        "body": body,
        "errors": errors or {},
    }
    return await _page(request, "matches/detail.html", context, status_code=status_code)


async def match_detail(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    actor = await actor_of(request)
    match, side = await guardian.readable(db(request), actor, request.path_params["match_id"])
    return await _match_page(request, actor, match, side)


async def write_message(request: Request) -> Response:
    match_id = request.path_params["match_id"]
    user = await current_user(request)
    if user is None:
        return redirect(f"/login?next={quote('/matches/' + match_id)}")
    form = await form_with_csrf(request)
    session = db(request)
    actor = await actor_of(request)
    match, side = await guardian.readable(session, actor, match_id)
    conversation_id = await services.conversation_id(session, match)
    if conversation_id is None:
        raise Conflict(MSG_NOT_YET)

    async def show_again(body: str, errors: dict[str, str]) -> Response:
        return await _match_page(
            request, actor, match, side, body=body, errors=errors, status_code=422
        )

    back = f"/matches/{match.id}"
    return await write_from_form(request, user, form, conversation_id, back, show_again)


# --- "Did you meet?" in the app, and reopening a match that did not happen


async def outcome(request: Request) -> Response:
    """The two answers on the match page and the dashboard card (forms, no JavaScript); an
    answer to a match that is over, or a second answer, is a friendly 409 page."""
    match_id = request.path_params["match_id"]
    user = await current_user(request)
    if user is None:
        return redirect(f"/login?next={quote('/matches/' + match_id)}")
    form = await form_with_csrf(request)
    session = db(request)
    match, side = await guardian.readable(session, await actor_of(request), match_id)
    answer = text(form, "met")
    if answer not in ("0", "1"):
        raise Invalid.one("met", "Please choose one of the answers.")
    await followthrough.record_outcome(session, match, side, answer == "1", None, utcnow())
    back = safe_next(text(form, "next") or f"/matches/{match.id}")
    met = answer == "1"
    if not met and guardian.may_reopen(side) and services.may_be_reopened(match):
        back = f"/matches/{match.id}"
    return redirect(with_flash(back, MSG_OUTCOME_SAVED if met else MSG_OUTCOME_NOT_MET))


async def reopen(request: Request) -> Response:
    match_id = request.path_params["match_id"]
    user = await current_user(request)
    if user is None:
        return redirect(f"/login?next={quote('/matches/' + match_id)}")
    await form_with_csrf(request)
    session = db(request)
    match, side = await guardian.readable(session, await actor_of(request), match_id)
    if not guardian.may_reopen(side):
        raise Forbidden("Only the person who asked for help can reopen a match.")
    await services.reopen(session, settings_of(request), match)
    return redirect(with_flash(f"/matches/{match.id}", MSG_REOPENED))


# --- A post's matches


def _start(request: Request) -> int:
    raw = request.query_params.get("start", "0")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 0


async def post_matches(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    session = db(request)
    actor = await actor_of(request)
    post = await guardian.post_for_matches(session, actor, request.path_params["post_id"])
    start = _start(request)
    rows = await guardian.best_of_post(session, post, start, PAGE_SIZE + 1)
    cards = await _cards(session, actor, rows[:PAGE_SIZE], anchor=post.id)
    next_url = (
        f"{request.url.path}?{urlencode({'start': start + PAGE_SIZE})}"
        if len(rows) > PAGE_SIZE
        else None
    )
    first_url = request.url.path if start else None
    return await _page(
        request,
        "matches/post.html",
        {"post": post, "cards": cards, "next_url": next_url, "first_url": first_url},
    )
