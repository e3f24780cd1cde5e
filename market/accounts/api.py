"""JSON API for accounts: register, verify, tokens, two-factor sign-in, me, export, delete."""

from __future__ import annotations

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.accounts import services, sessions, twofactor
from market.accounts.export import export_user
from market.accounts.models import User
from market.accounts.schemas import (
    DeleteIn,
    MePatch,
    OtpIn,
    RegisterIn,
    ResetIn,
    ResetRequestIn,
    TokenIn,
    TwoFactorOffIn,
    VerifyIn,
)
from market.api import no_content, ok, read_json
from market.db import utcnow
from market.errors import Conflict, Invalid, Unauthorized
from market.validation import Strict
from market.web import client_ip, db, require_user, settings_of


async def register(request: Request) -> Response:
    data = await read_json(request, RegisterIn)
    await request.app.state.limiter.hit("register", account=data.email, ip=client_ip(request))
    await services.register(db(request), settings_of(request), data)
    return ok({"status": "verification_sent"}, 202)


async def verify_email(request: Request) -> Response:
    data = await read_json(request, VerifyIn)
    user = await services.verify_email(db(request), data.token)
    return ok({"status": "verified", "email_verified": user.email_verified})


OTP_REQUIRED = (
    'otp_required: this account uses two-factor sign-in. Send "otp" with the current code '
    "from the authenticator app, or one of the recovery codes."
)
OTP_WRONG = 'otp_required: the code in "otp" is not correct or was used already.'


async def token(request: Request) -> Response:
    data = await read_json(request, TokenIn)
    await request.app.state.limiter.hit("login", account=data.email, ip=client_ip(request))
    session, settings = db(request), settings_of(request)
    user = await services.authenticate(session, settings, data.email, data.password)
    if user is None:
        raise Unauthorized("The email address or the password is not correct.")
    if await twofactor.is_enabled(session, user.id):
        if not data.otp:
            raise Unauthorized(OTP_REQUIRED)
        await twofactor.limit_checks(request, user.id)
        if not await twofactor.check(session, settings, user.id, data.otp):
            raise Unauthorized(OTP_WRONG)
    secret, expires_in = await sessions.issue_api_token(session, settings, user)
    return ok({"access_token": secret, "token_type": "bearer", "expires_in": expires_in})


async def logout(request: Request) -> Response:
    """Revoke the token this request came with."""
    await require_user(request)
    api_token = request.state.api_token
    api_token.revoked_at = utcnow()
    return no_content()


async def tokens(request: Request) -> Response:
    user = await require_user(request)
    items = await sessions.active_tokens(db(request), user.id)
    return ok({"items": [sessions.token_out(t) for t in items]})


async def revoke_token(request: Request) -> Response:
    user = await require_user(request)
    await sessions.revoke_token(db(request), user.id, request.path_params["token_id"])
    return no_content()


# --- Two-factor sign-in (docs/api-additions.md)


async def two_factor(request: Request) -> Response:
    """GET: is it on; POST: begin set-up (secret and otpauth URI); DELETE: switch it off."""
    user = await require_user(request)
    session, settings = db(request), settings_of(request)
    if request.method == "POST":
        await read_json(request, _Empty, allow_empty=True)
        found = await twofactor.begin(session, settings, user)
        return ok({"enabled": False, "secret": found.secret, "otpauth_uri": found.uri}, 201)
    if request.method == "DELETE":
        data = await read_json(request, TwoFactorOffIn)
        await twofactor.limit_checks(request, user.id)
        await twofactor.switch_off(session, settings, user, code=data.code, password=data.password)
        return no_content()
    return ok(await _two_factor_state(request, user))


async def two_factor_confirm(request: Request) -> Response:
    user = await require_user(request)
    data = await read_json(request, OtpIn)
    await twofactor.limit_checks(request, user.id)
    codes = await twofactor.confirm(db(request), settings_of(request), user, data.code)
    return ok({"enabled": True, "recovery_codes": codes})


async def two_factor_recovery_codes(request: Request) -> Response:
    """New recovery codes (the old ones stop working), proven with a current code."""
    user = await require_user(request)
    data = await read_json(request, OtpIn)
    session, settings = db(request), settings_of(request)
    if not await twofactor.is_enabled(session, user.id):
        raise Conflict("Two-factor sign-in is off.")
    await twofactor.limit_checks(request, user.id)
    if not await twofactor.check(session, settings, user.id, data.code):
        raise Invalid.one("code", twofactor.MSG_BAD_CODE)
    return ok({"recovery_codes": await twofactor.new_recovery_codes(session, settings, user.id)})


async def _two_factor_state(request: Request, user: User) -> dict[str, object]:
    session = db(request)
    enabled = await twofactor.is_enabled(session, user.id)
    return {
        "enabled": enabled,
        "recovery_codes_left": await twofactor.recovery_codes_left(session, user.id)
        if enabled
        else 0,
    }


class _Empty(Strict):
    pass


async def password_reset_request(request: Request) -> Response:
    data = await read_json(request, ResetRequestIn)
    await request.app.state.limiter.hit("reset", account=data.email, ip=client_ip(request))
    await services.request_password_reset(db(request), settings_of(request), data.email)
    return ok({"status": "reset_sent"}, 202)


async def password_reset(request: Request) -> Response:
    data = await read_json(request, ResetIn)
    await request.app.state.limiter.hit("reset", account=None, ip=client_ip(request))
    await services.reset_password(db(request), settings_of(request), data.token, data.password)
    return ok({"status": "password_changed"})


async def me(request: Request) -> Response:
    user = await require_user(request)
    if request.method == "PATCH":
        patch = await read_json(request, MePatch)
        await services.update_profile(db(request), user, patch)
    elif request.method == "DELETE":
        if services.deletes_by_mail(user):
            return await _delete_by_mail(request, user)
        data = await read_json(request, DeleteIn)
        await services.delete_account(db(request), settings_of(request), user, data.password)
        return no_content()
    org = await services.organisation_of(db(request), user.id)
    return ok(services.me(user, org))


class _NoPasswordDeleteIn(Strict):
    """A password-less account has no password to check; one sent along is ignored."""

    password: str | None = Field(default=None, max_length=1024)


async def _delete_by_mail(request: Request, user: User) -> Response:
    """No password (single sign-on): mail a link that confirms the deletion (202).

    An address nobody has confirmed gets the confirmation mail first, since only it may go
    to an unverified address; the answer says which mail went out.
    """
    await read_json(request, _NoPasswordDeleteIn, allow_empty=True)
    await request.app.state.limiter.hit("delete_account", account=user.email, ip=client_ip(request))
    session, settings = db(request), settings_of(request)
    if not user.email_verified:
        await services.send_verification(session, settings, user)
        return ok({"status": "verification_sent"}, 202)
    await services.request_deletion_link(session, settings, user)
    return ok({"status": "confirmation_sent"}, 202)


async def export(request: Request) -> Response:
    user = await require_user(request)
    return ok(await export_user(db(request), user))


routes = [
    Route("/auth/register", register, methods=["POST"]),
    Route("/auth/verify-email", verify_email, methods=["POST"]),
    Route("/auth/token", token, methods=["POST"]),
    Route("/auth/logout", logout, methods=["POST"]),
    Route("/me/tokens", tokens, methods=["GET"]),
    Route("/me/tokens/{token_id}", revoke_token, methods=["DELETE"]),
    Route("/me/two-factor", two_factor, methods=["GET", "POST", "DELETE"]),
    Route("/me/two-factor/confirm", two_factor_confirm, methods=["POST"]),
    Route("/me/two-factor/recovery-codes", two_factor_recovery_codes, methods=["POST"]),
    Route("/auth/password-reset", password_reset_request, methods=["POST"]),
    Route("/auth/password-reset/confirm", password_reset, methods=["POST"]),
    Route("/me", me, methods=["GET", "PATCH", "DELETE"]),
    Route("/me/export", export, methods=["GET"]),
]
