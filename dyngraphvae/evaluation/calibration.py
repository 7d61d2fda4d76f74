r"""Calibration of edge probabilities: the reliability diagram and the expected calibration error.

With equal-width bins :math:`B_1..B_M` of :math:`[0, 1]` and (optional) weights :math:`w_i`,

.. math::
    \mathrm{ECE} = \sum_m \frac{W_m}{W}\,\big|\bar y_m - \bar\pi_m\big|,\qquad
    \bar y_m = \frac{\sum_{i\in B_m} w_i y_i}{W_m},\quad
    \bar\pi_m = \frac{\sum_{i\in B_m} w_i \pi_i}{W_m},\quad W_m = \sum_{i\in B_m} w_i

(Naeini et al., "Obtaining Well Calibrated Probabilities Using Bayesian Binning", AAAI 2015;
Guo et al., "On Calibration of Modern Neural Networks", ICML 2017, eq. 3 with weights).

**Weights** make a stratified sample stand for the population it was drawn from: a forecast of
snapshot ``t`` scored on all its ``P`` edges and ``Q`` uniform non-edges out of ``M`` non-edges
stands for all pairs when each non-edge has weight ``M / Q`` and each edge weight 1
(:func:`pair_weights`). Without that weight the diagram describes a balanced set in which half
the pairs are edges, not the forecast's own question, and a calibrated model looks badly
under-confident.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = ["ReliabilityDiagram", "expected_calibration_error", "pair_weights",
           "reliability_diagram", "snapshot_ece"]


@dataclass(frozen=True)
class ReliabilityDiagram:
    """Per-bin mean probability, observed frequency and weight share (empty bins: ``nan``).

    Attributes:
        edges: ``(M + 1,)`` bin edges in ``[0, 1]``.
        confidence: ``(M,)`` weighted mean predicted probability :math:`\\bar\\pi_m`.
        frequency: ``(M,)`` weighted observed frequency :math:`\\bar y_m`.
        weight: ``(M,)`` share of the total weight :math:`W_m / W`.
        ece: the expected calibration error.
    """

    edges: Tensor
    confidence: Tensor
    frequency: Tensor
    weight: Tensor
    ece: float

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (v.tolist() if isinstance(v, Tensor) else v) for k, v in d.items()}


def reliability_diagram(probs: Tensor, labels: Tensor, *, num_bins: int = 15,
                        weights: Tensor | None = None) -> ReliabilityDiagram:
    """The reliability diagram of ``probs (P,)`` against ``labels (P,)`` (module docstring).

    Bins are ``[0, 1/M), [1/M, 2/M), …, [(M-1)/M, 1]`` (the last closed).

    Args:
        probs: predicted probabilities in ``[0, 1]``.
        labels: bool or 0/1 outcomes.
        num_bins: ``M >= 1``.
        weights: non-negative weights with a positive sum (default: all 1).
    """
    from dyngraphvae.evaluation.links import _check_probs

    if probs.dim() != 1:
        raise ValueError(f"reliability_diagram: probs must be 1-D, got {tuple(probs.shape)}")
    if isinstance(num_bins, bool) or int(num_bins) < 1:
        raise ValueError(f"reliability_diagram: num_bins must be >= 1, got {num_bins!r}")
    probs, y = _check_probs(probs.double(), labels, "reliability_diagram")
    if weights is None:
        w = torch.ones_like(probs)
    else:
        if weights.shape != probs.shape:
            raise ValueError(f"reliability_diagram: weights {tuple(weights.shape)} and probs "
                             f"{tuple(probs.shape)} differ in shape")
        w = weights.double()
        if not torch.isfinite(w).all() or (w < 0).any() or float(w.sum()) <= 0:
            raise ValueError("reliability_diagram: weights must be finite, non-negative and "
                             "have a positive sum")
    m = int(num_bins)
    idx = (probs * m).long().clamp_(0, m - 1)
    wm = torch.zeros(m, dtype=torch.float64).index_add_(0, idx, w)
    sp = torch.zeros(m, dtype=torch.float64).index_add_(0, idx, w * probs)
    sy = torch.zeros(m, dtype=torch.float64).index_add_(0, idx, w * y)
    total = wm.sum()
    ece = float(((sy - sp).abs()).sum() / total)  # Σ W_m/W |ȳ_m − π̄_m|
    nan = torch.full_like(wm, float("nan"))
    conf = torch.where(wm > 0, sp / wm.clamp_min(1e-300), nan)
    freq = torch.where(wm > 0, sy / wm.clamp_min(1e-300), nan)
    return ReliabilityDiagram(torch.linspace(0, 1, m + 1, dtype=torch.float64), conf, freq,
                              wm / total, ece)


def expected_calibration_error(probs: Tensor, labels: Tensor, *, num_bins: int = 15,
                               weights: Tensor | None = None) -> float:
    """The ECE of :func:`reliability_diagram` (module docstring); 0 is perfectly calibrated."""
    return reliability_diagram(probs, labels, num_bins=num_bins, weights=weights).ece


def pair_weights(num_positive: int, num_negative: int, num_non_edges: int) -> Tensor:
    """Weights of ``num_positive`` edges (1 each) followed by ``num_negative`` uniform non-edges
    that stand for ``num_non_edges`` (``num_non_edges / num_negative`` each)."""
    if num_negative < 1 or num_non_edges < num_negative or num_positive < 0:
        raise ValueError(f"pair_weights: need 1 <= num_negative <= num_non_edges and "
                         f"num_positive >= 0, got {num_positive}, {num_negative}, "
                         f"{num_non_edges}")
    return torch.cat([torch.ones(num_positive, dtype=torch.float64),
                      torch.full((num_negative,), num_non_edges / num_negative,
                                 dtype=torch.float64)])


def snapshot_ece(probs: Tensor, graph: Any, t: int, num_positive: int, num_negative: int) -> float:
    """The ECE over **all** pairs of snapshot ``t`` of ``graph`` from the probabilities of its
    ``num_positive`` edges followed by ``num_negative`` uniform non-edges (the first entries of
    ``probs``), the non-edges weighted by :func:`pair_weights` to stand for all of them."""
    from dyngraphvae.nn.adjacency import num_valid_pairs

    p, q = int(num_positive), int(num_negative)
    y = torch.cat([torch.ones(p), torch.zeros(q)]).bool()
    w = pair_weights(p, q, num_valid_pairs(graph.num_nodes, graph.directed) - graph.num_edges(t))
    return expected_calibration_error(probs[:p + q].double().cpu().clamp(0, 1), y, weights=w)
