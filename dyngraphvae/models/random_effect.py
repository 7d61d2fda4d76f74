r"""The random intercept of a snapshot's edges: per-snapshot offsets and their scale.

A snapshot effect makes the edges of snapshot ``s`` ``Bernoulli(σ(ℓ_uv + δ_s))`` with one
``δ_s ~ N(b, τ²)`` shared by all its pairs (a generalised linear mixed model's random intercept),
so that the number of edges swings from snapshot to snapshot as real activity does, instead of
the near-binomial spread of independent pairs. ``L_s(δ) = log p(A_s | ℓ_s + δ)`` is concave with
curvature ``c_s = Σ_uv π(1 − π)``; with hundreds of edges per snapshot it is close to quadratic,
and Laplace's method gives

.. math::
    \log \int p(A_s \mid ℓ_s + δ)\, N(δ; b, τ^2)\, dδ
    ≈ L_s(\hat δ_s) + \tfrac12 \log(2π / c_s) + \log N(\hat δ_s; b, τ^2 + 1/c_s),

with ``δ̂_s`` the snapshot's own best offset (:func:`offset_estimates`). So ``(b, τ)`` is the
maximum-likelihood random-effects fit of the estimates ``δ̂_s`` with variances ``1 / c_s``
(:func:`random_effect_fit`; the model of DerSimonian & Laird, "Meta-analysis in clinical
trials", 1986). Used by the trained effect (:mod:`dyngraphvae.training.snapshot_effect`) and by
the per-origin refit's (:mod:`dyngraphvae.models.refit`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from dyngraphvae.models.context import normal_quadrature

__all__ = ["matched_centre", "offset_estimates", "random_effect_fit"]


def offset_estimates(logits: list[Tensor], labels: list[Tensor], weights: list[Tensor],
                     iters: int = 50) -> tuple[Tensor, Tensor]:
    """Per snapshot, ``δ̂ = argmax_δ Σ w [y (ℓ + δ) − softplus(ℓ + δ)]`` (the offset whose
    expected count is the observed one: :func:`matched_centre` with no spread) and the curvature
    ``c = Σ w σ(ℓ + δ̂)(1 − σ(ℓ + δ̂))`` there: two ``(T,)`` tensors."""
    d_hat, curv = [], []
    for lg, y, w in zip(logits, labels, weights, strict=True):
        lg, w = lg.double(), w.double()
        d = torch.tensor(matched_centre(lg, y, w, 0.0, iters=iters, tol=1e-10),
                         dtype=torch.float64)
        p = torch.sigmoid(lg + d)
        d_hat.append(d)
        curv.append((w * p * (1 - p)).sum())
    return torch.stack(d_hat), torch.stack(curv)


def random_effect_fit(estimates: Tensor, variances: Tensor, max_scale: float = 5.0,
                      grid: int = 5001) -> tuple[float, float]:
    """``(b, τ)`` maximising ``Σ_s log N(δ̂_s; b, τ² + v_s)`` (``b`` profiled out as the
    precision-weighted mean; ``τ`` on a grid of ``[0, max_scale]``)."""
    e, v = estimates.double(), variances.double()
    tau = torch.linspace(0.0, float(max_scale), int(grid), dtype=torch.float64)
    var = tau.pow(2).unsqueeze(1) + v  # (G, T)
    prec = 1.0 / var
    b = (prec * e).sum(1) / prec.sum(1)
    ll = -0.5 * (var.log() + (e - b.unsqueeze(1)).pow(2) * prec).sum(1)
    i = int(ll.argmax())
    return float(b[i]), float(tau[i])


def matched_centre(logits: Tensor, labels: Tensor, weights: Tensor, scale: float,
                   nodes: int = 20, iters: int = 60, tol: float = 1e-12) -> float:
    r"""The centre ``b`` at which a random intercept ``δ ~ N(0, scale²)`` keeps the expected
    number of edges of the rows:

    .. math::
        \sum_i w_i\, E_δ\, σ(ℓ_i + b + δ) = \sum_i w_i y_i,

    by Newton's method on Gauss–Hermite quadrature (the left side rises with ``b``; steps are
    clipped to ±2, and stop below ``tol``). With ``scale = 0`` it is the intercept score equation
    of a logistic fit (no quadrature). Why: the fit's ``b`` centres the log-offsets, and
    ``E σ(ℓ + b + δ)`` exceeds ``σ(ℓ + b)`` where edges are rare (Jensen), so the mean count
    drifts up with the scale whenever the offsets are skewed."""
    lg, y, w = logits.double(), labels.double(), weights.double()
    target = float((w * y).sum())
    if float(scale) > 0:
        d, q = normal_quadrature(float(scale), nodes, lg)
    else:
        d, q = lg.new_zeros(1), lg.new_ones(1)
    b = 0.0
    for _ in range(int(iters)):
        p = torch.sigmoid(lg.unsqueeze(-1) + b + d)
        f = float((w * (p * q).sum(-1)).sum()) - target
        h = float((w * (p * (1 - p) * q).sum(-1)).sum())
        step = max(-2.0, min(2.0, f / max(h, 1e-12)))
        b -= step
        if abs(step) < tol:
            break
    return b
