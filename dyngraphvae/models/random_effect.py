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

The node effects (sender / receiver intercepts, ``ForecasterConfig.node_effect``) are fitted the
same way on the rows and columns of each snapshot (:class:`RowStatistics`,
:func:`node_effect_fit`, :func:`node_correlation_fit`; :mod:`dyngraphvae.training.node_effect`),
and the Gauss–Hermite helpers that integrate any of these intercepts out of a pair's probability
live here (:func:`normal_quadrature`, :func:`expected_sigmoid`, :func:`marginal_logit`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "RowStatistics", "expected_sigmoid", "level_fit", "level_forecast", "marginal_logit",
    "matched_centre", "node_centre", "node_correlation_fit", "node_effect_fit",
    "node_log_likelihood", "normal_quadrature", "offset_estimates", "random_effect_fit",
    "row_log_likelihood", "row_statistics",
]


def marginal_logit(logits: Tensor, var: float, given: float = 0.0, step: float = 0.05,
                   span: float = 60.0) -> Tensor:
    r"""``m(ℓ)`` with ``E σ(m(ℓ) + ε + η) = E σ(ℓ + η)``, ``ε ~ N(0, var)``, ``η ~ N(0, given)``:
    the logit that keeps a pair's probability when a random intercept of variance ``var`` (the
    node effects) is added to it, beside an intercept ``η`` it already has (a snapshot effect;
    ``given = 0``: ``E σ(m(ℓ) + ε) = σ(ℓ)``). So the node effects reshape which pairs occur
    together, not how often each does. ``m`` is tabulated once per ``(var, given)`` on a uniform
    grid of ``ℓ`` (:func:`_marginal_table`) and interpolated linearly; beyond the grid
    ``m(ℓ) = ℓ ∓ var / 2`` (``E e^{x + ε} = e^{x + var/2}``). For rare pairs
    ``m(ℓ) ≈ ℓ − var / 2``, the centre that keeps the expected count."""
    if var <= 0:
        return logits
    table = _marginal_table(float(var), max(float(given), 0.0), float(step), float(span))
    table = table.to(device=logits.device, dtype=logits.dtype)
    slope = table.diff()
    x = logits.detach()
    inside = x.clamp(-span, span)
    pos = (inside + span).mul_(1.0 / step).clamp_(0, table.numel() - 1.0001)
    i = pos.long()
    # linear in the cell; beyond the grid m has slope 1 (ℓ ∓ var / 2)
    return torch.addcmul(table[i], slope[i], pos.sub_(i)).add_(x - inside)


def _logit_mean_sigmoid(x: Tensor, var: float) -> Tensor:
    """``logit E σ(x + ε)``, ``ε ~ N(0, var)``, by Gauss–Hermite in log space (``x`` itself
    when ``var = 0``)."""
    if var <= 0:
        return x
    d, w = normal_quadrature(math.sqrt(var), 40, x)
    lw = w.log()
    lf = torch.logsumexp(lw + torch.nn.functional.logsigmoid(x.unsqueeze(1) + d), 1)
    lg = torch.logsumexp(lw + torch.nn.functional.logsigmoid(-x.unsqueeze(1) - d), 1)
    return lf - lg


@functools.lru_cache(maxsize=256)
def _marginal_table(var: float, given: float, step: float, span: float) -> Tensor:
    """``m`` on the uniform grid ``ℓ = −span, −span + step, …, span``: the target
    ``logit E σ(ℓ + η)`` and ``logit E σ(x + ε + η)`` on a grid of ``x`` (twice as fine), the
    latter inverted by linear interpolation (it increases with ``x``)."""
    ell = torch.arange(-span, span + step / 2, step, dtype=torch.float64)
    wide = var + given
    x = torch.arange(-span - wide, span + wide + step / 4, step / 2, dtype=torch.float64)
    table = _logit_mean_sigmoid(x, wide)
    target = _logit_mean_sigmoid(ell, given)
    k = torch.searchsorted(table, target).clamp(1, table.numel() - 1)
    lo, hi = table[k - 1], table[k]
    return x[k - 1] + ((target - lo) / (hi - lo)).clamp(0.0, 1.0) * (step / 2)


def normal_quadrature(scale: float, nodes: int = 20, like: Tensor | None = None
                      ) -> tuple[Tensor, Tensor]:
    r"""Gauss–Hermite points and weights of ``δ ~ N(0, scale²)``: ``E f(δ) ≈ Σ_j w_j f(δ_j)``
    with ``δ_j = √2 · scale · x_j`` and ``w_j = π^{-1/2} ω_j`` (dtype and device of ``like``)."""
    x, w = np.polynomial.hermite.hermgauss(int(nodes))
    kw = {} if like is None else {"dtype": like.dtype, "device": like.device}
    return (torch.as_tensor(math.sqrt(2.0) * float(scale) * x, **kw),
            torch.as_tensor(w / math.sqrt(math.pi), **kw))


def expected_sigmoid(logits: Tensor, scale: float, nodes: int = 20) -> Tensor:
    r"""``E[σ(ℓ + δ)]``, ``δ ~ N(0, scale²)``, by Gauss–Hermite quadrature
    (:func:`normal_quadrature`). The snapshot effect integrated out of a pair's probability (a
    Rao–Blackwellised predictive: the same mean as a drawn ``δ``, less noise)."""
    if scale <= 0:
        return torch.sigmoid(logits)
    d, w = normal_quadrature(scale, nodes, logits)
    return (torch.sigmoid(logits.unsqueeze(-1) + d) * w).sum(-1)


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


def _level_covariance(variances: Tensor, steps: Tensor, tau: Tensor, phi: Tensor) -> Tensor:
    """``τ² φ^{|s − r|} + diag(v)`` for every ``(τ, φ)`` pair of the broadcast grids."""
    lag = (steps.unsqueeze(1) - steps.unsqueeze(0)).abs()
    ar = phi.unsqueeze(-1).unsqueeze(-1).pow(lag)  # 0^0 = 1: the diagonal
    return tau.pow(2).unsqueeze(-1).unsqueeze(-1) * ar + torch.diag(variances)


def level_fit(estimates: Tensor, variances: Tensor, steps: Sequence[int],
              max_scale: float = 5.0, grid: int = 501, max_corr: float = 0.95
              ) -> tuple[float, float, float]:
    r"""``(b, τ, φ)`` of a snapshot effect that persists: the offsets ``δ_s`` of the snapshots
    ``steps`` are a stationary AR(1) with mean ``b``, variance ``τ²`` and lag-one correlation
    ``φ``, ``Cov(δ_s, δ_r) = τ² φ^{|s − r|}``, seen through the estimates ``δ̂_s = δ_s + e_s``,
    ``e_s ~ N(0, v_s)`` (:func:`offset_estimates`). Maximum likelihood of the Gaussian vector
    ``δ̂``, ``b`` profiled out by generalised least squares and ``(τ, φ)`` on a grid of
    ``[0, max_scale] × [0, max_corr]``. ``φ = 0`` is :func:`random_effect_fit`'s model. Real
    activity is persistent (a quiet week follows a quiet week): with ``φ > 0`` the latest
    snapshots say where the next one's level lies (:func:`level_forecast`)."""
    e, v = estimates.double(), variances.double()
    st = torch.as_tensor(list(steps), dtype=torch.float64)
    tau = torch.linspace(0.0, float(max_scale), int(grid), dtype=torch.float64)
    rhs = torch.stack([torch.ones_like(e), e], 1).expand(tau.numel(), -1, -1)
    best = (-math.inf, 0.0, 0.0, 0.0)
    for phi in torch.linspace(0.0, float(max_corr), round(max_corr / 0.05) + 1,
                              dtype=torch.float64):  # one τ grid at a time: memory G·n²
        chol = torch.linalg.cholesky(_level_covariance(v, st, tau, phi))  # (G, n, n)
        sol = torch.cholesky_solve(rhs, chol)  # Σ⁻¹ [1, δ̂]
        a11, a1e = sol[..., 0].sum(-1), (e * sol[..., 0]).sum(-1)
        b = a1e / a11
        quad = (e * sol[..., 1]).sum(-1) - 2 * b * a1e + b.pow(2) * a11
        ll = -0.5 * (2 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1) + quad)
        i = int(ll.argmax())
        if float(ll[i]) > best[0]:
            best = (float(ll[i]), float(b[i]), float(tau[i]), float(phi))
    return best[1], best[2], best[3]


def level_forecast(estimates: Tensor, variances: Tensor, steps: Sequence[int], b: float,
                   tau: float, phi: float, target: int) -> tuple[float, float]:
    r"""``(m, s)``: the offset of snapshot ``target`` given the estimates ``δ̂`` under the
    :func:`level_fit` model, ``δ_target | δ̂ ~ N(m, s²)`` (Gaussian conditioning, i.e. kriging:
    ``m = b + cᵀ Σ⁻¹ (δ̂ − b)``, ``s² = τ² − cᵀ Σ⁻¹ c``, ``c_s = τ² φ^{|target − s|}``). With
    ``φ = 0`` it is ``(b, τ)``; as ``target`` recedes, ``m → b`` and ``s → τ``."""
    e, v = estimates.double(), variances.double()
    st = torch.as_tensor(list(steps), dtype=torch.float64)
    cov = _level_covariance(v, st, torch.tensor(float(tau), dtype=torch.float64),
                            torch.tensor(float(phi), dtype=torch.float64))
    c = float(tau) ** 2 * float(phi) ** (float(target) - st).abs()
    w = torch.linalg.solve(cov, c)
    m = float(b) + float(w @ (e - float(b)))
    return m, math.sqrt(max(float(tau) ** 2 - float(w @ c), 0.0))


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


# --- node (sender / receiver) effects -------------------------------------------------------
#: logits below this are "rare": ``softplus(ℓ + a) ≈ e^{ℓ + a}`` and ``σ(ℓ + a) ≈ e^{ℓ + a}``
#: (relative error ``≈ e^{ℓ + a} / 2``, below 0.4 % wherever ``a < 4``).
RARE_LOGIT = -9.0
#: the offsets ``a`` at which a row's non-rare pairs are summed (linear interpolation between)
NODE_GRID = (-16.0, 16.0, 0.125)


def node_grid(dtype: torch.dtype = torch.float64) -> Tensor:
    lo, hi, step = NODE_GRID
    return torch.arange(lo, hi + step / 2, step, dtype=dtype)


@dataclass
class RowStatistics:
    r"""What the marginal likelihood of a node effect needs from the rows of a snapshot's
    logits ``ℓ (R, N)`` (one row per node: its out-pairs, or its in-pairs for the receiver):

    * ``degree (R,)``: ``d_u = Σ_v y_uv``;
    * ``rare (R,)``: ``r_u = Σ_{v: ℓ_uv < RARE_LOGIT} e^{ℓ_uv}``;
    * ``common (R, G)``: ``g_u(a_j) = Σ_{v: ℓ_uv ≥ RARE_LOGIT} softplus(ℓ_uv + a_j)`` on
      :func:`node_grid`;
    * ``slope (R, G)``: its derivative ``g_u'(a_j) = Σ_{v: ℓ_uv ≥ RARE_LOGIT} σ(ℓ_uv + a_j)``,
      the expected number of edges among the row's non-rare pairs.

    So ``Σ_v softplus(ℓ_uv + a) ≈ e^a r_u + g_u(a)`` (``g_u`` between grid points by cubic
    Hermite interpolation from its values and slopes) and the expected edge count of all rows
    is ``≈ e^a Σ_u r_u + Σ_u g_u'(a)``: exact but for the rare pairs' second order, and two
    ``(R, G)`` tables however many pairs a row has."""

    degree: Tensor
    rare: Tensor
    common: Tensor
    slope: Tensor

    @staticmethod
    def cat(parts: list[RowStatistics]) -> RowStatistics:
        return RowStatistics(torch.cat([p.degree for p in parts]),
                             torch.cat([p.rare for p in parts]),
                             torch.cat([p.common for p in parts]),
                             torch.cat([p.slope for p in parts]))


def row_statistics(logits: Tensor, labels: Tensor, chunk: int = 1 << 15) -> RowStatistics:
    """:class:`RowStatistics` of ``logits (R, N)`` (``-inf`` where a row has no pair, e.g. the
    diagonal) and 0/1 ``labels (R, N)``."""
    lg, y = logits.double(), labels.double()
    grid = node_grid()
    rare = lg < RARE_LOGIT
    r_sum = torch.where(rare, lg.exp(), torch.zeros_like(lg)).sum(1)
    rows, cols = (~rare).nonzero(as_tuple=True)
    common = torch.zeros(lg.size(0), grid.numel(), dtype=torch.float64)
    slope = torch.zeros_like(common)
    for i in range(0, rows.numel(), chunk):  # (C, G) in chunks of pairs
        r = rows[i:i + chunk]
        x = lg[r, cols[i:i + chunk]].unsqueeze(1) + grid
        common.index_add_(0, r, torch.nn.functional.softplus(x))
        slope.index_add_(0, r, torch.sigmoid(x))
    return RowStatistics(degree=y.sum(1), rare=r_sum, common=common, slope=slope)


def _interp(table: Tensor, a: Tensor, slope: Tensor | None = None) -> Tensor:
    """``table (..., G)`` (on :func:`node_grid`) at the points ``a (K,)`` (clamped to the
    grid): linear interpolation, or cubic Hermite with the derivatives ``slope (..., G)``;
    ``(..., K)``."""
    lo, hi, step = NODE_GRID
    pos = ((a.clamp(lo, hi) - lo) / step)
    i0 = pos.floor().long().clamp(0, table.size(-1) - 2)
    t = pos - i0
    f0, f1 = table[..., i0], table[..., i0 + 1]
    if slope is None:
        return f0 * (1 - t) + f1 * t
    t2, t3 = t * t, t * t * t
    return ((2 * t3 - 3 * t2 + 1) * f0 + (t3 - 2 * t2 + t) * step * slope[..., i0]
            + (3 * t2 - 2 * t3) * f1 + (t3 - t2) * step * slope[..., i0 + 1])


def node_centre(stats: RowStatistics, scale: float, nodes: int = 16) -> float:
    r"""The centre ``b`` at which a node effect ``a ~ N(b, scale²)`` keeps the rows' expected
    edge count at the observed one: ``Σ_u E_a Σ_v σ(ℓ_uv + a) = Σ_u d_u`` (bisection; the left
    side rises with ``b``). As :func:`matched_centre` for the snapshot effect: with rare edges
    ``E σ(ℓ + a) ≈ e^{b + scale²/2} σ(ℓ)``, so ``b ≈ −scale²/2`` when ``ℓ`` is calibrated."""
    d, q = normal_quadrature(float(scale), nodes, stats.rare)
    target, rare = float(stats.degree.sum()), float(stats.rare.sum())
    mean = stats.slope.sum(0)
    lo, hi = -20.0, 10.0
    for _ in range(80):
        b = 0.5 * (lo + hi)
        a = b + d
        count = float((q * (a.exp() * rare + _interp(mean, a))).sum())
        lo, hi = (b, hi) if count < target else (lo, b)
    return 0.5 * (lo + hi)


def row_log_likelihood(stats: RowStatistics, a: Tensor) -> Tensor:
    """``d_u a − Σ_v softplus(ℓ_uv + a)`` of every row at the offsets ``a`` (any shape):
    ``(R, *a.shape)``; the terms ``Σ_v y_uv ℓ_uv``, free of ``a``, left out."""
    flat = a.reshape(-1)
    ll = (stats.degree.unsqueeze(1) * flat - stats.rare.unsqueeze(1) * flat.exp()
          - _interp(stats.common, flat, stats.slope))
    return ll.reshape(-1, *a.shape)


def node_log_likelihood(stats: RowStatistics, centre: float, scale: float,
                        nodes: int = 32) -> float:
    r"""``Σ_u log ∫ exp(d_u a − Σ_v softplus(ℓ_uv + a)) N(a; b, scale²) da`` (Gauss–Hermite;
    :func:`row_log_likelihood`): the rows' marginal log-likelihood of a node effect, up to a
    constant."""
    d, q = normal_quadrature(float(scale), nodes, stats.rare)
    ll = row_log_likelihood(stats, centre + d)
    return float(torch.logsumexp(ll + q.log(), dim=1).sum())


def node_correlation_fit(rows: RowStatistics, cols: RowStatistics, out: tuple[float, float],
                         into: tuple[float, float], nodes: int = 20, grid: int = 39) -> float:
    r"""The correlation ``ρ`` of a node's sender and receiver intercepts, ``(a_u, c_u)`` bivariate
    normal with the margins ``out = (b_out, τ_out)`` and ``into = (b_in, τ_in)`` fitted on their
    own: ``ρ`` maximises ``Σ_u log ∫∫ L^{row}_u(a) L^{col}_u(c) N_2((a, c); b, Σ_ρ) da dc`` on a
    grid of ``[−0.95, 0.95]`` (product Gauss–Hermite; row ``u`` of ``rows`` and of ``cols`` must
    be the same node of the same snapshot). Given its own two intercepts a node's out-row and
    in-column are independent (every other pair reads another node's intercept), so the margins
    keep their expected counts whatever ``ρ``. Real senders often receive on the same day
    (replies): independent effects would spread a step's activity over too many nodes."""
    (b_o, t_o), (b_i, t_i) = out, into
    if t_o <= 0 or t_i <= 0:
        return 0.0
    x, w = normal_quadrature(1.0, nodes, rows.rare)  # points of N(0, 1)
    lr = row_log_likelihood(rows, b_o + t_o * x)  # (R, K)
    logw = w.log().unsqueeze(1) + w.log().unsqueeze(0)  # (K, K)
    best = (-math.inf, 0.0)
    for rho in torch.linspace(-0.95, 0.95, int(grid), dtype=torch.float64).tolist():
        c = b_i + t_i * (rho * x.unsqueeze(1) + math.sqrt(1 - rho * rho) * x.unsqueeze(0))
        ll = lr.unsqueeze(2) + row_log_likelihood(cols, c) + logw  # (R, K, K)
        total = float(torch.logsumexp(ll.flatten(1), dim=1).sum())
        if total > best[0]:
            best = (total, rho)
    return best[1]


def node_effect_fit(stats: RowStatistics, max_scale: float = 2.5, grid: int = 51
                    ) -> tuple[float, float]:
    r"""``(b, τ)`` of a node random intercept ``a_u ~ N(b, τ²)`` added to every logit of a
    row: ``τ`` maximises :func:`node_log_likelihood` on a grid of ``[0, max_scale]``, ``b`` at
    each ``τ`` the :func:`node_centre` (the rows' expected count kept). The rows are
    conditionally independent given their effects (a generalised linear mixed model with one
    random intercept per node and snapshot: the sender or receiver effect of the p2 model,
    van Duijn, Snijders & Zijlstra, "p2: a random effects model with covariates for directed
    graphs", Statistica Neerlandica 2004)."""
    best = (-math.inf, 0.0, 0.0)
    for tau in torch.linspace(0.0, float(max_scale), int(grid)).tolist():
        b = node_centre(stats, tau)
        ll = node_log_likelihood(stats, b, tau)
        if ll > best[0]:
            best = (ll, b, tau)
    return best[1], best[2]
