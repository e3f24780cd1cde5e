"""The account's own pages: profile, password, export, deletion (also by mailed link for
accounts without a password), two-factor settings, signed-in devices and API tokens.
Split from market.accounts.views (signing up and in), which it shares a few helpers with."""

from __future__ import annotations

import contextlib

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from market import forms
from market.accounts import services, sessions, twofactor
from market.accounts.export import export_user
from market.accounts.models import User
from market.accounts.schemas import (
    DeleteIn,
    MePatch,
    PasswordChangeIn,
)
from market.accounts.views import (
    MSG_BAD_CODE,
    MSG_BAD_PASSWORD,
    MSG_CODE_NEEDED,
    MSG_NOT_SAME,
    MSG_PASSWORD_CHANGED,
    MSG_SAVED,
    clear_session,
    language_context,
    set_lang,
)
from market.errors import Conflict, Forbidden, Invalid
from market.forms import page, text
from market.i18n import LOCALES, N_, locale_label
from market.web import (
    client_ip,
    current_user,
    db,
    form_with_csrf,
    login_redirect,
    redirect,
    settings_of,
    with_flash,
)

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
        "web_sessions": await sessions.active_web_sessions(db(request), user.id),
        "current_session_id": current.public_id if current is not None else None,
        "api_tokens": await sessions.active_tokens(db(request), user.id),
        "two_factor_on": await twofactor.is_enabled(db(request), user.id),
        "form": values,
        "errors": errors or {},
        "password_errors": password_errors or {},
        "organisation": organisation,
        "locales": [(code, locale_label(code)) for code in LOCALES],
        **language_context(form, user.languages),
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
        set_lang(response, user.locale)
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
    clear_session(request, response)
    return response


async def goodbye(request: Request) -> Response:
    return await page(request, "accounts/goodbye.html")


# --- Two-factor sign-in on the settings page

MSG_2FA_OFF = N_("Two-factor sign-in is off.")
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


# --- Sessions and API tokens on the settings page


async def end_session(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    await form_with_csrf(request)
    public_id = request.path_params["session_id"]
    await sessions.end_web_session_by_id(db(request), user.id, public_id)
    current = getattr(request.state, "web_session", None)
    if current is not None and current.public_id == public_id:
        response = redirect("/")
        clear_session(request, response)
        return response
    return redirect(with_flash("/account", MSG_SIGNED_OUT))


async def revoke_token(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    await form_with_csrf(request)
    await sessions.revoke_token(db(request), user.id, request.path_params["token_id"])
    return redirect(with_flash("/account", MSG_TOKEN_REVOKED))


routes = [
    Route("/account/two-factor", two_factor_settings, methods=["GET"]),
    Route("/account/two-factor/begin", two_factor_begin, methods=["POST"]),
    Route("/account/two-factor/confirm", two_factor_confirm, methods=["POST"]),
    Route("/account/two-factor/recovery-codes", two_factor_recovery_codes, methods=["POST"]),
    Route("/account/two-factor/disable", two_factor_disable, methods=["POST"]),
    Route("/account/sessions/{session_id}/end", end_session, methods=["POST"]),
    Route("/account/tokens/{token_id}/revoke", revoke_token, methods=["POST"]),
    Route("/account", account, methods=["GET", "POST"]),
    Route("/account/password", change_password, methods=["POST"]),
    Route("/account/export", export, methods=["GET"]),
    Route("/account/delete", delete_account, methods=["GET", "POST"]),
    Route("/account/delete/sent", delete_sent, methods=["GET"]),
    Route("/account/delete/confirm", delete_confirm, methods=["GET", "POST"]),
    Route("/goodbye", goodbye, methods=["GET"]),
]
