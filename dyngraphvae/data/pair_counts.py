r"""Undecayed pair counts of a history: in how many snapshots each pair had an edge.

.. math::
    n_T(u, v) = \bigl|\{t < T : (u, v) \in E_t\}\bigr|,

counted once per snapshot (repeated edges inside a snapshot count once; undirected graphs count
the unordered pair, so ``n_T`` is symmetric). They are features 1–3 of the pair-history
regression (:mod:`dyngraphvae.evaluation.pair_history`) and columns of the per-origin refit
(``ForecasterConfig.context_refit_counts``): decayed counts forget that a pair was ever seen,
which matters where ordered pairs never recur (a rating on bitcoin_alpha) or always do.
``n_T`` is kept as a coalesced sparse ``(N, N)`` tensor; lookups are binary searches of its
sorted keys, and a block of rows is the only dense tensor formed.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dyngraphvae.data.splits import _pair_keys
from dyngraphvae.data.temporal_graph import TemporalGraph

__all__ = ["pair_count_rows", "pair_count_values", "pair_counts"]


def _snapshot_keys(graph: TemporalGraph, t: int) -> Tensor:
    """Sorted distinct keys ``u·N + v`` of snapshot ``t``'s pairs (undirected: both orders)."""
    e = graph.edges(t).cpu()
    if not graph.directed:
        e = torch.cat([e, e.flip(0)], 1)
    return torch.unique(_pair_keys(e, graph.num_nodes, directed=True))


def _as_sparse(keys: Tensor, counts: Tensor, n: int) -> Tensor:
    return torch.sparse_coo_tensor(torch.stack([keys // n, keys % n]), counts, (n, n),
                                   is_coalesced=True, check_invariants=False)


def pair_counts(graph: TemporalGraph, end: int | None = None,
                start_from: tuple[int, Tensor] | None = None) -> Tensor:
    """``n_T`` of snapshots ``0..end−1`` (default: all) as a coalesced sparse ``(N, N)``
    float64 tensor (module docstring). ``start_from = (T₀, n_{T₀})``, ``T₀ <= end``: continue
    from the counts of an earlier end instead of from snapshot 0."""
    n = graph.num_nodes
    end = len(graph) if end is None else int(end)
    if not 0 <= end <= len(graph):
        raise ValueError(f"pair_counts: end must be in [0, {len(graph)}], got {end}")
    first, keys, counts = 0, torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.float64)
    if start_from is not None:
        first, base = int(start_from[0]), start_from[1].coalesce()
        if not 0 <= first <= end or tuple(base.shape) != (n, n):
            raise ValueError(f"pair_counts: start_from must be counts of {n} nodes at an end in "
                             f"[0, {end}], got end {first} and shape {tuple(base.shape)}")
        idx = base.indices()
        keys, counts = idx[0] * n + idx[1], base.values().double()
    parts = [_snapshot_keys(graph, t) for t in range(first, end)]
    if parts:
        allk = torch.cat([keys, *parts])
        allc = torch.cat([counts, torch.ones(allk.numel() - keys.numel(), dtype=torch.float64)])
        keys, inv = torch.unique(allk, return_inverse=True)
        counts = torch.zeros(keys.numel(), dtype=torch.float64).index_add_(0, inv, allc)
    return _as_sparse(keys, counts, n)


def pair_count_values(counts: Tensor, pairs: Tensor) -> Tensor:
    """``(P,)`` float64 ``n_T(u, v)`` of ``pairs (2, P)`` (0 for pairs never seen)."""
    n = counts.size(0)
    counts = counts.coalesce()
    idx = counts.indices()
    keys = idx[0] * n + idx[1]
    pairs = pairs.long().to(keys.device)
    q = pairs[0] * n + pairs[1]
    out = torch.zeros(q.numel(), dtype=torch.float64, device=keys.device)
    if keys.numel() == 0:
        return out
    pos = torch.searchsorted(keys, q).clamp(max=keys.numel() - 1)
    hit = keys[pos] == q
    out[hit] = counts.values()[pos[hit]].double()
    return out


def pair_count_rows(counts: Tensor, start: int, end: int, transpose: bool = False) -> Tensor:
    """``(end − start, N)`` float64 dense block of ``n_T``: the rows ``start <= u < end``, or with
    ``transpose`` those of ``n_Tᵀ`` (``n_T(v, u)``, read from the columns; nothing re-sorted)."""
    n = counts.size(0)
    if not 0 <= start <= end <= n:
        raise ValueError(f"pair_count_rows: need 0 <= start <= end <= {n}, got {start}, {end}")
    counts = counts.coalesce()
    idx, val = counts.indices(), counts.values().double()
    row, col = (idx[1], idx[0]) if transpose else (idx[0], idx[1])
    keep = (row >= start) & (row < end)
    out = torch.zeros(end - start, n, dtype=torch.float64, device=val.device)
    out[row[keep] - start, col[keep]] = val[keep]
    return out
