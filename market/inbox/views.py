"""Pages: the notification centre, live updates, mail preferences, conversations, reporting.

Everything works without JavaScript: marking read is a form (POST with the CSRF token), and
the header badge is rendered by the server. market/static/notifications.js only adds live
updates through GET /notifications/stream (server-sent events).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from market import forms, i18n
from market.accounts.models import User
from market.actor import actor_of
from market.api import decode_cursor, encode_cursor
from market.conversations import guardian as conversations_guardian
from market.conversations import messages
from market.conversations.listing import conversations_json, person_json
from market.conversations.models import Conversation, Message, Participant
from market.errors import Invalid, NotFound
from market.forms import page, text
from market.i18n import N_, ngettext
from market.inbox import guardian
from market.inbox import handlers as _handlers  # noqa: F401  (subscribes to events)
from market.inbox.digest import HOUR
from market.inbox.texts import KIND_LABELS, describe
from market.matches import followthrough
from market.matches.views.common import write_from_form
from market.translation import service as translation
from market.vetting import services as vetting
from market.vetting.schemas import ReportIn
from market.web import (
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
    safe_next,
    with_flash,
)
from notifications import preferences
from notifications.inapp import mark_all_read, mark_read, unread_count
from notifications.live import Broker, LiveEvent
from notifications.models import Notification

PAGE_SIZE = 30
# A stream ends after this long and the browser reconnects (EventSource does it by itself):
# it bounds what a logged-out or deactivated account keeps, and lets servers shut down.
STREAM_SECONDS = 55.0
HEARTBEAT_SECONDS = 15.0

MSG_READ = N_("Marked as read.")
MSG_ALL_READ = N_("All notifications are marked as read.")
MSG_SAVED = N_("Your choices are saved.")
MSG_REPORTED = N_("Thank you. The coordinators will look at this message.")

MODE_LABELS = {
    "immediate": N_("Immediately"),
    "digest": N_("Once a day, in one email"),
    "off": N_("No email"),
}


# --- The notification centre


async def notifications_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    session = db(request)
    only_unread = request.query_params.get("show") == "unread"
    stmt = guardian.notifications(user.id, select(Notification))
    if only_unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    raw_cursor = request.query_params.get("cursor")
    if raw_cursor:
        try:
            at, ident = decode_cursor(raw_cursor)
        except Invalid:
            return redirect(request.url.path)
        stmt = stmt.where(
            (Notification.created_at < at)
            | ((Notification.created_at == at) & (Notification.id < ident))
        )
    rows = list(
        await session.scalars(
            stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(
                PAGE_SIZE + 1
            )
        )
    )
    shown = rows[:PAGE_SIZE]
    described = await describe(session, user, shown, i18n.get_locale())
    next_url = None
    if len(rows) > PAGE_SIZE:
        params = {"cursor": encode_cursor(shown[-1].created_at, shown[-1].id)}
        if only_unread:
            params["show"] = "unread"
        next_url = f"/notifications?{urlencode(params)}"
    items = [{"note": n, "text": described[n.id].text, "url": described[n.id].url} for n in shown]
    # "Did you meet?" as a card with its two answers (market.matches.followthrough).
    questions = (
        [] if raw_cursor else await followthrough.questions(session, await actor_of(request))
    )
    return await page(
        request,
        "notifications/index.html",
        {
            "items": items,
            "questions": questions,
            "only_unread": only_unread,
            "next_url": next_url,
            "first_url": request.url.path if raw_cursor else None,
            "here": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
        },
    )


async def read_one(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_with_csrf(request)
    note = await mark_read(
        db(request), user_id=user.id, notification_id=request.path_params["notification_id"]
    )
    if note is None:
        raise NotFound("There is no such notification.")
    return redirect(with_flash(safe_next(text(form, "next") or "/notifications"), MSG_READ))


async def read_all(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_with_csrf(request)
    await mark_all_read(db(request), user.id)
    return redirect(with_flash(safe_next(text(form, "next") or "/notifications"), MSG_ALL_READ))


async def open_one(request: Request) -> Response:
    """Follow a notification: it counts as read, and the page it is about opens.

    A GET that marks read, as mail clients and GitHub do: it changes nothing but the
    caller's own read mark, so a forged link cannot do harm.
    """
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    session = db(request)
    note = await mark_read(
        session, user_id=user.id, notification_id=request.path_params["notification_id"]
    )
    if note is None:
        raise NotFound("There is no such notification.")
    described = await describe(session, user, [note], i18n.get_locale())
    return redirect(safe_next(described[note.id].url))


# --- Live updates (server-sent events)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def count_payload(count: int) -> dict[str, Any]:
    # The same words as the badge in base.html.
    return {"unread": count, "label": ngettext("%(num)d unread", "%(num)d unread", count)}


async def _updates(
    maker: async_sessionmaker[AsyncSession], user_id: str, locale: str, items: list[LiveEvent]
) -> list[str]:
    """What to send for some events: the new notifications (if they exist) and the count."""
    ids = [
        str(i["notification_id"])
        for i in items
        if i.get("type") == "notification" and i.get("notification_id")
    ]
    chunks: list[str] = []
    async with maker() as session:
        notes = (
            list(
                await session.scalars(
                    guardian.notifications(user_id, select(Notification))
                    .where(Notification.id.in_(set(ids)))
                    .order_by(Notification.created_at)
                )
            )
            if ids
            else []
        )
        if notes:
            reader = await session.get(User, user_id)
            described = await describe(session, reader, notes, locale)
            for n in notes:
                chunks.append(
                    _sse(
                        "notification",
                        {
                            "id": n.id,
                            "kind": n.kind,
                            "text": described[n.id].text,
                            "url": f"/notifications/{n.id}/open",
                            "created_at": n.created_at.isoformat(),
                        },
                    )
                )
        count = await unread_count(session, user_id)
    with i18n.use_locale(locale):
        chunks.append(_sse("count", count_payload(count)))
    return chunks


async def stream(request: Request) -> Response:
    """text/event-stream: the unread count at once, then each new notification and count."""
    user = await current_user(request)
    if user is None:
        return Response("Please log in.", status_code=401, media_type="text/plain")
    broker: Broker | None = getattr(request.app.state, "live", None)
    if broker is None:
        return Response("Live updates are not available.", status_code=503)
    user_id = user.id
    locale = i18n.get_locale()
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    # The request's session must not stay open for the life of the stream: end it now
    # (RequestTransaction's commit at the response start is then a no-op), and use a short
    # session of its own for each update.
    await db(request).close()
    queue = broker.subscribe(user_id)

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 5000\n\n"
            for chunk in await _updates(maker, user_id, locale, []):
                yield chunk
            loop = asyncio.get_running_loop()
            end = loop.time() + STREAM_SECONDS
            while True:
                left = end - loop.time()
                if left <= 0:
                    return
                try:
                    item = await asyncio.wait_for(queue.get(), timeout=min(HEARTBEAT_SECONDS, left))
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if item.get("type") == "closing":
                    return
                batch = [item]
                while not queue.empty():  # several at once: one count for all of them
                    batch.append(queue.get_nowait())
                for chunk in await _updates(maker, user_id, locale, batch):
                    yield chunk
        finally:
            broker.unsubscribe(user_id, queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# --- Mail preferences


def _preference_rows(modes: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "kind": kind,
            "label": KIND_LABELS.get(kind, kind),
            "mode": mode,
            "fixed": kind in preferences.FIXED,
        }
        for kind, mode in modes.items()
    ]


async def preferences_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    session = db(request)
    if request.method == "POST":
        form = await form_with_csrf(request)
        choices = {
            kind: text(form, f"mode:{kind}")
            for kind in preferences.SWITCHABLE
            if text(form, f"mode:{kind}")
        }
        try:
            await preferences.set_modes(session, user.id, choices)
        except preferences.PreferenceError:
            # Only a hand-made form gets here; show the page with the stored choices.
            return redirect("/account/notifications", 303)
        return redirect(with_flash("/account/notifications", MSG_SAVED))
    modes = await preferences.modes_of(session, user.id)
    return await page(
        request,
        "notifications/preferences.html",
        {
            "rows": _preference_rows(modes),
            "MODE_LABELS": MODE_LABELS,
            "digest_hour": f"{HOUR:02d}:00",
        },
    )


# --- Conversations (those of accepted applications have no match page of their own)


async def conversations_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    session = db(request)
    rows = list(
        await session.scalars(
            conversations_guardian.visible(await actor_of(request), select(Conversation))
            .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id)
            .limit(100)
        )
    )
    shown = await conversations_json(session, user, rows)
    items = []
    for c in rows:
        info = shown[c.id]
        others = [p for p in info["participants"] if p["id"] != user.id]
        items.append({"conversation": c, "others": others, "unread": info["unread"]})
    return await page(request, "notifications/conversations.html", {"items": items})


async def _conversation_page(
    request: Request,
    user: User,
    conversation: Conversation,
    participant: Participant | None,
    *,
    body: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    session = db(request)
    thread = list(
        await session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.created_at, Message.id)
        )
    )
    people = {
        p.user_id: p
        for p in await session.scalars(
            select(Participant).where(Participant.conversation_id == conversation.id)
        )
    }
    user_ids = set(people) | {m.author_id for m in thread if m.author_id}
    users = {u.id: u for u in await session.scalars(select(User).where(User.id.in_(user_ids)))}
    if participant is not None and status_code < 400:
        await messages.mark_read(session, user, conversation.id)
    others = [person_json(uid, users.get(uid)) for uid in people if uid != user.id]
    return await page(
        request,
        "notifications/conversation.html",
        {
            "conversation": conversation,
            "thread": thread,
            # Others' messages in the reader's language (market.translation), when configured.
            "msg_translations": await translation.for_messages(session, thread, reader_id=user.id),
            "authors": users,
            "others": others,
            "can_write": participant is not None,
            "body": body,
            "errors": errors or {},
        },
        status_code=status_code,
    )


async def conversation_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    conversation, participant = await conversations_guardian.readable(
        db(request), await actor_of(request), request.path_params["conversation_id"]
    )
    if conversation.match_id and participant is not None:
        # A match's conversation lives on the match page.
        return redirect(f"/matches/{conversation.match_id}#messages")
    return await _conversation_page(request, user, conversation, participant)


async def conversation_write(request: Request) -> Response:
    conversation_id = request.path_params["conversation_id"]
    user = await current_user(request)
    if user is None:
        return redirect(f"/login?next={quote('/conversations/' + conversation_id)}")
    form = await form_with_csrf(request)
    session = db(request)
    conversation, participant = await conversations_guardian.writable(
        session, await actor_of(request), conversation_id
    )

    async def show_again(body: str, errors: dict[str, str]) -> Response:
        return await _conversation_page(
            request, user, conversation, participant, body=body, errors=errors, status_code=422
        )

    back = f"/conversations/{conversation.id}"
    return await write_from_form(request, user, form, conversation.id, back, show_again)


# --- Reporting a message (participants of its conversation, and coordinators)


async def report_message(request: Request) -> Response:
    message_id = request.path_params["message_id"]
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    session = db(request)
    message = await session.get(Message, message_id) if len(message_id) <= 32 else None
    if message is None:
        raise NotFound("There is no such message.")
    conversation, _participant = await conversations_guardian.readable(
        session, await actor_of(request), message.conversation_id
    )
    back = (
        f"/matches/{conversation.match_id}#m-{message.id}"
        if conversation.match_id
        else f"/conversations/{conversation.id}#m-{message.id}"
    )
    reason = ""
    errors: dict[str, str] = {}
    status_code = 200
    if request.method == "POST":
        form = await form_with_csrf(request)
        reason = text(form, "reason")
        data, errors = forms.parse(
            ReportIn, {"target_type": "message", "target_id": message.id, "reason": reason}
        )
        if data is not None:
            await vetting.create_report(session, user, data)
            return redirect(with_flash(back.split("#")[0], MSG_REPORTED))
        status_code = 422
    author = await session.get(User, message.author_id) if message.author_id else None
    return await page(
        request,
        "notifications/report.html",
        {
            "message": message,
            "author": person_json(message.author_id or "", author),
            "reason": reason,
            "errors": errors,
            "back": back,
        },
        status_code=status_code,
    )


routes = [
    Route("/notifications", notifications_page, methods=["GET"]),
    Route("/notifications/stream", stream, methods=["GET"]),
    Route("/notifications/read-all", read_all, methods=["POST"]),
    Route("/notifications/{notification_id}/read", read_one, methods=["POST"]),
    Route("/notifications/{notification_id}/open", open_one, methods=["GET"]),
    Route("/account/notifications", preferences_page, methods=["GET", "POST"]),
    Route("/conversations", conversations_page, methods=["GET"]),
    Route("/conversations/{conversation_id}", conversation_page, methods=["GET"]),
    Route("/conversations/{conversation_id}/messages", conversation_write, methods=["POST"]),
    Route("/messages/{message_id}/report", report_message, methods=["GET", "POST"]),
]
