r"""Common neighbours of node pairs in the union of a history's graphs.

The union graph of snapshots ``G_0..G_{T-1}`` is symmetrised (an edge in either direction, in any
snapshot, makes ``u`` and ``v`` neighbours), so

.. math::
    \mathrm{CN}_T(u, v) = \bigl|\{w : w \sim u,\ w \sim v \text{ in } \cup_{t<T} G_t\}\bigr|
                        = (A A)_{uv},

with ``A`` the union's 0/1 adjacency. It is feature 12 of the pair-history regression
(:mod:`dyngraphvae.evaluation.pair_history`) and a column of the per-origin refit
(``ForecasterConfig.context_refit_neighbours``). ``A`` is kept as a sparse tensor: a query of ``P``
pairs costs the products of their sparse rows, a block of rows one sparse-dense product; no
``N × N`` tensor is formed except for a requested dense block.

:func:`neighbour_mean` is the row-normalised adjacency of one snapshot, the spatial lag of the
autoregressive feature mean (``ForecasterConfig.feature_neighbours``) and of
:class:`~dyngraphvae.evaluation.baselines.SpatialLagRegression`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from dyngraphvae.data.temporal_graph import TemporalGraph

__all__ = ["common_neighbour_rows", "common_neighbours", "neighbour_mean", "union_adjacency"]

_CHUNK = 4096


def union_adjacency(graph: TemporalGraph, end: int | None = None) -> Tensor:
    """The symmetrised union of snapshots ``0..end-1`` (default: all) as a coalesced sparse
    ``(N, N)`` float64 0/1 tensor (self-loops are kept, as the regression keeps them)."""
    n = graph.num_nodes
    end = len(graph) if end is None else int(end)
    if not 0 <= end <= len(graph):
        raise ValueError(f"union_adjacency: end must be in [0, {len(graph)}], got {end}")
    parts = [graph.edges(t).cpu().long() for t in range(end)]
    e = torch.cat(parts, 1) if parts else torch.zeros(2, 0, dtype=torch.long)
    a, b = e[0], e[1]
    sym = torch.unique(torch.cat([a * n + b, b * n + a]))
    return torch.sparse_coo_tensor(torch.stack([sym // n, sym % n]),
                                   torch.ones(sym.numel(), dtype=torch.float64), (n, n),
                                   check_invariants=True).coalesce()


def common_neighbours(adjacency: Tensor, pairs: Tensor) -> Tensor:
    """``(P,)`` float64 common-neighbour counts ``(A A)_{uv}`` of ``pairs (2, P)`` in the
    sparse symmetric ``adjacency`` (:func:`union_adjacency`), by products of sparse rows."""
    pairs = pairs.long().to(adjacency.device)
    u, v = pairs[0], pairs[1]
    out = torch.zeros(u.numel(), dtype=torch.float64, device=adjacency.device)
    if adjacency._nnz() == 0:
        return out
    for s in range(0, u.numel(), _CHUNK):
        rows_u = adjacency.index_select(0, u[s:s + _CHUNK])
        rows_v = adjacency.index_select(0, v[s:s + _CHUNK])
        if rows_u._nnz() and rows_v._nnz():
            out[s:s + _CHUNK] = torch.sparse.sum(rows_u * rows_v, dim=1).to_dense()
    return out


def common_neighbour_rows(adjacency: Tensor, start: int, end: int) -> Tensor:
    """``(end − start, N)`` float64 dense block of ``A A``: the common-neighbour counts of every
    pair ``(u, v)`` with ``start <= u < end`` (one sparse-dense product; ``A`` symmetric)."""
    n = adjacency.size(0)
    if not 0 <= start <= end <= n:
        raise ValueError(f"common_neighbour_rows: need 0 <= start <= end <= {n}, got "
                         f"{start}, {end}")
    if adjacency._nnz() == 0 or end == start:
        return torch.zeros(end - start, n, dtype=torch.float64, device=adjacency.device)
    rows = adjacency.index_select(0, torch.arange(start, end, device=adjacency.device))
    # A symmetric: rows · A = (A · rowsᵀ)ᵀ, a sparse-dense product (the block is dense anyway)
    return torch.sparse.mm(adjacency, rows.to_dense().t()).t()


def neighbour_mean(edge_index: Tensor, num_nodes: int) -> Tensor:
    r"""The neighbour-mean operator of one snapshot graph: the sparse ``(N, N)`` matrix ``P``
    with ``(P x)_v = \frac{1}{|N(v)|} \sum_{u ∈ N(v)} x_u``, ``N(v)`` the neighbours of ``v``
    in either direction (self-loops left out, each neighbour once, edge weights not used); rows
    of nodes with no neighbour are zero. With it the feature mean's lags gain the spatial lags of
    a space-time autoregression (STAR; Pfeifer & Deutsch, Technometrics 1980)."""
    n = int(num_nodes)
    ei = edge_index[:2].long()
    ei = ei[:, ei[0] != ei[1]]
    ei = torch.cat([ei, ei.flip(0)], 1)
    key = torch.unique(ei[0] * n + ei[1])
    row, col = key // n, key % n
    deg = torch.bincount(row, minlength=n).clamp_min(1).to(torch.float32)
    return torch.sparse_coo_tensor(torch.stack([row, col]), 1.0 / deg[row], (n, n),
                                   check_invariants=False, is_coalesced=True)
