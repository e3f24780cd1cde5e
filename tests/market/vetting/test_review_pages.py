"""The coordinators' review pages in a browser: vetting volunteers, reviewing posts and
organisations, reading reports, and who may open them at all."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from market.accounts.models import User
from market.db import make_sessionmaker
from market.organisations.models import Organisation
from market.posts.models import Post
from market.vetting.models import PostReview, Report, VettingDecision
from market.vetting.reasons import POST_REJECTION_REASONS
from tests.factories import PASSWORD, Actor, make_user, post_body
from tests.pages import (
    browser,
    checked_of,
    count,
    csrf,
    error_of,
    fetch,
    form_of,
    html_lang,
    submit,
    text_of,
    translated,
    value_of,
)

CHECKS = {"identity": "1", "interview": "1", "code_of_conduct": "1"}


async def create(client: httpx.AsyncClient, actor: Actor, **overrides: Any) -> str:
    r = await client.post("/api/v1/posts", headers=actor.headers, json=post_body(**overrides))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def anonymous_status(app: Any, post_id: str) -> int:
    async with browser(app) as anonymous:
        return (await anonymous.get(f"/posts/{post_id}")).status_code


def history_rows(page: str) -> list[str]:
    found = re.search(r"<tbody>(.*?)</tbody>", page, re.S)
    return re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S) if found else []


# --- Volunteers


async def test_a_coordinator_vets_a_volunteer_and_the_offer_is_published(
    client: httpx.AsyncClient, app: Any
) -> None:
    coordinator = await make_user(app, client, "coordinator", name="Cora", locale="en")
    volunteer = await make_user(app, client, "volunteer", name="Viktor")
    approved = await make_user(app, client, "volunteer", approved=True, name="Alma")
    offer = await create(client, volunteer, kind="offer", title="Ich begleite zum Amt")
    assert await anonymous_status(app, offer) == 404
    url = f"/review/volunteers/{volunteer.id}"

    async with browser(app, coordinator) as c:
        overview = await c.get("/review")
        assert overview.status_code == 200
        assert '<a href="/review/volunteers?status=pending">Volunteers to meet</a>' in overview.text
        queue = await c.get("/review/volunteers")
        assert queue.status_code == 200
        assert f'href="{url}"' in queue.text and volunteer.email in queue.text
        assert f'href="/review/volunteers/{approved.id}"' not in queue.text
        done = await c.get("/review/volunteers?status=approved")
        assert f'href="/review/volunteers/{approved.id}"' in done.text
        assert f'href="{url}"' not in done.text

        page = await c.get(url)
        assert page.status_code == 200
        assert "Viktor" in page.text and volunteer.email in page.text
        assert f'href="/posts/{offer}"' in page.text and "Waiting for review" in page.text
        assert "No decisions yet." in page.text
        assert checked_of(page.text, "identity") == []

        # Approval needs the whole checklist: shown again with what was ticked, nothing stored.
        r = await c.post(
            url,
            data={
                "csrf_token": csrf(page.text),
                "identity": "1",
                "interview": "1",
                "police_certificate_until": "31.03.2027",
                "note": "Ausweis gesehen",
                "decision": "approve",
            },
        )
        assert r.status_code == 422
        assert (
            error_of(r.text, "police_certificate_until") == "Please enter a date like 2027-03-31."
        )
        assert value_of(r.text, "police_certificate_until") == "31.03.2027"
        assert checked_of(r.text, "decision") == ["approve"]
        r = await c.post(
            url,
            data={
                "csrf_token": csrf(page.text),
                "identity": "1",
                "interview": "1",
                "police_certificate_until": "2027-03-31",
                "note": "Ausweis gesehen",
                "decision": "approve",
            },
        )
        assert r.status_code == 422
        assert error_of(r.text, "checks") == (
            "Approval needs identity seen, interview held and code of conduct signed."
        )
        assert checked_of(r.text, "identity") == ["1"] and checked_of(r.text, "interview") == ["1"]
        assert checked_of(r.text, "code_of_conduct") == []
        assert "Ausweis gesehen" in r.text
        assert await count(app, VettingDecision) == 0
        assert (await fetch(app, User, volunteer.id)).vetting_status == "pending"

        r = await submit(
            c,
            url,
            {
                **CHECKS,
                "police_certificate_until": "2027-03-31",
                "note": "Ausweis gesehen, Gespräch war gut",
                "decision": "approve",
            },
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith(f"{url}?msg=")
        page = await c.get(r.headers["location"])
        assert "The decision is saved." in page.text
        assert "Mar 31, 2027" in page.text
        assert "Published" in page.text  # the offer in the list on the page
        (row,) = history_rows(page.text)
        assert "Approved" in row and "Cora" in row and "Ausweis gesehen, Gespräch war gut" in row
        # The form shows the checks of the latest decision.
        assert checked_of(page.text, "code_of_conduct") == ["1"]
        assert value_of(page.text, "police_certificate_until") == "2027-03-31"

    person = await fetch(app, User, volunteer.id)
    assert person.vetting_status == "approved"
    assert person.police_certificate_until == date(2027, 3, 31)
    assert (await fetch(app, Post, offer)).status == "published"
    assert await anonymous_status(app, offer) == 200

    # A second decision: both are in the history, the newest first.
    async with browser(app, coordinator) as c:
        r = await submit(c, url, {"decision": "reject", "note": "Termin nicht eingehalten"})
        assert r.status_code == 303, r.text
        page = await c.get(url)
        newest, oldest = history_rows(page.text)
        assert "Not approved" in newest and "Termin nicht eingehalten" in newest
        assert "Approved" in oldest and "Ausweis gesehen" in oldest
        assert "Not approved" in text_of(page.text.split("<h2>Offers</h2>")[0])  # the status
    async with make_sessionmaker(app.state.engine)() as s:
        decisions = list(
            (
                await s.execute(
                    select(VettingDecision.decision).where(
                        VettingDecision.volunteer_id == volunteer.id
                    )
                )
            ).scalars()
        )
    assert sorted(decisions) == ["approve", "reject"]
    assert (await fetch(app, User, volunteer.id)).vetting_status == "rejected"
    assert await anonymous_status(app, offer) == 404  # taken back to review


# --- Posts


async def test_posts_are_published_or_rejected_with_a_reason_in_the_authors_language(
    client: httpx.AsyncClient, app: Any
) -> None:
    coordinator = await make_user(app, client, "coordinator", locale="en")
    author = await make_user(app, client, "organisation", org_status="pending", locale="ar")
    good = await create(client, author, title="Lesepaten gesucht")
    phone = await create(client, author, title="Ruf mich an 0170 1234567")
    odd = await create(client, author, title="Etwas Seltsames")
    volunteer = await make_user(app, client, "volunteer")
    offer = await create(client, volunteer, kind="offer", title="Angebot vor dem Treffen")
    for post_id in (good, phone, odd, offer):
        assert (await fetch(app, Post, post_id)).status == "pending_review"

    async with browser(app, coordinator) as c:
        page = await c.get("/review/posts")
        assert page.status_code == 200
        for post_id in (good, phone, odd):
            assert f'action="/review/posts/{post_id}"' in page.text
            assert 'value="publish"' in form_of(page.text, f"/review/posts/{post_id}")
        # An offer of a volunteer nobody has met yet cannot be published on its own.
        assert 'value="publish"' not in form_of(page.text, f"/review/posts/{offer}")
        assert f'href="/review/volunteers/{volunteer.id}"' in page.text
        r = await submit(
            c, "/review/posts", {"decision": "publish"}, action=f"/review/posts/{offer}"
        )
        assert r.status_code == 409
        assert (await fetch(app, Post, offer)).status == "pending_review"
        r = await submit(
            c, "/review/posts", {"decision": "publish"}, action=f"/review/posts/{good}"
        )
        assert r.status_code == 303, r.text
        assert "The post is published." in (await c.get(r.headers["location"])).text

        # A rejection without a reason is refused; the list is shown again, the error at its post.
        r = await submit(
            c,
            "/review/posts",
            {"decision": "reject", "reason": ""},
            action=f"/review/posts/{phone}",
        )
        assert r.status_code == 422
        assert (
            error_of(r.text, f"reason-{phone}") == "Please give a reason; the author will see it."
        )
        assert error_of(r.text, f"reason-{odd}") is None
        r = await submit(
            c,
            "/review/posts",
            {"decision": "reject", "reason": "other", "reason_other": ""},
            action=f"/review/posts/{odd}",
        )
        assert r.status_code == 422
        assert error_of(r.text, f"other-{odd}")
        assert (await fetch(app, Post, phone)).status == "pending_review"
        assert await count(app, PostReview) == 1

        r = await submit(
            c,
            "/review/posts",
            {"decision": "reject", "reason": "contact_data"},
            action=f"/review/posts/{phone}",
        )
        assert r.status_code == 303, r.text
        page = await c.get(r.headers["location"])
        assert "The post is rejected. The author sees the reason." in page.text
        r = await submit(
            c,
            "/review/posts",
            {"decision": "reject", "reason": "other", "reason_other": "Bitte genauer beschreiben."},
            action=f"/review/posts/{odd}",
        )
        assert r.status_code == 303, r.text
        page = await c.get("/review/posts")
        for post_id in (good, phone, odd):
            assert f'action="/review/posts/{post_id}"' not in page.text
        assert f'action="/review/posts/{offer}"' in page.text

    assert (await fetch(app, Post, good)).status == "published"
    assert await anonymous_status(app, good) == 200
    rejected = await fetch(app, Post, phone)
    assert (rejected.status, rejected.rejection_reason) == ("rejected", "contact_data")
    assert await anonymous_status(app, phone) == 404
    assert await count(app, PostReview) == 3

    reason = POST_REJECTION_REASONS["contact_data"]
    in_arabic = translated(reason, "ar")
    assert in_arabic != reason
    async with browser(app, author) as mine:  # logging in brings the author's language
        page = await mine.get(f"/posts/{phone}")
        assert page.status_code == 200
        assert html_lang(page.text) == ("ar", "rtl")
        assert in_arabic in text_of(page.text)
        assert reason not in page.text
        assert translated("Not accepted", "ar") in text_of(page.text)
        page = await mine.get(f"/posts/{odd}")
        assert "Bitte genauer beschreiben." in page.text  # the coordinator's own words
        # In another page language the same code reads in that language.
        page = await mine.get(f"/posts/{phone}?lang=uk")
        assert translated(reason, "uk") in text_of(page.text)


async def test_a_coordinator_approves_an_organisation(client: httpx.AsyncClient, app: Any) -> None:
    coordinator = await make_user(app, client, "coordinator", locale="en")
    owner = await make_user(app, client, "organisation", org_status="pending", name="Olga")
    other = await make_user(app, client, "organisation", org_status="pending")
    waiting = await create(client, owner, title="Patenschaften gesucht")
    org_name = (await fetch(app, Organisation, owner.organisation_id)).name

    async with browser(app, coordinator) as c:
        page = await c.get("/review/organisations")
        assert page.status_code == 200
        assert org_name in page.text and "Olga" in page.text
        assert f'href="mailto:{owner.email}"' in page.text
        action = f"/review/organisations/{owner.organisation_id}"
        r = await submit(c, "/review/organisations", {"decision": "maybe"}, action=action)
        assert r.status_code == 422
        assert (await fetch(app, Organisation, owner.organisation_id)).status == "pending"

        r = await submit(c, "/review/organisations", {"decision": "approve"}, action=action)
        assert r.status_code == 303, r.text
        page = await c.get(r.headers["location"])
        assert "The decision is saved." in page.text
        assert f'action="{action}"' not in page.text
        r = await submit(
            c,
            "/review/organisations",
            {"decision": "reject", "reason": "Keine Organisation erkennbar"},
            action=f"/review/organisations/{other.organisation_id}",
        )
        assert r.status_code == 303
        r = await submit(
            c, "/review/organisations", {"decision": "approve"}, action="/review/organisations/nope"
        )
        assert r.status_code == 404

    org = await fetch(app, Organisation, owner.organisation_id)
    assert org.status == "approved"
    assert (await fetch(app, Post, waiting)).status == "published"
    assert await anonymous_status(app, waiting) == 200
    turned_down = await fetch(app, Organisation, other.organisation_id)
    assert (turned_down.status, turned_down.rejection_reason) == (
        "rejected",
        "Keine Organisation erkennbar",
    )


async def test_the_reports_list(client: httpx.AsyncClient, app: Any) -> None:
    coordinator = await make_user(app, client, "coordinator", locale="en")
    reporter = await make_user(app, client, "seeker", name="Rita")
    author = await make_user(app, client, "seeker")
    post_id = await create(client, author, title="Verdächtiger Eintrag")
    r = await client.post(
        "/api/v1/reports",
        headers=reporter.headers,
        json={
            "target_type": "post",
            "target_id": post_id,
            "reason": "<b>Werbung</b> für einen Kurs <script>alert(1)</script>",
        },
    )
    assert r.status_code == 201, r.text
    async with browser(app, coordinator) as c:
        page = await c.get("/review")
        assert re.search(r"Open reports</a></h2>\s*<p class=\"count\">1</p>", page.text)
        page = await c.get("/review/reports")
        assert page.status_code == 200
        assert f'<a href="/posts/{post_id}">A post</a>' in page.text
        assert "Rita" in page.text and post_id in page.text
        assert "&lt;b&gt;Werbung&lt;/b&gt;" in page.text
        assert "<b>Werbung" not in page.text and "<script>alert" not in page.text
    assert await count(app, Report) == 1


# --- Who may review


REVIEW_PAGES = [
    "/review",
    "/review/volunteers",
    "/review/volunteers?status=approved",
    "/review/posts",
    "/review/organisations",
    "/review/reports",
]


@pytest.mark.parametrize("role", ["seeker", "volunteer", "organisation"])
async def test_review_pages_are_forbidden_for_everyone_else(
    client: httpx.AsyncClient, app: Any, role: str
) -> None:
    volunteer = await make_user(app, client, "volunteer")
    offer = await create(client, volunteer, kind="offer")
    pending_org = await make_user(app, client, "organisation", org_status="pending")
    need = await create(client, pending_org)
    actor = volunteer if role == "volunteer" else await make_user(app, client, role)
    async with browser(app, actor) as c:
        for url in [*REVIEW_PAGES, f"/review/volunteers/{volunteer.id}"]:
            r = await c.get(url)
            assert r.status_code == 403, url
            assert f"<h1>{translated('You may not do this', 'de')}</h1>" in r.text
            assert volunteer.email not in r.text  # nothing of the queue
        token = csrf((await c.get("/account")).text)
        decisions = [
            (f"/review/volunteers/{volunteer.id}", {**CHECKS, "decision": "approve"}),
            (f"/review/posts/{offer}", {"decision": "publish"}),
            (f"/review/posts/{need}", {"decision": "publish"}),
            (f"/review/organisations/{pending_org.organisation_id}", {"decision": "approve"}),
        ]
        for action, data in decisions:
            r = await c.post(action, data={"csrf_token": token, **data})
            assert r.status_code == 403, action
        assert "/review" not in (await c.get("/")).text  # no link to it either
    assert (await fetch(app, User, volunteer.id)).vetting_status == "pending"
    assert (await fetch(app, Post, offer)).status == "pending_review"
    assert (await fetch(app, Post, need)).status == "pending_review"
    assert (await fetch(app, Organisation, pending_org.organisation_id)).status == "pending"
    assert await count(app, VettingDecision) == 0 and await count(app, PostReview) == 0


async def test_anonymous_visitors_are_sent_to_log_in(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer")
    coordinator = await make_user(app, client, "coordinator")
    async with browser(app) as anonymous:
        for url in [*REVIEW_PAGES, f"/review/volunteers/{volunteer.id}"]:
            r = await anonymous.get(url)
            assert r.status_code == 303, url
            assert r.headers["location"] == f"/login?next={url.split('?')[0]}"
        r = await anonymous.post(
            f"/review/volunteers/{volunteer.id}", data={**CHECKS, "decision": "approve"}
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        # After logging in, the coordinator lands where they wanted to go.
        page = await anonymous.get("/login?next=/review/posts")
        r = await anonymous.post(
            "/login?next=/review/posts",
            data={
                "csrf_token": csrf(page.text),
                "email": coordinator.email,
                "password": PASSWORD,
                "next": "/review/posts",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/review/posts"
        assert (await anonymous.get("/review/posts")).status_code == 200
    assert (await fetch(app, User, volunteer.id)).vetting_status == "pending"
