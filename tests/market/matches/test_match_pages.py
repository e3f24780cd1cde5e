"""The match pages in a browser session: answering, the conversation, the coordinators' run."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from market.conversations.models import Message, Participant
from market.db import make_sessionmaker, utcnow
from market.matches.models import Match
from market.matches.views import review as match_views
from market.posts.models import Post, PostLanguage, Region
from tests.factories import Actor, make_user, post_body
from tests.market.conversations.helpers import csrf_of
from tests.pages import browser

LEIPZIG = (51.3397, 12.3731)
Browser = Callable[[Actor], Any]


async def post_form(
    c: httpx.AsyncClient, page_url: str, action: str, **data: str
) -> httpx.Response:
    """Submit a form the way a browser does: with the CSRF token of the page it is on."""
    page = await c.get(page_url)
    assert page.status_code in (200, 409, 422), page.text
    return await c.post(action, data={"csrf_token": csrf_of(page.text), **data})


async def proposed_match(client: httpx.AsyncClient, app: Any) -> tuple[Actor, Actor, str]:
    volunteer = await make_user(app, client, "volunteer", approved=True, name="Vera Volunteer")
    seeker = await make_user(app, client, "seeker", name="Samir Seeker")
    offer = post_body(kind="offer", title="Ich begleite Sie zum Amt")
    r = await client.post("/api/v1/posts", headers=volunteer.headers, json=offer)
    assert r.status_code == 201, r.text
    need = post_body(title="Hilfe beim Jobcenter", location={"lat": 51.35, "lon": 12.38})
    r = await client.post("/api/v1/posts", headers=seeker.headers, json=need)
    assert r.status_code == 201, r.text
    r = await client.get("/api/v1/matches", headers=seeker.headers)
    (match,) = r.json()["items"]
    return volunteer, seeker, str(match["id"])


async def connect(app: Any, volunteer: Actor, seeker: Actor, match_id: str) -> None:
    for actor in (seeker, volunteer):
        async with browser(app, actor) as c:
            r = await post_form(c, f"/matches/{match_id}", f"/matches/{match_id}/accept")
            assert r.status_code == 303, r.text


async def test_a_party_sees_and_answers_a_match_through_the_pages(
    client: httpx.AsyncClient, app: Any
) -> None:
    volunteer, seeker, match_id = await proposed_match(client, app)

    async with browser(app, seeker) as c:
        page = await c.get("/my/matches?lang=en")
        assert page.status_code == 200
        assert "Ich begleite Sie zum Amt" in page.text  # the other side's post
        assert "Waiting for your answer" in page.text
        assert f'action="/matches/{match_id}/accept"' in page.text
        assert f'action="/matches/{match_id}/decline"' in page.text
        score = (await client.get(f"/api/v1/matches/{match_id}", headers=seeker.headers)).json()[
            "score"
        ]
        assert str(score) not in page.text  # the fit in words, never a raw number
        assert re.search(r"(Very good|Good|Possible) fit", page.text)
        # Contact details stay hidden until both say yes.
        assert volunteer.email not in page.text
        detail = await c.get(f"/matches/{match_id}?lang=en")
        assert "only when you both say yes" in detail.text
        assert volunteer.email not in detail.text

        r = await c.post(
            f"/matches/{match_id}/accept",
            data={"csrf_token": csrf_of(page.text), "next": "/my/matches"},
        )
        assert r.status_code == 303
        assert r.headers["location"].startswith("/my/matches?msg=")
        after = await c.get(r.headers["location"] + "&lang=en")
        assert "We tell you when the other side says yes too." in after.text
        assert "Waiting for the other side" in after.text
        assert f'action="/matches/{match_id}/accept"' not in after.text  # answered

        # Without the form's token nothing happens.
        r = await c.post(f"/matches/{match_id}/decline", data={"next": "/my/matches"})
        assert r.status_code == 403
        # A second answer is not possible; the page says so instead of failing.
        r = await c.post(
            f"/matches/{match_id}/decline",
            data={"csrf_token": csrf_of(page.text), "next": "//evil.example/"},
        )
        assert r.status_code == 303
        assert r.headers["location"].startswith("/?msg=")  # only ever back into Anlauf

    async with browser(app, volunteer) as c:
        r = await post_form(c, f"/matches/{match_id}", f"/matches/{match_id}/accept")
        assert r.status_code == 303
        assert r.headers["location"].startswith(f"/matches/{match_id}?msg=")
        page = await c.get(f"/matches/{match_id}?lang=en")
        assert "You both said yes" in page.text
        assert seeker.email in page.text and "Samir Seeker" in page.text
        mine = await c.get("/my/matches?lang=en")
        assert "Connected" in mine.text and f'href="/matches/{match_id}"' in mine.text

    r = await client.get(f"/api/v1/matches/{match_id}", headers=seeker.headers)
    assert r.json()["status"] == "connected"


async def test_a_decline_through_the_page_ends_the_match(
    client: httpx.AsyncClient, app: Any
) -> None:
    _, seeker, match_id = await proposed_match(client, app)
    async with browser(app, seeker) as c:
        r = await post_form(c, "/my/matches", f"/matches/{match_id}/decline", next="/my/matches")
        assert r.status_code == 303
        page = await c.get("/my/matches?lang=en")
        assert '<details class="older">' in page.text
        assert f'action="/matches/{match_id}/accept"' not in page.text
    r = await client.get(f"/api/v1/matches/{match_id}", headers=seeker.headers)
    assert r.json()["status"] == "declined"


async def test_a_stranger_gets_404_on_a_match(client: httpx.AsyncClient, app: Any) -> None:
    _, _, match_id = await proposed_match(client, app)
    stranger = await make_user(app, client, "seeker")
    coordinator = await make_user(app, client, "coordinator")
    for actor in (stranger, coordinator):
        async with browser(app, actor) as c:
            assert (await c.get(f"/matches/{match_id}")).status_code == 404
            r = await post_form(c, "/my/matches", f"/matches/{match_id}/accept")
            assert r.status_code == 404
            r = await post_form(c, "/my/matches", f"/matches/{match_id}/messages", body="Hallo")
            assert r.status_code == 404
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anon:
        r = await anon.get(f"/matches/{match_id}")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = await client.get(f"/api/v1/matches/{match_id}", headers=stranger.headers)
    assert r.status_code == 404


async def test_messages_are_written_and_shown(
    client: httpx.AsyncClient, app: Any, session: Any
) -> None:
    volunteer, seeker, match_id = await proposed_match(client, app)
    async with browser(app, seeker) as c:
        # Before both said yes there is nowhere to write.
        r = await post_form(c, f"/matches/{match_id}", f"/matches/{match_id}/messages", body="Hi")
        assert r.status_code == 409
    await connect(app, volunteer, seeker, match_id)

    async with browser(app, volunteer) as c:
        page = await c.get(f"/matches/{match_id}?lang=en")
        assert 'action="/matches/' + match_id + '/messages"' in page.text
        r = await c.post(
            f"/matches/{match_id}/messages",
            data={
                "csrf_token": csrf_of(page.text),
                "body": "<b>Hallo</b> Samir! 1<2 <script>x</script>",
            },
        )
        assert r.status_code == 303
        assert r.headers["location"].endswith("#messages")

    async with browser(app, seeker) as c:
        page = await c.get(f"/matches/{match_id}?lang=en")
        assert "Hallo Samir! 1&lt;2" in page.text  # markup gone, the text escaped once
        assert "<b>Hallo" not in page.text and "<script>x" not in page.text
        assert "Vera Volunteer" in page.text
        r = await c.post(
            f"/matches/{match_id}/messages",
            data={"csrf_token": csrf_of(page.text), "body": "مرحبا، شكرا!"},
        )
        assert r.status_code == 303
        page = await c.get(f"/matches/{match_id}?lang=en")
        first, second = page.text.index("Hallo Samir!"), page.text.index("مرحبا، شكرا!")
        assert first < second  # oldest first

    rows = list((await session.execute(select(Message).order_by(Message.created_at))).scalars())
    assert [m.body for m in rows] == ["Hallo Samir! 1<2", "مرحبا، شكرا!"]
    assert [m.author_id for m in rows] == [volunteer.id, seeker.id]
    read = {
        p.user_id: p.last_read_at for p in (await session.execute(select(Participant))).scalars()
    }
    # Opening the page marked the conversation read for the seeker.
    assert read[seeker.id] is not None and read[seeker.id] >= rows[-1].created_at


async def test_a_bad_message_is_shown_again_with_422_and_not_stored(
    client: httpx.AsyncClient, app: Any, session: Any
) -> None:
    volunteer, seeker, match_id = await proposed_match(client, app)
    await connect(app, volunteer, seeker, match_id)
    async with browser(app, volunteer) as c:
        page = await c.get(f"/matches/{match_id}?lang=en")
        token = csrf_of(page.text)
        r = await c.post(f"/matches/{match_id}/messages", data={"csrf_token": token, "body": "   "})
        assert r.status_code == 422
        assert 'aria-invalid="true"' in r.text and "Please write a message." in r.text
        long_text = "Termin " * 600  # 4200 characters
        r = await c.post(
            f"/matches/{match_id}/messages", data={"csrf_token": token, "body": long_text}
        )
        assert r.status_code == 422
        assert long_text.strip() in r.text  # what was typed is kept
        assert "at most 4000 characters" in r.text
        r = await c.post(
            f"/matches/{match_id}/messages", data={"csrf_token": token, "body": "<i></i>"}
        )
        assert r.status_code == 422
    count = (await session.execute(select(func.count()).select_from(Message))).scalar_one()
    assert count == 0


async def test_a_posts_matches_page(client: httpx.AsyncClient, app: Any) -> None:
    _, seeker, match_id = await proposed_match(client, app)
    r = await client.get("/api/v1/me/posts", headers=seeker.headers)
    need_id = r.json()["items"][0]["id"]
    async with browser(app, seeker) as c:
        page = await c.get(f"/posts/{need_id}/matches?lang=en")
        assert page.status_code == 200
        assert "Ich begleite Sie zum Amt" in page.text
        assert re.search(r"(Very good|Good|Possible) fit", page.text)
        assert f'action="/matches/{match_id}/accept"' in page.text
    stranger = await make_user(app, client, "seeker")
    async with browser(app, stranger) as c:
        assert (await c.get(f"/posts/{need_id}/matches")).status_code == 403
    coordinator = await make_user(app, client, "coordinator")
    async with browser(app, coordinator) as c:
        page = await c.get(f"/posts/{need_id}/matches?lang=en")
        assert page.status_code == 200
        assert f"/matches/{match_id}/accept" not in page.text  # looks on, cannot answer


# --- Coordinators


async def _region(app: Any, slug: str) -> str:
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        region = Region(slug=slug, name=slug.title(), lat=LEIPZIG[0], lon=LEIPZIG[1], radius_km=25)
        s.add(region)
        await s.flush()
        return region.id


async def _quiet_post(
    app: Any, author: Actor, kind: str, region_id: str, languages: tuple[str, ...] = ("de",)
) -> str:
    """A published post written straight to the database: no incremental matching ran for it."""
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        post = Post(
            kind=kind,
            category="accompaniment-authorities",
            title=f"{kind} by {author.email}",
            body="",
            mode="in_person",
            radius_km=10.0 if kind == "offer" else None,
            lat=LEIPZIG[0],
            lon=LEIPZIG[1],
            city="Leipzig",
            status="published",
            author_id=author.id,
            region_id=region_id,
            published_at=utcnow() - timedelta(days=1),
            expires_at=utcnow() + timedelta(days=90),
        )
        post.languages = [PostLanguage(code=c, position=i) for i, c in enumerate(languages)]
        s.add(post)
        await s.flush()
        return post.id


async def finished_run_page(c: httpx.AsyncClient, url: str) -> str:
    """Follow a regional run's page, as the browser's refresh would, until it stops refreshing."""
    for _ in range(600):
        page = await c.get(url)
        assert page.status_code == 200, page.text
        if 'http-equiv="refresh"' not in page.text:
            return page.text
        await asyncio.sleep(0.05)
    raise AssertionError(f"the run at {url} did not finish")


async def test_coordinator_pages_are_forbidden_for_a_seeker(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    async with browser(app, seeker) as c:
        assert (await c.get("/review/matching")).status_code == 403
        assert (await c.get("/review/unmatched")).status_code == 403
        r = await post_form(c, "/my/matches", "/review/matching", region="", plan_id="x")
        assert r.status_code == 403
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anon:
        r = await anon.get("/review/matching")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


async def test_a_coordinator_runs_the_matching_and_sees_what_is_missing(
    client: httpx.AsyncClient, app: Any, session: Any
) -> None:
    region = await _region(app, "leipzig")
    coordinator = await make_user(app, client, "coordinator")
    volunteer = await make_user(app, client, "volunteer", approved=True)
    seekers = [await make_user(app, client, "seeker") for _ in range(2)]
    await _quiet_post(app, volunteer, "offer", region)
    fits = await _quiet_post(app, seekers[0], "need", region)
    lonely = await _quiet_post(app, seekers[1], "need", region, languages=("ti",))

    async with browser(app, coordinator) as c:
        page = await c.get("/review/matching?region=leipzig&lang=en")
        assert page.status_code == 200
        assert f'href="/posts/{fits}"' in page.text and f'href="/posts/{lonely}"' not in page.text
        assert "Create this match" in page.text
        plan_id = re.search(r'name="plan_id" value="([^"]+)"', page.text)
        assert plan_id

        # A plan that is not the current one: the run's page says so, nothing made.
        r = await c.post(
            "/review/matching",
            data={"csrf_token": csrf_of(page.text), "region": "leipzig", "plan_id": "old"},
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/review/runs/")
        done = await finished_run_page(c, r.headers["location"])
        assert (
            "Posts changed since you looked" in done
            and 'href="/review/matching?region=leipzig"' in done
        )
        assert (await session.execute(select(func.count()).select_from(Match))).scalar_one() == 0

        r = await c.post(
            "/review/matching",
            data={
                "csrf_token": csrf_of(page.text),
                "region": "leipzig",
                "plan_id": plan_id.group(1),
            },
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/review/runs/")
        done = await finished_run_page(c, r.headers["location"] + "?lang=en")
        assert "The matches are made" in done and "Matches made: 1" in done
        match = (await session.execute(select(Match))).scalar_one()
        assert match.need_id == fits and match.status == "proposed"

        page = await c.get("/review/unmatched?region=leipzig&lang=en")
        assert page.status_code == 200
        assert f'href="/posts/{lonely}"' in page.text and f'href="/posts/{fits}"' not in page.text
        assert "<strong>1 request:</strong> No offer in this language" in page.text
        assert "Tigrinya" in page.text


async def test_the_run_page_shows_a_big_plan_a_page_at_a_time(
    client: httpx.AsyncClient, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(match_views, "RUN_PAGE", 1)
    region = await _region(app, "leipzig")
    coordinator = await make_user(app, client, "coordinator")
    volunteers = [await make_user(app, client, "volunteer", approved=True) for _ in range(2)]
    seekers = [await make_user(app, client, "seeker") for _ in range(2)]
    for v in volunteers:
        await _quiet_post(app, v, "offer", region)
    needs = [await _quiet_post(app, s, "need", region) for s in seekers]

    async with browser(app, coordinator) as c:
        first = await c.get("/review/matching?region=leipzig&lang=en")
        assert first.status_code == 200
        assert "Create these 2 matches" in first.text  # the whole plan, whatever the page
        assert sum(f'href="/posts/{n}"' in first.text for n in needs) == 1
        assert 'href="/review/matching?region=leipzig&amp;page=2"' in first.text
        second = await c.get("/review/matching?region=leipzig&page=2&lang=en")
        assert sum(f'href="/posts/{n}"' in second.text for n in needs) == 1
        assert '<ol class="list" start="2">' in second.text
        assert 'rel="next"' not in second.text and "Back to the best" in second.text
        # Both pages together show each pair once; a page number out of range is clamped.
        shown = {n for n in needs for page in (first, second) if f'href="/posts/{n}"' in page.text}
        assert shown == set(needs)
        for odd in ("0", "-4", "abc", "99"):
            r = await c.get(f"/review/matching?region=leipzig&page={odd}&lang=en")
            assert r.status_code == 200 and "Create these 2 matches" in r.text
