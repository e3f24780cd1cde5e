"""A global one-to-one assignment of needs to offers for a region, maximising the total score.

Only the feasible pairs (those that passed the rules) are given. The bipartite graph they form
is split into connected components first: offers in one category or language rarely reach needs
of another, so a region falls apart into many small problems, and each component is solved as a
dense assignment of its own size. A single component of 5,000 x 5,000 still solves in a few
seconds with scipy's linear_sum_assignment (see benchmarks in the module tests' notes).

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
from scipy.sparse import coo_matrix
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
    result.sort(key=lambda p: (-p.score, p.need_id, p.offer_id))
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
    keys = row.astype(np.int64) * m + col
    if np.unique(keys).size != keys.size:
        raise ValueError("a pair is given twice")

    # Left nodes are 0..n-1, right nodes n..n+m-1 of one undirected graph.
    graph = coo_matrix(
        (np.ones(row.size, dtype=np.int8), (row, col + n)), shape=(n + m, n + m)
    ).tocsr()
    _, label = connected_components(graph, directed=False)
    edge_label = np.asarray(label)[row]
    by_component = np.argsort(edge_label, kind="stable")
    starts = np.flatnonzero(np.diff(edge_label[by_component])) + 1
    chosen = [
        edges[_solve_component(row[edges], col[edges], weight[edges])]
        for edges in np.split(by_component, starts)
    ]
    return np.sort(np.concatenate(chosen))


def _solve_component(
    row: NDArray[np.intp], col: NDArray[np.intp], weight: NDArray[np.float64]
) -> NDArray[np.intp]:
    """Positions (into the given edges) of the best matching of one connected component."""
    rows_used, local_row = np.unique(row, return_inverse=True)
    cols_used, local_col = np.unique(col, return_inverse=True)
    width = cols_used.size
    # float64 straight away: linear_sum_assignment would otherwise copy a float32 matrix into a
    # float64 one, which costs more memory at the peak, not less.
    matrix = np.zeros((rows_used.size, width), dtype=np.float64)
    matrix[local_row, local_col] = weight
    picked_row, picked_col = linear_sum_assignment(matrix, maximize=True)
    # Map the picked cells back to edges; cells without an edge were infeasible and are dropped.
    cell = local_row.astype(np.int64) * width + local_col
    order = np.argsort(cell)
    picked = np.asarray(picked_row, dtype=np.int64) * width + np.asarray(picked_col)
    at = np.minimum(np.searchsorted(cell[order], picked), cell.size - 1)
    feasible = cell[order][at] == picked
    return np.asarray(order[at[feasible]], dtype=np.intp)
