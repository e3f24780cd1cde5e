"""Idempotency keys: a creating request sent twice creates one thing and gets one answer.

A client on a slow line taps "send" twice, or retries a POST whose answer it never saw. With an
`Idempotency-Key` header (API) or the hidden `idempotency_key` field every page form carries
(a fresh one each time the form is drawn), the first request runs as usual and its answer
(status, body, content type, location) is stored with the key, per user, for 24 hours, in the
request's own transaction. A repeat with the same key and the same request gets that stored
answer and creates nothing; the same key with a different request is refused with 422.

Two copies at once: the first inserts the key, the second's insert of the same (user, key)
waits for the first transaction (PostgreSQL's unique index; SQLite's write lock, taken at the
start of every writing request) and then finds the stored answer. Error answers (400 and up)
roll back with the rest of the request, the key included, so a corrected retry runs again.

Keys older than 24 hours are deleted by the periodic maintenance (`delete_expired`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import (
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    delete,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from market.db import Base, IdMixin, insert_unless_taken, utcnow
from market.errors import DomainError, FieldError, Invalid
from market.i18n import N_

TTL = timedelta(hours=24)
HEADER = "idempotency-key"
FORM_FIELD = "idempotency_key"
# Only bodies within the API's limit (64 KiB) are read here; larger ones pass untouched.
MAX_BODY_BYTES = 64 * 1024
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")

# The requests that create something (API.md, Release 2: posts, messages, reports,
# applications), in the API and on the pages that offer the same.
CREATING = tuple(
    re.compile(pattern)
    for pattern in (
        r"/api/v1/posts",
        r"/api/v1/organisations/[^/]+/clients/[^/]+/posts",
        r"/api/v1/conversations/[^/]+/messages",
        r"/api/v1/reports",
        r"/api/v1/posts/[^/]+/applications",
        r"/posts/new",
        r"/conversations/[^/]+/messages",
        r"/matches/[^/]+/messages",
        r"/messages/[^/]+/report",
        r"/posts/[^/]+/apply",
        r"/organisations/[^/]+/clients/[^/]+/posts/new",
    )
)

BAD_KEY = N_("The Idempotency-Key must be 1 to 255 visible ASCII characters.")
KEY_REUSED = N_("This Idempotency-Key was used for a different request within the last 24 hours.")
FORM_REUSED = N_(
    "This form was sent already with other content. Please reload the page and try again."
)


class IdempotencyKey(IdMixin, Base):
    """The stored answer to the first request a user sent with a key."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(255))
    # sha256 of method, path and body: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(255))
    location: Mapped[str | None] = mapped_column(String(2048))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


def new_key() -> str:
    """A fresh key for a form being drawn (templates call it as `idempotency_key()`)."""
    return secrets.token_urlsafe(18)


def creates(method: str, path: str) -> bool:
    return method == "POST" and any(p.fullmatch(path) for p in CREATING)


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{method}\n{path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


async def delete_expired(session: AsyncSession, now: datetime) -> int:
    """Forget keys older than 24 hours (a maintenance rule)."""
    result = await session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at <= now - TTL)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def _stored(session: AsyncSession, user_id: str, key: str) -> IdempotencyKey | None:
    stmt = (
        select(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    )
    found: IdempotencyKey | None = (await session.execute(stmt)).scalar_one_or_none()
    return found


async def claim(
    session: AsyncSession, user_id: str, key: str, print_: str
) -> tuple[IdempotencyKey, bool]:
    """The key's row and whether this request is the first with it (then it must run)."""
    now = utcnow()
    row = await _stored(session, user_id, key)
    if row is not None and row.created_at <= now - TTL:
        await session.delete(row)  # expired but not yet swept: the key is free again
        await session.flush()
        row = None
    if row is not None:
        return row, False
    row = IdempotencyKey(user_id=user_id, key=key, fingerprint=print_, created_at=now)
    if not await insert_unless_taken(session, row):
        # A copy running at the same moment inserted the key first; its transaction ended
        # before our insert returned, so its answer is there to read.
        found = await _stored(session, user_id, key)
        if found is None:
            raise RuntimeError(f"idempotency key {key!r} is taken, yet its row cannot be read")
        return found, False
    return row, True


class IdempotencyMiddleware:
    """Runs inside RequestTransaction (it needs the request's session and commits with it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not creates(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        api = scope["path"].startswith("/api/")
        key: str | None
        body = b""
        if api:
            key = request.headers.get(HEADER)
            # A body over the limit is the handler's to refuse (413); it is never read here.
            if key is None or not _small(request):
                await self.app(scope, receive, send)
                return
            body = await request.body()
        else:
            if not _small(request) or _media_type(request) != "application/x-www-form-urlencoded":
                await self.app(scope, receive, send)
                return
            body = await request.body()
            key = _form_key(body)
        receive = _replay(body, receive)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not _VALID_KEY.fullmatch(key):
            await _refuse(scope, receive, send, api, BAD_KEY)
            return

        from market.web import current_user, db

        user = await current_user(Request(scope, receive))
        if user is None:  # the handler answers 401 or sends the visitor to log in
            await self.app(scope, receive, send)
            return
        session = db(request)
        print_ = fingerprint(scope["method"], scope["path"], body)
        row, first = await claim(session, user.id, key, print_)
        if not first:
            if row.fingerprint != print_ or row.status_code is None:
                await _refuse(scope, receive, send, api, KEY_REUSED if api else FORM_REUSED)
                return
            await _answer_stored(row, scope, receive, send)
            return
        await self.app(scope, receive, _recording(row, session, send))


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _small(request: Request) -> bool:
    length = request.headers.get("content-length", "")
    return length.isdigit() and int(length) <= MAX_BODY_BYTES


def _form_key(body: bytes) -> str | None:
    from urllib.parse import parse_qs

    try:
        values = parse_qs(body.decode("utf-8"), keep_blank_values=True).get(FORM_FIELD)
    except UnicodeDecodeError:
        return None  # the handler refuses the form itself
    return values[0] if values else None


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body, already read here, once more for the handler."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _recording(row: IdempotencyKey, session: AsyncSession, send: Send) -> Send:
    """Pass the answer on, storing it with the key first when it is a success (below 400)."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def record(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        status = int(start["status"])
        if status < 400:
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]
            }
            row.status_code = status
            row.content_type = headers.get("content-type")
            row.location = headers.get("location")
            row.body = body
            await session.flush()
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return record


async def _answer_stored(row: IdempotencyKey, scope: Scope, receive: Receive, send: Send) -> None:
    headers = {"Idempotent-Replayed": "true"}
    if row.location:
        headers["Location"] = row.location
    response = Response(
        content=row.body or b"",
        status_code=row.status_code or 200,
        headers=headers,
        media_type=row.content_type,
    )
    await response(scope, receive, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, api: bool, message: str) -> None:
    error = Invalid(FieldError("Idempotency-Key" if api else FORM_FIELD, message), detail=message)
    response: Response
    if api:
        from market.api import problem

        response = problem(_translated(error))
    else:
        from market.web import render

        request = Request(scope, receive)
        response = await render(
            request,
            "error.html",
            {"status": error.status, "title": error.title, "detail": message},
            status_code=error.status,
        )
    await response(scope, receive, send)


def _translated(error: DomainError) -> DomainError:
    from market.i18n import gettext

    error.detail = gettext(error.detail)
    for e in error.errors:
        e.message = gettext(e.message)
    return error
