"""The one list of Anlauf's features; the app, the worker and the CLI are all built from it.

How to add a feature: (1) make `market/<name>/` with a `guardian.py`, and add it to the top
features layer of pyproject.toml's import-linter contract (it may import everything below);
(2) add a `Feature` to FEATURES below (this order is the order of routes and rules); (3) list
its modules: `api`/`pages` (each with `routes`), `modules` (handlers, jobs, rules); (4) declare
what they must register: `jobs`, `rules`, `handles`, `exports`, `erasure`, `partner_checks`,
`extends`, `provides` (slots of lower layers, market.hooks), `helpers` (template names);
(5) run tests/market/test_composition.py and lint-imports: a missing piece fails the start.

Registration itself stays where the code is (`@events.subscribe`, `@register_job`,
`register_rule`, `MSG_*` constants); this list says which modules are imported and what they
must have registered once they are, so a forgotten import fails the start instead of silently
leaving a job unrun or an export section out (that is how the export once held no matches).

Why one module of about 500 lines: it is the one composition. The list and the checks that hold
every entry to what it declares are read together when a feature is added; split, the next
engineer would look for the rule that refused their feature in another file than the entry.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from starlette.routing import BaseRoute, Route

from market import events, hooks


@dataclass(frozen=True)
class Feature:
    name: str
    # Modules with a `routes` list: JSON API (mounted at /api/v1) and HTML pages, in this order.
    api: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()
    # Further modules imported for what they register on import (handlers, jobs, rules).
    modules: tuple[str, ...] = ()
    # What those modules must have registered; build() checks each of them.
    jobs: tuple[str, ...] = ()  # outbox job names (notifications.outbox.register_job)
    # Periodic rules, run in this order: "name=module:function" is installed from here;
    # a bare "name" must be registered by the module (market.maintenance.register_rule).
    rules: tuple[str, ...] = ()
    handles: tuple[str, ...] = ()  # events this feature reacts to (market.events.subscribe)
    # Its sections of the personal-data export, "name=module:function" (market.accounts.export).
    exports: tuple[str, ...] = ()
    # "module:OBJECT": its market.accounts.erasure.Eraser (what deleting an account does here).
    erasure: str = ""
    # "module:function" checks that let a partner read a closed post (posts.guardian).
    partner_checks: tuple[str, ...] = ()
    # ("module:LIST", "module:function"): a lower feature's extension point and what this
    # feature adds to it, so the lower one never imports this one.
    extends: tuple[tuple[str, str], ...] = ()
    # ("module:SLOT", "module:object"): a lower feature's market.hooks.Slot and what this
    # feature puts in it; a slot nobody fills fails the start.
    provides: tuple[tuple[str, str], ...] = ()
    # "module:MAPPING": names every page template may use, added to market.forms.HELPERS.
    helpers: tuple[str, ...] = ()


# The foundation's own registrations: mail delivery (notifications) and the page cache.
FOUNDATION = Feature(
    "foundation",
    modules=("market.models", "notifications.jobs", "market.pagecache", "market.maintenance"),
    jobs=("send_mail",),
    rules=(
        "reminders",
        "expired",
        "certificates",
        "idempotency_keys_deleted",
        "mail_copies_redacted",
    ),
    handles=(events.POST_PUBLISHED, events.POST_CLOSED),
)

# Who may import whom: the layers in pyproject.toml. This order: that of routes and rules.
FEATURES: tuple[Feature, ...] = (
    Feature(
        "accounts",
        api=("market.accounts.api",),
        pages=(
            "market.accounts.views",
            "market.accounts.account_pages",
            "market.accounts.oidc.pages",
        ),
        exports=(
            "profile=market.accounts.export:profile",
            "languages=market.accounts.export:languages",
            "sessions=market.accounts.export:sessions",
            "tokens=market.accounts.export:tokens",
            "mailed_links=market.accounts.export:mailed_links",
            "single_sign_on=market.accounts.export:single_sign_on",
        ),
    ),
    Feature(
        "translation",
        # The reader's language: the language page, and machine translation of what people
        # write (translated on read with a cache). Below the features whose texts it
        # translates: they hand it texts and read translations, and give it readers for the
        # fill job (provides= of posts and conversations).
        pages=("market.translation.views",),
        modules=("market.translation.jobs",),
        jobs=("translation.fill",),
    ),
    Feature(
        "posts",
        api=("market.posts.api",),
        pages=("market.posts.views",),
        helpers=("market.posts.choices:TEMPLATE_HELPERS",),
        # A post's language detected after each write (market.posts.translated); cached
        # translations' words join search (market.posts.translated_search).
        modules=("market.posts.translated", "market.posts.translated_search"),
        jobs=("translation.detect_post",),
        handles=(events.POST_PUBLISHED, events.TRANSLATIONS_CACHED),
        erasure="market.posts.personal_data:ERASER",
        exports=("posts=market.posts.personal_data:posts",),
        provides=(("market.translation.sources:POST_TEXTS", "market.posts.translated:post_texts"),),
    ),
    Feature(
        "vetting",
        api=("market.vetting.api",),
        pages=("market.vetting.views",),
        helpers=("market.vetting.reasons:TEMPLATE_HELPERS",),
        erasure="market.vetting.personal_data:ERASER",
        exports=(
            "reports=market.vetting.personal_data:reports",
            "vetting_decisions=market.vetting.personal_data:vetting_decisions",
        ),
    ),
    Feature(
        "organisations",
        api=("market.organisations.api",),
        pages=("market.organisations.pages",),
        modules=("market.organisations.applications", "market.organisations.registration"),
        handles=(events.POST_CLOSED, events.ACCOUNT_REGISTERED),
        provides=(
            (
                "market.posts.organisations:ORGANISATIONS",
                "market.organisations.provided:POSTS_VIEW",
            ),
            ("market.actor:MEMBER_ROLES", "market.organisations.provided:member_roles"),
            (
                "market.accounts.organisations:ORGANISATION_OF",
                "market.organisations.provided:organisation_of",
            ),
        ),
        erasure="market.organisations.personal_data:ERASER",
        exports=(
            "applications=market.organisations.personal_data:applications",
            "organisations=market.organisations.personal_data:organisations",
        ),
        extends=(
            (
                "market.conversations.guardian:REGION_FINDERS",
                "market.organisations.guardian:conversation_region",
            ),
        ),
    ),
    Feature(
        "matches",
        api=("market.matches.api", "market.matches.review_api", "market.matches.waiting.api"),
        pages=("market.matches.views", "market.matches.waiting.views"),
        modules=(
            "market.matches.services",
            "market.matches.runs",
            "market.matches.followthrough",
            "market.matches.rematch",
        ),
        jobs=(
            "matches.regional_confirm",
            "matches.regional_unmatched",
            "matches.regional_preview",
            "matches.rematch",
        ),
        rules=(
            "match_reminders=market.matches.followthrough:send_reminders",
            "matches_stalled=market.matches.followthrough:flag_stalled",
            "matches_expired=market.matches.followthrough:expire",
            "match_outcomes_asked=market.matches.followthrough:ask_outcome",
        ),
        handles=(events.POST_PUBLISHED, events.POST_CLOSED, events.VOLUNTEER_CHANGED),
        erasure="market.matches.personal_data:ERASER",
        exports=("matches=market.matches.personal_data:matches",),
        partner_checks=("market.matches.services:is_partner",),
        extends=(
            (
                "market.conversations.guardian:REGION_FINDERS",
                "market.matches.guardian:conversation_region",
            ),
        ),
    ),
    Feature(
        "conversations",
        api=("market.conversations.api",),
        erasure="market.conversations.personal_data:ERASER",
        exports=(
            "conversations=market.conversations.personal_data:conversations",
            "messages=market.conversations.personal_data:messages",
        ),
        provides=(
            (
                "market.translation.sources:MESSAGE_TEXTS",
                "market.conversations.translated:message_texts",
            ),
        ),
    ),
    Feature(
        "inbox",
        api=("market.inbox.api",),
        pages=("market.inbox.views",),
        modules=("market.inbox.handlers", "market.inbox.digest"),
        jobs=("send_digest",),
        handles=(events.VOLUNTEER_CHANGED, events.MESSAGE_POSTED, events.CONVERSATION_READ),
        exports=(
            "notifications=market.inbox.personal_data:notifications",
            "notification_preferences=market.inbox.personal_data:notification_preferences",
        ),
    ),
    Feature(
        "retention",
        pages=("market.retention",),
        rules=(
            "needs_asked_to_confirm=market.retention:ask_stale_needs",
            "needs_closed_unconfirmed=market.retention:close_unconfirmed",
            "inactive_accounts=market.retention:retire_inactive_accounts",
            "certificate_facts_deleted=market.retention:delete_certificate_facts",
        ),
    ),
    Feature("stats", api=("market.stats.api",), pages=("market.stats.views",)),
    Feature("maps", api=("market.maps.api",), pages=("market.maps.views",)),
    Feature(
        "directory",
        api=("market.directory.api",),
        pages=("market.directory.views",),
        modules=("market.directory.freshness",),
        rules=("directory_confirmations_asked", "directory_services_archived"),
        exports=("directory_referrals=market.directory.personal_data:referrals",),
    ),
    Feature(
        "admin",
        pages=("market.admin.views",),
        modules=("market.admin.handlers",),
        handles=(events.ORGANISATION_DECIDED,),
    ),
    Feature(
        "moderation",
        pages=("market.moderation.views",),
        modules=("market.moderation.handlers",),
        handles=(events.POST_CLOSED,),
    ),
    Feature("legal", pages=("market.legal.views",)),
    Feature("pwa", pages=("market.pwa.views",)),
)


class CompositionError(RuntimeError):
    """Something a feature declares is missing, or something registered belongs to no feature."""


@dataclass(frozen=True)
class Registry:
    """Everything the features contribute, read once after importing every listed module."""

    features: tuple[Feature, ...]
    api_routes: tuple[BaseRoute, ...]
    page_routes: tuple[BaseRoute, ...]
    handlers: Mapping[str, tuple[Callable[..., Any], ...]]
    jobs: Mapping[str, Callable[..., Any]]
    rules: Mapping[str, Callable[..., Any]]
    export_sections: tuple[str, ...]
    flash_messages: Mapping[str, str] = field(default_factory=dict)


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name + ".").startswith(exc.name + "."):
            raise CompositionError(
                f"market/features.py lists {name}, which does not exist"
            ) from exc
        raise


def _resolve(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    found = getattr(_import(module), attr, None)
    if found is None:
        raise CompositionError(f"market/features.py names {ref}, which does not exist")
    return found


def _routes_of(name: str) -> list[BaseRoute]:
    routes = getattr(_import(name), "routes", None)
    if not isinstance(routes, list) or not routes:
        raise CompositionError(f"{name} is listed for routes but has no `routes` list")
    return routes


def _check_routes(kind: str, routes: list[BaseRoute]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for route in routes:
        if not isinstance(route, Route):
            continue
        for method in sorted(route.methods or ()):
            key = (route.path, method)
            where = f"{route.endpoint.__module__}.{route.endpoint.__qualname__}"
            if key in seen:
                raise CompositionError(
                    f"{kind} route {method} {route.path} is declared twice: {seen[key]}, {where}"
                )
            seen[key] = where


def _module_of(func: Callable[..., Any]) -> str:
    return str(getattr(func, "__module__", ""))


def _feature_of(module: str, features: tuple[Feature, ...]) -> Feature | None:
    for feature in features:
        listed = (*feature.api, *feature.pages, *feature.modules)
        if any(module == m or module.startswith(m + ".") for m in listed):
            return feature
        if feature.name != "foundation" and module.startswith(f"market.{feature.name}."):
            return feature
    return None


def build(features: tuple[Feature, ...] = FEATURES) -> Registry:
    """Import every feature's modules and check that each registered what it declares."""
    from market import forms, maintenance
    from market.accounts import erasure, export
    from market.posts import guardian as posts_guardian
    from market.web import FLASH_MESSAGES, flash_key
    from notifications.outbox import JOBS

    everything = (FOUNDATION, *features)
    api: list[BaseRoute] = []
    pages: list[BaseRoute] = []
    provided: dict[str, str] = {}
    helper_names: set[str] = set()
    for feature in everything:
        for name in feature.modules:
            _import(name)
        for name in feature.api:
            api.extend(_routes_of(name))
        for name in feature.pages:
            pages.extend(_routes_of(name))
        for entry in feature.rules:
            name, _, ref = entry.partition("=")
            if ref:
                maintenance.register_rule(name, _resolve(ref))
        for target, ref in feature.extends:
            targets = _resolve(target)
            if not isinstance(targets, list):
                raise CompositionError(f"{target} (extended by {feature.name}) is not a list")
            if _resolve(ref) not in targets:
                targets.append(_resolve(ref))
        for slot_ref, ref in feature.provides:
            slot = _resolve(slot_ref)
            if not isinstance(slot, hooks.Slot):
                raise CompositionError(f"{slot_ref} (provided by {feature.name}) is not a Slot")
            if slot_ref in provided:
                raise CompositionError(
                    f"{slot_ref} is provided twice: {provided[slot_ref]}, {feature.name}"
                )
            provided[slot_ref] = feature.name
            slot.fill(_resolve(ref))
        for ref in feature.helpers:
            for name, helper in _resolve(ref).items():
                if forms.HELPERS.get(name, helper) is not helper:
                    raise CompositionError(f"template helper {name!r} ({ref}) is declared twice")
                forms.HELPERS[name] = helper
                helper_names.add(name)
        for ref in feature.partner_checks:
            check = _resolve(ref)
            if check not in posts_guardian.PARTNER_CHECKS:
                posts_guardian.PARTNER_CHECKS.append(check)
    # The notices a page may show after a redirect (constants named MSG_* in any module of
    # Anlauf), so every process knows every key before the first redirect lands on it.
    # And every job name a module keeps in a constant (NAME_JOB = "...", what it enqueues) must
    # be registered: a job module nobody listed would leave its rows pending for ever.
    unregistered: list[str] = []
    for name, module in list(sys.modules.items()):
        if name.startswith("market.") and module is not None:
            for attr, value in vars(module).items():
                if attr.startswith("MSG_") and isinstance(value, str):
                    flash_key(value)
                elif attr.endswith("_JOB") and isinstance(value, str) and value not in JOBS:
                    unregistered.append(
                        f"{name}.{attr} names job {value!r}, which nothing registers "
                        "(list the module with its @register_job in market/features.py)"
                    )
    _check_routes("API", api)
    _check_routes("page", pages)

    problems: list[str] = unregistered
    for name in forms.HELPERS_FROM_FEATURES:
        if name not in helper_names:
            problems.append(f"no feature adds template helper {name!r} (a feature's helpers=)")
    for slot in hooks.slots():
        if slot.name not in provided:
            problems.append(f"nothing provides {slot.name} (a feature's provides=)")
    declared_jobs = {job: f for f in everything for job in f.jobs}
    for job, func in JOBS.items():
        # Jobs a test registers for itself (tests.*) belong to no feature.
        if job not in declared_jobs and _module_of(func).startswith(("market.", "notifications.")):
            problems.append(
                f"job {job!r} ({_module_of(func)}) is registered but no feature lists it in jobs="
            )
    for job, feature in declared_jobs.items():
        if job not in JOBS:
            problems.append(
                f"feature {feature.name} declares job {job!r}, but nothing registers it"
            )

    declared_rules = {rule.partition("=")[0]: f for f in everything for rule in f.rules}
    for rule in maintenance.RULES:
        if rule not in declared_rules:
            problems.append(f"periodic rule {rule!r} is registered but no feature lists it")
    for rule, feature in declared_rules.items():
        if rule not in maintenance.RULES:
            problems.append(f"feature {feature.name} declares rule {rule!r}, not registered")

    handlers = events.handlers()
    for event in events.EVENTS:
        if not handlers.get(event):
            problems.append(f"event {event!r} is emitted but nothing handles it")
    for feature in everything:
        for event in feature.handles:
            owners = {_feature_of(_module_of(h), everything) for h in handlers.get(event, ())}
            if feature not in owners:
                problems.append(
                    f"feature {feature.name} declares it handles {event!r}; it does not"
                )
    for event, found in handlers.items():
        for handler in found:
            owner = _feature_of(_module_of(handler), everything)
            if owner is None or event not in owner.handles:
                problems.append(
                    f"{_module_of(handler)} handles {event!r}, but no feature declares it in handles="
                )

    # The export's sections, in the order of the features (market.accounts.export.SECTIONS).
    sections: dict[str, Callable[..., Any]] = {}
    for feature in everything:
        for entry in feature.exports:
            name, _, ref = entry.partition("=")
            if not ref:
                problems.append(
                    f"feature {feature.name} lists export {name!r} without its function"
                )
            elif name in sections:
                problems.append(f"export section {name!r} is listed twice")
            else:
                sections[name] = _resolve(ref)
    erasers: list[Any] = []
    for feature in everything:
        if feature.erasure:
            eraser = _resolve(feature.erasure)
            if not isinstance(eraser, erasure.Eraser):
                problems.append(f"{feature.erasure} is not a market.accounts.erasure.Eraser")
            erasers.append(eraser)
    for name in erasure.REQUIRED:
        if not any(f.name == name and f.erasure for f in everything):
            problems.append(
                f"feature {name} gives no eraser (erasure=): deleted accounts would keep its data"
            )
    for name in export.REQUIRED:
        if name not in sections:
            problems.append(f"no feature gives the export section {name!r} (exports=)")

    if problems:
        raise CompositionError("market/features.py: " + "; ".join(problems))
    export.SECTIONS[:] = list(sections.items())
    erasure.ERASERS[:] = erasers
    # The rules run in the declared order (foundation first, then FEATURES).
    ordered = {rule: maintenance.RULES[rule] for rule in declared_rules}
    maintenance.RULES.clear()
    maintenance.RULES.update(ordered)
    return Registry(
        features=everything,
        api_routes=tuple(api),
        page_routes=tuple(pages),
        handlers=handlers,
        jobs=dict(JOBS),
        rules=ordered,
        export_sections=tuple(sections),
        flash_messages=FLASH_MESSAGES,
    )


@functools.cache
def registry() -> Registry:
    """The registry of FEATURES, built (and checked) once per process."""
    return build()


def api_routes() -> tuple[BaseRoute, ...]:
    """The API routes of every feature (kept for market.demo, which imports the features)."""
    return registry().api_routes
