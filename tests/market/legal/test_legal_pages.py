"""Legal pages: imprint, privacy policy and accessibility statement in the reader's language,
linked from every page's footer; admins edit them per language (sanitised: paragraphs and
links only); the accessibility feedback reaches the operator by mail, CSRF-checked and rate
limited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from market.admin.models import AuditEntry
from tests.factories import make_user
from tests.pages import browser, count, csrf, text_of, translated


@pytest.mark.parametrize("path", ["/imprint", "/privacy", "/accessibility"])
async def test_the_pages_have_default_texts_in_each_language(app: Any, path: str) -> None:
    async with browser(app) as c:
        home = await c.get("/posts")
        assert f'href="{path}"' in home.text  # in the footer of every page
        for locale in ("de", "ar"):
            r = await c.get(path, headers={"Accept-Language": locale})
            assert r.status_code == 200
            assert f'lang="{locale}"' in r.text
    async with browser(app) as c:
        privacy = text_of((await c.get("/privacy", headers={"Accept-Language": "de"})).text)
    # The privacy default names real periods.
    assert "90" in privacy and "24" in privacy


async def test_an_admin_edits_the_statement_safely(client: httpx.AsyncClient, app: Any) -> None:
    admin = await make_user(app, client, "admin")
    body = (
        "Erste Zeile <script>alert(1)</script>\n\n"
        "Mehr bei [der Stadt](https://stadt.example.org/a?b=1) und [nicht](javascript:alert(1))"
    )
    async with browser(app, admin) as c:
        page = await c.get("/admin/legal/accessibility/de")
        assert page.status_code == 200
        r = await c.post(
            "/admin/legal/accessibility/de", data={"csrf_token": csrf(page.text), "body": body}
        )
        assert r.status_code == 303
    async with browser(app) as c:
        de = (await c.get("/accessibility", headers={"Accept-Language": "de"})).text
        ar = (await c.get("/accessibility", headers={"Accept-Language": "ar"})).text
    assert "Erste Zeile &lt;script&gt;" in de and "<script>alert" not in de
    assert '<a href="https://stadt.example.org/a?b=1" rel="noopener noreferrer nofollow">' in de
    assert 'href="javascript' not in de
    assert "Erste Zeile" not in ar  # the Arabic page keeps its own (default) text
    assert await count(app, AuditEntry, AuditEntry.action == "legal.changed") == 1
    coordinator = await make_user(app, client, "coordinator")
    async with browser(app, coordinator) as c:
        assert (await c.get("/admin/legal/accessibility/de")).status_code == 403


async def test_feedback_reaches_the_operator(app: Any, mailbox: Any) -> None:
    app.state.settings.operator_email = "barrierefrei@stadt.example.org"
    async with browser(app) as c:
        page = await c.get("/accessibility", headers={"Accept-Language": "ar"})
        token = csrf(page.text)
        r = await c.post("/accessibility/feedback", data={"csrf_token": token, "message": "kurz"})
        assert r.status_code == 422  # too short, said on the page
        assert "kurz" in r.text
        r = await c.post(
            "/accessibility/feedback",
            data={"csrf_token": token, "message": "Die Karte geht nicht mit der Tastatur."},
        )
        assert r.status_code == 303
        r = await c.post(
            "/accessibility/feedback",
            data={"csrf_token": "forged", "message": "Die Karte geht nicht mit der Tastatur."},
        )
        assert r.status_code == 403
    (mail, *_) = await mailbox.wait_for(
        "barrierefrei@stadt.example.org", containing="Die Karte geht nicht"
    )
    assert (
        translated("Someone sent feedback through the accessibility statement.", "de") in mail.text
    )


async def test_feedback_is_rate_limited(app: Any) -> None:
    app.state.settings.operator_email = "barrierefrei@stadt.example.org"
    app.state.limiter.enabled = True
    statuses = []
    async with browser(app) as c:
        token = csrf((await c.get("/accessibility")).text)
        for _ in range(32):
            r = await c.post(
                "/accessibility/feedback",
                data={"csrf_token": token, "message": "Eine Barriere auf der Seite."},
            )
            statuses.append(r.status_code)
    await app.state.limiter.reset()  # the counters live in Redis beyond this test
    assert statuses[0] == 303 and statuses[-1] == 429
