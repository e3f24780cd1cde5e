"""The global one-to-one assignment: optimal, one-to-one, feasible pairs only."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from matching import Scored, assign, max_weight_matching, max_weight_matching_capped


def scored(need_id: str, offer_id: str, value: float) -> Scored:
    return Scored(offer_id=offer_id, need_id=need_id, score=value, reasons=(), distance_km=None)


def total(pairs: list[Scored]) -> float:
    return sum(p.score for p in pairs)


def brute_force(pairs: list[Scored]) -> float:
    """The best total over every one-to-one choice of the given pairs."""
    needs = sorted({p.need_id for p in pairs})

    def best(k: int, used: frozenset[str]) -> float:
        if k == len(needs):
            return 0.0
        options = [best(k + 1, used)]
        for p in pairs:
            if p.need_id == needs[k] and p.offer_id not in used:
                options.append(p.score + best(k + 1, used | {p.offer_id}))
        return max(options)

    return best(0, frozenset())


def greedy(pairs: list[Scored]) -> float:
    used_needs: set[str] = set()
    used_offers: set[str] = set()
    value = 0.0
    for p in sorted(pairs, key=lambda p: -p.score):
        if p.need_id not in used_needs and p.offer_id not in used_offers:
            used_needs.add(p.need_id)
            used_offers.add(p.offer_id)
            value += p.score
    return value


def test_the_assignment_beats_greedy_when_greedy_blocks_a_need() -> None:
    pairs = [scored("n1", "o1", 0.9), scored("n1", "o2", 0.8), scored("n2", "o1", 0.8)]
    result = assign(["n1", "n2"], ["o1", "o2"], pairs)
    assert {(p.need_id, p.offer_id) for p in result} == {("n1", "o2"), ("n2", "o1")}
    assert total(result) == pytest.approx(1.6)
    assert greedy(pairs) == pytest.approx(0.9)


def test_one_excellent_pair_is_not_given_up_for_two_poor_ones() -> None:
    # This is why infeasible cells weigh 0 rather than a large cost: a large cost would match
    # as many needs as possible (0.1 + 0.1) instead of the best total (1.0).
    pairs = [scored("n1", "o1", 1.0), scored("n1", "o2", 0.1), scored("n2", "o1", 0.1)]
    result = assign(["n1", "n2"], ["o1", "o2"], pairs)
    assert [(p.need_id, p.offer_id) for p in result] == [("n1", "o1")]


def test_needs_without_any_feasible_offer_stay_unassigned() -> None:
    pairs = [scored("n1", "o1", 0.5), scored("n2", "o1", 0.7)]
    result = assign(["n1", "n2", "n3"], ["o1", "o2"], pairs)
    assert [(p.need_id, p.offer_id) for p in result] == [("n2", "o1")]


def test_pairs_outside_the_given_needs_and_offers_are_left_out() -> None:
    pairs = [scored("n1", "o-full", 0.9), scored("n1", "o1", 0.4), scored("n-other", "o1", 0.9)]
    result = assign(["n1"], ["o1"], pairs)
    assert [(p.need_id, p.offer_id) for p in result] == [("n1", "o1")]


def test_the_result_comes_best_first_with_its_reasons() -> None:
    pairs = [scored("n1", "o1", 0.3), scored("n2", "o2", 0.8)]
    assert assign(["n1", "n2"], ["o1", "o2"], pairs) == [pairs[1], pairs[0]]


def test_empty_and_duplicate_input() -> None:
    assert assign([], [], []) == []
    assert assign(["n1"], ["o1"], []) == []
    with pytest.raises(ValueError, match="a pair is given twice"):
        assign(["n1"], ["o1"], [scored("n1", "o1", 0.1), scored("n1", "o1", 0.2)])


def test_max_weight_matching_rejects_bad_edges() -> None:
    with pytest.raises(ValueError, match="outside the shape"):
        max_weight_matching([0], [2], [0.5], shape=(1, 2))
    with pytest.raises(ValueError, match="not negative"):
        max_weight_matching([0], [0], [-0.5], shape=(1, 1))
    with pytest.raises(ValueError, match="one length"):
        max_weight_matching([0, 1], [0], [0.5], shape=(2, 1))


# Properties ---------------------------------------------------------------------------------


@st.composite
def tiny_instances(draw: st.DrawFn) -> list[Scored]:
    needs = draw(st.integers(1, 5))
    offers = draw(st.integers(1, 5))
    cells = [(f"n{i}", f"o{j}") for i in range(needs) for j in range(offers)]
    feasible = draw(st.lists(st.sampled_from(cells), unique=True, max_size=len(cells)))
    return [
        scored(n, o, draw(st.floats(0, 1) | st.sampled_from([0.0, 0.5, 1.0]))) for n, o in feasible
    ]


@settings(max_examples=300, deadline=None)
@given(tiny_instances())
def test_assignment_is_one_to_one_feasible_and_optimal(pairs: list[Scored]) -> None:
    needs = {p.need_id for p in pairs} | {"n-lonely"}
    offers = {p.offer_id for p in pairs} | {"o-lonely"}
    result = assign(needs, offers, pairs)
    assert len({p.need_id for p in result}) == len(result)
    assert len({p.offer_id for p in result}) == len(result)
    assert all(p in pairs for p in result)
    assert total(result) == pytest.approx(brute_force(pairs))
    assert total(result) >= greedy(pairs) - 1e-9


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_splitting_into_components_loses_nothing(seed: int) -> None:
    # Many small clusters, as categories and languages make them, against one dense solve.
    rng = np.random.default_rng(seed)
    n, m = 60, 70
    feasible = (rng.random((n, m)) < 0.03) | (
        rng.integers(0, 6, n)[:, None] == rng.integers(0, 6, m)[None, :]
    ) & (rng.random((n, m)) < 0.3)
    weights = np.where(feasible, rng.random((n, m)), 0.0)
    rows, cols = np.nonzero(feasible)
    chosen = max_weight_matching(rows, cols, weights[rows, cols], shape=(n, m))
    assert len(set(rows[chosen])) == len(chosen) == len(set(cols[chosen]))
    best_rows, best_cols = linear_sum_assignment(weights, maximize=True)
    assert weights[rows[chosen], cols[chosen]].sum() == pytest.approx(
        weights[best_rows, best_cols].sum()
    )


# --- Volunteers' caps across their offers --------------------------------------------------


def test_a_volunteer_with_two_offers_and_room_for_one_gets_one() -> None:
    # Needs 0 and 1; offers 0 and 1 by volunteer 0 (room 1), offer 2 by volunteer 1 (room 5).
    rows, cols, weights = [0, 1, 1], [0, 1, 2], [0.9, 0.8, 0.3]
    plain = max_weight_matching(rows, cols, weights, (2, 3))
    assert sorted(plain.tolist()) == [0, 1]  # both of volunteer 0's offers: over the cap
    capped = max_weight_matching_capped(rows, cols, weights, (2, 3), owner=[0, 0, 1], room=[1, 5])
    # Volunteer 0 keeps the better pair; need 1 gets volunteer 1's offer instead.
    assert sorted(capped.tolist()) == [0, 2]


def test_a_volunteer_without_room_gets_nothing() -> None:
    capped = max_weight_matching_capped([0], [0], [1.0], (1, 1), owner=[0], room=[0])
    assert capped.tolist() == []


def test_capped_matching_rejects_bad_owners() -> None:
    with pytest.raises(ValueError, match="one owner per right node"):
        max_weight_matching_capped([0], [0], [1.0], (1, 2), owner=[0], room=[1])
    with pytest.raises(ValueError, match="without a room"):
        max_weight_matching_capped([0], [0], [1.0], (1, 1), owner=[3], room=[1])
    with pytest.raises(ValueError, match="not be negative"):
        max_weight_matching_capped([0], [0], [1.0], (1, 1), owner=[0], room=[-1])


@settings(max_examples=300, deadline=None)
@given(
    tiny_instances(),
    st.lists(st.integers(0, 2), min_size=5, max_size=5),
    st.lists(st.integers(0, 3), min_size=3, max_size=3),
)
def test_capped_matching_keeps_every_cap_and_is_plain_where_none_binds(
    pairs: list[Scored], owner_of: list[int], room: list[int]
) -> None:
    rows = [int(p.need_id[1:]) for p in pairs]
    cols = [int(p.offer_id[1:]) for p in pairs]
    weights = [p.score for p in pairs]
    capped = max_weight_matching_capped(rows, cols, weights, (5, 5), owner=owner_of, room=room)
    got = [(rows[k], cols[k]) for k in capped.tolist()]
    assert len({r for r, _ in got}) == len(got) and len({c for _, c in got}) == len(got)
    per_owner = np.bincount([owner_of[c] for _, c in got], minlength=3)
    assert all(per_owner[o] <= room[o] for o in range(3))
    # Plenty of room: the plain optimum.
    roomy = max_weight_matching_capped(rows, cols, weights, (5, 5), owner=owner_of, room=[5, 5, 5])
    plain = max_weight_matching(rows, cols, weights, (5, 5))
    assert sum(weights[k] for k in roomy.tolist()) == pytest.approx(
        sum(weights[k] for k in plain.tolist())
    )
