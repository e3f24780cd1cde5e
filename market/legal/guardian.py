"""Who may do what with the legal pages: everyone reads them and may send accessibility
feedback (BITV 2.0 asks for a channel open to all); only admins edit them."""

from __future__ import annotations

from market.actor import Actor
from market.admin import guardian as admin_guardian
from market.errors import NotFound
from market.i18n import LOCALES
from market.legal.models import KINDS


def require_editor(actor: Actor) -> None:
    admin_guardian.require_admin(actor)


def page(kind: str, locale: str | None = None) -> tuple[str, str | None]:
    """A page that exists (404 otherwise): its kind and, for editing, its language."""
    if kind not in KINDS or (locale is not None and locale not in LOCALES):
        raise NotFound("There is no such page.")
    return kind, locale
