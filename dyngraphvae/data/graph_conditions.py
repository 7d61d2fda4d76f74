r"""Graph conditions for the graph CVAE: balanced SBM graphs with a requested number of
communities ``k`` and density ``ρ`` (:func:`sbm_condition_dataset`), the spectral estimator of
``k`` (:func:`estimate_num_communities`), and the ``(G_{s+1}, G_s)`` transition pairs of a temporal
graph (:func:`transition_pairs`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.data import Data

__all__ = [
    "SBMConditionData",
    "estimate_num_communities",
    "sbm_condition_dataset",
    "sbm_probabilities",
    "transition_pairs",
]


# --------------------------------------------------------------------------------------------------
# SBM data with requested (k, density), community estimator
# --------------------------------------------------------------------------------------------------
def sbm_probabilities(num_communities: int, density: float, num_nodes: int, ratio: float = 15.0):
    r"""``(p_in, p_out)`` of a balanced SBM with expected density ``ρ`` and ``p_in / p_out = r``.

    With block sizes ``n_c`` (balanced, ``N mod k`` blocks one larger), ``W = Σ_c n_c(n_c−1)/2``
    within-block pairs out of ``M = N(N−1)/2``: ``ρ M = p_in W + p_out (M − W)``, so
    ``p_in = ρ M / (W + (M − W)/r)``. Raises if ``p_in > 1`` (density infeasible for ``k``).
    """
    k, n = int(num_communities), int(num_nodes)
    if not 1 <= k <= n:
        raise ValueError(f"sbm_probabilities: num_communities must lie in [1, {n}], got {k}")
    if not 0 < density < 1 or ratio < 1:
        raise ValueError("sbm_probabilities: need 0 < density < 1 and ratio >= 1")
    sizes = torch.full((k,), n // k, dtype=torch.float64)
    sizes[: n % k] += 1
    w = float((sizes * (sizes - 1) / 2).sum())
    m = n * (n - 1) / 2
    p_in = density * m / (w + (m - w) / ratio)
    if p_in > 1:
        raise ValueError(
            f"sbm_probabilities: density {density} is infeasible with k={k}, ratio={ratio} "
            f"(p_in = {p_in:.3f} > 1)"
        )
    return p_in, p_in / ratio


@dataclass
class SBMConditionData:
    """Static SBM graphs with their requested condition ``y = [k, ρ]`` and block labels."""

    graphs: list[Data]
    condition: Tensor  # (B, 2) float: [k, density]
    labels: Tensor  # (B, N) long

    def __len__(self) -> int:
        return len(self.graphs)


def sbm_condition_dataset(
    num_graphs: int,
    num_nodes: int = 80,
    communities: Sequence[int] = (2, 3, 4, 5),
    density_range: tuple[float, float] = (0.12, 0.24),
    ratio: float = 15.0,
    seed: int = 0,
) -> SBMConditionData:
    """``num_graphs`` balanced SBMs, ``k`` uniform in ``communities``, ``ρ`` uniform in
    ``density_range``, ``(p_in, p_out)`` from :func:`sbm_probabilities`; labels are a random
    permutation of ``v mod k`` (so node ids carry no block information)."""
    g = torch.Generator().manual_seed(seed)
    pick = torch.randint(len(communities), (num_graphs,), generator=g)
    ks = torch.tensor(list(communities))[pick]
    lo, hi = density_range
    rho = lo + (hi - lo) * torch.rand(num_graphs, generator=g, dtype=torch.float64)
    n = int(num_nodes)
    iu = torch.triu_indices(n, n, offset=1)
    graphs, labels = [], []
    for k, r in zip(ks.tolist(), rho.tolist(), strict=True):  # data generation, not a hot path
        p_in, p_out = sbm_probabilities(k, r, n, ratio)
        lab = torch.randperm(n, generator=g) % k
        same = lab[iu[0]] == lab[iu[1]]
        prob = torch.where(same, p_in, p_out)
        hit = torch.rand(prob.shape, generator=g, dtype=torch.float64) < prob
        e = iu[:, hit]
        graphs.append(Data(edge_index=torch.cat([e, e.flip(0)], 1), num_nodes=n))
        labels.append(lab)
    cond = torch.stack([ks.to(torch.float32), rho.to(torch.float32)], dim=1)
    return SBMConditionData(graphs, cond, torch.stack(labels))


def estimate_num_communities(adjacency: Tensor, margin: float = 1.0) -> Tensor:
    r"""Number of communities of undirected graphs ``(..., N, N)`` by a spectral count, ``(...)``.

    Eigenvalues ``λ_1 = 1 ≥ λ_2 ≥ …`` of the normalised adjacency ``D^{-1/2} A D^{-1/2}``
    (isolated nodes get degree 1). For an Erdős–Rényi graph with density ``ρ`` the bulk of the
    spectrum lies within ``τ = 2 √((1 − ρ) / ((N − 1) ρ))`` (semicircle edge); an SBM with ``k``
    detectable blocks has ``k − 1`` informative eigenvalues above it. Estimate::

        k̂ = 1 + #{i ≥ 2 : λ_i > margin · τ}

    Validated on true SBM samples in the tests and in ``docs/graph_cvae.md``.
    """
    if adjacency.dim() < 2 or adjacency.size(-1) != adjacency.size(-2):
        raise ValueError(f"adjacency must have shape (..., N, N), got {tuple(adjacency.shape)}")
    a = adjacency.to(torch.float64)
    if not torch.equal(a, a.transpose(-1, -2)):
        raise ValueError("estimate_num_communities: adjacency must be symmetric (undirected)")
    n = a.size(-1)
    a = a * (1 - torch.eye(n, dtype=a.dtype, device=a.device))
    deg = a.sum(-1)
    rho = (deg.sum(-1) / (n * (n - 1))).clamp(min=1.0 / (n * (n - 1)), max=1 - 1e-9)
    inv = deg.clamp(min=1.0).rsqrt()
    lam = torch.linalg.eigvalsh(inv[..., :, None] * a * inv[..., None, :])  # ascending
    tau = 2.0 * torch.sqrt((1 - rho) / ((n - 1) * rho))
    return 1 + (lam[..., :-1] > margin * tau[..., None]).sum(-1)


# --------------------------------------------------------------------------------------------------
# training loop and transitions
# --------------------------------------------------------------------------------------------------
def transition_pairs(graph) -> tuple[list[Data], list[Data]]:
    """``(targets, conditions)`` of a :class:`~dyngraphvae.data.TemporalGraph`: condition
    ``G_s`` (snapshot ``s``), target ``G_{s+1}`` for ``s = 0..T−2``."""
    if len(graph) < 2:
        raise ValueError("transition_pairs: need at least 2 snapshots")
    snaps = [graph[s] for s in range(len(graph))]
    for d in snaps:
        d.num_nodes = graph.num_nodes
    return snaps[1:], snaps[:-1]
