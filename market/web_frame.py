"""The page frame (the fixed <head> part, the header with its menus, the footer), drawn once.

Drawing the frame through Jinja cost more than a whole minimal page (about 6.7 million
instructions against 3.1 for a one-query page, benchmarks/web_cost.py): some 30 translated
strings, two copies of the menu, seven language buttons. Yet the frame depends on little: the
page language, who is signed in (role, shown name, CSRF token, unread count) and which section
the page is in. So each part is drawn once per such combination and kept (bounded, least
recently used first out); the few bits that name the address itself (the language link's
`next`, the footer form's action and hidden fields) are filled into the kept text per request.
Nothing from the database is kept here but the signed-in person's own name and count, keyed by
exactly those values, so a changed name or count is a new entry and nothing is ever stale.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NamedTuple
from urllib.parse import urlencode

from jinja2 import Environment, pass_environment
from markupsafe import Markup, escape
from starlette.requests import Request

from market import i18n, styles
from market.i18n import N_

# The sections of the main menu: (address, label, icon, who sees it). The header draws them and
# section() finds the current one from the same list.
NAV_LINKS: tuple[tuple[str, str, str, str], ...] = (
    ("/posts", N_("Browse"), "search", "everyone"),
    ("/services", N_("Help nearby"), "map-pin", "everyone"),
    ("/posts/new", N_("New post"), "plus", "signed_in"),
    ("/my/posts", N_("My posts"), "file-text", "signed_in"),
    ("/my/matches", N_("My matches"), "handshake", "signed_in"),
    ("/my/applications", N_("My applications"), "send", "volunteer"),
    ("/my/organisation", N_("My organisation"), "building", "organisation"),
    ("/review", N_("Review"), "clipboard-check", "staff"),
    ("/conversations", N_("Messages"), "message-circle", "signed_in"),
)
_WHO = {
    None: ("everyone",),
    "volunteer": ("everyone", "signed_in", "volunteer"),
    "organisation": ("everyone", "signed_in", "organisation"),
    "coordinator": ("everyone", "signed_in", "staff"),
    "admin": ("everyone", "signed_in", "staff"),
}

# Stand-ins for the address-dependent bits, in the Unicode private use area: escaping leaves
# them alone and no translation holds them. A shown name that spelled one out would only see
# the (escaped) address in its own header.
_HERE = "\ue000here\ue001"
_HERE_PATH = "\ue000path\ue001"
_HERE_FIELDS = "\ue000fields\ue001"
_CSRF = "\ue000csrf\ue001"

_parts: OrderedDict[tuple[Any, ...], str] = OrderedDict()
PARTS_KEPT = 2_000


class FrameUser(NamedTuple):
    """What the header shows of the signed-in person."""

    role: str
    display_name: str | None


def links_for(role: str | None) -> list[tuple[str, str, str]]:
    """(address, label, icon) of the menu entries this role sees, labels untranslated."""
    who = _WHO.get(role, ("everyone", "signed_in"))
    return [(href, label, icon) for href, label, icon, for_whom in NAV_LINKS if for_whom in who]


def section(path: str, role: str | None) -> str:
    """The menu entry the page belongs to: the longest address that is the path or above it."""
    current = ""
    for href, _label, _icon in links_for(role):
        if (path == href or path.startswith(href + "/")) and len(href) > len(current):
            current = href
    return current


def _drawn(env: Environment, name: str, key: tuple[Any, ...], values: dict[str, Any]) -> str:
    template = env.get_template(f"_frame/{name}.html")
    # The template object and the stylesheets' version are part of the key: a template or
    # stylesheet edited while the server runs (auto reload outside production) is drawn anew.
    full = (name, i18n.get_locale(), id(template), styles.version(), *key)
    known = _parts.get(full)
    if known is not None:
        _parts.move_to_end(full)
        return known
    locale = i18n.get_locale()
    known = template.render(
        {
            **values,
            "locale": locale,
            "HERE": Markup(_HERE),  # noqa: S704 (our own stand-in, replaced below)
            "HERE_PATH": Markup(_HERE_PATH),  # noqa: S704
            "HERE_FIELDS": Markup(_HERE_FIELDS),  # noqa: S704
            "csrf_token": Markup(_CSRF),  # noqa: S704
        }
    )
    _parts[full] = known
    if len(_parts) > PARTS_KEPT:
        _parts.popitem(last=False)
    return known


@pass_environment
def frame_head(env: Environment) -> Markup:
    return Markup(_drawn(env, "head", (), {}))  # noqa: S704 (drawn by an autoescaped template)


@pass_environment
def frame_top(
    env: Environment, request: Request, user: Any, csrf_token: str, unread_count: int
) -> Markup:
    path = request.url.path
    shown = FrameUser(user.role, user.display_name) if user else None
    role = shown.role if shown else None
    # Not the CSRF token: it is per browser (a first request gets a new one), filled in below.
    key = (
        shown,
        unread_count,
        section(path, role),
        path.startswith("/account"),
        path.startswith("/notifications"),
    )
    values = {
        "user": shown,
        "unread_count": unread_count,
        "links": [(href, i18n.gettext(label), icon) for href, label, icon in links_for(role)],
        "current": key[2],
        "in_account": key[3],
        "in_notifications": key[4],
    }
    here = path + ("?" + request.url.query if request.url.query else "")
    html = _drawn(env, "top", key, values)
    html = html.replace(_HERE, str(escape(urlencode({"next": here}))))
    if shown:
        html = html.replace(_CSRF, str(escape(csrf_token)))
    return Markup(html)  # noqa: S704 (the template escaped it; the fillings are escaped here)


@pass_environment
def frame_foot(env: Environment, request: Request, user: Any) -> Markup:
    html = _drawn(env, "foot", (bool(user),), {"user": bool(user)})
    fields = "".join(
        f'<input type="hidden" name="{escape(key)}" value="{escape(value)}">'
        for key, value in request.query_params.multi_items()
        if key not in ("lang", "msg")
    )
    return Markup(  # noqa: S704 (every value escaped above)
        html.replace(_HERE_PATH, str(escape(request.url.path))).replace(_HERE_FIELDS, fields)
    )
