"""The post pages in a browser: browsing and filtering, a post's page, writing, editing, closing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from market.db import make_sessionmaker, utcnow
from market.posts.geo import import_postcodes
from market.posts.models import Post, PostLanguage
from market.validation import FRIENDLY
from tests.factories import Actor, make_user, post_body
from tests.pages import (
    browser,
    checked_of,
    count,
    csrf,
    error_of,
    fetch,
    form_of,
    selected_of,
    submit,
    text_of,
    textarea_of,
    translated,
    value_of,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LEIPZIG = {"lat": 51.3397, "lon": 12.3731}
DRESDEN = {"lat": 51.0504, "lon": 13.7373}
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")


async def create(client: httpx.AsyncClient, actor: Actor, **overrides: Any) -> str:
    r = await client.post("/api/v1/posts", headers=actor.headers, json=post_body(**overrides))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def listed(page: str, ids: dict[str, str]) -> set[str]:
    """The names of the posts (of `ids`: name -> id) that a list page links to."""
    return {name for name, pid in ids.items() if f'href="/posts/{pid}"' in page}


def form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "category": "accompaniment-authorities",
        "title": "Begleitung zum Jobcenter",
        "body": "Ich brauche Hilfe beim Termin.",
        "languages": ["ar", "de"],
        "mode": "in_person",
        "postcode": "",
        "city": "Leipzig",
        "country": "DE",
        "radius_km": "",
    }
    data.update(overrides)
    return data


async def load_postcodes(app: Any) -> None:
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        await import_postcodes(s, FIXTURES / "postcodes_DE_sample.txt")


# --- Browsing


async def test_anonymous_visitors_browse_and_filter(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker")
    other = await make_user(app, client, "seeker")
    volunteer = await make_user(app, client, "volunteer", approved=True)
    waiting = await make_user(app, client, "volunteer")
    ids = {
        "homework": await create(
            client,
            seeker,
            category="education-homework",
            title="Hausaufgaben Mathe",
            languages=["fa"],
        ),
        "flat": await create(
            client,
            other,
            category="housing",
            title="Wohnung gesucht",
            languages=["uk"],
            location=DRESDEN,
        ),
        "tutoring": await create(
            client,
            volunteer,
            kind="offer",
            category="education",
            title="Nachhilfe Deutsch",
            languages=["de", "ar"],
        ),
        "online": await create(
            client,
            other,
            category="digital",
            title="Hilfe am Handy",
            languages=["uk"],
            mode="remote",
            location=None,
        ),
        "waiting": await create(
            client, waiting, kind="offer", category="education", title="Wartendes Angebot"
        ),
        "closed": await create(client, seeker, title="Schon erledigt"),
    }
    r = await client.post(f"/api/v1/posts/{ids['closed']}/close", headers=seeker.headers)
    assert r.status_code == 200

    async with browser(app, headers={"Accept-Language": "en"}) as c:

        async def found(query: str = "") -> set[str]:
            r = await c.get(f"/posts{query}")
            assert r.status_code == 200, r.text
            return listed(r.text, ids)

        everything = {"homework", "flat", "tutoring", "online"}
        assert await found() == everything
        assert await found("?kind=offer") == {"tutoring"}
        assert await found("?kind=need") == {"homework", "flat", "online"}
        # A topic includes its subtopics.
        assert await found("?category=education") == {"homework", "tutoring"}
        assert await found("?category=education-homework") == {"homework"}
        assert await found("?language=uk") == {"flat", "online"}
        assert await found("?language=ar") == {"tutoring"}
        # A place and a radius: online help is near everyone.
        assert await found("?place=Leipzig&radius_km=25") == {"homework", "tutoring", "online"}
        assert await found("?place=Dresden&radius_km=10") == {"flat", "online"}
        assert await found("?q=MATHE") == {"homework"}
        assert await found("?q=hilfe+handy") == {"online"}
        assert await found("?kind=need&place=Leipzig&radius_km=5&language=fa") == {"homework"}
        assert await found("?kind=need&category=&language=&q=&place=") == {
            "homework",
            "flat",
            "online",
        }

        page = await c.get("/posts?place=Leipzig&radius_km=10&q=nachhilfe&kind=offer")
        assert value_of(page.text, "q") == "nachhilfe"
        assert value_of(page.text, "place") == "Leipzig"
        assert selected_of(page.text, "radius_km") == ["10"]
        assert selected_of(page.text, "kind") == ["offer"]
        assert re.search(r"less than 1 km away|about \d+ km away", page.text)

        page = await c.get("/posts?place=Atlantis")
        assert page.status_code == 422
        assert error_of(page.text, "place") == "We do not know this place."
        assert value_of(page.text, "place") == "Atlantis"
        assert listed(page.text, ids) == set()

        home = await c.get("/")
        assert listed(home.text, ids) == everything

        post = await c.get(f"/posts/{ids['tutoring']}")
        assert post.status_code == 200
        assert "Nachhilfe Deutsch" in post.text
        assert "School and training" in post.text
        assert "German and Arabic" in text_of(post.text)
        for hidden in ("waiting", "closed"):
            assert (await c.get(f"/posts/{ids[hidden]}")).status_code == 404
        assert (await c.get("/posts/does-not-exist")).status_code == 404


async def test_a_post_page_hides_contact_and_the_exact_place(
    client: httpx.AsyncClient, app: Any
) -> None:
    await load_postcodes(app)
    author = await make_user(app, client, "seeker", name="Samira")
    by_postcode = await create(client, author, location={"postcode": "04109", "country": "DE"})
    exact = {"lat": 51.33412, "lon": 12.38123}
    by_point = await create(client, author, title="Treffpunkt genau hier", location=exact)
    stranger = await make_user(app, client, "seeker")
    volunteer = await make_user(app, client, "volunteer", approved=True)
    secrets = ("04109", "51.3399", "12.3733", "51.33412", "12.38123", author.email)

    def check_hidden(page: str) -> None:
        for secret in secrets:
            assert secret not in page
        assert EMAIL_RE.search(page) is None, EMAIL_RE.search(page)

    async with browser(app) as anonymous, browser(app, stranger) as c, browser(app, volunteer) as v:
        for viewer in (anonymous, c, v):
            for post_id in (by_postcode, by_point):
                r = await viewer.get(f"/posts/{post_id}")
                assert r.status_code == 200
                assert "Samira" in r.text and "Leipzig" in r.text
                check_hidden(r.text)
            for url in ("/posts", "/posts?place=Leipzig", "/"):
                check_hidden((await viewer.get(url)).text)

    async with browser(app, author) as mine:
        r = await mine.get(f"/posts/{by_postcode}")
        assert "04109 Leipzig" in text_of(r.text)  # the author sees the postcode
        assert author.email not in r.text
        # Lists never show a postcode, not even to the author.
        assert "04109" not in (await mine.get("/my/posts")).text
        assert "04109" not in (await mine.get("/posts")).text


# --- Writing


async def test_the_form_offers_only_the_kind_of_the_role(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker", locale="en")
    volunteer = await make_user(app, client, "volunteer", approved=True, locale="en")
    coordinator = await make_user(app, client, "coordinator", locale="en")
    for actor, kind, wrong in ((seeker, "need", "offer"), (volunteer, "offer", "need")):
        async with browser(app, actor) as c:
            for url in ("/posts/new", f"/posts/new?kind={wrong}"):
                page = await c.get(url)
                assert page.status_code == 200
                post_form = form_of(page.text, "/posts/new")
                assert f'<input type="hidden" name="kind" value="{kind}">' in post_form
                assert f'value="{wrong}"' not in post_form
                assert 'type="radio" name="kind"' not in post_form
            r = await submit(c, "/posts/new", form(kind=wrong))
            assert r.status_code == 422
            assert "Please choose one of the options." in r.text
            assert value_of(r.text, "title") == "Begleitung zum Jobcenter"
    assert await count(app, Post) == 0
    async with browser(app, coordinator) as c:
        page = await c.get("/posts/new")
        assert sorted(re.findall(r'type="radio" name="kind" value="(\w+)"', page.text)) == [
            "need",
            "offer",
        ]
    async with browser(app) as anonymous:
        r = await anonymous.get("/posts/new")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/posts/new"


async def test_a_seeker_posts_a_need_through_the_form(client: httpx.AsyncClient, app: Any) -> None:
    await load_postcodes(app)
    seeker = await make_user(app, client, "seeker", locale="en")
    async with browser(app, seeker) as c:
        page = await c.get("/posts/new")
        # The writer's languages are ticked already.
        assert checked_of(page.text, "languages") == ["de", "ar"]
        r = await submit(
            c,
            "/posts/new",
            form(kind="need", postcode="04109", city="", languages=["ar", "fa"], radius_km="5"),
        )
        assert r.status_code == 303, r.text
        match = re.fullmatch(r"/posts/(\w+)\?msg=\w+", r.headers["location"])
        assert match
        post_id = match.group(1)
        page = await c.get(r.headers["location"])
        assert "Your post is published. We tell you when we find a match." in page.text
        assert "Published" in page.text
    async with browser(app) as anonymous:
        r = await anonymous.get(f"/posts/{post_id}")
        assert r.status_code == 200 and "Begleitung zum Jobcenter" in r.text
    post = await fetch(app, Post, post_id)
    assert (post.kind, post.status, post.author_id) == ("need", "published", seeker.id)
    assert (post.postcode, post.city, post.radius_km) == ("04109", "Leipzig", 5)
    assert post.language_codes == ["ar", "fa"]


async def test_a_wrong_post_form_is_shown_again_with_the_input(
    client: httpx.AsyncClient, app: Any
) -> None:
    seeker = await make_user(app, client, "seeker")
    body = "Ich brauche Hilfe <3 beim Amt,\nam besten vormittags."
    async with browser(app, seeker) as c:
        for locale in ("en", "ar"):
            r = await submit(
                c,
                f"/posts/new?lang={locale}",
                form(kind="need", title="", category="", languages=[], body=body, city="Atlantis"),
                action="/posts/new",
            )
            assert r.status_code == 422
            assert error_of(r.text, "title") == translated(FRIENDLY["missing"], locale)
            assert error_of(r.text, "category") == translated(
                "Please choose a category from the list.", locale
            )
            assert error_of(r.text, "languages") == translated(
                "Please choose at least one.", locale
            )
            assert textarea_of(r.text, "body") == body
            assert value_of(r.text, "city") == "Atlantis"
            assert checked_of(r.text, "languages") == []
        # Only the place is wrong now: it says so, the rest stays as typed.
        r = await submit(c, "/posts/new", form(kind="need", city="Atlantis", body=body))
        assert r.status_code == 422
        assert error_of(r.text, "city") == translated("We do not know this city.", "ar")
        assert value_of(r.text, "title") == "Begleitung zum Jobcenter"
        assert sorted(checked_of(r.text, "languages")) == ["ar", "de"]
        assert checked_of(r.text, "category") == ["accompaniment-authorities"]
        r = await submit(c, "/posts/new", form(kind="need", city="", postcode=""))
        assert r.status_code == 422
        assert error_of(r.text, "postcode") == translated(
            "Please say where: a postcode or a city.", "ar"
        )
    assert await count(app, Post) == 0


async def test_an_offer_of_a_volunteer_not_yet_approved_waits_for_review(
    client: httpx.AsyncClient, app: Any
) -> None:
    volunteer = await make_user(app, client, "volunteer", locale="en")
    stranger = await make_user(app, client, "seeker")
    async with browser(app, volunteer) as c:
        page = await c.get("/posts/new")
        assert "It waits and is shown to everyone after the meeting." in page.text
        r = await submit(c, "/posts/new", form(kind="offer", title="Ich begleite zum Amt"))
        assert r.status_code == 303, r.text
        post_id = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
        page = await c.get(r.headers["location"])
        assert (
            "Your post is saved. It is shown to others after a coordinator has checked it."
            in page.text
        )
        assert "Waiting for review" in page.text
        assert "Only you can see this offer now." in page.text
    post = await fetch(app, Post, post_id)
    assert (post.kind, post.status, post.radius_km) == ("offer", "pending_review", 10)
    async with browser(app) as anonymous, browser(app, stranger) as other:
        for viewer in (anonymous, other):
            assert (await viewer.get(f"/posts/{post_id}")).status_code == 404
            assert f"/posts/{post_id}" not in (await viewer.get("/posts")).text


# --- Editing and closing


async def test_the_author_edits_and_closes_a_post(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker", locale="en")
    post_id = await create(client, seeker, title="Alter Titel", body="Alter Text")
    async with browser(app, seeker) as c:
        page = await c.get(f"/posts/{post_id}")
        assert f'href="/posts/{post_id}/edit"' in page.text
        assert f'action="/posts/{post_id}/close"' in page.text
        page = await c.get(f"/posts/{post_id}/edit")
        assert page.status_code == 200
        assert value_of(page.text, "title") == "Alter Titel"
        assert textarea_of(page.text, "body") == "Alter Text"
        assert sorted(checked_of(page.text, "languages")) == ["ar", "de"]

        r = await submit(
            c, f"/posts/{post_id}/edit", form(title="  ", body="Neuer Text", languages=["uk"])
        )
        assert r.status_code == 422
        assert error_of(r.text, "title")
        assert textarea_of(r.text, "body") == "Neuer Text"
        assert (await fetch(app, Post, post_id)).title == "Alter Titel"

        r = await submit(
            c,
            f"/posts/{post_id}/edit",
            form(
                title="Neuer Titel", body="Neuer Text", languages=["uk", "de"], category="housing"
            ),
        )
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith(f"/posts/{post_id}?msg=")
        page = await c.get(r.headers["location"])
        assert "Your changes are saved." in page.text
        assert "Neuer Titel" in page.text and "Neuer Text" in page.text
        post = await fetch(app, Post, post_id)
        assert (post.title, post.body, post.category) == ("Neuer Titel", "Neuer Text", "housing")
        assert post.language_codes == ["uk", "de"]

        r = await submit(c, f"/posts/{post_id}", action=f"/posts/{post_id}/close")
        assert r.status_code == 303
        page = await c.get(r.headers["location"])
        assert "Your post is closed. Nobody can find it any more." in page.text
        assert f'action="/posts/{post_id}/close"' not in page.text
        assert f'href="/posts/{post_id}/edit"' not in page.text
    assert (await fetch(app, Post, post_id)).status == "closed"
    async with browser(app) as anonymous:
        assert (await anonymous.get(f"/posts/{post_id}")).status_code == 404


async def test_nobody_else_edits_or_closes_a_post(client: httpx.AsyncClient, app: Any) -> None:
    author = await make_user(app, client, "seeker")
    published = await create(client, author, title="Nur meins")
    waiting_author = await make_user(app, client, "volunteer")
    waiting = await create(client, waiting_author, kind="offer", title="Wartet noch")
    other = await make_user(app, client, "seeker")
    coordinator = await make_user(app, client, "coordinator")
    for actor in (other, coordinator):
        async with browser(app, actor) as c:
            page = await c.get(f"/posts/{published}")
            assert page.status_code == 200
            assert f'href="/posts/{published}/edit"' not in page.text
            token = csrf(page.text)
            assert (await c.get(f"/posts/{published}/edit")).status_code == 403
            r = await c.post(
                f"/posts/{published}/edit", data={"csrf_token": token, **form(title="Gekapert")}
            )
            assert r.status_code == 403
            r = await c.post(f"/posts/{published}/close", data={"csrf_token": token})
            assert r.status_code == 403
            # A post they cannot see is not there at all.
            expected = 404 if actor is other else 403
            assert (await c.get(f"/posts/{waiting}/edit")).status_code == expected
            r = await c.post(f"/posts/{waiting}/close", data={"csrf_token": token})
            assert r.status_code == expected
    async with browser(app) as anonymous:
        r = await anonymous.get(f"/posts/{published}/edit")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        r = await anonymous.post(f"/posts/{published}/close", data={})
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    post = await fetch(app, Post, published)
    assert (post.title, post.status) == ("Nur meins", "published")
    assert (await fetch(app, Post, waiting)).status == "pending_review"


# --- What people write is text, never markup


async def test_markup_in_a_post_is_shown_as_text(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker")
    async with browser(app, seeker) as c:
        r = await submit(
            c,
            "/posts/new",
            form(
                kind="need",
                title="Hilfe <script>alert(1)</script>beim Amt",
                body='1<2 & <b>fett</b> <img src=x onerror="alert(2)"> "zitiert"',
            ),
        )
        assert r.status_code == 303, r.text
        post_id = r.headers["location"].split("?")[0].rsplit("/", 1)[1]
    # Markup typed into a form is dropped; what remains is stored as plain characters.
    post = await fetch(app, Post, post_id)
    assert "<" not in post.title and "alert" not in post.title
    assert post.body == '1<2 & fett  "zitiert"'

    # Text stored by an older version or an import, with the markup still in it, is escaped.
    raw_title = '<script>alert("t")</script><b>Fett</b>'
    raw_body = '<img src=x onerror=alert("b")><a href="javascript:alert(1)">Link</a>'
    async with make_sessionmaker(app.state.engine)() as s, s.begin():
        raw = Post(
            kind="need",
            category="housing",
            title=raw_title,
            body=raw_body,
            mode="remote",
            status="published",
            author_id=seeker.id,
            published_at=utcnow(),
            expires_at=utcnow().replace(year=utcnow().year + 1),
        )
        raw.languages = [PostLanguage(code="de", position=0)]
        s.add(raw)
        await s.flush()
        raw_id = raw.id

    async with browser(app) as anonymous:
        page = await anonymous.get(f"/posts/{post_id}")
        assert "<script" not in page.text and "<b>" not in page.text and "<img" not in page.text
        assert "1&lt;2 &amp; fett" in page.text
        page = await anonymous.get(f"/posts/{raw_id}")
        assert page.status_code == 200
        assert "<script" not in page.text and "<img" not in page.text
        assert "&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;&lt;b&gt;Fett&lt;/b&gt;" in page.text
        assert raw_body in text_of(page.text)
        assert 'href="javascript:' not in page.text
        for url in ("/posts", "/"):
            listing = await anonymous.get(url)
            # The search page loads the map's scripts from /static; no script from a post.
            assert "<script>" not in listing.text and "&lt;script&gt;" in listing.text


async def test_a_title_of_only_markup_is_refused(client: httpx.AsyncClient, app: Any) -> None:
    seeker = await make_user(app, client, "seeker")
    async with browser(app, seeker) as c:
        r = await submit(c, "/posts/new", form(kind="need", title="<script>alert(1)</script>"))
        assert r.status_code == 422
        assert error_of(r.text, "title")
    assert await count(app, Post) == 0


async def test_editing_keeps_the_kind_of_a_post(client: httpx.AsyncClient, app: Any) -> None:
    volunteer = await make_user(app, client, "volunteer", approved=True, locale="en")
    post_id = await create(client, volunteer, kind="offer", title="Mein Angebot")
    async with browser(app, volunteer) as c:
        page = await c.get(f"/posts/{post_id}/edit")
        assert 'name="kind"' not in page.text and 'name="seats"' not in page.text
        assert value_of(page.text, "radius_km") == "10"
        r = await submit(c, f"/posts/{post_id}/edit", form(radius_km=""))
        assert r.status_code == 422
        assert error_of(r.text, "radius_km") == "An offer needs a radius."
        r = await submit(
            c,
            f"/posts/{post_id}/edit",
            {**form(title="Mein Angebot", radius_km="15"), "kind": "need"},
        )
        assert r.status_code == 303, r.text
    post = await fetch(app, Post, post_id)
    assert (post.kind, post.radius_km) == ("offer", 15)
