r"""Sampled futures as distributions: their edge counts and degree distributions against the truth.

A forecaster that samples graphs is judged on more than its pair probabilities: the number of
edges of its sampled snapshots should cover the true number as often as the interval claims, and
the sampled graphs' degree distributions should be as close to the true graph's as the last
observed graph's is (persistence, the baseline every sampler must beat). Used by the link
forecasting protocol (:mod:`dyngraphvae.experiments.links`) and by ``dyngraphvae evaluate``
(:mod:`dyngraphvae.report`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["future_stats", "without_loops"]


def without_loops(edges: Tensor) -> Tensor:
    """The pairs of a snapshot's edges ``(2, E)`` (stored once each by ``TemporalGraph``)
    without its self-loops, which no forecast samples."""
    return edges[:, edges[0] != edges[1]]


def future_stats(sampled: Tensor, k: int, graph: Any, origin: int, num_samples: int,
                 level: float = 0.9) -> dict[str, tuple[float, float | None]]:
    r"""The sampled futures of one origin at step ``k`` against the truth ``G_{origin + k}``.

    ``sampled``: ``(4, E)`` rows ``(sample, step, u, v)`` (``Forecast.sampled_edges``). Returns
    ``{metric: (model, persistence)}``: whether the central ``level`` interval of the ``S``
    sampled edge counts covers the true count (``count_cover``, 0 or 100; no persistence
    value), the ratio of the mean sampled count to the true count (``count_ratio``; persistence:
    the last graph's), and the degree MMD² (GRAN's Gaussian-TV kernel, σ = 1) of the sampled
    graphs to the true graph (``mmd_degree``; persistence: of ``G_{origin − 1}``)."""
    from dyngraphvae.evaluation.graph_stats import graph_mmd
    from dyngraphvae.evaluation.scores import interval_coverage

    n, t = graph.num_nodes, origin + k
    truth = without_loops(graph.edges(t).cpu())
    last = without_loops(graph.edges(origin - 1).cpu())
    sampled = sampled.cpu()
    at_k = sampled[:, sampled[1] == k]
    counts = torch.bincount(at_k[0], minlength=num_samples).double()
    cover = 100 * float(interval_coverage(torch.tensor(float(truth.size(1))), counts, level))
    true_count = max(truth.size(1), 1)
    graphs = [(at_k[2:, at_k[0] == s], n) for s in range(num_samples)]
    return {"count_cover": (cover, None),
            "count_ratio": (float(counts.mean()) / true_count, last.size(1) / true_count),
            "mmd_degree": (graph_mmd([(truth, n)], graphs).value,
                           graph_mmd([(truth, n)], [(last, n)]).value)}
