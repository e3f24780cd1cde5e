"""Legal pages: imprint, privacy policy and accessibility statement (with its feedback form),
in the reader's language; admins edit each page per UI language."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from market import forms
from market.actor import Actor, staff_actor
from market.errors import Invalid
from market.forms import page, text
from market.i18n import LOCALES, get_locale
from market.legal import guardian, services
from market.legal.defaults import TITLES
from market.legal.models import KINDS
from market.legal.render import render
from market.legal.schemas import FeedbackIn
from market.posts.taxonomy import N_
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

MSG_FEEDBACK_SENT = N_("Thank you. Your message is sent to the people who run Anlauf.")
MSG_LEGAL_SAVED = N_("The text is saved.")
PATHS = {"imprint": "/imprint", "privacy": "/privacy", "accessibility": "/accessibility"}


async def _show(
    request: Request,
    kind: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    settings = settings_of(request)
    body = await services.text_for(db(request), settings, kind, get_locale())
    context = {
        "kind": kind,
        "title": TITLES[kind],
        "body": render(body),
        "feedback": kind == "accessibility",
        "feedback_open": bool(settings.operator_email),
        "values": values or {},
        "errors": errors or {},
    }
    return await page(request, "legal/page.html", context, status_code=422 if errors else 200)


async def imprint(request: Request) -> Response:
    return await _show(request, "imprint")


async def privacy(request: Request) -> Response:
    return await _show(request, "privacy")


async def accessibility(request: Request) -> Response:
    return await _show(request, "accessibility")


async def feedback(request: Request) -> Response:
    form = await form_with_csrf(request)
    await request.app.state.limiter.hit("feedback", account=None, ip=client_ip(request))
    values = {"message": str(form.get("message") or "").strip(), "email": text(form, "email")}
    data, errors = forms.parse(FeedbackIn, forms.present(**values) | {"message": values["message"]})
    if data is not None:
        try:
            await services.send_feedback(
                db(request), settings_of(request), data.message, data.email or "", get_locale()
            )
        except Invalid as exc:
            errors = forms.errors_of(exc)
    if errors:
        return await _show(request, "accessibility", values=values, errors=errors)
    return redirect(with_flash("/accessibility", MSG_FEEDBACK_SENT) + "#feedback")


# --- Editing (admins)


async def _editor(request: Request) -> Actor | Response:
    if await current_user(request) is None:
        return login_redirect(request)
    actor = await staff_actor(request)
    guardian.require_editor(actor)
    return actor


async def edit_list(request: Request) -> Response:
    editor = await _editor(request)
    if isinstance(editor, Response):
        return editor
    session = db(request)
    written = {
        (kind, locale): await services.stored(session, kind, locale) is not None
        for kind in KINDS
        for locale in LOCALES
    }
    context = {"kinds": KINDS, "locales": LOCALES, "titles": TITLES, "written": written}
    return await page(request, "legal/edit_list.html", context)


async def edit(request: Request) -> Response:
    editor = await _editor(request)
    if isinstance(editor, Response):
        return editor
    kind, locale = guardian.page(request.path_params["kind"], request.path_params["locale"])
    assert locale is not None and editor.user is not None
    session, settings = db(request), settings_of(request)
    if request.method == "POST":
        form = await form_with_csrf(request)
        await services.save(session, editor.user, kind, locale, str(form.get("body") or ""))
        return redirect(with_flash("/admin/legal", MSG_LEGAL_SAVED))
    body = await services.text_for(session, settings, kind, locale)
    context = {
        "kind": kind,
        "locale": locale,
        "title": TITLES[kind],
        "body": body,
        "preview": render(body),
        "is_default": await services.stored(session, kind, locale) is None,
    }
    return await page(request, "legal/edit.html", context)


routes = [
    Route("/imprint", imprint, methods=["GET"]),
    Route("/privacy", privacy, methods=["GET"]),
    Route("/accessibility", accessibility, methods=["GET"]),
    Route("/accessibility/feedback", feedback, methods=["POST"]),
    Route("/admin/legal", edit_list, methods=["GET"]),
    Route("/admin/legal/{kind}/{locale}", edit, methods=["GET", "POST"]),
]
