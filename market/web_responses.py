"""Answers to a page request: a rendered page (with its CSRF cookie), notices after a redirect
(flash) and redirects. market.web re-exports these names.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from market import i18n
from market.accounts.models import User
from market.settings import Settings
from market.web_requests import (
    CSRF_COOKIE,
    caller_column,
    csrf_token,
    current_user,
    db,
    settings_of,
)


async def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    env: Environment = request.app.state.jinja
    user = await current_user(request)
    settings = settings_of(request)
    locale = i18n.get_locale()
    ctx: dict[str, Any] = {
        "request": request,
        "user": user,
        "locale": locale,
        "dir": "rtl" if i18n.is_rtl(locale) else "ltr",
        "csrf_token": csrf_token(request),
        "flash": FLASH_MESSAGES.get(request.query_params.get("msg") or ""),
    }
    ctx.update(context or {})
    ctx["unread_count"] = await _unread_count(request, user)
    html = env.get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status_code)
    set_csrf_cookie(request, response, settings)
    response.headers["Content-Language"] = locale
    return response


async def _unread_count(request: Request, user: User | None) -> int:
    hook = getattr(request.app.state, "unread_count", None)
    if user is None or hook is None:
        return 0
    # Read with the caller (market.web_requests) unless this request changed it since.
    count: int = await hook(db(request), user.id, caller_column(request, "unread_count"))
    return count


def set_csrf_cookie(request: Request, response: Response, settings: Settings) -> None:
    token = csrf_token(request)
    if request.cookies.get(CSRF_COOKIE) != token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            path="/",
        )


# Notices shown after a redirect ("Your changes are saved."). The URL carries only a key, so a
# link cannot put words of its own into our pages.
FLASH_MESSAGES: dict[str, str] = {}


def flash_key(message: str) -> str:
    import hashlib

    key = hashlib.sha256(message.encode()).hexdigest()[:10]
    FLASH_MESSAGES[key] = message
    return key


def with_flash(path: str, message: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}msg={flash_key(message)}"


def redirect(url: str, status_code: int = 303) -> RedirectResponse:
    return RedirectResponse(url, status_code=status_code)


def login_redirect(request: Request) -> RedirectResponse:
    from urllib.parse import quote

    return redirect(f"/login?next={quote(request.url.path)}")


def safe_next(target: str | None) -> str:
    """Only local paths, so a link cannot send people to another site after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"
