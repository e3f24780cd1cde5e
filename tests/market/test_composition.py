"""The one composition (market/features.py): app, worker and CLI are built from the same list,
and a missing registration fails the start with a message that names it."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from starlette.routing import Mount, Route

from market import events, features, maintenance
from market.features import FEATURES, CompositionError, Feature, build, registry
from notifications.outbox import JOBS


def _without(name: str, **changes: Any) -> tuple[Feature, ...]:
    return tuple(replace(f, **changes) if f.name == name else f for f in FEATURES)


@pytest.fixture
def jobs_restored() -> Iterator[None]:
    before = dict(JOBS)
    yield
    JOBS.clear()
    JOBS.update(before)


def test_the_registry_holds_every_features_jobs_rules_and_sections() -> None:
    found = registry()
    assert {"send_mail", "send_digest", "matches.regional_confirm"} <= set(found.jobs)
    assert list(found.rules)[:5] == [
        "reminders",
        "expired",
        "certificates",
        "idempotency_keys_deleted",
        "mail_copies_redacted",
    ]
    assert "match_reminders" in found.rules
    assert "inactive_accounts" in found.rules
    assert "matches" in found.export_sections
    for event in events.EVENTS:
        assert found.handlers[event], event


def test_app_worker_and_cli_use_the_same_registry() -> None:
    from market import worker
    from market.app import create_app

    app = create_app()
    api = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/api/v1")
    for route in registry().api_routes:
        assert route in api.routes
    for route in registry().page_routes:
        assert route in app.routes
    assert sorted(f.name for f in worker.worker_functions()) == sorted(registry().jobs)
    assert [f.name for f in worker.WorkerSettings.functions] == sorted(registry().jobs)


def test_the_cli_fails_at_start_when_the_composition_is_broken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from market import cli

    def broken() -> None:
        raise CompositionError("market/features.py: job 'x' is missing")

    monkeypatch.setattr(features, "registry", broken)
    with pytest.raises(CompositionError, match="job 'x'"):
        cli.main(["tick"])


def test_a_declared_job_nobody_registers_fails() -> None:
    broken = _without("inbox", jobs=("send_digest", "send_weekly_letter"))
    with pytest.raises(CompositionError, match="declares job 'send_weekly_letter'"):
        build(broken)


def test_a_feature_job_no_feature_declares_fails(jobs_restored: None) -> None:
    async def orphan(ctx: Any, outbox_id: str) -> None:
        return None

    orphan.__module__ = "market.matches.orphans"
    JOBS["matches.orphan"] = orphan
    with pytest.raises(CompositionError, match=r"'matches\.orphan'.*no feature lists it"):
        build()


def test_an_event_without_a_handler_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    registry()  # every handler is subscribed
    kept = {e: list(h) for e, h in events._handlers.items() if e != events.MESSAGE_POSTED}
    monkeypatch.setattr(events, "_handlers", events.defaultdict(list, kept))
    with pytest.raises(
        CompositionError, match=re.escape("'message.posted' is emitted but nothing")
    ):
        build()


def test_a_handler_of_an_undeclared_event_fails() -> None:
    # matches reacts to volunteer changes; a list that forgets to say so is refused.
    broken = _without("matches", handles=(events.POST_PUBLISHED, events.POST_CLOSED))
    with pytest.raises(
        CompositionError, match=re.escape("handles 'volunteer.changed', but no feature")
    ):
        build(broken)


def test_a_rule_registered_but_not_listed_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    async def rule(session: Any, settings: Any, now: Any) -> int:
        return 0

    monkeypatch.setitem(maintenance.RULES, "forgotten", rule)
    with pytest.raises(CompositionError, match="rule 'forgotten' is registered but no feature"):
        build()


def test_a_missing_export_section_fails() -> None:
    broken = _without(
        "matches",
        exports=(
            "matches=market.matches.personal_data:matches",
            "match_outcomes=market.matches.personal_data:outcomes",
        ),
    )
    with pytest.raises(CompositionError, match="personal_data:outcomes, which does not exist"):
        build(broken)


def test_an_export_section_of_no_feature_fails() -> None:
    # How the export once came to hold no matches: nobody gave the section.
    broken = _without("matches", exports=())
    with pytest.raises(CompositionError, match="no feature gives the export section 'matches'"):
        build(broken)


def test_a_listed_module_that_does_not_exist_fails() -> None:
    broken = (*FEATURES, Feature("atlas", pages=("market.atlas.views",)))
    with pytest.raises(
        CompositionError, match=re.escape("lists market.atlas.views, which does not exist")
    ):
        build(broken)


def test_the_same_route_twice_fails() -> None:
    broken = (*FEATURES, Feature("copy", api=("market.posts.api",)))
    with pytest.raises(CompositionError, match="declared twice"):
        build(broken)


def test_partner_checks_are_installed_from_the_list() -> None:
    from market.matches.services import is_partner
    from market.posts.guardian import PARTNER_CHECKS

    registry()
    assert PARTNER_CHECKS.count(is_partner) == 1


def test_an_unknown_event_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match=re.escape("unknown event 'post.misspelt'")):
        events.subscribe("post.misspelt")


def test_routes_are_plain_routes_or_mounts() -> None:
    for route in (*registry().api_routes, *registry().page_routes):
        assert isinstance(route, Route | Mount)


def test_extension_points_are_filled_from_the_list() -> None:
    # A conversation's region comes from the features above conversations, never imported there.
    from market.conversations.guardian import REGION_FINDERS
    from market.matches import guardian as matches_guardian
    from market.organisations import guardian as organisations_guardian

    registry()
    assert matches_guardian.conversation_region in REGION_FINDERS
    assert organisations_guardian.conversation_region in REGION_FINDERS
    assert len(REGION_FINDERS) == len(set(REGION_FINDERS))


def test_extending_something_that_is_not_a_list_fails() -> None:
    broken = (
        *FEATURES,
        Feature("odd", extends=(("market.events:POST_CLOSED", "market.matches.guardian:visible"),)),
    )
    with pytest.raises(CompositionError, match="is not a list"):
        build(broken)


def test_a_job_name_nobody_registers_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # A module that enqueues a job whose module is not listed (so @register_job never ran).
    import types

    module = types.ModuleType("market.atlas_jobs")
    module.REFRESH_JOB = "atlas.refresh"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "market.atlas_jobs", module)
    with pytest.raises(CompositionError, match=re.escape("market.atlas_jobs.REFRESH_JOB")):
        build()


def test_a_slot_nobody_provides_fails_the_start() -> None:
    # Posts need organisations' names and memberships; organisations put them in at start.
    broken = _without("organisations", provides=())
    with pytest.raises(CompositionError, match=r"nothing provides .*posts\.organisations"):
        build(broken)


def test_posts_read_organisations_through_the_slot() -> None:
    from market.actor import MEMBER_ROLES
    from market.organisations.provided import POSTS_VIEW, member_roles
    from market.posts.organisations import ORGANISATIONS

    registry()
    assert ORGANISATIONS() is POSTS_VIEW
    assert MEMBER_ROLES() is member_roles


def test_a_template_helper_nobody_adds_fails_the_start() -> None:
    # market.forms is foundation: the category names come from posts, added at start.
    broken = _without("posts", helpers=())
    with pytest.raises(CompositionError, match="template helper 'category_name'"):
        build(broken)


def test_the_features_template_helpers_reach_every_page() -> None:
    from market import forms
    from market.posts import taxonomy
    from market.vetting import reasons

    registry()
    assert forms.HELPERS["category_name"] is taxonomy.category_name
    assert forms.HELPERS["reason_text"] is reasons.reason_text
    assert forms.HELPERS["category_options"]("x")[0] == ("", "x")


def test_a_feature_without_its_eraser_fails_the_start() -> None:
    # Deleting an account must blank the posts: accounts runs the posts' eraser.
    broken = _without("posts", erasure="")
    with pytest.raises(CompositionError, match="feature posts gives no eraser"):
        build(broken)


def test_the_erasers_run_in_the_order_of_the_features() -> None:
    from market.accounts import erasure

    registry()
    assert [type(e).__module__ for e in erasure.ERASERS] == [
        f.erasure.partition(":")[0] for f in FEATURES if f.erasure
    ]
    assert len(erasure.ERASERS) == len(erasure.REQUIRED)
