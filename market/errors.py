"""Domain errors and their one mapping to HTTP (RFC 9457 problem JSON, or a friendly page)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from market.i18n import N_


@dataclass
class FieldError:
    field: str
    message: str


@dataclass
class DomainError(Exception):
    detail: str = ""
    errors: list[FieldError] = field(default_factory=list)
    status: int = 400
    title: str = "Bad request"
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"


class BadRequest(DomainError):
    def __init__(self, detail: str = "The request body is not valid JSON.") -> None:
        super().__init__(detail=detail, status=400, title="Bad request")


class Unauthorized(DomainError):
    def __init__(self, detail: str = "Authentication is required.") -> None:
        super().__init__(
            detail=detail,
            status=401,
            title="Not authenticated",
            headers={"WWW-Authenticate": 'Bearer realm="anlauf"'},
        )


class Forbidden(DomainError):
    def __init__(self, detail: str = "You may not do this.") -> None:
        super().__init__(detail=detail, status=403, title="Forbidden")


class NotFound(DomainError):
    def __init__(self, detail: str = "Not found.") -> None:
        super().__init__(detail=detail, status=404, title="Not found")


class Conflict(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail, status=409, title="Conflict")


class PayloadTooLarge(DomainError):
    def __init__(self, detail: str = "The request body is larger than 64 KiB.") -> None:
        super().__init__(detail=detail, status=413, title="Payload too large")


class UnsupportedMediaType(DomainError):
    def __init__(self, detail: str = "Send the body as application/json.") -> None:
        super().__init__(detail=detail, status=415, title="Unsupported media type")


class Invalid(DomainError):
    def __init__(self, errors: Iterable[FieldError] | FieldError, detail: str = "") -> None:
        errs = [errors] if isinstance(errors, FieldError) else list(errors)
        super().__init__(
            detail=detail or "Some fields are not valid.",
            errors=errs,
            status=422,
            title="Invalid fields",
        )

    @classmethod
    def one(cls, field_name: str, message: str) -> Invalid:
        return cls(FieldError(field_name, message))


class RateLimited(DomainError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            detail="Too many attempts. Please wait and try again.",
            status=429,
            title="Too many requests",
            headers={"Retry-After": str(max(1, retry_after))},
        )


# Seconds a client is asked to wait while the database is away; service returns within ~10 s.
RETRY_AFTER_SECONDS = 5


class ServiceUnavailable(DomainError):
    """The database cannot be reached for the moment; the request changed nothing."""

    def __init__(self, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(
            detail=N_(
                "The service is unavailable for a moment. Please try again in a few seconds."
            ),
            status=503,
            title="Service unavailable",
            headers={"Retry-After": str(max(1, retry_after))},
        )
