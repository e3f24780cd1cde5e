"""JSON API for in-app notifications and mail preferences (API.md, Notifications).

- GET  /notifications                   the caller's notifications, newest first (?unread=true)
- GET  /notifications/unread-count      {"unread": n}
- POST /notifications/{id}/read         the notification, now read (404 if not the caller's)
- POST /notifications/read-all          {"marked": n, "unread": 0}
- GET  /me/notifications/preferences    each kind's mail: immediate, digest or off
- PUT  /me/notifications/preferences    {"preferences": {"message.new": "digest", ...}}

`text` is in the reader's language: ?lang=, else Accept-Language, else the account's locale.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import i18n
from market.accounts.models import User
from market.api import iso, ok, page, page_params, paginate, read_action, read_json
from market.errors import FieldError, Invalid, NotFound
from market.inbox import guardian
from market.inbox import handlers as _handlers  # noqa: F401  (subscribes to events)
from market.inbox.digest import HOUR, TIMEZONE
from market.inbox.texts import Described, describe
from market.validation import Strict
from market.web import db, require_user
from notifications import preferences
from notifications.inapp import mark_all_read, mark_read, unread_count
from notifications.models import DELIVERY_MODES, Notification


def reader_locale(request: Request, user: User) -> str:
    """?lang=, then a language the Accept-Language header asks for, then the account's."""
    chosen = request.query_params.get("lang")
    if chosen in i18n.LOCALES:
        return chosen
    header = request.headers.get("accept-language")
    if header:
        best = i18n.negotiate(header)
        asked = {part.split(";")[0].strip().lower().split("-")[0] for part in header.split(",")}
        if best in asked:
            return best
    return user.locale if user.locale in i18n.LOCALES else i18n.DEFAULT_LOCALE


def notification_json(note: Notification, described: Described) -> dict[str, Any]:
    return {
        "id": note.id,
        "kind": note.kind,
        "created_at": iso(note.created_at),
        "read_at": iso(note.read_at),
        "data": note.data,
        "text": described.text,
        "url": described.url,
    }


async def list_notifications(request: Request) -> Response:
    user = await require_user(request)
    session = db(request)
    limit, cursor = page_params(request)
    stmt = guardian.notifications(user.id, select(Notification))
    unread = request.query_params.get("unread", "").lower()
    if unread in ("1", "true", "yes"):
        stmt = stmt.where(Notification.read_at.is_(None))
    rows = list(
        await session.scalars(
            paginate(stmt, Notification.created_at, Notification.id, limit, cursor)
        )
    )
    described = await describe(session, user, rows[:limit], reader_locale(request, user))
    return ok(
        page(
            rows,
            limit,
            lambda n: notification_json(n, described[n.id]),
            lambda n: (n.created_at, n.id),
        )
    )


async def read_one(request: Request) -> Response:
    user = await require_user(request)
    await read_action(request)
    session = db(request)
    note = await mark_read(
        session, user_id=user.id, notification_id=request.path_params["notification_id"]
    )
    if note is None:
        raise NotFound("There is no such notification.")
    described = await describe(session, user, [note], reader_locale(request, user))
    return ok(notification_json(note, described[note.id]))


async def read_all(request: Request) -> Response:
    user = await require_user(request)
    await read_action(request)
    marked = await mark_all_read(db(request), user.id)
    return ok({"marked": marked, "unread": 0})


async def count(request: Request) -> Response:
    user = await require_user(request)
    return ok({"unread": await unread_count(db(request), user.id)})


# --- Preferences


class PreferencesIn(Strict):
    preferences: dict[str, str] = Field(max_length=50)


def preferences_json(modes: dict[str, str]) -> dict[str, Any]:
    return {
        "preferences": modes,
        "fixed": list(preferences.FIXED),
        "modes": list(DELIVERY_MODES),
        "digest": {"time": f"{HOUR:02d}:00", "timezone": str(TIMEZONE)},
    }


async def get_preferences(request: Request) -> Response:
    user = await require_user(request)
    return ok(preferences_json(await preferences.modes_of(db(request), user.id)))


async def put_preferences(request: Request) -> Response:
    user = await require_user(request)
    data = await read_json(request, PreferencesIn)
    try:
        modes = await preferences.set_modes(db(request), user.id, data.preferences)
    except preferences.PreferenceError as exc:
        raise Invalid([FieldError(f"preferences.{exc.kind}", exc.message)]) from None
    return ok(preferences_json(modes))


routes = [
    Route("/notifications", list_notifications, methods=["GET"]),
    Route("/notifications/unread-count", count, methods=["GET"]),
    Route("/notifications/read-all", read_all, methods=["POST"]),
    Route("/notifications/{notification_id}/read", read_one, methods=["POST"]),
    Route("/me/notifications/preferences", get_preferences, methods=["GET"]),
    Route("/me/notifications/preferences", put_preferences, methods=["PUT"]),
]
