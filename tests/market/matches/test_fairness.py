"""The fairness rule (issue 12): when several needs compete for one volunteer whose cap lets only
one through, the need that has waited longest and has had fewest matches gets the proposal; ties
by id. The needs below fit the offer equally well (same place, languages and category, each older
than the month after which waiting adds no more to the score), so only the rule decides."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from market.accounts.models import User
from market.db import utcnow
from market.matches.models import Match
from market.posts.models import Post
from tests.factories import Actor, make_user, post_body


async def _post(client: httpx.AsyncClient, author: Actor, **kw: Any) -> str:
    r = await client.post("/api/v1/posts", headers=author.headers, json=post_body(**kw))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _needs(client: httpx.AsyncClient, app: Any, n: int) -> list[str]:
    """n needs by n seekers, sorted by id (so that a test can give the winner a large one)."""
    ids = []
    for _ in range(n):
        seeker = await make_user(app, client, "seeker")
        ids.append(await _post(client, seeker))
    return sorted(ids)


# One moment for every need, so that "waited as long" is exactly as long.
NOW = utcnow()


async def _waited(session: AsyncSession, need_id: str, days: int) -> None:
    published = NOW - timedelta(days=days)
    await session.execute(update(Post).where(Post.id == need_id).values(published_at=published))


async def _capped_volunteer(app: Any, client: httpx.AsyncClient, session: AsyncSession) -> Actor:
    volunteer = await make_user(app, client, "volunteer", approved=True)
    await session.execute(update(User).where(User.id == volunteer.id).values(max_open_matches=1))
    await session.commit()
    return volunteer


async def _proposed(session: AsyncSession, offer_id: str) -> list[str]:
    stmt = select(Match.need_id).where(Match.offer_id == offer_id, Match.status == "proposed")
    return list((await session.execute(stmt)).scalars())


async def test_the_need_that_waited_longest_with_fewest_matches_goes_first(
    client: httpx.AsyncClient, app: Any, session: AsyncSession
) -> None:
    # An earlier match for one need: with another volunteer's offer, declined and closed since.
    other = await make_user(app, client, "volunteer", approved=True)
    old_offer = await _post(client, other, kind="offer", title="Ich begleite Sie")
    await session.execute(update(Post).where(Post.id == old_offer).values(status="closed"))
    await session.commit()

    low, middle, high = await _needs(client, app, 3)
    volunteer = await _capped_volunteer(app, client, session)
    # The id alone would choose `low`; waiting alone (with ties by id) `low` too.
    await _waited(session, low, 60)  # waited as long as `high`, but has had a match
    await _waited(session, middle, 40)  # no match yet, but has waited less
    await _waited(session, high, 60)  # waited longest, no match yet: goes first
    other_user = await session.get(User, other.id)
    low_post = await session.get(Post, low)
    assert other_user is not None and low_post is not None
    session.add(
        Match(
            offer_id=old_offer,
            need_id=low,
            volunteer_id=other.id,
            need_author_id=low_post.author_id,
            score=0.9,
            status="declined",
            declined_by="offer",
        )
    )
    await session.commit()

    offer = await _post(client, volunteer, kind="offer", title="Ich begleite Sie zum Amt")

    session.expire_all()
    assert await _proposed(session, offer) == [high]


async def test_equal_needs_go_by_id(
    client: httpx.AsyncClient, app: Any, session: AsyncSession
) -> None:
    needs = await _needs(client, app, 3)
    volunteer = await _capped_volunteer(app, client, session)
    for need_id in needs:
        await _waited(session, need_id, 50)
    await session.commit()

    offer = await _post(client, volunteer, kind="offer", title="Ich begleite Sie zum Amt")

    session.expire_all()
    assert await _proposed(session, offer) == [needs[0]]


# Remote needs and a remote offer without time slots, each need older than a month: every
# component of the score is known before a row is read, so their bounds equal their scores and
# only the order in which the rounds read them (market.matches.candidates: bound, publication,
# id) and where they stop decide whether the fairness rule is followed.
REMOTE = {"mode": "remote", "category": "language-tandem", "languages": ["de", "ar"]}


async def test_tied_remote_needs_go_by_wait_not_by_id(
    client: httpx.AsyncClient, app: Any, session: AsyncSession
) -> None:
    needs = []
    for _ in range(3):
        seeker = await make_user(app, client, "seeker")
        needs.append(await _post(client, seeker, **REMOTE))
    first, middle, last = sorted(needs)
    # Read by id, `first` would be picked and `middle`, published after it, would end the
    # search before `last` was seen.
    await _waited(session, first, 50)
    await _waited(session, middle, 40)
    await _waited(session, last, 60)  # waited longest
    await session.commit()
    volunteer = await _capped_volunteer(app, client, session)

    offer = await _post(client, volunteer, kind="offer", **REMOTE)

    session.expire_all()
    assert await _proposed(session, offer) == [last]


async def test_a_tied_need_with_fewer_matches_after_a_larger_id(
    client: httpx.AsyncClient, app: Any, session: AsyncSession
) -> None:
    """Equal scores and equal waits: the need without a match goes first, though the two needs
    with a match come before it by id (the rounds cannot know a need's matches before reading
    it, so they must not stop at the first of the ties)."""
    other = await make_user(app, client, "volunteer", approved=True)
    old_offer = await _post(client, other, kind="offer", **REMOTE)
    await session.execute(update(Post).where(Post.id == old_offer).values(status="closed"))
    await session.commit()
    needs = []
    for _ in range(4):
        seeker = await make_user(app, client, "seeker")
        needs.append(await _post(client, seeker, **REMOTE))
    needs.sort()
    for need_id in needs:
        await _waited(session, need_id, 60)
    for need_id in needs[:2]:
        need = await session.get(Post, need_id)
        assert need is not None
        session.add(
            Match(
                offer_id=old_offer,
                need_id=need_id,
                volunteer_id=other.id,
                need_author_id=need.author_id,
                score=0.9,
                status="declined",
                declined_by="offer",
            )
        )
    await session.commit()
    volunteer = await _capped_volunteer(app, client, session)

    offer = await _post(client, volunteer, kind="offer", **REMOTE)

    session.expire_all()
    assert await _proposed(session, offer) == [needs[2]]
