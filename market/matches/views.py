"""HTML pages for matches: my matches, a post's matches, one match with its conversation, and the
coordinators' matching run and unmatched needs."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import forms
from market.accounts.models import User
from market.actor import Actor, actor_of, staff_actor
from market.conversations import guardian as conversations_guardian
from market.conversations import messages
from market.db import utcnow
from market.errors import Conflict, Forbidden, Invalid
from market.forms import page, text
from market.i18n import N_, gettext
from market.matches import (
    followthrough,
    guardian,
    queries,
    reasons,
    regional,
    review_api,
    runs,
    services,
)
from market.matches.models import OPEN, Match
from market.posts.models import Post, Region
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

PAGE_SIZE = 20
OLDER_SHOWN = 30  # declined and ended matches listed on /my/matches, newest first

MSG_ACCEPTED = N_("Thank you. We tell you when the other side says yes too.")
MSG_CONNECTED = N_("You both said yes. Open the match to see the contact and write a message.")
MSG_CONNECTED_HERE = N_("You both said yes. Now you can see the contact and write a message.")
MSG_DECLINED = N_("You said no, thank you. We do not suggest this pair again.")
MSG_TOO_LATE = N_("This match is not waiting for an answer any more.")
MSG_SENT = N_("Your message is sent.")
MSG_RUN_DONE = N_("The matches are made. Both sides get a message and can say yes or no.")
MSG_PLAN_CHANGED = N_(
    "Posts changed since you looked. Here is the new plan. Please check it and confirm again."
)
MSG_NOT_YET = N_("You can write to each other once you both said yes.")
MSG_REOPENED = N_("We look for someone else for your request and tell you when we find someone.")
MSG_OUTCOME_SAVED = N_("Thank you for your answer.")
MSG_OUTCOME_NOT_MET = N_(
    "Thank you for your answer. If you still need help, you can ask us to look for someone else."
)

# --- Words for pages (message ids, translated in templates with _())

MATCH_STATUS_LABELS = {
    "proposed": N_("Suggested"),
    "connected": N_("Connected"),
    "declined": N_("Declined"),
    "closed": N_("Ended"),
    "expired": N_("Ended without an answer"),
}
# Why a party said no (models.DECLINE_REASONS): the decline form's choices, shown to coordinators.
DECLINE_REASON_LABELS = {
    "not_available": N_("I have no time at the moment"),
    "too_far": N_("It is too far away"),
    "language": N_("We do not share a language"),
    "not_suitable": N_("It does not fit what I need or offer"),
    "other": N_("Another reason"),
}
RESPONSE_LABELS = {
    "pending": N_("Waiting for your answer"),
    "accepted": N_("You said yes"),
    "declined": N_("You said no"),
}
CLOSED_LABELS = {
    "post_closed": N_("One of the two posts was closed."),
    "expired": N_("One of the two posts has expired."),
    "rejected": N_("One of the two posts was taken down."),
    "unpublished": N_("One of the two posts was taken down."),
    # Follow-through (market.matches.followthrough).
    "no_answer": N_("Nobody answered within 7 days."),
    "coordinator": N_("A coordinator withdrew this match because nobody answered."),
    "reopened": N_("This match did not happen. We look for someone else."),
}
CLOSED_OTHER = N_("The two posts do not fit together any more.")


def fit_label(score: float) -> str:
    """The score in words: people understand "very good fit" better than 0.68."""
    if score >= 0.65:
        return N_("Very good fit")
    if score >= 0.45:
        return N_("Good fit")
    return N_("Possible fit")


def fit_percent(score: float) -> int:
    return max(5, min(100, round(score * 100)))


def closed_label(reason: str | None) -> str:
    return CLOSED_LABELS.get(reason or "", CLOSED_OTHER)


DECLINE_NONE = N_("No reason given")


def decline_label(reason: str | None) -> str:
    """A decline reason's words (a message id); "none" and unknown values: no reason given."""
    return DECLINE_REASON_LABELS.get(reason or "", DECLINE_NONE)


HELPERS: dict[str, Any] = {
    "MATCH_STATUS_LABELS": MATCH_STATUS_LABELS,
    "RESPONSE_LABELS": RESPONSE_LABELS,
    "DECLINE_REASON_LABELS": DECLINE_REASON_LABELS,
    "fit_label": fit_label,
    "fit_percent": fit_percent,
    "closed_label": closed_label,
    "decline_label": decline_label,
}


async def _page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    return await page(request, template, {**HELPERS, **context}, status_code=status_code)


# --- One match as a page shows it


@dataclass
class Card:
    match: Match
    side: str | None  # the viewer's side; None when the viewer looks on (a coordinator)
    mine: Post | None  # the viewer's post, or the post whose matches are listed
    other: Post  # the post on the other side
    my_response: str | None

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


def _reason_texts(items: list[dict[str, Any]]) -> list[str]:
    """The reasons in words; the distance is shown on its own (rounded), so it is left out."""
    return reasons.texts([r for r in items if r.get("code") != "distance"])


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
    body = str(form.get("body") or "")
    try:
        await messages.post_message(session, user, conversation_id, body)
    except Invalid as exc:
        return await _match_page(
            request, actor, match, side, body=body, errors=forms.errors_of(exc), status_code=422
        )
    return redirect(with_flash(f"/matches/{match.id}", MSG_SENT) + "#messages")


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
    stmt = (
        guardian.of_post(post)
        .order_by(Match.score.desc(), Match.id)
        .offset(start)
        .limit(PAGE_SIZE + 1)
    )
    rows = list((await session.execute(stmt)).scalars())
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


# --- Coordinators: the matching run and the needs without a match


async def _staff(request: Request) -> Actor | Response:
    """The coordinator; anonymous people are sent to log in, everyone else gets 403 (and staff
    without a second factor, while ANLAUF_STAFF_2FA=required, are sent to set it up)."""
    if await current_user(request) is None:
        return login_redirect(request)
    return await staff_actor(request)


async def _region_choice(
    request: Request, coordinator: Actor, wanted: str | None, *, default_first: bool = True
) -> tuple[Region | None, list[tuple[str, str]]]:
    """The chosen region and the region options (all regions, when none is assigned)."""
    session = db(request)
    rows = list((await session.execute(guardian.regions(coordinator))).scalars())
    options = [(r.slug, r.name) for r in rows]
    everywhere = guardian.may_run_everywhere(coordinator)
    if everywhere:
        options.insert(0, ("", gettext("All regions")))
    if not wanted and not everywhere and rows and default_first:
        wanted = rows[0].slug
    region = await guardian.region_to_run(session, coordinator, wanted or None)
    return region, options


async def _run_page(
    request: Request,
    region: Region | None,
    options: list[tuple[str, str]],
    *,
    changed: bool = False,
    status_code: int = 200,
) -> Response:
    session = db(request)
    plan = await regional.plan(session, region.id if region else None)
    # A city's run may pair thousands; the page shows them best first, RUN_PAGE at a time, and
    # the confirmation applies the whole plan.
    pages = max(1, -(-len(plan.pairs) // RUN_PAGE))
    number = _page_number(request.query_params.get("page"), pages)
    shown = plan.pairs[(number - 1) * RUN_PAGE : number * RUN_PAGE]
    ids = [p.need_id for p in shown] + [p.offer_id for p in shown]
    by_id = (
        {p.id: p for p in (await session.execute(select(Post).where(Post.id.in_(ids)))).scalars()}
        if ids
        else {}
    )
    pairs = [
        {
            "need": by_id[p.need_id],
            "offer": by_id[p.offer_id],
            "score": p.score,
            "distance_km": p.distance_km,
            "reasons": _reason_texts(
                [{"code": r.code, "params": dict(r.params)} for r in p.reasons]
            ),
        }
        for p in shown
    ]
    here = {"region": region.slug} if region else {}
    base = "/review/matching"
    context = {
        "region": region,
        "region_value": region.slug if region else "",
        "region_options": options,
        "plan": plan,
        "pairs": pairs,
        "total": len(plan.pairs),
        "first_number": (number - 1) * RUN_PAGE + 1,
        "first_url": f"{base}?{urlencode(here)}" if number > 1 else None,
        "next_url": f"{base}?{urlencode({**here, 'page': number + 1})}" if number < pages else None,
        "changed": changed,
    }
    return await _page(request, "matches/run.html", context, status_code=status_code)


RUN_PAGE = 50


def _page_number(raw: str | None, pages: int) -> int:
    """The page asked for, within 1..pages; anything else is the first page (a pager link
    edited by hand should not end in an error page)."""
    try:
        number = int(raw or "1")
    except ValueError:
        return 1
    return min(max(number, 1), pages)


async def matching_run(request: Request) -> Response:
    """GET: the preview for a region. POST: make the very matches the coordinator saw."""
    coordinator = await _staff(request)
    if isinstance(coordinator, Response):
        return coordinator
    if request.method == "GET":
        region, options = await _region_choice(
            request, coordinator, request.query_params.get("region")
        )
        return await _run_page(request, region, options)
    form = await form_with_csrf(request)
    region, options = await _region_choice(
        request, coordinator, text(form, "region"), default_first=False
    )
    plan_id = text(form, "plan_id")
    if not plan_id or len(plan_id) > 64:
        return await _run_page(request, region, options, changed=True, status_code=409)
    # Confirming a city's plan takes seconds: a job does it; the coordinator watches its page.
    # Asking twice for the same plan lands on the same run (nothing is proposed twice).
    run = await runs.ask_confirm(
        db(request), region.id if region else None, plan_id, coordinator.id
    )
    return redirect(f"/review/runs/{run.id}")


RUN_STEPS = {
    "load": N_("Reading the posts"),
    "pairs": N_("Finding pairs nearby"),
    "judge": N_("Checking each pair"),
    "assign": N_("Choosing the best pairs"),
    "write": N_("Making the matches"),
}


async def run_progress(request: Request) -> Response:
    """A regional run while it works (the page reloads itself every 2 s), then its outcome."""
    coordinator = await _staff(request)
    if isinstance(coordinator, Response):
        return coordinator
    session = db(request)
    run_id = request.path_params["run_id"]
    run = await guardian.run_to_show(session, coordinator, run_id, runs.CONFIRM)
    region = await runs.region_of(session, run)
    here = {"region": region.slug} if region else {}
    context = {
        "run": run,
        "region": region,
        "step": RUN_STEPS.get(run.step or ""),
        "percent": int(100 * run.done / run.total) if run.total else None,
        "back_url": f"/review/matching?{urlencode(here)}" if here else "/review/matching",
        "created": (run.result or {}).get("created", 0) if run.status == "done" else None,
        "changed": run.status == "failed" and (run.result or {}).get("status") == 409,
    }
    return await _page(request, "matches/run_progress.html", context)


def _counted(counter: Counter[str], label: Any) -> list[tuple[str, str, int]]:
    """(key, label, count) rows, the largest count first."""
    return [
        (key, label(key), n) for key, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


async def unmatched(request: Request) -> Response:
    coordinator = await _staff(request)
    if isinstance(coordinator, Response):
        return coordinator
    region, options = await _region_choice(request, coordinator, request.query_params.get("region"))
    session = db(request)
    region_id = region.id if region else None
    # Working this out takes seconds for a city: a job does it, and its answer is kept a few
    # minutes. Until it is there the page says so and reloads itself. A small region is
    # worked out at once.
    run = None
    if await runs.small_enough(session, region_id):
        found = await regional.unmatched(session, region_id)
    else:
        run = await runs.ask_unmatched(session, region_id, coordinator.id)
    if run is not None and run.status != "done":
        waiting: dict[str, Any] = {
            "run": run,
            "region": region,
            "region_value": region.slug if region else "",
            "region_options": options,
            "step": RUN_STEPS.get(run.step or ""),
            "percent": int(100 * run.done / run.total) if run.total else None,
        }
        return await _page(request, "matches/unmatched_waiting.html", waiting)
    if run is not None:
        found = await runs.stored_unmatched(session, run)
    by_cause: dict[str, list[regional.Unmatched]] = defaultdict(list)
    languages: Counter[str] = Counter()
    language_missing: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    category_missing: Counter[str] = Counter()
    for item in found:
        by_cause[item.cause].append(item)
        categories[item.need.category] += 1
        if item.cause == "category":
            category_missing[item.need.category] += 1
        for code in dict.fromkeys(c.split("-")[0] for c in item.need.language_codes):
            languages[code] += 1
            if item.cause == "language":
                language_missing[code] += 1
    causes = sorted(by_cause, key=lambda c: (-len(by_cause[c]), regional.FUNNEL.index(c)))
    # Why people said no to these needs' matches (follow-through), per need and in all.
    declines = await regional.decline_counts(session, [item.need.id for item in found])
    decline_totals: Counter[str] = Counter()
    for per_need in declines.values():
        decline_totals.update(per_need)
    context = {
        "region": region,
        "region_value": region.slug if region else "",
        "region_options": options,
        "total": len(found),
        "causes": [(c, review_api.CAUSES[c], by_cause[c]) for c in causes],
        "languages": _counted(languages, forms.language_label),
        "language_missing": language_missing,
        "categories": _counted(categories, forms.HELPERS["category_name"]),
        "category_missing": category_missing,
        "computed_at": run.finished_at if run else None,
        "declines": declines,
        "decline_totals": _counted(decline_totals, decline_label),
    }
    return await _page(request, "matches/unmatched.html", context)


routes = [
    Route("/my/matches", my_matches, methods=["GET"]),
    Route("/matches/{match_id}", match_detail, methods=["GET"]),
    Route("/matches/{match_id}/accept", accept, methods=["POST"]),
    Route("/matches/{match_id}/decline", decline, methods=["POST"]),
    Route("/matches/{match_id}/messages", write_message, methods=["POST"]),
    Route("/matches/{match_id}/outcome", outcome, methods=["POST"]),
    Route("/matches/{match_id}/reopen", reopen, methods=["POST"]),
    Route("/posts/{post_id}/matches", post_matches, methods=["GET"]),
    Route("/review/matching", matching_run, methods=["GET", "POST"]),
    Route("/review/unmatched", unmatched, methods=["GET"]),
    Route("/review/runs/{run_id}", run_progress, methods=["GET"]),
]
