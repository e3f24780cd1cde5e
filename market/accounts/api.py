"""JSON API for accounts: register, verify, token, me, export, delete."""

from __future__ import annotations

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market.accounts import services
from market.accounts.export import export_user
from market.accounts.models import User
from market.accounts.schemas import (
    DeleteIn,
    MePatch,
    RegisterIn,
    ResetIn,
    ResetRequestIn,
    TokenIn,
    VerifyIn,
)
from market.api import no_content, ok, read_json
from market.errors import Unauthorized
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


async def token(request: Request) -> Response:
    data = await read_json(request, TokenIn)
    await request.app.state.limiter.hit("login", account=data.email, ip=client_ip(request))
    session, settings = db(request), settings_of(request)
    user = await services.authenticate(session, settings, data.email, data.password)
    if user is None:
        raise Unauthorized("The email address or the password is not correct.")
    secret, expires_in = await services.issue_api_token(session, settings, user)
    return ok({"access_token": secret, "token_type": "bearer", "expires_in": expires_in})


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
    Route("/auth/password-reset", password_reset_request, methods=["POST"]),
    Route("/auth/password-reset/confirm", password_reset, methods=["POST"]),
    Route("/me", me, methods=["GET", "PATCH", "DELETE"]),
    Route("/me/export", export, methods=["GET"]),
]
