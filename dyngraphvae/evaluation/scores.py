r"""Forecast scores for node features: point errors and proper scoring rules, in torch.

Orientation: every score here is *negatively* oriented (lower is better) except
:func:`interval_coverage`, which returns hit indicators whose mean is the empirical coverage.
All functions are element-wise over the (broadcast) observation shape, so a caller averages over
nodes, features or horizons as it needs; sample dimensions and event dimensions are reduced.
Argument order is observation first, as in ``scoringrules``.

References:
    Gneiting & Raftery (2007), "Strictly proper scoring rules, prediction, and estimation",
    JASA 102(477) — CRPS, energy score, log score, interval scores.
    Ferro (2014), "Fair scores for ensemble forecasts", QJRMS 140 — the "fair" ensemble CRPS.
    Zamo & Naveau (2018), "Estimation of the CRPS for ensemble forecasts", Math. Geosci. 50 —
    the "nrg" (energy-form) and "fair" estimators and the sorted O(M log M) computation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "crps_ensemble",
    "crps_gaussian",
    "energy_score",
    "gaussian_log_score",
    "interval_coverage",
    "interval_coverage_gaussian",
    "mae",
    "mse",
]

_ESTIMATORS = ("nrg", "fair")


def _check_finite(x: Tensor, name: str, what: str) -> None:
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: {what} contains NaN or infinite values")


def mse(prediction: Tensor, target: Tensor, dim: int | tuple[int, ...] | None = None) -> Tensor:
    r"""Mean squared error :math:`\mathrm{mean}\,(\hat x - x)^2` over ``dim`` (all if ``None``)."""
    if prediction.shape != target.shape:
        raise ValueError(
            f"mse: prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ"
        )
    d = (prediction - target).pow(2)
    return d.mean() if dim is None else d.mean(dim)


def mae(prediction: Tensor, target: Tensor, dim: int | tuple[int, ...] | None = None) -> Tensor:
    r"""Mean absolute error :math:`\mathrm{mean}\,|\hat x - x|` over ``dim`` (all if ``None``)."""
    if prediction.shape != target.shape:
        raise ValueError(
            f"mae: prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ"
        )
    d = (prediction - target).abs()
    return d.mean() if dim is None else d.mean(dim)


def crps_gaussian(obs: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    r"""Closed-form CRPS of a Normal forecast (Gneiting & Raftery 2007, eq. 21).

    .. math::
        \mathrm{CRPS}(\mathcal N(\mu,\sigma^2), y)
        = \sigma\Big[\omega\,(2\Phi(\omega) - 1) + 2\varphi(\omega) - \tfrac{1}{\sqrt\pi}\Big],
        \qquad \omega = \frac{y - \mu}{\sigma}.

    Equals ``properscoring.crps_gaussian(y, mu, sig)``. Anchor:
    CRPS(N(0, 1.3²), 0.7) = 0.450643.

    Args:
        obs, mean, std: broadcastable tensors; ``std > 0``.

    Returns:
        Element-wise CRPS of the broadcast shape.
    """
    if (std <= 0).any():
        raise ValueError("crps_gaussian: std must be positive")
    w = (obs - mean) / std
    cdf = torch.special.ndtr(w)
    pdf = torch.exp(-0.5 * w * w) / math.sqrt(2 * math.pi)
    return std * (w * (2 * cdf - 1) + 2 * pdf - 1 / math.sqrt(math.pi))


def crps_ensemble(
    obs: Tensor, samples: Tensor, *, dim: int = 0, estimator: str = "nrg"
) -> Tensor:
    r"""CRPS of an ensemble / sample forecast, in :math:`O(M \log M)` by sorting.

    .. math::
        \mathrm{CRPS}_{\rm nrg} = \frac1M\sum_m |x_m - y| - \frac1{2M^2}\sum_{m,j}|x_m - x_j|,
        \qquad
        \mathrm{CRPS}_{\rm fair} = \frac1M\sum_m |x_m - y| - \frac1{2M(M-1)}\sum_{m,j}|x_m - x_j|.

    "nrg" is the CRPS of the empirical CDF (``properscoring.crps_ensemble``); it overstates the
    CRPS of the forecast law by :math:`\mathbb E|X-X'|/(2M)`. "fair" (Ferro 2014) is unbiased for
    the CRPS of the law the samples are drawn from. The pair sum uses the order statistics
    :math:`x_{(1)}\le\dots\le x_{(M)}`:
    :math:`\sum_{m,j}|x_m - x_j| = 2\sum_{i=1}^M (2i - M - 1)\,x_{(i)}`.

    Args:
        obs: observations, broadcastable with ``samples`` once ``dim`` is removed.
        samples: forecast samples with ``M`` members along ``dim`` (default 0, the sample axis
            of :class:`Forecast` tensors such as ``x (S, H, N, F)``).
        dim: the member dimension of ``samples``.
        estimator: ``"nrg"`` or ``"fair"`` (needs ``M >= 2``).

    Returns:
        Element-wise CRPS with the shape of ``samples`` without ``dim``, broadcast with ``obs``.
    """
    if estimator not in _ESTIMATORS:
        raise ValueError(
            f"crps_ensemble: estimator must be one of {_ESTIMATORS}, got {estimator!r}"
        )
    x = samples.movedim(dim, -1)
    M = x.size(-1)
    if M < 1 or (estimator == "fair" and M < 2):
        raise ValueError(f"crps_ensemble: estimator {estimator!r} needs more members, got M={M}")
    _check_finite(x, "crps_ensemble", "samples")
    _check_finite(obs, "crps_ensemble", "obs")
    abs_err = (x - obs.unsqueeze(-1)).abs().mean(-1)
    xs = x.sort(dim=-1).values
    i = torch.arange(1, M + 1, device=x.device, dtype=x.dtype)
    pair_sum = 2 * ((2 * i - M - 1) * xs).sum(-1)  # sum_{m,j} |x_m - x_j|
    denom = 2 * M * M if estimator == "nrg" else 2 * M * (M - 1)
    return abs_err - pair_sum / denom


def energy_score(
    obs: Tensor,
    samples: Tensor,
    *,
    sample_dim: int = 0,
    event_dim: int = -1,
    estimator: str = "nrg",
) -> Tensor:
    r"""Energy score of a multivariate sample forecast (Gneiting & Raftery 2007, eq. 22, β=1).

    .. math::
        \mathrm{ES}_{\rm nrg} = \frac1M\sum_m \|x_m - y\| - \frac1{2M^2}\sum_{m,j}\|x_m - x_j\|,

    and "fair" with :math:`1/(2M(M-1))`; the Euclidean norm runs over ``event_dim``. For a 1-D
    event it reduces to :func:`crps_ensemble`. The pair term costs :math:`O(M^2 D)` per element
    (``torch.cdist``).

    Args:
        obs: ``(..., D)`` observation (``event_dim`` must index the same axis as in ``samples``
            once ``sample_dim`` is removed).
        samples: forecast samples with ``M`` members along ``sample_dim``.
        sample_dim: member dimension of ``samples`` (default 0).
        event_dim: vector dimension of ``obs`` (default -1).
        estimator: ``"nrg"`` or ``"fair"``.

    Returns:
        Element-wise ES over the batch shape (``obs`` without ``event_dim``).
    """
    if estimator not in _ESTIMATORS:
        raise ValueError(
            f"energy_score: estimator must be one of {_ESTIMATORS}, got {estimator!r}"
        )
    x = samples.movedim(sample_dim, 0)  # (M, ..., D, ...)
    M = x.size(0)
    if M < 1 or (estimator == "fair" and M < 2):
        raise ValueError(f"energy_score: estimator {estimator!r} needs more members, got M={M}")
    _check_finite(x, "energy_score", "samples")
    _check_finite(obs, "energy_score", "obs")
    if x.dim() - 1 != obs.dim():
        raise ValueError(
            f"energy_score: samples {tuple(samples.shape)} without sample_dim must have the rank "
            f"of obs {tuple(obs.shape)}"
        )
    ed = event_dim % obs.dim()
    y = obs.movedim(ed, -1)  # (..., D)
    x = x.movedim(ed + 1, -1)  # (M, ..., D)
    x, y = torch.broadcast_tensors(x, y.unsqueeze(0))
    y = y[0]
    term1 = (x - y).norm(dim=-1).mean(0)  # (...)
    xb = x.movedim(0, -2)  # (..., M, D)
    batch = xb.shape[:-2]
    xb = xb.reshape(-1, M, xb.size(-1))
    pair_sum = torch.cdist(xb, xb, p=2.0).sum((-1, -2)).reshape(batch)
    denom = 2 * M * M if estimator == "nrg" else 2 * M * (M - 1)
    return term1 - pair_sum / denom


def gaussian_log_score(obs: Tensor, mean: Tensor, std: Tensor) -> Tensor:
    r"""Log score (negative log density) of a Normal forecast, lower is better.

    .. math::
        \mathrm{LS} = -\log \mathcal N(y;\mu,\sigma^2)
        = \tfrac12\log(2\pi\sigma^2) + \frac{(y-\mu)^2}{2\sigma^2}.

    Equals ``-torch.distributions.Normal(mean, std).log_prob(obs)`` and
    ``-scipy.stats.norm.logpdf``.
    """
    if (std <= 0).any():
        raise ValueError("gaussian_log_score: std must be positive")
    z = (obs - mean) / std
    return 0.5 * z * z + torch.log(std) + 0.5 * math.log(2 * math.pi)


def _check_level(level: float, name: str) -> None:
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"{name}: level must lie in (0, 1), got {level!r}")


def interval_coverage(
    obs: Tensor, samples: Tensor, level: float = 0.9, *, dim: int = 0
) -> Tensor:
    r"""Hit indicator of the central ``level`` interval estimated from samples.

    The interval is :math:`[\hat q_{(1-\alpha)/2}, \hat q_{(1+\alpha)/2}]` with sample quantiles
    by linear interpolation between order statistics (``torch.quantile``, numpy's default,
    "type 7"); bounds are inclusive. The mean of the returned indicators is the empirical
    coverage, to compare with ``level`` (calibration).

    Args:
        obs: observations, broadcastable with ``samples`` without ``dim``.
        samples: ``M`` samples along ``dim``.
        level: nominal coverage :math:`\alpha \in (0, 1)`.

    Returns:
        Float 0/1 tensor of the broadcast shape.
    """
    _check_level(level, "interval_coverage")
    _check_finite(samples, "interval_coverage", "samples")
    q = torch.tensor(
        [(1 - level) / 2, (1 + level) / 2], dtype=samples.dtype, device=samples.device
    )
    lo_hi = torch.quantile(samples, q, dim=dim)
    lo, hi = lo_hi[0], lo_hi[1]
    return ((obs >= lo) & (obs <= hi)).to(samples.dtype)


def interval_coverage_gaussian(
    obs: Tensor, mean: Tensor, std: Tensor, level: float = 0.9
) -> Tensor:
    r"""Hit indicator of the central ``level`` interval :math:`\mu \pm z\,\sigma` of a Normal.

    :math:`z = \Phi^{-1}((1+\alpha)/2)` (1.6449 for α = 0.9). Returns a float 0/1 tensor.
    """
    _check_level(level, "interval_coverage_gaussian")
    if (std < 0).any():
        raise ValueError("interval_coverage_gaussian: std must be non-negative")
    z = torch.special.ndtri(torch.tensor((1 + level) / 2, dtype=torch.float64)).item()
    dtype = torch.result_type(obs, mean)
    return ((obs - mean).abs() <= z * std).to(dtype if dtype.is_floating_point else torch.float32)
