"""The fairness rule in the pure matcher (issue 12): needs competing for one volunteer's room go
by score, then the longest wait, then the fewest matches so far, then the id."""

from __future__ import annotations

from matching import Scored, best_needs_for_offer
from tests.matching.factories import NOW, TODAY, need, offer, pair, volunteer

ONE_LEFT = volunteer(max_open_matches=1)


def ids(scored: list[Scored]) -> list[str]:
    return [s.need_id for s in scored]


def test_among_equal_fits_the_need_that_waited_longest_with_fewest_matches_goes_first() -> None:
    # All past the month after which waiting adds no more to the score: equal scores.
    pool = [
        pair(offer(), need("n1", waited_days=60), by=ONE_LEFT),  # as old, but had a match
        pair(offer(), need("n2", waited_days=40), by=ONE_LEFT),  # no match, waited less
        pair(offer(), need("n3", waited_days=60), by=ONE_LEFT),  # goes first
    ]
    assert len({s.score for s in best_needs_for_offer(pool, NOW, TODAY, limit=3)}) == 1
    assert ids(best_needs_for_offer(pool, NOW, TODAY, matches_had={"n1": 1})) == ["n3"]
    # Without the earlier match, n1 and n3 are equal and the id decides.
    assert ids(best_needs_for_offer(pool, NOW, TODAY)) == ["n1"]


def test_with_room_for_all_the_order_is_the_same() -> None:
    room = volunteer(max_open_matches=5)
    pool = [
        pair(offer(), need("n1", waited_days=60), by=room),
        pair(offer(), need("n2", waited_days=40), by=room),
        pair(offer(), need("n3", waited_days=60), by=room),
    ]
    assert ids(best_needs_for_offer(pool, NOW, TODAY, matches_had={"n1": 2})) == [
        "n3",
        "n1",
        "n2",
    ]


def test_a_better_fit_still_comes_before_a_longer_wait() -> None:
    pool = [
        pair(offer(), need("near", km=0, waited_days=31), by=ONE_LEFT),
        pair(offer(), need("far", km=8, waited_days=300), by=ONE_LEFT),
    ]
    assert ids(best_needs_for_offer(pool, NOW, TODAY, matches_had={"near": 3})) == ["near"]
