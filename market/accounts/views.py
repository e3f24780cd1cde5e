"""HTML pages for accounts: sign up, email check, log in and out, reset, profile, deletion."""

from __future__ import annotations

import contextlib
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from market import forms
from market.accounts import services, twofactor
from market.accounts.export import export_user
from market.accounts.models import SELF_REGISTER_ROLES, User
from market.accounts.schemas import (
    DeleteIn,
    MePatch,
    PasswordChangeIn,
    RegisterIn,
    ResetIn,
    ResetRequestIn,
    TokenIn,
)
from market.errors import Conflict, Forbidden, Invalid
from market.forms import page, text
from market.i18n import LOCALES, N_, get_locale, gettext, locale_label
from market.settings import Settings
from market.web import (
    CSRF_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    client_ip,
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
    safe_next,
    settings_of,
    with_flash,
)

MSG_BAD_LOGIN = N_("The email address or the password is not correct.")
MSG_NOT_SAME = N_("The two passwords are not the same.")
MSG_BAD_PASSWORD = N_("The password is not correct.")
MSG_SAVED = N_("Your changes are saved.")
MSG_PASSWORD_CHANGED = N_("Your password is changed.")
MSG_PASSWORD_RESET = N_("Your new password is saved. Please log in.")
YEAR = 365 * 24 * 3600


def _set_lang(response: Response, locale: str) -> None:
    response.set_cookie(LANG_COOKIE, locale, max_age=YEAR, samesite="lax", path="/")


def _clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings_of(request).secure_cookies,
    )


def _language_context(form: FormData | None, skills: Any = ()) -> dict[str, Any]:
    return {
        "language_rows": forms.slot_values(form, skills),
        "language_options": forms.language_options(),
        "level_options": list(forms.LEVEL_LABELS.items()),
    }


# --- Sign up


REGISTER_FIELDS = {
    "organisation.name": "org_name",
    "organisation.website": "org_website",
    "organisation": "org_name",
}


def _register_context(form: FormData | None, errors: dict[str, str]) -> dict[str, Any]:
    return {
        "form": form or {},
        "errors": errors,
        "role_options": [(r, gettext(forms.ROLE_LABELS[r])) for r in SELF_REGISTER_ROLES],
        "locales": [(code, locale_label(code)) for code in LOCALES],
        **_language_context(form),
    }


async def register(request: Request) -> Response:
    if request.method == "GET":
        role = request.query_params.get("role", "")
        initial = {"role": role if role in SELF_REGISTER_ROLES else "", "locale": get_locale()}
        return await page(
            request, "accounts/register.html", _register_context(None, {}) | {"form": initial}
        )
    form = await form_with_csrf(request)
    role = text(form, "role")
    skills, rows = forms.language_slots(form)
    data = forms.present(
        email=text(form, "email"),
        password=form.get("password") or "",
        display_name=text(form, "display_name"),
        role=role,
        locale=text(form, "locale"),
        languages=skills,
    )
    if role == "organisation":
        data["organisation"] = forms.present(
            name=text(form, "org_name"), website=text(form, "org_website")
        )
    rename = forms.slot_renamer(rows, REGISTER_FIELDS)
    parsed, errors = forms.parse(RegisterIn, data, rename)
    if parsed is not None:
        await request.app.state.limiter.hit("register", account=parsed.email, ip=client_ip(request))
        try:
            await services.register(db(request), settings_of(request), parsed)
        except Invalid as exc:
            errors = forms.errors_of(exc, rename)
    if errors:
        return await page(
            request, "accounts/register.html", _register_context(form, errors), status_code=422
        )
    return redirect("/register/sent")


async def register_sent(request: Request) -> Response:
    return await page(request, "accounts/check_email.html", {"reason": "register"})


async def verify_email(request: Request) -> Response:
    """GET shows a confirm button; only the POST uses the token.

    Mail scanners open links to check them; if a GET used the token, the person would find it
    spent when they click.
    """
    if request.method == "GET":
        token = request.query_params.get("token", "")
        return await page(request, "accounts/verify_confirm.html", {"token": token})
    form = await form_with_csrf(request)
    token = str(form.get("token", ""))
    try:
        if len(token) < 10 or len(token) > 200:
            raise Invalid.one("token", "This link is not valid any more. Please ask for a new one.")
        await services.verify_email(db(request), token)
    except Invalid:
        return await page(request, "accounts/verified.html", {"ok": False}, status_code=400)
    return await page(request, "accounts/verified.html", {"ok": True})


# --- Log in and out


async def login(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    if request.method == "GET":
        if await current_user(request) is not None:
            return redirect(next_url)
        return await page(
            request, "accounts/login.html", {"form": {}, "errors": {}, "next": next_url}
        )
    form = await form_with_csrf(request)
    next_url = safe_next(text(form, "next") or next_url)
    parsed, errors = forms.parse(
        TokenIn, forms.present(email=text(form, "email"), password=form.get("password") or "")
    )
    user = None
    session, settings = db(request), settings_of(request)
    if parsed is not None:
        await request.app.state.limiter.hit("login", account=parsed.email, ip=client_ip(request))
        try:
            user = await services.authenticate(session, settings, parsed.email, parsed.password)
        except services.AccountSuspended:
            errors = {"": services.MSG_SUSPENDED}  # said only after the right password
        else:
            if user is None:
                errors = {"": MSG_BAD_LOGIN}
    if user is None:
        context = {"form": {"email": text(form, "email")}, "errors": errors, "next": next_url}
        return await page(request, "accounts/login.html", context, status_code=422)
    return await sign_in(request, user, next_url)


async def sign_in(request: Request, user: User, next_url: str) -> Response:
    """After the password or single sign-on: the session, or first the second-step page.

    Without a second factor the session starts now. With one, a signed cookie remembers who
    got this far (for a few minutes) and the session starts only after the code.
    """
    settings = settings_of(request)
    if await twofactor.is_enabled(db(request), user.id):
        response = redirect("/login/two-factor")
        pending = _pending_signer(settings).dumps({"u": user.id, "n": safe_next(next_url)})
        response.set_cookie(
            PENDING_COOKIE,
            pending,
            max_age=PENDING_SECONDS,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            path="/login",
        )
        return response
    return await _start_session(request, user, next_url)


# Where a sign-in without a `next` lands: the person's own page, not the public home.
DASHBOARDS = {"organisation": "/my/organisation", "coordinator": "/review", "admin": "/review"}


def _landing(user: User, next_url: str) -> str:
    return DASHBOARDS.get(str(user.role), "/my/matches") if next_url == "/" else next_url


async def _start_session(request: Request, user: User, next_url: str) -> Response:
    session, settings = db(request), settings_of(request)
    secret = await services.start_web_session(
        session, settings, user, request.headers.get("user-agent")
    )
    response = redirect(_landing(user, safe_next(next_url)))
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_days * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    # A fresh CSRF token after login, so a token planted before it is worth nothing.
    response.delete_cookie(CSRF_COOKIE, path="/")
    _set_lang(response, user.locale)
    return response


# --- The second step of signing in (two-factor)

PENDING_COOKIE = "anlauf_2fa"
PENDING_SECONDS = 600
MSG_BAD_CODE = N_("This code is not correct. Please try again with the current code.")
MSG_CODE_NEEDED = N_("Please enter the code.")
MSG_STEP_EXPIRED = N_("This took too long. Please log in again.")


def _pending_signer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.signing_key, salt="anlauf two-factor sign-in")


async def _pending_user(request: Request) -> tuple[User, str] | None:
    """Who passed the first step in this browser a few minutes ago, and where they go next."""
    raw = request.cookies.get(PENDING_COOKIE, "")
    if not raw:
        return None
    try:
        data = _pending_signer(settings_of(request)).loads(raw, max_age=PENDING_SECONDS)
        user_id, next_url = str(data["u"]), str(data["n"])
    except (BadSignature, KeyError, TypeError):
        return None
    user = await db(request).get(User, user_id)
    if user is None or not user.is_active or user.deleted_at is not None:
        return None
    return user, next_url


async def login_second_step(request: Request) -> Response:
    pending = await _pending_user(request)
    if pending is None:
        return redirect(with_flash("/login", MSG_STEP_EXPIRED))
    user, next_url = pending
    if request.method == "GET":
        return await page(request, "accounts/login_two_factor.html", {"errors": {}})
    form = await form_with_csrf(request)
    code = text(form, "code")
    errors: dict[str, str] = {}
    if not code:
        errors = {"code": MSG_CODE_NEEDED}
    else:
        await twofactor.limit_checks(request, user.id)
        if not await twofactor.check(db(request), settings_of(request), user.id, code):
            errors = {"code": MSG_BAD_CODE}
    if errors:
        return await page(
            request, "accounts/login_two_factor.html", {"errors": errors}, status_code=422
        )
    response = await _start_session(request, user, next_url)
    response.delete_cookie(PENDING_COOKIE, path="/login")
    return response


async def logout(request: Request) -> Response:
    await form_with_csrf(request)
    await current_user(request)  # loads request.state.web_session
    web_session = getattr(request.state, "web_session", None)
    if web_session is not None:
        await services.end_web_session(db(request), web_session)
    response = redirect("/")
    _clear_session(request, response)
    # The browser forgets the pages the service worker kept for this person (market/pwa).
    response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response


# --- Forgotten password


async def forgot_password(request: Request) -> Response:
    if request.method == "GET":
        return await page(request, "accounts/forgot.html", {"form": {}, "errors": {}})
    form = await form_with_csrf(request)
    parsed, errors = forms.parse(ResetRequestIn, forms.present(email=text(form, "email")))
    if parsed is None:
        return await page(
            request, "accounts/forgot.html", {"form": form, "errors": errors}, status_code=422
        )
    await request.app.state.limiter.hit("reset", account=parsed.email, ip=client_ip(request))
    await services.request_password_reset(db(request), settings_of(request), parsed.email)
    return redirect("/forgot-password/sent")


async def forgot_sent(request: Request) -> Response:
    return await page(request, "accounts/check_email.html", {"reason": "reset"})


async def reset_password(request: Request) -> Response:
    if request.method == "GET":
        token = request.query_params.get("token", "")
        return await page(request, "accounts/reset.html", {"token": token, "errors": {}})
    form = await form_with_csrf(request)
    token = text(form, "token")
    password = str(form.get("password") or "")
    parsed, errors = forms.parse(ResetIn, forms.present(token=token, password=password))
    if password and password != form.get("password_confirm"):
        errors.setdefault("password_confirm", MSG_NOT_SAME)
    if parsed is not None and not errors:
        await request.app.state.limiter.hit("reset", account=None, ip=client_ip(request))
        try:
            await services.reset_password(
                db(request), settings_of(request), parsed.token, parsed.password
            )
        except Invalid as exc:
            errors = forms.errors_of(exc)
    if errors:
        return await page(
            request, "accounts/reset.html", {"token": token, "errors": errors}, status_code=422
        )
    return redirect(with_flash("/login", MSG_PASSWORD_RESET))


# --- Profile


async def _account_page(
    request: Request,
    user: User,
    *,
    form: FormData | None = None,
    errors: dict[str, str] | None = None,
    password_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    organisation = await services.organisation_of(db(request), user.id)
    values = form or {"display_name": user.display_name, "locale": user.locale}
    current = getattr(request.state, "web_session", None)
    context = {
        "web_sessions": await services.active_web_sessions(db(request), user.id),
        "current_session_id": current.public_id if current is not None else None,
        "api_tokens": await services.active_tokens(db(request), user.id),
        "two_factor_on": await twofactor.is_enabled(db(request), user.id),
        "form": values,
        "errors": errors or {},
        "password_errors": password_errors or {},
        "organisation": organisation,
        "locales": [(code, locale_label(code)) for code in LOCALES],
        **_language_context(form, user.languages),
    }
    return await page(request, "accounts/account.html", context, status_code=status_code)


async def account(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    if request.method == "GET":
        return await _account_page(request, user)
    form = await form_with_csrf(request)
    skills, rows = forms.language_slots(form)
    data = forms.present(display_name=text(form, "display_name"), locale=text(form, "locale"))
    data["languages"] = skills  # an empty list clears them
    if "display_name" not in data:
        data["display_name"] = ""  # a blank name is an error, not "unchanged"
    rename = forms.slot_renamer(rows)
    patch, errors = forms.parse(MePatch, data, rename)
    if patch is None:
        return await _account_page(request, user, form=form, errors=errors, status_code=422)
    old_locale = user.locale
    await services.update_profile(db(request), user, patch)
    response = redirect(with_flash("/account", MSG_SAVED))
    if user.locale != old_locale:
        _set_lang(response, user.locale)
    return response


async def change_password(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_with_csrf(request)
    new = str(form.get("new_password") or "")
    data = forms.present(current_password=form.get("current_password") or "", new_password=new)
    parsed, errors = forms.parse(PasswordChangeIn, data)
    if new and new != form.get("new_password_confirm"):
        errors.setdefault("new_password_confirm", MSG_NOT_SAME)
    if parsed is not None and not errors:
        web_session = getattr(request.state, "web_session", None)
        try:
            await services.change_password(
                db(request),
                settings_of(request),
                user,
                parsed.current_password,
                parsed.new_password,
                web_session.id if web_session is not None else None,
            )
        except Invalid as exc:
            errors = forms.errors_of(exc)
    if errors:
        return await _account_page(request, user, password_errors=errors, status_code=422)
    return redirect(with_flash("/account", MSG_PASSWORD_CHANGED))


async def export(request: Request) -> Response:
    """Everything stored about the caller, as a JSON file (the right of access)."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    return JSONResponse(
        await export_user(db(request), user),
        headers={"Content-Disposition": 'attachment; filename="anlauf-my-data.json"'},
    )


async def delete_account(request: Request) -> Response:
    """Accounts with a password confirm with it; those without get a link by mail."""
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    by_mail = services.deletes_by_mail(user)
    if request.method == "GET":
        return await page(request, "accounts/delete.html", {"errors": {}, "by_mail": by_mail})
    form = await form_with_csrf(request)
    if by_mail:
        return await _mail_deletion_link(request, user)
    parsed, errors = forms.parse(DeleteIn, forms.present(password=form.get("password") or ""))
    if parsed is not None:
        try:
            await services.delete_account(db(request), settings_of(request), user, parsed.password)
        except Forbidden:
            errors = {"password": MSG_BAD_PASSWORD}
    if errors:
        return await page(
            request,
            "accounts/delete.html",
            {"errors": errors, "by_mail": False},
            status_code=422,
        )
    return _after_deletion(request)


async def _mail_deletion_link(request: Request, user: User) -> Response:
    # Mail is rate-limited like the reset mail: the button must not become a mail cannon.
    await request.app.state.limiter.hit("delete_account", account=user.email, ip=client_ip(request))
    session, settings = db(request), settings_of(request)
    if not user.email_verified:
        # The deletion link goes to confirmed addresses only; confirming comes first.
        await services.send_verification(session, settings, user)
        return redirect("/account/delete/sent?reason=verify")
    await services.request_deletion_link(session, settings, user)
    return redirect("/account/delete/sent")


async def delete_sent(request: Request) -> Response:
    verify = request.query_params.get("reason") == "verify"
    return await page(
        request, "accounts/check_email.html", {"reason": "delete_verify" if verify else "delete"}
    )


async def _broken_link(request: Request) -> Response:
    return await page(request, "accounts/delete_confirm.html", {"ok": False}, status_code=400)


async def delete_confirm(request: Request) -> Response:
    """The mailed link: GET shows a button, only the POST deletes.

    Mail scanners open links to check them; a GET that deleted would delete accounts nobody
    meant to delete. No login is needed: the link proves the mailbox, as a reset link does.
    """
    session = db(request)
    if request.method == "GET":
        token = request.query_params.get("token", "")
        if not 10 <= len(token) <= 200:
            return await _broken_link(request)
        try:
            target = await services.account_to_delete(session, token)
        except Invalid:
            return await _broken_link(request)
        context = {"ok": True, "token": token, "email": target.email}
        return await page(request, "accounts/delete_confirm.html", context)
    form = await form_with_csrf(request)
    token = text(form, "token")
    await request.app.state.limiter.hit("delete_account", account=None, ip=client_ip(request))
    if not 10 <= len(token) <= 200:
        return await _broken_link(request)
    try:
        deleted = await services.delete_account_by_link(session, token)
    except Invalid:
        return await _broken_link(request)
    # Whoever is logged in here is logged out, unless it is someone else (a shared computer).
    current = await current_user(request)
    if current is not None and current.id != deleted.id:
        return redirect("/goodbye")
    return _after_deletion(request)


def _after_deletion(request: Request) -> Response:
    response = redirect("/goodbye")
    _clear_session(request, response)
    return response


async def goodbye(request: Request) -> Response:
    return await page(request, "accounts/goodbye.html")


# --- Two-factor sign-in on the settings page

MSG_2FA_OFF = N_("Two-factor sign-in is off.")
MSG_2FA_STAFF = N_(
    "Coordinators and admins must set up two-factor sign-in before they can use the review pages."
)
MSG_SIGNED_OUT = N_("That device is signed out.")
MSG_TOKEN_REVOKED = N_("The access key is revoked. Apps that used it must log in again.")
MSG_CODE_OR_PASSWORD = N_("Please enter a current code or your password.")


async def _two_factor_page(
    request: Request,
    user: User,
    *,
    errors: dict[str, str] | None = None,
    recovery_codes: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    session, settings = db(request), settings_of(request)
    enabled = await twofactor.is_enabled(session, user.id)
    context = {
        "errors": errors or {},
        "enabled": enabled,
        "enrolment": None
        if enabled
        else await twofactor.pending_enrolment(session, settings, user),
        "codes_left": await twofactor.recovery_codes_left(session, user.id) if enabled else 0,
        "recovery_codes": recovery_codes,
        "has_password": user.password_hash is not None,
        "staff_must": settings.staff_2fa == "required" and user.is_staff and not enabled,
    }
    response = await page(request, "accounts/two_factor.html", context, status_code=status_code)
    # The secret and the recovery codes must not stay in a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


async def two_factor_settings(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    return await _two_factor_page(request, user)


async def two_factor_begin(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    await form_with_csrf(request)
    with contextlib.suppress(Conflict):  # on already: the page shows that
        await twofactor.begin(db(request), settings_of(request), user)
    return redirect(twofactor.SETUP_PATH)


async def two_factor_confirm(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_with_csrf(request)
    code = text(form, "code")
    if not code:
        return await _two_factor_page(
            request, user, errors={"code": MSG_CODE_NEEDED}, status_code=422
        )
    await twofactor.limit_checks(request, user.id)
    try:
        codes = await twofactor.confirm(db(request), settings_of(request), user, code)
    except Invalid:
        return await _two_factor_page(request, user, errors={"code": MSG_BAD_CODE}, status_code=422)
    except Conflict:
        return redirect(twofactor.SETUP_PATH)
    return await _two_factor_page(request, user, recovery_codes=codes)


async def two_factor_recovery_codes(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_with_csrf(request)
    session, settings = db(request), settings_of(request)
    code = text(form, "code")
    if not await twofactor.is_enabled(session, user.id):
        return redirect(twofactor.SETUP_PATH)
    if not code:
        return await _two_factor_page(
            request, user, errors={"code": MSG_CODE_NEEDED}, status_code=422
        )
    await twofactor.limit_checks(request, user.id)
    if not await twofactor.check(session, settings, user.id, code):
        return await _two_factor_page(request, user, errors={"code": MSG_BAD_CODE}, status_code=422)
    codes = await twofactor.new_recovery_codes(session, settings, user.id)
    return await _two_factor_page(request, user, recovery_codes=codes)


async def two_factor_disable(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    form = await form_with_csrf(request)
    code = text(form, "off_code")
    password = str(form.get("password") or "")
    await twofactor.limit_checks(request, user.id)
    try:
        await twofactor.switch_off(
            db(request), settings_of(request), user, code=code or None, password=password or None
        )
    except Invalid as exc:
        field = exc.errors[0].field if exc.errors else "code"
        message = {
            "code": MSG_BAD_CODE if code else MSG_CODE_OR_PASSWORD,
            "password": MSG_BAD_PASSWORD,
        }.get(field, MSG_BAD_CODE)
        return await _two_factor_page(request, user, errors={"off_code": message}, status_code=422)
    return redirect(with_flash(twofactor.SETUP_PATH, MSG_2FA_OFF))


async def staff_setup_needed(request: Request, exc: Exception) -> Response:
    """ANLAUF_STAFF_2FA=required and no second factor yet: the API answers 403 problem JSON,
    pages send the coordinator or admin to the set-up page."""
    from market.api import problem
    from market.web import is_api

    assert isinstance(exc, twofactor.StaffTwoFactorRequired)
    if is_api(request):
        return problem(exc)
    return redirect(with_flash(twofactor.SETUP_PATH, MSG_2FA_STAFF))


# --- Sessions and API tokens on the settings page


async def end_session(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    await form_with_csrf(request)
    public_id = request.path_params["session_id"]
    await services.end_web_session_by_id(db(request), user.id, public_id)
    current = getattr(request.state, "web_session", None)
    if current is not None and current.public_id == public_id:
        response = redirect("/")
        _clear_session(request, response)
        return response
    return redirect(with_flash("/account", MSG_SIGNED_OUT))


async def revoke_token(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    await form_with_csrf(request)
    await services.revoke_token(db(request), user.id, request.path_params["token_id"])
    return redirect(with_flash("/account", MSG_TOKEN_REVOKED))


routes = [
    Route("/register", register, methods=["GET", "POST"]),
    Route("/register/sent", register_sent, methods=["GET"]),
    Route("/verify-email", verify_email, methods=["GET", "POST"]),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/login/two-factor", login_second_step, methods=["GET", "POST"]),
    Route("/account/two-factor", two_factor_settings, methods=["GET"]),
    Route("/account/two-factor/begin", two_factor_begin, methods=["POST"]),
    Route("/account/two-factor/confirm", two_factor_confirm, methods=["POST"]),
    Route("/account/two-factor/recovery-codes", two_factor_recovery_codes, methods=["POST"]),
    Route("/account/two-factor/disable", two_factor_disable, methods=["POST"]),
    Route("/account/sessions/{session_id}/end", end_session, methods=["POST"]),
    Route("/account/tokens/{token_id}/revoke", revoke_token, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/forgot-password", forgot_password, methods=["GET", "POST"]),
    Route("/forgot-password/sent", forgot_sent, methods=["GET"]),
    Route("/reset-password", reset_password, methods=["GET", "POST"]),
    Route("/account", account, methods=["GET", "POST"]),
    Route("/account/password", change_password, methods=["POST"]),
    Route("/account/export", export, methods=["GET"]),
    Route("/account/delete", delete_account, methods=["GET", "POST"]),
    Route("/account/delete/sent", delete_sent, methods=["GET"]),
    Route("/account/delete/confirm", delete_confirm, methods=["GET", "POST"]),
    Route("/goodbye", goodbye, methods=["GET"]),
]
