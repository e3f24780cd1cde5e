"""JSON API plumbing: body parsing with limits, problem JSON, cursor pagination."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Select, bindparam, or_
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from market.errors import (
    BadRequest,
    DomainError,
    FieldError,
    Invalid,
    PayloadTooLarge,
    UnsupportedMediaType,
)

MAX_JSON_BYTES = 64 * 1024
M = TypeVar("M", bound=BaseModel)


async def read_body(request: Request, limit: int = MAX_JSON_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, model: type[M], *, allow_empty: bool = False) -> M:
    """Parse and validate a JSON body: 413, 415, 400 and 422 as API.md fixes them."""
    body = await read_body(request)
    if not body.strip():
        if allow_empty:
            return model.model_validate({})
        raise BadRequest("The request body is empty; send a JSON object.")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType()
    data = parse_json(body)
    if not isinstance(data, dict):
        raise Invalid.one("", "The body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(validation_errors(exc)) from exc


async def read_action(request: Request) -> None:
    """Actions accept an empty body (or any small JSON object)."""
    body = await read_body(request)
    if body.strip():
        parse_json(body)


# --- Hostile JSON. Whatever the body holds, reading it ends in a value or in a 400/422; never in
# a 500 (RecursionError, ValueError from int(), NaN reaching the database, NUL reaching
# PostgreSQL, a lone surrogate failing to encode as UTF-8 on its way out).

MAX_DEPTH = 32
MAX_INTEGER = 2**53 - 1  # the integers every JSON reader (JavaScript's too) keeps exactly
_MAX_INTEGER_DIGITS = len(str(MAX_INTEGER))
# NUL cannot be stored in a PostgreSQL text column; a lone surrogate is no character at all and
# cannot be written as UTF-8. Surrogate pairs escaped in JSON arrive here joined, as one character.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class _Refused:
    """Stands in for a number the parser met and we do not take, until its path is known."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


_OUT_OF_RANGE = _Refused("This number is out of range.")
_NOT_FINITE = _Refused("Numbers must be finite.")


def _parse_int(digits: str) -> int | _Refused:
    # Count digits before int(): past 4,300 digits int() itself raises ValueError.
    if len(digits.lstrip("-")) > _MAX_INTEGER_DIGITS:
        return _OUT_OF_RANGE
    value = int(digits)
    return value if -MAX_INTEGER <= value <= MAX_INTEGER else _OUT_OF_RANGE


def _parse_float(literal: str) -> float | _Refused:
    value = float(literal)  # 1e999 is inf here; float() never raises on a JSON number
    return value if math.isfinite(value) else _NOT_FINITE


def _parse_constant(_name: str) -> _Refused:
    return _NOT_FINITE  # NaN, Infinity, -Infinity: not JSON, though Python's reader takes them


def parse_json(body: bytes) -> Any:
    """The body as JSON within limits: 400 when it cannot be read, 422 naming a refused value."""
    try:
        text = body.decode("utf-8")  # RFC 8259: JSON between systems is UTF-8
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.") from None
    try:
        data = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except RecursionError:
        # Deeper than the interpreter's stack; the walk below refuses anything past MAX_DEPTH.
        raise BadRequest(_TOO_DEEP) from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    _check(data)
    return data


_TOO_DEEP = f"The JSON is nested deeper than {MAX_DEPTH} levels."


def _check(data: Any) -> None:
    """Walk the parsed value without recursion: depth, refused numbers, NUL and lone surrogates."""
    stack: list[tuple[Any, tuple[str, ...], int]] = [(data, (), 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                raise BadRequest(_TOO_DEEP)
            if isinstance(value, dict):
                for key, item in value.items():
                    if UNSTORABLE.search(key):
                        raise Invalid.one(_field(path, key), _UNSTORABLE_TEXT)
                    stack.append((item, (*path, key), depth + 1))
            else:
                stack.extend((item, (*path, str(i)), depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            if UNSTORABLE.search(value):
                raise Invalid.one(_field(path), _UNSTORABLE_TEXT)
        elif isinstance(value, _Refused):
            raise Invalid.one(_field(path), value.reason)


_UNSTORABLE_TEXT = "Text must not contain NUL characters or lone surrogates."


def _field(path: tuple[str, ...], *more: str) -> str:
    # A refused key is named in the answer: without its bad characters, or the answer could not
    # be encoded either.
    return ".".join(UNSTORABLE.sub("\ufffd", part) for part in (*path, *more))


def validation_errors(exc: ValidationError) -> list[FieldError]:
    errors: list[FieldError] = []
    for err in exc.errors():
        # Union branches put their tag names into loc; keep the real path only.
        parts = [str(p) for p in err["loc"] if not _is_union_tag(p)]
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        errors.append(FieldError(".".join(parts), message))
    return errors


def _is_union_tag(part: object) -> bool:
    return isinstance(part, str) and (
        part.startswith(("function-", "json-or-python", "lax-or-strict"))
        or part in {"str", "int", "float", "dict[str,any]", "list[str]", "bool"}
        or part.endswith(("Location", "Language"))
    )


def problem(exc: DomainError) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
        "errors": [{"field": e.field, "message": e.message} for e in exc.errors],
    }
    return JSONResponse(
        body, status_code=exc.status, headers=exc.headers, media_type="application/problem+json"
    )


# Starlette's JSONResponse encoding (the same bytes), made once instead of per answer and without
# the circular-reference bookkeeping per list and dict: answers are trees built per request.
# Encoding is a quarter of a listing's instructions; this saves a tenth of that.
_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), check_circular=False
).encode


class _JSONAnswer(JSONResponse):
    def render(self, content: Any) -> bytes:
        return _encode(content).encode("utf-8")


def ok(data: Any, status_code: int = 200) -> JSONResponse:
    return _JSONAnswer(data, status_code=status_code)


def no_content() -> Response:
    return Response(status_code=204)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- Cursor pagination over (created_at, id), newest first.


def page_params(request: Request) -> tuple[int, tuple[datetime, str] | None]:
    raw_limit = request.query_params.get("limit", "20")
    try:
        limit = int(raw_limit)
    except ValueError:
        raise Invalid.one("limit", "limit must be a whole number from 1 to 100.") from None
    if not 1 <= limit <= 100:
        raise Invalid.one("limit", "limit must be a whole number from 1 to 100.")
    cursor = request.query_params.get("cursor")
    return limit, decode_cursor(cursor) if cursor else None


def encode_cursor(created_at: datetime, ident: str) -> str:
    raw = json.dumps([created_at.isoformat(), ident]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_CURSOR_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, ident = json.loads(raw)
        at = datetime.fromisoformat(created)
        # Cursors are ours (UTC, an id of new_id's alphabet); anything else was made up, and
        # would reach the database as an unbindable value (a date beyond year 1-9999 once in
        # UTC, NUL or a lone surrogate in the id) and end as a 500 instead of this 422.
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        if isinstance(ident, bool) or not isinstance(ident, str | int):
            raise TypeError(ident)
        if not _CURSOR_ID.fullmatch(str(ident)):
            raise ValueError(ident)
        return at, str(ident)
    except (binascii.Error, ValueError, TypeError, OverflowError, json.JSONDecodeError):
        raise Invalid.one("cursor", "The cursor is not valid.") from None


def paginate(
    stmt: Select[Any],
    created_col: Any,
    id_col: Any,
    limit: int,
    cursor: tuple[datetime, str] | None,
    *,
    ascending: bool = False,
) -> Select[Any]:
    if cursor is not None:
        stmt = _after(stmt, created_col, id_col, *cursor, ascending=ascending)
    return _newest_first(stmt, created_col, id_col, limit, ascending=ascending)


def _after(
    stmt: Select[Any], created_col: Any, id_col: Any, at: Any, ident: Any, *, ascending: bool
) -> Select[Any]:
    # The same rows as "(created, id) after (at, ident)", written with a plain bound on
    # created first: an index on (..., created_at, id) starts its range scan there, which
    # the bare OR does not give PostgreSQL's planner (it sorted the whole table instead).
    if ascending:
        return stmt.where(created_col >= at, or_(created_col > at, id_col > ident))
    return stmt.where(created_col <= at, or_(created_col < at, id_col < ident))


def _newest_first(
    stmt: Select[Any], created_col: Any, id_col: Any, limit: int, *, ascending: bool
) -> Select[Any]:
    order = (created_col.asc(), id_col.asc()) if ascending else (created_col.desc(), id_col.desc())
    return stmt.order_by(*order).limit(limit + 1)  # one more: whether there is a next page


CURSOR_AT, CURSOR_ID = "cursor_at", "cursor_id"


def paginate_later(
    stmt: Select[Any], created_col: Any, id_col: Any, limit: int, *, ascending: bool = False
) -> Select[Any]:
    """`paginate` after a cursor that is given when the statement runs (`cursor_params`): one
    statement, built and given its cache key once, can serve every page after the first."""
    at = bindparam(CURSOR_AT, type_=created_col.type)
    ident = bindparam(CURSOR_ID, type_=id_col.type)
    stmt = _after(stmt, created_col, id_col, at, ident, ascending=ascending)
    return _newest_first(stmt, created_col, id_col, limit, ascending=ascending)


def cursor_params(cursor: tuple[datetime, str]) -> dict[str, Any]:
    """The values of a `paginate_later` statement's cursor."""
    return {CURSOR_AT: cursor[0], CURSOR_ID: cursor[1]}


def page(
    rows: Sequence[Any],
    limit: int,
    serialise: Callable[[Any], Any],
    key: Callable[[Any], tuple[datetime, str]],
) -> dict[str, Any]:
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(*key(rows[-1])) if more and rows else None
    return {"items": [serialise(r) for r in rows], "next_cursor": next_cursor}
