"""A global one-to-one assignment of needs to offers for a region, maximising the total score.

Only the feasible pairs (those that passed the rules) are given. The bipartite graph they form
is split into connected components first: offers in one category or language rarely reach needs
of another, so a region falls apart into many small problems, and each component is solved as a
dense assignment of its own size with scipy's linear_sum_assignment. Even a single component
of 5,000 needs x 5,000 offers with every pair feasible solves in about 7 s and under 1 GB
(tests/matching/bench_assign.py), so the sparse min_weight_full_bipartite_matching, which needs
extra dummy nodes because not every need can be matched, is not worth its complexity.

Infeasible cells of a component's matrix get weight 0, not a large cost. A large cost would
force the solver to match as many needs as possible first and only then look at scores, which can
lower the total score below even a greedy choice (one excellent pair given up for two poor ones).
With weight 0 an infeasible cell never adds anything, so the best full assignment of the matrix,
minus its infeasible cells, is the best assignment among feasible pairs; those cells are dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from matching.score import Scored


def assign(needs: Iterable[str], offers: Iterable[str], pairs: Iterable[Scored]) -> list[Scored]:
    """The pairs of a one-to-one assignment with the greatest total score, best first.

    `pairs` are the feasible pairs (from `rank`); pairs naming a need or offer outside `needs`
    and `offers` are left out, so that the caller can hold back, say, offers whose volunteers
    have no room for another match without rebuilding the pairs.
    """
    need_at = {need_id: i for i, need_id in enumerate(sorted(set(needs)))}
    offer_at = {offer_id: j for j, offer_id in enumerate(sorted(set(offers)))}
    kept: list[Scored] = []
    rows: list[int] = []
    cols: list[int] = []
    for pair in pairs:
        i = need_at.get(pair.need_id)
        j = offer_at.get(pair.offer_id)
        if i is None or j is None:
            continue
        kept.append(pair)
        rows.append(i)
        cols.append(j)
    chosen = max_weight_matching(
        rows, cols, [p.score for p in kept], shape=(len(need_at), len(offer_at))
    )
    result = [kept[k] for k in chosen.tolist()]
    # The same order as rank(): best first, ties by ids.
    result.sort(key=lambda p: (-p.score, p.offer_id, p.need_id))
    return result


def max_weight_matching(
    rows: ArrayLike, cols: ArrayLike, weights: ArrayLike, shape: tuple[int, int]
) -> NDArray[np.intp]:
    """Indices of the edges (rows[k], cols[k]) with weight weights[k] >= 0 forming a matching of
    greatest total weight in a bipartite graph with shape[0] left and shape[1] right nodes."""
    row = np.asarray(rows, dtype=np.intp)
    col = np.asarray(cols, dtype=np.intp)
    weight = np.asarray(weights, dtype=np.float64)
    n, m = shape
    if not row.shape == col.shape == weight.shape or row.ndim != 1:
        raise ValueError("rows, cols and weights must be one-dimensional and of one length")
    if row.size == 0:
        return np.empty(0, dtype=np.intp)
    if row.min() < 0 or row.max() >= n or col.min() < 0 or col.max() >= m:
        raise ValueError(f"an edge lies outside the shape {shape}")
    if not np.all(np.isfinite(weight)) or weight.min() < 0:
        raise ValueError("weights must be finite and not negative")
    # Edge numbers in a sparse need x offer matrix, counted from 1 since 0 would read as "no
    # edge"; int32 while they fit, which halves the largest arrays of a dense region. Building
    # the matrix sums duplicates, so fewer entries than edges means a pair was given twice (far
    # cheaper than np.unique on 25 million keys).
    number_type = np.int32 if row.size < np.iinfo(np.int32).max else np.int64
    edge_at = coo_matrix(
        (np.arange(1, row.size + 1, dtype=number_type), (row, col)), shape=(n, m)
    ).tocsr()
    if edge_at.nnz != row.size:
        raise ValueError("a pair is given twice")
    edge_at.sort_indices()  # already sorted by tocsr(); the edge lookup below relies on it

    count, label = connected_components(_one_graph(edge_at, n, m), directed=False)
    needs_in = _members(np.asarray(label[:n]), count)
    offers_in = _members(np.asarray(label[n:]), count)
    chosen: list[NDArray[np.intp]] = []
    for needs_here, offers_here in zip(needs_in, offers_in, strict=True):
        if needs_here.size == 0 or offers_here.size == 0:
            continue  # a need or offer without any feasible pair
        chosen.append(_solve_component(edge_at, needs_here, offers_here, weight))
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.intp)


def _one_graph(edge_at: csr_matrix, n: int, m: int) -> csr_matrix:
    """Needs 0..n-1 and offers n..n+m-1 as the nodes of one graph, edges from needs only
    (connected_components with directed=False follows them both ways)."""
    indptr = np.concatenate([edge_at.indptr, np.full(m, edge_at.nnz, dtype=edge_at.indptr.dtype)])
    return csr_matrix(
        (np.ones(edge_at.nnz, dtype=np.int8), edge_at.indices + n, indptr), shape=(n + m, n + m)
    )


def _members(label: NDArray[np.int32], count: int) -> list[NDArray[np.intp]]:
    """The node numbers in each component, ascending."""
    order = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[order], np.arange(count + 1))
    return [order[bounds[c] : bounds[c + 1]] for c in range(count)]


def _solve_component(
    edge_at: csr_matrix,
    needs: NDArray[np.intp],
    offers: NDArray[np.intp],
    weight: NDArray[np.float64],
) -> NDArray[np.intp]:
    """The edges of the best matching within one connected component.

    Works on the rows of the whole matrix instead of slicing out the component: slicing a sparse
    matrix by columns costs time in proportion to all offers, for each of possibly thousands of
    tiny components.
    """
    indptr, columns, numbers = edge_at.indptr, edge_at.indices, edge_at.data
    local_column = np.full(edge_at.shape[1], -1, dtype=np.intp)
    local_column[offers] = np.arange(offers.size)
    # float64 straight away: linear_sum_assignment would otherwise copy a float32 matrix into a
    # float64 one, which costs more memory at the peak, not less. Filled row by row so that no
    # temporary array as long as all the edges is needed.
    matrix = np.zeros((needs.size, offers.size), dtype=np.float64)
    for r, need in enumerate(needs.tolist()):
        start, end = indptr[need], indptr[need + 1]
        matrix[r, local_column[columns[start:end]]] = weight[numbers[start:end] - 1]
    picked_rows, picked_cols = linear_sum_assignment(matrix, maximize=True)
    del matrix
    # Keep the picked cells that are edges; the others were infeasible filler and are dropped.
    # Columns within a row of a CSR matrix are sorted, so a binary search finds each edge.
    kept: list[int] = []
    for r, c in zip(picked_rows.tolist(), picked_cols.tolist(), strict=True):
        need, offer = int(needs[r]), int(offers[c])
        start, end = int(indptr[need]), int(indptr[need + 1])
        k = start + int(np.searchsorted(columns[start:end], offer))
        if k < end and columns[k] == offer:
            kept.append(int(numbers[k]) - 1)
    return np.asarray(kept, dtype=np.intp)


def max_weight_matching_capped(
    rows: ArrayLike,
    cols: ArrayLike,
    weights: ArrayLike,
    shape: tuple[int, int],
    owner: ArrayLike,
    room: ArrayLike,
) -> NDArray[np.intp]:
    """`max_weight_matching` where every right node (an offer) has an owner (its volunteer),
    `owner[col]`, who may get at most `room[owner]` edges in all: nobody is proposed more
    matches than they asked for, however many offers they posted.

    Where an owner gets too many, the owner's best `room` edges keep their offers, the owner's
    other offers leave the pool, and the rest is solved again; an owner is thus fixed at most
    once, and where no cap binds the result is `max_weight_matching`'s. The exact optimum under
    caps would need a min-cost flow; a volunteer with more offers than room is rare enough that
    this greedy repair loses little.
    """
    row = np.asarray(rows, dtype=np.intp)
    col = np.asarray(cols, dtype=np.intp)
    weight = np.asarray(weights, dtype=np.float64)
    owners = np.asarray(owner, dtype=np.intp)
    rooms = np.asarray(room, dtype=np.intp)
    if owners.shape != (shape[1],):
        raise ValueError("one owner per right node")
    if owners.size and (owners.min() < 0 or owners.max() >= rooms.size):
        raise ValueError("an owner without a room")
    if rooms.size and rooms.min() < 0:
        raise ValueError("room must not be negative")
    usable = rooms[owners] > 0 if owners.size else np.zeros(0, dtype=np.bool_)
    while True:
        pool = np.flatnonzero(usable[col]) if col.size else np.empty(0, dtype=np.intp)
        chosen = pool[max_weight_matching(row[pool], col[pool], weight[pool], shape)]
        count = np.bincount(owners[col[chosen]], minlength=rooms.size)
        over = np.flatnonzero(count > rooms)
        if over.size == 0:
            return chosen
        for who in over.tolist():
            mine = chosen[owners[col[chosen]] == who]
            # Best first, ties by the offer's number, as everywhere else.
            best = mine[np.lexsort((col[mine], -weight[mine]))][: rooms[who]]
            usable[owners == who] = False
            usable[col[best]] = True
