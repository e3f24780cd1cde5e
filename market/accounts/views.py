"""HTML pages for accounts: sign up, email check, log in (with the second step) and out,
forgotten password. The account's own pages (profile, password, export, deletion, two-factor
settings, sessions and tokens) are in market.accounts.account_pages."""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import forms
from market.accounts import services, sessions, twofactor
from market.accounts.models import SELF_REGISTER_ROLES, User
from market.accounts.schemas import (
    RegisterIn,
    ResetIn,
    ResetRequestIn,
    TokenIn,
)
from market.errors import Invalid
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


def set_lang(response: Response, locale: str) -> None:
    response.set_cookie(LANG_COOKIE, locale, max_age=YEAR, samesite="lax", path="/")


def clear_session(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings_of(request).secure_cookies,
    )


def language_context(form: FormData | None, skills: Any = ()) -> dict[str, Any]:
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
        **language_context(form),
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
    secret = await sessions.start_web_session(
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
    set_lang(response, user.locale)
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
        await sessions.end_web_session(db(request), web_session)
    response = redirect("/")
    clear_session(request, response)
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


# Here rather than with the two-factor settings: market.app installs it for every request.
MSG_2FA_STAFF = N_(
    "Coordinators and admins must set up two-factor sign-in before they can use the review pages."
)


async def staff_setup_needed(request: Request, exc: Exception) -> Response:
    """ANLAUF_STAFF_2FA=required and no second factor yet: the API answers 403 problem JSON,
    pages send the coordinator or admin to the set-up page."""
    from market.api import problem
    from market.web import is_api

    assert isinstance(exc, twofactor.StaffTwoFactorRequired)
    if is_api(request):
        return problem(exc)
    return redirect(with_flash(twofactor.SETUP_PATH, MSG_2FA_STAFF))


routes = [
    Route("/register", register, methods=["GET", "POST"]),
    Route("/register/sent", register_sent, methods=["GET"]),
    Route("/verify-email", verify_email, methods=["GET", "POST"]),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/login/two-factor", login_second_step, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/forgot-password", forgot_password, methods=["GET", "POST"]),
    Route("/forgot-password/sent", forgot_sent, methods=["GET"]),
    Route("/reset-password", reset_password, methods=["GET", "POST"]),
]
