"""Post cards (market.posts.cards): the lists read plain rows, with the same content as Posts.

- a card carries the post's fields and its languages in the order the author gave them;
- the guardian's statement decides which posts are listed (a card list never widens it).
(tests/market/test_request_cost.py holds the start page to one statement.)
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.actor import Actor
from market.posts import cards, guardian, queries
from market.posts.models import Post
from tests.factories import make_user, post_body


async def test_a_card_has_the_posts_fields_and_languages_in_order(
    app: Any, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    seeker = await make_user(app, client, "seeker")
    ids = []
    for languages in (["uk", "ar", "de"], ["de"], ["fa", "en"]):
        r = await client.post(
            "/api/v1/posts",
            headers=seeker.headers,
            json=post_body(title=f"Hilfe {'-'.join(languages)}", languages=languages),
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    stmt = queries.published().order_by(Post.created_at.desc(), Post.id.desc())
    found = await cards.read_cards(session, stmt)
    assert [c.id for c in found] == list(reversed(ids))
    by_id = {c.id: c for c in found}
    assert by_id[ids[0]].language_codes == ["uk", "ar", "de"]
    assert by_id[ids[2]].language_codes == ["fa", "en"]
    posts = {p.id: p for p in (await session.execute(select(Post))).scalars()}
    for card in found:
        post = posts[card.id]
        for name in ("title", "kind", "category", "mode", "status", "city", "author_id", "lang"):
            assert getattr(card, name) == getattr(post, name), name
        assert card.language_codes == post.language_codes


async def test_cards_list_only_what_the_guardian_lets_through(
    app: Any, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    first = await make_user(app, client, "seeker")
    second = await make_user(app, client, "seeker")
    for who in (first, second):
        r = await client.post("/api/v1/posts", headers=who.headers, json=post_body())
        assert r.status_code == 201
    user = await session.get(User, first.id)
    own = await cards.read_cards(session, guardian.own(Actor(user=user), select(Post)))
    assert [c.author_id for c in own] == [first.id]
