"""The fast choice of partners (market.matches.candidates) against ranking every candidate.

Seeded random markets with the awkward cases: posts just inside and just outside radii and at
the distance where the remote credit takes over, remote and either modes, posts without a place,
subcategories and categories that ask for a police certificate (valid, expired, running out
today), pending and rejected volunteers, declined pairs, volunteers at or near their cap of open
matches, several offers by one volunteer, exact ties (same place, same time, same languages),
regional language tags and authors without a level for a post's language. Each new post's choice
must be exactly what the matcher picks from all candidates of the previous implementation
(queries.offers_for_need / needs_for_offer, ORM objects, matching.best_*), scores, reasons and
distances included. Runs on SQLite and, with ANLAUF_TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

import matching
from market.accounts.models import User, UserLanguage
from market.db import make_sessionmaker
from market.matches import candidates, queries, services
from market.matches.models import Match
from market.posts.geo import cell_of
from market.posts.models import Post, PostLanguage

# The SQL prefilter dates police certificates by the clock (with a day's margin), the matcher by
# its `now`: both must agree on the day.
NOW = datetime.now(UTC).replace(microsecond=0)
CATEGORIES = (
    "accompaniment",
    "accompaniment-doctor",
    "accompaniment-authorities",
    "education",
    "education-homework",
    "childcare",
    "language",
    "language-tandem",
)
CODES = ("de", "en", "ar", "ar-SY", "uk", "fa")
LEVELS = ("native", "fluent", "basic")
KM_PER_DEGREE = 111.195


def _offset(lat: float, lon: float, km: float, rng: random.Random) -> tuple[float, float]:
    bearing = rng.uniform(0, 2 * math.pi)
    dlat = km * math.cos(bearing) / KM_PER_DEGREE
    dlon = km * math.sin(bearing) / (KM_PER_DEGREE * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


class Market:
    """A random market around a centre, written straight into the database."""

    def __init__(self, seed: int, centre: tuple[float, float] = (52.52, 13.40)) -> None:
        self.rng = random.Random(seed)
        self.centre = centre
        self.users: list[User] = []
        self.posts: list[Post] = []
        self.matches: list[Match] = []
        self.n = 0
        # A few places and moments that several posts share, for exact ties.
        self.spots = [_offset(*centre, self.rng.uniform(0, 8), self.rng) for _ in range(4)]
        self.moments = [NOW - timedelta(days=d) for d in (0.5, 12.25, 30, 45)]

    def _id(self) -> str:
        self.n += 1
        return f"{self.n:04d}" + "".join(self.rng.choice("0123456789abcdef") for _ in range(28))

    def _languages(self) -> list[tuple[str, str]]:
        rng = self.rng
        codes = rng.sample(CODES, rng.randint(1, 3))
        if "ar" in codes and "ar-SY" in codes:
            codes.remove("ar-SY")
        if "de" not in codes and rng.random() < 0.6:
            codes.append("de")  # most people here speak some German
        return [(c, rng.choice(LEVELS)) for c in codes]

    def user(self, role: str) -> User:
        rng = self.rng
        vetting = None
        until = None
        if role == "volunteer":
            vetting = rng.choices(("approved", "pending", "rejected"), (8, 1, 1))[0]
            until = rng.choice(
                (None, None, NOW.date() - timedelta(days=3), NOW.date(), date(2030, 1, 1))
            )
        elif role == "coordinator":
            until = rng.choice((None, date(2030, 1, 1)))
        uid = self._id()
        user = User(
            id=uid,
            email=f"{uid}@example.org",
            display_name=f"{role} {uid[:6]}",
            role=role,
            vetting_status=vetting,
            police_certificate_until=until,
            max_open_matches=rng.choice((0, 1, 2, 5, 5, 5)),
            is_active=rng.random() > 0.03,
        )
        user.languages = [
            UserLanguage(code=c, level=lvl, position=i)
            for i, (c, lvl) in enumerate(self._languages())
        ]
        self.users.append(user)
        return user

    def post(self, kind: str, author: User) -> Post:
        rng = self.rng
        mode = rng.choices(("in_person", "either", "remote"), (5, 3, 2))[0]
        if kind == "offer":
            radius: float | None = rng.choice((None, 0.0, 5.0, 10.0, 10.0, 15.0))
        else:
            radius = rng.choice((None, None, 5.0, 10.0, 20.0))
        lat: float | None
        lon: float | None
        roll = rng.random()
        if mode == "remote" and roll < 0.4:
            lat = lon = None
        elif roll < 0.15:
            lat, lon = rng.choice(self.spots)
        else:
            # Often right at a typical radius, or where the remote credit takes over (0.56 r).
            edge = rng.choice((5.0, 10.0, 15.0, 20.0))
            km = rng.choice(
                (
                    edge * (1 + rng.uniform(-0.004, 0.004)),
                    edge * 0.56 * (1 + rng.uniform(-0.01, 0.01)),
                    rng.uniform(0, 25),
                    rng.uniform(0, 3),
                )
            )
            anchor = rng.choice(self.spots)
            lat, lon = _offset(*anchor, km, rng)
        author_codes = [lang.code for lang in author.languages]
        codes = rng.sample(author_codes, rng.randint(1, len(author_codes)))
        if rng.random() < 0.15:
            codes.append(rng.choice(CODES))  # a language the author gave no level for
        codes = list(dict.fromkeys(codes))
        published = (
            rng.choice(self.moments)
            if rng.random() < 0.3
            else NOW - timedelta(days=rng.uniform(0, 50))
        )
        slots = []
        if rng.random() < 0.4:
            for _ in range(rng.randint(1, 3)):
                start = rng.randint(8, 18) * 60
                slots.append(
                    {
                        "weekday": rng.randint(0, 6),
                        "start": f"{start // 60:02d}:00",
                        "end": f"{(start + rng.choice((60, 120, 240))) // 60:02d}:00",
                    }
                )
        cell = cell_of(lat, lon) if lat is not None and lon is not None else (None, None)
        post = Post(
            id=self._id(),
            kind=kind,
            category=rng.choice(CATEGORIES[:5] if rng.random() < 0.7 else CATEGORIES),
            title="A post",
            body="",
            mode=mode,
            radius_km=radius,
            lat=lat,
            lon=lon,
            cell_lat=cell[0],
            cell_lon=cell[1],
            status=rng.choices(("published", "closed"), (12, 1))[0],
            author_id=author.id,
            published_at=published,
            created_at=published,
            availability=slots,
        )
        post.languages = [PostLanguage(code=c, position=i) for i, c in enumerate(codes)]
        self.posts.append(post)
        return post

    def build(self, offers: int, needs: int) -> None:
        rng = self.rng
        volunteers = [self.user("volunteer") for _ in range(max(3, offers // 3))]
        volunteers += [self.user("coordinator") for _ in range(2)]
        seekers = [self.user("seeker") for _ in range(max(3, needs // 2))]
        for _ in range(offers):
            self.post("offer", rng.choice(volunteers))
        for _ in range(needs):
            self.post("need", rng.choice(seekers))
        published = [p for p in self.posts if p.status == "published"]
        offer_posts = [p for p in published if p.kind == "offer"]
        need_posts = [p for p in published if p.kind == "need"]
        authors = {u.id: u for u in self.users}
        # Declined and open pairs: some volunteers reach their cap.
        pairs = set()
        for _ in range((offers + needs) // 3):
            offer, need = rng.choice(offer_posts), rng.choice(need_posts)
            if (offer.id, need.id) in pairs:
                continue
            pairs.add((offer.id, need.id))
            self.matches.append(
                Match(
                    id=self._id(),
                    offer_id=offer.id,
                    need_id=need.id,
                    volunteer_id=offer.author_id,
                    need_author_id=authors[need.author_id].id,
                    score=0.5,
                    reasons=[],
                    status=rng.choices(
                        ("declined", "proposed", "connected", "closed"), (4, 3, 2, 1)
                    )[0],
                )
            )

    async def save(self, session: AsyncSession) -> None:
        session.add_all(self.users)
        await session.flush()
        session.add_all(self.posts)
        await session.flush()
        session.add_all(self.matches)
        await session.commit()


async def reference(session: AsyncSession, post: Post, limit: int) -> list[matching.Scored]:
    """What match_post chose before: every candidate of the SQL prefilter as ORM objects,
    judged and ranked by the matcher."""
    today = NOW.date()
    if post.kind == "need":
        stmt = select(func.count()).where(Match.need_id == post.id, Match.status == "proposed")
        room = limit - (await session.execute(stmt)).scalar_one()
        if room <= 0:
            return []
        offers = list((await session.execute(queries.offers_for_need(post))).scalars())
        users = await queries.users_by_id(session, [o.author_id for o in offers] + [post.author_id])
        counts = await queries.open_counts(session, [o.author_id for o in offers])
        cands = [services._candidate(o, post, users, counts) for o in offers]
        return matching.best_offers_for_need(cands, NOW, today, limit=room) if cands else []
    needs = list((await session.execute(queries.needs_for_offer(post))).scalars())
    users = await queries.users_by_id(session, [n.author_id for n in needs] + [post.author_id])
    counts = await queries.open_counts(session, [post.author_id])
    cands = [services._candidate(post, n, users, counts) for n in needs]
    # Each need's matches so far: the fairness rule's second key (matching.fair_key).
    had_stmt = select(Match.need_id, func.count()).group_by(Match.need_id)
    had = {need_id: int(n) for need_id, n in (await session.execute(had_stmt)).all()}
    return (
        matching.best_needs_for_offer(cands, NOW, today, limit=limit, matches_had=had)
        if cands
        else []
    )


def _keys(scored: list[matching.Scored]) -> list[tuple[Any, ...]]:
    return [(s.offer_id, s.need_id, s.score, s.reasons, s.distance_km) for s in scored]


async def _fast(
    session: AsyncSession, post: Post, limit: int, exhaustive: bool = False
) -> tuple[list[matching.Scored], candidates.Stats]:
    stats = candidates.Stats()
    plan = await candidates.plan_for(session, post, NOW, limit)
    if plan is None:
        return [], stats
    return await candidates.best(session, plan, exhaustive=exhaustive, stats=stats), stats


@pytest.fixture(params=["default pages", "tiny pages"])
def pages(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    # Tiny pages make every new post take many rounds, so that the stop rule and the bars
    # between rounds are exercised on a small market too.
    if request.param == "tiny pages":
        monkeypatch.setattr(candidates.tuning, "FIRST_PAGE", 2)
        monkeypatch.setattr(candidates.tuning, "NEXT_PAGES", (1, 2, 3))
        monkeypatch.setattr(candidates.tuning, "FIRST_SORT_LIMIT", 3)
        candidates.statement.cache_clear()
    yield request.param
    candidates.statement.cache_clear()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_choice_is_exactly_the_full_ranking(
    app: Any, session: AsyncSession, seed: int, pages: str
) -> None:
    market = Market(seed)
    market.build(offers=90, needs=90)
    # Posts without a publication time (the matcher counts from their creation): the rounds
    # put them first among equal bounds, never too late.
    unpublished = random.Random(seed + 100)
    for post in market.posts:
        if unpublished.random() < 0.1:
            post.published_at = None
    await market.save(session)
    rng = random.Random(seed)
    posts = [p for p in market.posts if p.status == "published"]
    chosen_total = 0
    rounds = 0
    for post in rng.sample(posts, 40):
        for limit in (3, 1, 6):
            async with make_sessionmaker(app.state.engine)() as s:
                fresh = await s.get(Post, post.id)
                assert fresh is not None
                expected = await reference(s, fresh, limit)
                got, stats = await _fast(s, fresh, limit)
                everything, _ = await _fast(s, fresh, limit, exhaustive=True)
            assert _keys(got) == _keys(expected), (post.id, post.kind, limit)
            assert _keys(everything) == _keys(expected)
            assert not stats.fallback
            chosen_total += len(got)
            rounds += stats.rounds
    assert chosen_total > 100  # the markets do produce matches
    if pages == "tiny pages":
        assert rounds > 100  # and the stop rule was reached the hard way


@pytest.mark.parametrize(
    "centre", [(0.5, 30.0), (64.1, -21.9), (69.65, 18.95), (-33.9, 151.2), (51.5, -0.12)]
)
async def test_bounds_hold_far_from_germany(
    app: Any, session: AsyncSession, centre: tuple[float, float]
) -> None:
    """Exhaustive judging checks every candidate's score against its bounds: the flat lower
    bound of the distance must hold at any latitude and either side of Greenwich."""
    market = Market(7, centre)
    market.build(offers=60, needs=60)
    await market.save(session)
    for post in [p for p in market.posts if p.status == "published"][:40]:
        async with make_sessionmaker(app.state.engine)() as s:
            fresh = await s.get(Post, post.id)
            assert fresh is not None
            expected = await reference(s, fresh, 3)
            everything, _ = await _fast(s, fresh, 3, exhaustive=True)
            got, stats = await _fast(s, fresh, 3)
        assert _keys(everything) == _keys(expected)
        assert _keys(got) == _keys(expected)
        assert not stats.fallback


async def test_a_ten_language_post_and_a_lone_language(app: Any, session: AsyncSession) -> None:
    """More languages than the usual four (a longer parameter list), and a post in a language
    nobody else speaks."""
    market = Market(11)
    market.build(offers=40, needs=40)
    many = market.post("need", market.users[-1])
    many.status = "published"
    many.languages = [
        PostLanguage(code=c, position=i)
        for i, c in enumerate(("de", "en", "ar", "uk", "fa", "tr", "ru", "fr", "es", "pl"))
    ]
    lone = market.post("offer", market.users[0])
    lone.status = "published"
    lone.languages = [PostLanguage(code="ti", position=0)]
    await market.save(session)
    for post in (many, lone):
        async with make_sessionmaker(app.state.engine)() as s:
            fresh = await s.get(Post, post.id)
            assert fresh is not None
            expected = await reference(s, fresh, 3)
            got, stats = await _fast(s, fresh, 3)
        assert _keys(got) == _keys(expected)
        assert not stats.fallback
