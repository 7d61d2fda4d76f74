"""Posterior-collapse diagnostics for diagonal-Gaussian posteriors (all torch, batched).

Inputs are posterior parameters ``loc, scale`` of shape (..., d): every leading index is one
*datapoint* — (B, d) for a CVAE, (T, N, d) for the temporal graph forecaster where each (t, v) pair
(a node at a time step) is a datapoint. An optional boolean ``mask`` of shape (...) selects
datapoints
(e.g. present nodes). Everything is computed in float64 internally and returned in the input dtype.

Quantities (He, Spokoyny, Neubig, Berg-Kirkpatrick 2019, "Lagging Inference Networks and Posterior
Collapse in Variational Autoencoders", ICLR; Hoffman & Johnson 2016, "ELBO surgery"):

- KL per dimension: KL(N(μ, σ²) || N(μ_p, σ_p²)) = log(σ_p/σ) + (σ² + (μ − μ_p)²) / (2σ_p²) − ½.
- Active units (Burda et al. 2016; He et al. ``calc_au``): A_u = Var_x(E_{q(z|x)}[z_u]) with the
unbiased
  (N − 1) variance; unit u is active iff A_u >= δ (δ = 0.01).
- Mutual information I_q(x; z) under q(x, z) = p_data(x) q(z|x), minibatch estimator of He et al.
  (``calc_mi``): I ≈ E_i[E_q log q(z|x_i)] − E_i[log q(z_i)], one z_i ∼ q(z|x_i) per datapoint and
  log q(z_i) ≈ logsumexp_j log q(z_i|x_j) − log B. Biased, bounded by log B.
- Exact values on a finite set of N posteriors (aggregate posterior q(z) = (1/N) Σ_i q(z|x_i)):
  I_q = (1/N) Σ_i KL(q(z|x_i) || q(z)) and KL(q(z) || p(z)), by quadrature (d = 1) or Monte Carlo.
- ELBO surgery: E_x KL(q(z|x) || p(z)) = I_q(x; z) + KL(q(z) || p(z)).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor
from torch.distributions import Categorical, Distribution, Independent, MixtureSameFamily, Normal

__all__ = [
    "ActiveUnits",
    "CollapseDiagnostics",
    "ELBOSurgery",
    "active_units",
    "aggregate_kl",
    "aggregate_posterior",
    "as_datapoints",
    "collapse_diagnostics",
    "elbo_surgery",
    "exact_mutual_information",
    "kl_per_dimension",
    "mutual_information",
]

_LOG_2PI = math.log(2.0 * math.pi)
# entries of the (rows × cols × d) pairwise tensor materialised at once
_CHUNK_ELEMENTS = 1 << 22


# ------------------------------------------------------------------------------------------------
# input handling
# ------------------------------------------------------------------------------------------------
def as_datapoints(loc: Tensor, scale: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Flatten posteriors (..., d) to (M, d) datapoints, keeping the rows where ``mask`` is True.

    (T, N, d) forecaster posteriors become (T·N, d): every (t, v) pair is one datapoint.
    Raises ``ValueError`` naming the problem for mismatched shapes, non-finite values or scale <= 0.
    """
    if not isinstance(loc, Tensor) or not isinstance(scale, Tensor):
        raise TypeError("posterior loc and scale must be tensors")
    if loc.dim() < 1:
        raise ValueError("posterior loc must have shape (..., d), got a scalar")
    if loc.shape != scale.shape:
        raise ValueError(
            f"posterior loc and scale must have the same shape, got {tuple(loc.shape)} and "
            f"{tuple(scale.shape)}"
        )
    if not torch.isfinite(loc).all():
        raise ValueError("posterior loc contains non-finite values")
    if not torch.isfinite(scale).all() or (scale <= 0).any():
        raise ValueError("posterior scale must be finite and > 0 everywhere")
    d = loc.shape[-1]
    if mask is not None:
        if mask.shape != loc.shape[:-1]:
            raise ValueError(
                f"mask must have shape loc.shape[:-1]={tuple(loc.shape[:-1])}, got "
                f"{tuple(mask.shape)}"
            )
        mask = mask.to(device=loc.device, dtype=torch.bool)
        return loc[mask].reshape(-1, d), scale[mask].reshape(-1, d)
    return loc.reshape(-1, d), scale.reshape(-1, d)


def _prior_params(
    prior: Distribution | None, d: int, dtype: torch.dtype, device: torch.device
) -> tuple[Tensor, Tensor]:
    """(loc, scale) of a factorised Normal prior, broadcastable to (..., d). Default N(0, I)."""
    if prior is None:
        return torch.zeros(d, dtype=dtype, device=device), torch.ones(d, dtype=dtype, device=device)
    base = prior
    if isinstance(base, Independent):
        base = base.base_dist
    if not isinstance(base, Normal):
        raise TypeError(
            "prior must be None (N(0, I)), a torch.distributions.Normal or an Independent(Normal); "
            f"got {type(prior).__name__}"
        )
    return base.loc.to(dtype=dtype, device=device), base.scale.to(dtype=dtype, device=device)


# ------------------------------------------------------------------------------------------------
# KL and active units
# ------------------------------------------------------------------------------------------------
def kl_per_dimension(loc: Tensor, scale: Tensor, prior: Distribution | None = None) -> Tensor:
    """Element-wise KL(N(loc, scale²) || prior) in nats, shape (..., d).

    KL = log(σ_p/σ) + (σ² + (μ − μ_p)²) / (2σ_p²) − ½; with the default prior N(0, I) this is He et
    al.'s ½(μ² + σ² − log σ² − 1). ``prior`` may be a ``Normal`` / ``Independent(Normal)`` whose
    parameters broadcast against ``loc`` (e.g. a per-step transition prior of shape (T, N, d)).
    """
    as_datapoints(loc, scale)  # validation only
    mu_p, sd_p = _prior_params(prior, loc.shape[-1], torch.float64, loc.device)
    mu, sd = loc.double(), scale.double()
    try:
        ratio = sd / sd_p
        kl = -torch.log(ratio) + 0.5 * (ratio**2 + ((mu - mu_p) / sd_p) ** 2) - 0.5
    except RuntimeError as err:
        raise ValueError(
            f"prior parameters of shape {tuple(mu_p.shape)} do not broadcast against posterior "
            "shape "
            f"{tuple(loc.shape)}"
        ) from err
    return kl.to(loc.dtype)


@dataclass(frozen=True)
class ActiveUnits:
    """Active-unit statistic: ``count`` of units with ``variance`` >= ``threshold``."""

    count: int
    variance: Tensor  # (d,) unbiased variance over datapoints of the posterior means
    active: Tensor  # (d,) bool
    threshold: float


def active_units(loc: Tensor, threshold: float = 0.01, mask: Tensor | None = None) -> ActiveUnits:
    """Active units (Burda et al. 2016; He et al. 2019 ``calc_au``): A_u = Var_x(E_q[z_u]) >= δ.

    ``loc`` holds posterior means (..., d); leading indices are datapoints. Variance uses N − 1.
    """
    if not isinstance(loc, Tensor) or loc.dim() < 1:
        raise ValueError("active_units: loc must be a tensor of shape (..., d)")
    flat, _ = as_datapoints(loc, torch.ones_like(loc), mask)
    if flat.shape[0] < 2:
        raise ValueError(f"active_units needs at least 2 datapoints, got {flat.shape[0]}")
    var = flat.double().var(dim=0, unbiased=True)
    active = var >= threshold
    return ActiveUnits(int(active.sum()), var.to(loc.dtype), active, float(threshold))


# ------------------------------------------------------------------------------------------------
# mutual information: He et al. minibatch estimator
# ------------------------------------------------------------------------------------------------
def _pairwise_log_density(z: Tensor, mu: Tensor, sd: Tensor) -> Tensor:
    """log N(z_i | mu_j, diag sd_j²) summed over d, as an (n_z, n_comp) matrix, in row chunks."""
    n, m, d = z.shape[0], mu.shape[0], mu.shape[1]
    rows = max(1, _CHUNK_ELEMENTS // max(1, m * d))
    log_sd = torch.log(sd).sum(-1)  # (m,)
    out = []
    for a in range(0, n, rows):
        diff = (z[a : a + rows, None, :] - mu[None]) / sd[None]
        out.append(-0.5 * (diff**2).sum(-1) - log_sd[None] - 0.5 * d * _LOG_2PI)
    return torch.cat(out, 0)


def _batch_mi(mu: Tensor, sd: Tensor, generator: torch.Generator | None) -> Tensor:
    b, d = mu.shape
    neg_entropy = (-0.5 * d * _LOG_2PI - torch.log(sd).sum(-1) - 0.5 * d).mean()
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
    z = mu + sd * eps
    log_qz = torch.logsumexp(_pairwise_log_density(z, mu, sd), dim=1) - math.log(b)
    return neg_entropy - log_qz.mean()


def mutual_information(
    loc: Tensor,
    scale: Tensor,
    *,
    mask: Tensor | None = None,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """He et al. (2019) minibatch estimate of I_q(x; z) in nats.

    I ≈ (1/B) Σ_i E_{q(z|x_i)}[log q(z|x_i)] − (1/B) Σ_i log q̂(z_i),
    E_q log q(z|x) = −(d/2) log 2π − ½ Σ_k (1 + log σ_k²) (analytic), z_i ∼ q(z|x_i) (one sample
    each),
    q̂(z_i) = (1/B) Σ_j q(z_i|x_j). The datapoints are split into consecutive batches of
    ``batch_size``
    (all at once if None) and the batch estimates are averaged with weights ∝ batch size, as in
    ``calc_mi``. The estimate is biased and cannot exceed ≈ log B: compare values only at equal B.
    Memory is bounded by chunking the B × B pairwise densities.
    """
    mu, sd = as_datapoints(loc, scale, mask)
    n = mu.shape[0]
    if n < 2:
        raise ValueError(f"mutual_information needs at least 2 datapoints, got {n}")
    bs = n if batch_size is None else int(batch_size)
    if bs < 2:
        raise ValueError(f"mutual_information: batch_size must be >= 2, got {batch_size!r}")
    mu, sd = mu.double(), sd.double()
    total = torch.zeros((), dtype=torch.float64, device=mu.device)
    for a in range(0, n, bs):
        m, s = mu[a : a + bs], sd[a : a + bs]
        if m.shape[0] < 2:  # a trailing singleton batch carries no information about q(z)
            continue
        total = total + _batch_mi(m, s, generator) * m.shape[0]
    used = n if n % bs != 1 or n == 1 else n - 1
    return (total / used).to(loc.dtype)


# ------------------------------------------------------------------------------------------------
# exact quantities on a finite set of posteriors
# ------------------------------------------------------------------------------------------------
def aggregate_posterior(
    loc: Tensor, scale: Tensor, mask: Tensor | None = None
) -> MixtureSameFamily:
    """Aggregate posterior q(z) = (1/M) Σ_i N(z; μ_i, diag σ_i²) as a ``MixtureSameFamily``
    (event shape (d,)) over the M datapoints."""
    mu, sd = as_datapoints(loc, scale, mask)
    m = mu.shape[0]
    mix = Categorical(logits=torch.zeros(m, dtype=mu.dtype, device=mu.device))
    return MixtureSameFamily(mix, Independent(Normal(mu, sd), 1))


def _prior_log_prob(prior: Distribution | None, z: Tensor) -> Tensor:
    """log p(z) summed over the last dimension for z (..., d)."""
    d = z.shape[-1]
    if (
        prior is None
        or isinstance(prior, Normal)
        or (isinstance(prior, Independent) and isinstance(prior.base_dist, Normal))
    ):
        mu_p, sd_p = _prior_params(prior, d, z.dtype, z.device)
        return Normal(mu_p, sd_p).log_prob(z).sum(-1)
    lp = prior.log_prob(z)
    if lp.shape != z.shape[:-1]:
        raise ValueError(
            f"prior.log_prob must reduce the latent dimension: got shape {tuple(lp.shape)} for z "
            f"of shape {tuple(z.shape)} (use Independent(..., 1) for factorised priors)"
        )
    return lp


def _resolve_method(method: str, d: int) -> str:
    if method not in ("auto", "quadrature", "mc"):
        raise ValueError(f"method must be 'auto', 'quadrature' or 'mc', got {method!r}")
    if method == "auto":
        return "quadrature" if d == 1 else "mc"
    if method == "quadrature" and d != 1:
        raise ValueError(
            f"method='quadrature' is implemented for d = 1 only (got d = {d}); use 'mc'"
        )
    return method


def _quadrature_terms(
    mu: Tensor, sd: Tensor, prior: Distribution | None, points_per_scale: int, width: float
) -> tuple[Tensor, Tensor]:
    """(I_q, KL(q̄ || p)) for 1-D posteriors by the trapezoid rule on a uniform grid."""
    mu1, sd1 = mu[:, 0], sd[:, 0]
    lo = float((mu1 - width * sd1).min())
    hi = float((mu1 + width * sd1).max())
    if prior is not None:
        mu_p, sd_p = _prior_params(prior, 1, mu.dtype, mu.device)
        if mu_p.numel() == 1:  # Normal prior: cover it too (its mass matters for log p in tails)
            lo = min(lo, float(mu_p.min() - width * sd_p.max()))
            hi = max(hi, float(mu_p.max() + width * sd_p.max()))
    else:
        lo, hi = min(lo, -width), max(hi, width)
    h = float(sd1.min()) / points_per_scale
    g = int(math.ceil((hi - lo) / h)) + 1
    if g > 4_000_000:
        raise ValueError(
            f"quadrature grid of {g} points is too large (posterior scales span "
            f"{float(sd1.min()):.3g} "
            f"to a range of {hi - lo:.3g}); use method='mc'"
        )
    grid = torch.linspace(lo, hi, g, dtype=mu.dtype, device=mu.device)
    w = torch.full((g,), (hi - lo) / (g - 1), dtype=mu.dtype, device=mu.device)
    w[0] = w[-1] = w[0] / 2
    n = mu1.shape[0]
    log_q_agg = torch.full((g,), -math.inf, dtype=mu.dtype, device=mu.device)
    rows = max(1, _CHUNK_ELEMENTS // g)
    for a in range(0, n, rows):
        lq = Normal(mu1[a : a + rows, None], sd1[a : a + rows, None]).log_prob(grid[None])
        log_q_agg = torch.logaddexp(log_q_agg, torch.logsumexp(lq, 0))
    log_q_agg = log_q_agg - math.log(n)
    mi = torch.zeros((), dtype=mu.dtype, device=mu.device)
    for a in range(0, n, rows):
        lq = Normal(mu1[a : a + rows, None], sd1[a : a + rows, None]).log_prob(grid[None])
        mi = mi + (torch.exp(lq) * (lq - log_q_agg[None]) * w[None]).sum()
    mi = mi / n
    log_p = _prior_log_prob(prior, grid[:, None])
    kl_agg = (torch.exp(log_q_agg) * (log_q_agg - log_p) * w).sum()
    return mi, kl_agg


def _mc_terms(
    mu: Tensor,
    sd: Tensor,
    prior: Distribution | None,
    num_samples: int,
    generator: torch.Generator | None,
) -> tuple[Tensor, Tensor]:
    """(I_q, KL(q̄ || p)) by Monte Carlo with ``num_samples`` draws from every component."""
    n, d = mu.shape
    eps = torch.randn((num_samples, n, d), generator=generator, dtype=mu.dtype, device=mu.device)
    z = (mu[None] + sd[None] * eps).reshape(-1, d)
    log_own = Normal(mu[None], sd[None]).log_prob(z.reshape(num_samples, n, d)).sum(-1).reshape(-1)
    log_agg = torch.logsumexp(_pairwise_log_density(z, mu, sd), dim=1) - math.log(n)
    log_p = _prior_log_prob(prior, z)
    return (log_own - log_agg).mean(), (log_agg - log_p).mean()


def _aggregate_terms(
    mu: Tensor,
    sd: Tensor,
    prior: Distribution | None,
    method: str,
    points_per_scale: int,
    width: float,
    num_samples: int,
    generator: torch.Generator | None,
) -> tuple[Tensor, Tensor, str]:
    """(I_q, KL(q̄ || p), method used) by quadrature (d = 1) or Monte Carlo."""
    how = _resolve_method(method, mu.shape[1])
    if how == "quadrature":
        mi, kl = _quadrature_terms(mu, sd, prior, points_per_scale, width)
    else:
        mi, kl = _mc_terms(mu, sd, prior, num_samples, generator)
    return mi, kl, how


def exact_mutual_information(
    loc: Tensor,
    scale: Tensor,
    *,
    mask: Tensor | None = None,
    method: str = "auto",
    points_per_scale: int = 200,
    width: float = 12.0,
    num_samples: int = 2000,
    generator: torch.Generator | None = None,
) -> Tensor:
    """I_q(x; z) for a finite dataset of M posteriors with uniform weights (no minibatch bias).

    I_q = (1/M) Σ_i ∫ q_i(z) log(q_i(z) / q̄(z)) dz,  q̄ = (1/M) Σ_j q_j,  0 <= I_q <= log M.
    ``method="quadrature"`` (d = 1; trapezoid rule on a grid of spacing min σ / ``points_per_scale``
    spanning ``width`` standard deviations) or ``"mc"`` (``num_samples`` draws per component, exact
    mixture density); ``"auto"`` picks quadrature for d = 1.
    """
    mu, sd = as_datapoints(loc, scale, mask)
    mu, sd = mu.double(), sd.double()
    mi, _, _ = _aggregate_terms(mu, sd, None, method, points_per_scale, width, num_samples,
                                generator)
    return mi.to(loc.dtype)


def aggregate_kl(
    loc: Tensor,
    scale: Tensor,
    prior: Distribution | None = None,
    *,
    mask: Tensor | None = None,
    method: str = "auto",
    points_per_scale: int = 200,
    width: float = 12.0,
    num_samples: int = 2000,
    generator: torch.Generator | None = None,
) -> Tensor:
    """KL(q(z) || p(z)) of the aggregate posterior q(z) = (1/M) Σ_i q(z|x_i) against ``prior``.

    Quadrature for d = 1, Monte Carlo otherwise (see :func:`exact_mutual_information`). ``prior`` is
    N(0, I) by default, a factorised ``Normal`` / ``Independent(Normal)``, or any distribution whose
    ``log_prob`` maps (..., d) to (...).
    """
    mu, sd = as_datapoints(loc, scale, mask)
    mu, sd = mu.double(), sd.double()
    _, kl, _ = _aggregate_terms(mu, sd, prior, method, points_per_scale, width, num_samples,
                                generator)
    return kl.to(loc.dtype)


@dataclass(frozen=True)
class ELBOSurgery:
    """The three terms of E_x KL(q(z|x)||p) = I_q(x;z) + KL(q(z)||p) and the residual
    ``mean_kl − (mutual_information + aggregate_kl)`` (quadrature or MC error)."""

    mean_kl: float
    mutual_information: float
    aggregate_kl: float
    residual: float
    method: str

    def to_dict(self) -> dict:
        return asdict(self)


def elbo_surgery(
    loc: Tensor,
    scale: Tensor,
    prior: Distribution | None = None,
    *,
    mask: Tensor | None = None,
    method: str = "auto",
    points_per_scale: int = 200,
    width: float = 12.0,
    num_samples: int = 2000,
    generator: torch.Generator | None = None,
) -> ELBOSurgery:
    """Check the ELBO-surgery identity (Hoffman & Johnson 2016) on a finite set of posteriors.

    ``mean_kl`` is the closed-form (1/M) Σ_i KL(q_i || p); I_q and KL(q̄ || p) are computed
    independently by quadrature (d = 1) or Monte Carlo, so ``residual`` measures numerical error.
    ``prior`` must be a single distribution shared by all datapoints (a Normal with parameters of
    shape (d,) or scalar).
    """
    mu, sd = as_datapoints(loc, scale, mask)
    mu, sd = mu.double(), sd.double()
    if prior is not None:
        mu_p, _ = _prior_params(prior, mu.shape[1], mu.dtype, mu.device)
        if mu_p.dim() > 1:
            raise ValueError(
                "elbo_surgery needs one prior shared by all datapoints (parameters of shape (d,)); "
                f"got prior parameters of shape {tuple(mu_p.shape)}"
            )
    mean_kl = kl_per_dimension(mu, sd, prior).sum(-1).mean()
    mi, kl, how = _aggregate_terms(mu, sd, prior, method, points_per_scale, width, num_samples,
                                   generator)
    return ELBOSurgery(
        mean_kl=float(mean_kl),
        mutual_information=float(mi),
        aggregate_kl=float(kl),
        residual=float(mean_kl - mi - kl),
        method=how,
    )


# ------------------------------------------------------------------------------------------------
# one-call summary
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CollapseDiagnostics:
    """Summary of latent usage over a set of datapoints.

    ``kl_per_dim`` (d,) is the datapoint-mean KL per latent dimension, ``mean_kl`` its sum;
    ``active_units``/``au_variance`` as in :func:`active_units`; ``mutual_information`` is He et
    al.'s
    minibatch estimate; ``num_datapoints`` is M. ``collapsed`` is True when no unit is active or the
    MI estimate is below ``mi_threshold``; ``reason`` says which.
    """

    kl_per_dim: Tensor
    mean_kl: float
    active_units: int
    au_variance: Tensor
    mutual_information: float
    num_datapoints: int
    collapsed: bool
    reason: str

    def to_dict(self) -> dict:
        """JSON-friendly dict (tensors become lists)."""
        out = asdict(self)
        out["kl_per_dim"] = self.kl_per_dim.tolist()
        out["au_variance"] = self.au_variance.tolist()
        return out


def collapse_diagnostics(
    loc: Tensor,
    scale: Tensor,
    prior: Distribution | None = None,
    *,
    mask: Tensor | None = None,
    au_threshold: float = 0.01,
    mi_threshold: float = 0.01,
    mi_batch_size: int | None = None,
    generator: torch.Generator | None = None,
) -> CollapseDiagnostics:
    """KL per dimension, active units and MI in one pass; flags collapse.

    Args:
        loc, scale: posterior parameters (..., d); leading indices are datapoints ((B, d) or
            (T, N, d)).
        prior: prior for the KL (default N(0, I)); parameters may broadcast against ``loc``
            (per-datapoint conditional priors, e.g. the transition prior of the forecaster).
        mask: optional bool (...) selecting datapoints.
        au_threshold: δ for active units (0.01).
        mi_threshold: collapse is flagged when the MI estimate falls below this (nats).
        mi_batch_size: batch size B of the MI estimator (None = all datapoints in one batch).
    """
    flat_mu, flat_sd = as_datapoints(loc, scale, mask)
    kl = kl_per_dimension(loc, scale, prior)
    kl_flat = kl.reshape(-1, kl.shape[-1]) if mask is None else kl[mask.to(torch.bool)]
    kl_dim = kl_flat.double().mean(0).to(loc.dtype)
    au = active_units(flat_mu, au_threshold)
    mi = float(mutual_information(flat_mu, flat_sd, batch_size=mi_batch_size, generator=generator))
    reasons = []
    if au.count == 0:
        reasons.append(f"no active units (all Var_x E_q[z_u] < {au_threshold})")
    if mi < mi_threshold:
        reasons.append(f"I_q(x;z) estimate {mi:.4g} < {mi_threshold} nats")
    return CollapseDiagnostics(
        kl_per_dim=kl_dim,
        mean_kl=float(kl_dim.double().sum()),
        active_units=au.count,
        au_variance=au.variance,
        mutual_information=mi,
        num_datapoints=int(flat_mu.shape[0]),
        collapsed=bool(reasons),
        reason="; ".join(reasons),
    )
