"""Two-factor sign-in (TOTP, RFC 6238): set-up, code checks, recovery codes, the staff rule.

Secrets are encrypted with a Fernet key derived (HKDF) from the settings' signing key, and
recovery codes are stored as an HMAC keyed the same way: a database dump alone gives neither.
The price: after ANLAUF_SECRET_KEY changes, no code of an earlier set-up is accepted, and an admin
has to delete the person's `two_factor` row so they can sign in and set it up again.

A code is accepted once: `two_factor.last_step` holds the time step of the last code used and a
conditional UPDATE moves it forward, so two requests with the same code cannot both pass.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from market.accounts.models import RecoveryCode, TwoFactor, User
from market.db import utcnow
from market.errors import Conflict, Forbidden, Invalid
from market.settings import Settings

ISSUER = "Anlauf"
STEP_SECONDS = 30
# One step either side: phone clocks drift, and typing a code takes a while.
WINDOW = 1
RECOVERY_CODE_COUNT = 10
SETUP_PATH = "/account/two-factor"

MSG_BAD_CODE = "This code is not correct. Please try again with the current code."
MSG_STAFF_SETUP = (
    "Coordinators and admins must set up two-factor sign-in first "
    "(on the page /account/two-factor, or with POST /api/v1/me/two-factor)."
)

_TOTP_RE = re.compile(r"^\d{6}$")


class StaffTwoFactorRequired(Forbidden):
    """A coordinator or admin without a second factor while ANLAUF_STAFF_2FA=required.

    The API answers 403 with this detail; pages send the person to the set-up page instead.
    """

    def __init__(self) -> None:
        super().__init__(MSG_STAFF_SETUP)


# --- Keys


@cache
def _derive(signing_key: str, purpose: bytes) -> bytes:
    """A key of its own for each purpose, so no two uses share one."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        signing_key.encode()
    )


def _fernet_for(signing_key: str) -> Fernet:
    key = _derive(signing_key, b"anlauf two-factor secret")
    return Fernet(base64.urlsafe_b64encode(key))


def _encrypt(settings: Settings, secret: str) -> str:
    return _fernet_for(settings.signing_key).encrypt(secret.encode()).decode()


def _decrypt(settings: Settings, token: str) -> str | None:
    try:
        return _fernet_for(settings.signing_key).decrypt(token.encode()).decode()
    except InvalidToken:  # the secret key changed since set-up
        return None


def _recovery_hash(settings: Settings, code: str) -> str:
    key = _derive(settings.signing_key, b"anlauf recovery code")
    return hmac.new(key, _normalise(code).encode(), hashlib.sha256).hexdigest()


def _normalise(code: str) -> str:
    """People type codes with spaces or dashes, in any case."""
    return re.sub(r"[\s\-]", "", code).lower()


# --- Reading the state


async def factor_of(session: AsyncSession, user_id: str) -> TwoFactor | None:
    return await session.get(TwoFactor, user_id)


async def is_enabled(session: AsyncSession, user_id: str) -> bool:
    stmt = select(TwoFactor.user_id).where(
        TwoFactor.user_id == user_id, TwoFactor.confirmed_at.is_not(None)
    )
    return (await session.execute(stmt)).first() is not None


async def recovery_codes_left(session: AsyncSession, user_id: str) -> int:
    stmt = select(func.count()).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
    )
    return int((await session.execute(stmt)).scalar_one())


# --- Setting up


@dataclass(frozen=True)
class Enrolment:
    """What the person needs to add the account to an authenticator app."""

    secret: str
    uri: str

    def qr_svg(self, title: str) -> str:
        """The otpauth:// URI as an inline SVG QR code (drawn on the server, no script, no
        inline style, so the page's CSP holds); `title` is what screen readers say."""
        return str(
            segno.make(self.uri, error="m").svg_inline(
                scale=5, border=2, dark="#000", light="#fff", title=title
            )
        )

    @property
    def secret_groups(self) -> str:
        """The secret in groups of four, easier to type by hand."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def enrolment(secret: str, user: User) -> Enrolment:
    uri = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=ISSUER
    )
    return Enrolment(secret=secret, uri=uri)


async def begin(session: AsyncSession, settings: Settings, user: User) -> Enrolment:
    """Start (or start again) setting up: a new secret, not in force until confirmed."""
    if await is_enabled(session, user.id):
        raise Conflict("Two-factor sign-in is on already. Switch it off first to set it up anew.")
    secret = pyotp.random_base32()  # 32 characters: 160 bits, as RFC 4226 recommends
    await session.execute(delete(TwoFactor).where(TwoFactor.user_id == user.id))
    session.add(TwoFactor(user_id=user.id, secret_encrypted=_encrypt(settings, secret)))
    await session.flush()
    return enrolment(secret, user)


async def pending_enrolment(
    session: AsyncSession, settings: Settings, user: User
) -> Enrolment | None:
    """The set-up begun but not confirmed yet, to show its QR code again."""
    factor = await factor_of(session, user.id)
    if factor is None or factor.confirmed_at is not None:
        return None
    secret = _decrypt(settings, factor.secret_encrypted)
    return enrolment(secret, user) if secret else None


async def confirm(session: AsyncSession, settings: Settings, user: User, code: str) -> list[str]:
    """Put the second factor in force with a current code; returns the new recovery codes."""
    factor = await factor_of(session, user.id)
    if factor is None or factor.confirmed_at is not None:
        raise Conflict("There is no set-up waiting to be confirmed. Please start again.")
    if not await _take_totp(session, settings, factor, code):
        raise Invalid.one("code", MSG_BAD_CODE)
    result = await session.execute(
        update(TwoFactor)
        .where(TwoFactor.user_id == user.id, TwoFactor.confirmed_at.is_(None))
        .values(confirmed_at=utcnow())
        .returning(TwoFactor.user_id)
    )
    if result.first() is None:  # confirmed by a request a moment earlier
        raise Conflict("Two-factor sign-in is on already.")
    return await new_recovery_codes(session, settings, user.id)


async def new_recovery_codes(session: AsyncSession, settings: Settings, user_id: str) -> list[str]:
    """Replace every recovery code with 10 new ones, shown once; only their hashes are kept."""
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    # 10 characters of base32: 50 bits each, hashed with a key the database does not hold.
    codes = [_format_code(pyotp.random_base32()[:10].lower()) for _ in range(RECOVERY_CODE_COUNT)]
    now = utcnow()
    await session.execute(
        insert(RecoveryCode),
        [
            {"user_id": user_id, "code_hash": _recovery_hash(settings, c), "created_at": now}
            for c in codes
        ],
    )
    return codes


def _format_code(raw: str) -> str:
    return f"{raw[:5]}-{raw[5:]}"


async def disable(session: AsyncSession, user_id: str) -> None:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    await session.execute(delete(TwoFactor).where(TwoFactor.user_id == user_id))


async def switch_off(
    session: AsyncSession,
    settings: Settings,
    user: User,
    *,
    code: str | None,
    password: str | None,
) -> None:
    """Switch two-factor sign-in off, proven with a current code (or recovery code) or the
    password; Invalid names the field that was wrong."""
    if not await is_enabled(session, user.id):
        await disable(session, user.id)  # a set-up never confirmed goes too
        return
    if code:
        if not await check(session, settings, user.id, code):
            raise Invalid.one("code", MSG_BAD_CODE)
    elif password and user.password_hash is not None:
        from market.security import verify_password

        if not await verify_password(
            user.password_hash, password, settings.argon2_memory_kib, settings.argon2_time_cost
        ):
            raise Invalid.one("password", "The password is not correct.")
    else:
        raise Invalid.one("code", "Please enter a current code or your password.")
    await disable(session, user.id)


# --- Checking a code at sign-in


async def check(session: AsyncSession, settings: Settings, user_id: str, code: str) -> bool:
    """True if `code` is a current TOTP code not used before, or an unused recovery code
    (which is then used up). The caller rate-limits (limit_checks)."""
    code = _normalise(code or "")
    if not code or len(code) > 64:
        return False
    factor = await factor_of(session, user_id)
    if factor is None or factor.confirmed_at is None:
        return False
    if _TOTP_RE.match(code):
        return await _take_totp(session, settings, factor, code)
    result = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == _recovery_hash(settings, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .returning(RecoveryCode.id)
    )
    return result.first() is not None


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = totp.timecode(now)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


async def _take_totp(
    session: AsyncSession, settings: Settings, factor: TwoFactor, code: str
) -> bool:
    code = _normalise(code or "")
    if not _TOTP_RE.match(code):
        return False
    secret = _decrypt(settings, factor.secret_encrypted)
    if secret is None:
        return False
    step = _matching_step(secret, code, utcnow())
    if step is None:
        return False
    # Accept each time step once, even when two requests bring the same code at once.
    result = await session.execute(
        update(TwoFactor)
        .where(
            TwoFactor.user_id == factor.user_id,
            or_(TwoFactor.last_step.is_(None), TwoFactor.last_step < step),
        )
        .values(last_step=step)
        .returning(TwoFactor.user_id)
    )
    return result.first() is not None


async def limit_checks(request: Request, user_id: str) -> None:
    """Per account and per IP, as for passwords: 6 digits do not survive unlimited guessing."""
    from market.web import client_ip

    await request.app.state.limiter.hit("otp", account=f"user:{user_id}", ip=client_ip(request))


# --- The rule for staff


async def staff_ready(request: Request, user: User) -> bool:
    """False for a coordinator or admin without a second factor while ANLAUF_STAFF_2FA=required
    (asked once per request)."""
    settings: Settings = request.app.state.settings
    if settings.staff_2fa != "required" or not user.is_staff:
        return True
    known: bool | None = getattr(request.state, "two_factor_ready", None)
    if known is None:
        from market.web import db

        known = await is_enabled(db(request), user.id)
        request.state.two_factor_ready = known
    return known


async def require_staff_ready(request: Request, user: User) -> None:
    """Raise StaffTwoFactorRequired for a coordinator or admin without a second factor while
    ANLAUF_STAFF_2FA=required. Every staff route calls it where it requires the staff role;
    elsewhere such a person's Actor has no staff powers (market.actor.actor_of)."""
    if not await staff_ready(request, user):
        raise StaffTwoFactorRequired()
