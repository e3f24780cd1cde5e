"""The matcher's score bounds have one source, matching.bounds: the SQL of
market.matches.candidates transcribes its functions, and this checks, over many random cases
(hypothesis) on the session's database (PostgreSQL or SQLite), that the SQL gives the values the
functions give, and that the functions bound the scorer."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Float, literal, select

from market.db import make_engine
from market.matches.candidates import bound
from market.matches.candidates.sql import Sql
from matching import bounds
from matching.score import EDGE_OF_RADIUS_FIT, REMOTE_FIT, _distance_decay, _waiting
from tests.matching.factories import NOW, need, offer, pair

# No subnormal floats: PostgreSQL refuses arithmetic that underflows (5e-324 / 2.0 is an error
# there, 0.0 in Python), and no distance or day count is ever that close to zero but not zero.
KM = st.floats(min_value=0.0, max_value=20_000.0, allow_nan=False, allow_subnormal=False)
RADIUS = st.one_of(st.just(0.0), st.floats(min_value=0.01, max_value=200.0))
DAYS = st.floats(min_value=-2.0, max_value=400.0, allow_nan=False, allow_subnormal=False)


def _evaluate(database_url: str, expressions: list[Any]) -> list[float]:
    """The values of SQL expressions, computed by the database in one SELECT."""

    async def run() -> list[float]:
        engine = make_engine(database_url)
        try:
            async with engine.connect() as connection:
                row = (await connection.execute(select(*expressions))).one()
                return [float(v) for v in row]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _value(x: float) -> Any:
    return literal(x, Float)


@settings(max_examples=25, deadline=None)
@given(cases=st.lists(st.tuples(KM, RADIUS, DAYS), min_size=1, max_size=40))
def test_the_sql_computes_what_matching_bounds_computes(
    database_url: str, cases: list[tuple[float, float, float]]
) -> None:
    sql = Sql(database_url.startswith("postgresql"))
    expressions = []
    expected = []
    for km, radius, days in cases:
        expressions.append(bound._decay(sql, _value(km), _value(radius)))
        expected.append(bounds.distance_fit(km, radius))
        expressions.append(bound._lower_km(sql, _value(km)))
        expected.append(bounds.lower_km(km))
        expressions.append(bound._waiting_at_most(sql, _value(days)))
        expected.append(bounds.waiting_fit_at_most(days))
    got = _evaluate(database_url, expressions)
    for g, e in zip(got, expected, strict=True):
        # The same operations in the same order on doubles; only the text round trip of the
        # constants could differ, far below the margin the bounds keep.
        assert math.isclose(g, e, rel_tol=1e-12, abs_tol=1e-12), (g, e)


@given(km=KM, radius=RADIUS, error=st.floats(min_value=0.0, max_value=1.0))
def test_a_lower_distance_gives_a_credit_at_least_the_scorers(
    km: float, radius: float, error: float
) -> None:
    # A flat measure that overstates the true distance by up to 0.5 % + 10 m (as the box allows).
    flat = km * (1 + 0.005 * error) + 0.01 * error
    assert bounds.distance_fit(bounds.lower_km(flat), radius) >= _distance_decay(km, radius)
    # Past FAR of the radius, the remote credit is the better one.
    if radius > 0 and km >= bounds.FAR * radius:
        assert 1.0 - (1.0 - EDGE_OF_RADIUS_FIT) * min(km / radius, 1.0) < REMOTE_FIT


@given(days=DAYS)
def test_the_waiting_bound_is_at_least_the_scorers(days: float) -> None:
    published = NOW - timedelta(days=days)
    candidate = pair(offer(), need(waited_days=days))
    assert bounds.waiting_fit(published, NOW) == _waiting(candidate, NOW, [])
    assert bounds.waiting_fit_at_most(days) >= bounds.waiting_fit(published, NOW)


@given(waited=st.floats(min_value=0.0, max_value=100.0))
def test_class_scores_are_the_scorers_own(waited: float) -> None:
    me = need(mode="remote", category=("housing",), waited_days=waited)
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    scores = bounds.class_scores(me, "housing", ("housing",), now)
    assert set(scores) == set(bounds.LANGUAGE_WEIGHTS)
    assert list(scores.values()) == sorted(scores.values(), reverse=True)
    # The highest sum is never below the class score it stands for.
    best = bounds.LANGUAGE_WEIGHTS[0]
    waiting = bounds.waiting_fit(me.published_at, now)
    assert bounds.highest_sum(False, False, 1.0, best, waiting) >= scores[best]
