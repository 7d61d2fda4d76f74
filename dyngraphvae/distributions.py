r"""Gaussian and Gaussian-mixture helpers, KL and Cauchy–Schwarz divergences.

Supported families (all batched, batch shapes broadcast):

* univariate :class:`~torch.distributions.Normal` (event shape ``()``),
* diagonal :class:`~torch.distributions.Independent` of a ``Normal`` (any number of reinterpreted
  dimensions; the event is flattened to a vector of length ``D``),
* full-covariance :class:`~torch.distributions.MultivariateNormal`,
* :class:`~torch.distributions.LowRankMultivariateNormal` (through its dense covariance),
* Gaussian mixtures :class:`~torch.distributions.MixtureSameFamily` whose components are any of
  the above.

Cauchy–Schwarz divergence (Principe 2010; Kampa, Hasanbelliu & Principe, IJCNN 2011)::

    D_CS(p, q) = −log ∫pq + ½ log ∫p² + ½ log ∫q²   ≥ 0,   = 0 iff p = q,   symmetric.

Everything rests on the Gaussian product identity

    ∫ N(x; a, A) N(x; b, B) dx = N(a; b, A + B),

which gives, for two Gaussians in ``d`` dimensions with Δ = m₁ − m₂,

    D_CS = ½ log|S₁+S₂| − ¼ log|S₁| − ¼ log|S₂| − (d/2) log 2 + ½ Δᵀ(S₁+S₂)⁻¹Δ,

(1-D: ``½ log((σ₁²+σ₂²)/(2σ₁σ₂)) + Δ²/(2(σ₁²+σ₂²))``; diagonal: the sum of the 1-D terms) and for
mixtures p = Σ_k π_k N(μ_k, Σ_k), q = Σ_l τ_l N(ν_l, Λ_l)::

    D_CS = −log Σ_{k,l} π_k τ_l N(μ_k; ν_l, Σ_k+Λ_l)
           + ½ log Σ_{k,k'} π_k π_k' N(μ_k; μ_k', Σ_k+Σ_k')
           + ½ log Σ_{l,l'} τ_l τ_l' N(ν_l; ν_l', Λ_l+Λ_l'),

evaluated in log space with ``logsumexp``.

KL divergence uses the closed forms of :func:`torch.distributions.kl_divergence` (plus
cross-family Gaussian pairs, e.g. diagonal vs full covariance). KL between Gaussian mixtures has no
closed form; it is only available as an explicit Monte Carlo estimate (``mc_samples=``).

Dispatch for :func:`cs_divergence` follows :func:`torch.distributions.kl_divergence`:
implementations are registered for pairs of types with :func:`register_cs` and looked up by the most
specific match along the method resolution orders of ``type(p)`` and ``type(q)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import torch
from torch import Tensor
from torch.distributions import (
    Categorical,
    Distribution,
    Independent,
    LowRankMultivariateNormal,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
    register_kl,
)
from torch.distributions import kl_divergence as _torch_kl

__all__ = [
    "LOG_VAR_MIN",
    "LOG_VAR_MAX",
    "MonteCarloEstimate",
    "cs_divergence",
    "diagonal_normal",
    "gaussian_mixture",
    "is_gaussian",
    "is_gaussian_mixture",
    "kl_divergence",
    "log_gaussian_overlap",
    "monte_carlo_kl",
    "normal_from_log_var",
    "register_cs",
    "sample",
]

LOG_VAR_MIN: float = -18.0
"""Default lower clamp of log-variances (σ ≈ 1.2e-4)."""
LOG_VAR_MAX: float = 18.0
"""Default upper clamp of log-variances (σ ≈ 8.1e3)."""

_LOG_2PI = math.log(2.0 * math.pi)
_GAUSSIAN_TYPES = (Normal, Independent, MultivariateNormal, LowRankMultivariateNormal)


# --------------------------------------------------------------------------------------------------
# constructors
# --------------------------------------------------------------------------------------------------
def _clamp_log_var(log_var: Tensor, min_log_var: float, max_log_var: float) -> Tensor:
    if min_log_var >= max_log_var:
        raise ValueError(f"min_log_var ({min_log_var}) must be < max_log_var ({max_log_var})")
    return log_var.clamp(min=min_log_var, max=max_log_var)


def normal_from_log_var(
    loc: Tensor,
    log_var: Tensor,
    *,
    min_log_var: float = LOG_VAR_MIN,
    max_log_var: float = LOG_VAR_MAX,
) -> Normal:
    r"""Univariate ``Normal(loc, exp(½·clamp(log_var)))``, batch shape = broadcast of the inputs.

    The log-variance is clamped to ``[min_log_var, max_log_var]`` so that the scale stays finite and
    positive (gradients are zero outside that range).
    """
    lv = _clamp_log_var(log_var, min_log_var, max_log_var)
    return Normal(loc, torch.exp(0.5 * lv))


def diagonal_normal(
    loc: Tensor,
    log_var: Tensor,
    *,
    min_log_var: float = LOG_VAR_MIN,
    max_log_var: float = LOG_VAR_MAX,
) -> Independent:
    r"""Diagonal Gaussian ``N(loc, diag(exp(clamp(log_var))))`` as ``Independent(Normal, 1)``.

    ``loc`` and ``log_var`` have shape ``(..., D)``; the result has batch shape ``(...)`` and event
    shape ``(D,)``. The log-variance is clamped to ``[min_log_var, max_log_var]``.
    """
    if loc.dim() < 1:
        raise ValueError("diagonal_normal: loc must have at least one dimension (the event)")
    return Independent(
        normal_from_log_var(loc, log_var, min_log_var=min_log_var, max_log_var=max_log_var), 1
    )


def gaussian_mixture(
    logits: Tensor,
    loc: Tensor,
    log_var: Tensor,
    *,
    min_log_var: float = LOG_VAR_MIN,
    max_log_var: float = LOG_VAR_MAX,
) -> MixtureSameFamily:
    r"""Mixture of diagonal Gaussians ``Σ_k softmax(logits)_k N(loc_k, diag(exp(log_var_k)))``.

    ``logits``: ``(..., K)``; ``loc`` and ``log_var``: ``(..., K, D)``. Batch shape ``(...)``,
    event shape ``(D,)``.
    """
    if loc.dim() < 2 or logits.shape[-1] != loc.shape[-2]:
        raise ValueError(
            f"gaussian_mixture: logits (..., K) and loc (..., K, D) disagree on K: "
            f"logits {tuple(logits.shape)}, loc {tuple(loc.shape)}"
        )
    comp = diagonal_normal(loc, log_var, min_log_var=min_log_var, max_log_var=max_log_var)
    return MixtureSameFamily(Categorical(logits=logits), comp)


# --------------------------------------------------------------------------------------------------
# internal Gaussian-mixture view of every supported distribution
# --------------------------------------------------------------------------------------------------
def is_gaussian(d: Distribution) -> bool:
    """True for a single (non-mixture) Gaussian of a supported family."""
    if isinstance(d, Independent):
        return isinstance(d.base_dist, Normal)
    return isinstance(d, (Normal, MultivariateNormal, LowRankMultivariateNormal))


def is_gaussian_mixture(d: Distribution) -> bool:
    """True for a ``MixtureSameFamily`` whose components are supported Gaussians."""
    return isinstance(d, MixtureSameFamily) and is_gaussian(d.component_distribution)


@dataclass(frozen=True)
class _GM:
    """Mixture parameters: log_w (..., K), loc (..., K, D), cov (..., K, D) | (..., K, D, D)."""

    log_w: Tensor
    loc: Tensor
    cov: Tensor
    diagonal: bool


def _gaussian_params(d: Distribution, where: str) -> tuple[Tensor, Tensor, bool]:
    """(loc (..., D), cov (..., D) variances or (..., D, D), diagonal) of a single Gaussian."""
    if isinstance(d, Normal):
        return d.loc.unsqueeze(-1), d.scale.pow(2).unsqueeze(-1), True
    if isinstance(d, Independent):
        if not isinstance(d.base_dist, Normal):
            raise TypeError(
                f"{where}: Independent over {type(d.base_dist).__name__} is not a Gaussian; "
                "only Independent(Normal, n) is supported"
            )
        shape = d.batch_shape + (-1,)
        loc = d.base_dist.loc.expand(d.batch_shape + d.event_shape).reshape(shape)
        var = d.base_dist.scale.pow(2).expand(d.batch_shape + d.event_shape).reshape(shape)
        return loc, var, True
    if isinstance(d, (MultivariateNormal, LowRankMultivariateNormal)):
        return d.loc, d.covariance_matrix, False
    raise TypeError(f"{where}: unsupported distribution {type(d).__name__}")


def _as_mixture(d: Distribution, where: str) -> _GM:
    if isinstance(d, MixtureSameFamily):
        loc, cov, diag = _gaussian_params(d.component_distribution, where)
        log_w = torch.log_softmax(d.mixture_distribution.logits, dim=-1)
        return _GM(log_w, loc, cov, diag)
    loc, cov, diag = _gaussian_params(d, where)
    log_w = torch.zeros(loc.shape[:-1] + (1,), dtype=loc.dtype, device=loc.device)
    return _GM(log_w, loc.unsqueeze(-2), cov.unsqueeze(-3 if not diag else -2), diag)


def _check_events(p: Distribution, q: Distribution, where: str) -> None:
    ep, eq = _event_size(p), _event_size(q)
    if ep != eq:
        raise ValueError(
            f"{where}: event shapes differ: p has event {tuple(p.event_shape)}, "
            f"q has event {tuple(q.event_shape)}"
        )


def _event_size(d: Distribution) -> int:
    return int(math.prod(d.event_shape)) if len(d.event_shape) else 1


def _to_full(cov: Tensor, diagonal: bool) -> Tensor:
    return torch.diag_embed(cov) if diagonal else cov


def _gm_log_overlap(a: _GM, b: _GM) -> Tensor:
    """log ∫ a b = logsumexp_{k,l} [log a_k + log b_l + log N(μ_k; ν_l, Σ_k + Λ_l)]."""
    diff = a.loc.unsqueeze(-2) - b.loc.unsqueeze(-3)  # (..., K, L, D)
    d = diff.shape[-1]
    if a.diagonal and b.diagonal:
        var = a.cov.unsqueeze(-2) + b.cov.unsqueeze(-3)
        log_n = -0.5 * (d * _LOG_2PI + var.log().sum(-1) + (diff.pow(2) / var).sum(-1))
    else:
        ca = _to_full(a.cov, a.diagonal).unsqueeze(-3)
        cb = _to_full(b.cov, b.diagonal).unsqueeze(-4)
        chol = torch.linalg.cholesky(ca + cb)
        sol = torch.linalg.solve_triangular(chol, diff.unsqueeze(-1), upper=False).squeeze(-1)
        logdet = 2.0 * torch.diagonal(chol, dim1=-2, dim2=-1).log().sum(-1)
        log_n = -0.5 * (d * _LOG_2PI + logdet + sol.pow(2).sum(-1))
    log_w = a.log_w.unsqueeze(-1) + b.log_w.unsqueeze(-2)
    return torch.logsumexp((log_w + log_n).flatten(-2), dim=-1)


def log_gaussian_overlap(p: Distribution, q: Distribution) -> Tensor:
    r"""``log ∫ p(x) q(x) dx`` for Gaussians and Gaussian mixtures, shape = broadcast batch shape.

    Uses ``∫ N(x; a, A) N(x; b, B) dx = N(a; b, A + B)`` (Problem 2.1), summed over mixture
    component pairs with ``logsumexp``: ``log Σ_{k,l} π_k τ_l N(μ_k; ν_l, Σ_k + Λ_l)``.
    """
    where = "log_gaussian_overlap"
    _check_events(p, q, where)
    return _gm_log_overlap(_as_mixture(p, where), _as_mixture(q, where))


# --------------------------------------------------------------------------------------------------
# Cauchy–Schwarz registry
# --------------------------------------------------------------------------------------------------
_CS_REGISTRY: dict[tuple[type, type], Callable[[Distribution, Distribution], Tensor]] = {}


def register_cs(type_p: type, type_q: type) -> Callable:
    """Decorator registering ``fn(p, q) -> Tensor`` as the CS divergence for ``(type_p, type_q)``.

    Lookup picks the most specific registered pair along the MROs of ``type(p)`` and ``type(q)``
    (as :func:`torch.distributions.kl.register_kl` does)::

        @register_cs(MyNormal, MyNormal)
        def _cs_my(p, q): ...
    """
    if not (isinstance(type_p, type) and issubclass(type_p, Distribution)):
        raise TypeError(f"register_cs: type_p must be a Distribution subclass, got {type_p!r}")
    if not (isinstance(type_q, type) and issubclass(type_q, Distribution)):
        raise TypeError(f"register_cs: type_q must be a Distribution subclass, got {type_q!r}")

    def decorator(fn: Callable[[Distribution, Distribution], Tensor]) -> Callable:
        _CS_REGISTRY[type_p, type_q] = fn
        _dispatch_cs.cache_clear()
        return fn

    return decorator


@cache
def _dispatch_cs(type_p: type, type_q: type) -> Callable | None:
    best, best_rank = None, None
    mro_p, mro_q = type_p.__mro__, type_q.__mro__
    for (tp, tq), fn in _CS_REGISTRY.items():
        if issubclass(type_p, tp) and issubclass(type_q, tq):
            rank = (mro_p.index(tp) + mro_q.index(tq), mro_p.index(tp))
            if best_rank is None or rank < best_rank:
                best, best_rank = fn, rank
    return best


def cs_divergence(p: Distribution, q: Distribution) -> Tensor:
    r"""Cauchy–Schwarz divergence ``D_CS(p, q) = −log(∫pq / sqrt(∫p² ∫q²))``, closed form.

    Shape: the broadcast of the batch shapes of ``p`` and ``q``. Symmetric, non-negative, zero iff
    ``p = q``; invariant to rescaling either density. For two Gaussians with Δ = m₁ − m₂::

        D_CS = ½ log|S₁+S₂| − ¼ log|S₁| − ¼ log|S₂| − (d/2) log 2 + ½ Δᵀ(S₁+S₂)⁻¹Δ

    and for Gaussian mixtures the Kampa et al. (2011) formula (see module docstring) in log space.
    Tiny negative values from floating-point rounding are clamped to 0.
    """
    fn = _dispatch_cs(type(p), type(q))
    if fn is None:
        raise TypeError(
            f"cs_divergence: no Cauchy–Schwarz divergence registered for "
            f"({type(p).__name__}, {type(q).__name__}); use register_cs to add one"
        )
    return fn(p, q).clamp_min(0.0)


@register_cs(Normal, Normal)
def _cs_normal_normal(p: Normal, q: Normal) -> Tensor:
    """1-D: ½ log((σ₁²+σ₂²)/(2σ₁σ₂)) + (μ₁−μ₂)²/(2(σ₁²+σ₂²))."""
    v = p.scale.pow(2) + q.scale.pow(2)
    return 0.5 * (v.log() - math.log(2.0) - p.scale.log() - q.scale.log()) + (
        p.loc - q.loc
    ).pow(2) / (2.0 * v)


def _cs_full(p: Distribution, q: Distribution) -> Tensor:
    """Full-covariance closed form (any pair of single Gaussians)."""
    where = "cs_divergence"
    _check_events(p, q, where)
    m1, c1, d1 = _gaussian_params(p, where)
    m2, c2, d2 = _gaussian_params(q, where)
    if d1 and d2:
        v = c1 + c2
        return (
            0.5 * v.log() - 0.25 * c1.log() - 0.25 * c2.log() - 0.5 * math.log(2.0)
            + 0.5 * (m1 - m2).pow(2) / v
        ).sum(-1)
    s1, s2 = _to_full(c1, d1), _to_full(c2, d2)
    dim = m1.shape[-1]
    chol = torch.linalg.cholesky(s1 + s2)
    sol = torch.linalg.solve_triangular(chol, (m1 - m2).unsqueeze(-1), upper=False).squeeze(-1)

    def logdet(s: Tensor) -> Tensor:
        return 2.0 * torch.diagonal(torch.linalg.cholesky(s), dim1=-2, dim2=-1).log().sum(-1)

    logdet_sum = 2.0 * torch.diagonal(chol, dim1=-2, dim2=-1).log().sum(-1)
    return (
        0.5 * logdet_sum - 0.25 * logdet(s1) - 0.25 * logdet(s2) - 0.5 * dim * math.log(2.0)
        + 0.5 * sol.pow(2).sum(-1)
    )


for _tp in _GAUSSIAN_TYPES:
    for _tq in _GAUSSIAN_TYPES:
        if not (_tp is Normal and _tq is Normal):
            register_cs(_tp, _tq)(_cs_full)


def _cs_mixture(p: Distribution, q: Distribution) -> Tensor:
    """Kampa et al. (2011): −log∫pq + ½ log∫p² + ½ log∫q², each a logsumexp over component pairs."""
    where = "cs_divergence"
    _check_events(p, q, where)
    a, b = _as_mixture(p, where), _as_mixture(q, where)
    return -_gm_log_overlap(a, b) + 0.5 * _gm_log_overlap(a, a) + 0.5 * _gm_log_overlap(b, b)


for _t in (*_GAUSSIAN_TYPES, MixtureSameFamily):
    register_cs(MixtureSameFamily, _t)(_cs_mixture)
    register_cs(_t, MixtureSameFamily)(_cs_mixture)


# --------------------------------------------------------------------------------------------------
# sampling with an explicit generator, Monte Carlo KL
# --------------------------------------------------------------------------------------------------
def sample(
    d: Distribution, num_samples: int, *, generator: torch.Generator | None = None
) -> Tensor:
    """Reparameterised samples ``(num_samples, *batch, *event)`` of a supported distribution.

    Unlike ``d.rsample`` this accepts a ``torch.Generator`` (for seeded estimates). Gaussians are
    sampled as ``loc + L ε``; mixtures draw the component index with ``torch.multinomial`` and are
    reparameterised within the chosen component (the index itself is not differentiable).
    """
    if num_samples < 1:
        raise ValueError(f"sample: num_samples must be >= 1, got {num_samples}")
    shape = (num_samples,) + d.batch_shape + d.event_shape
    if isinstance(d, MixtureSameFamily):
        comp = d.component_distribution
        if not is_gaussian(comp):
            raise TypeError(f"sample: unsupported mixture component {type(comp).__name__}")
        xs = sample(comp, num_samples, generator=generator)  # (S, *batch, K, *event)
        probs = d.mixture_distribution.probs.expand(d.batch_shape + (comp.batch_shape[-1],))
        k = probs.shape[-1]
        idx = torch.multinomial(
            probs.reshape(-1, k), num_samples, replacement=True, generator=generator
        )  # (B, S)
        idx = idx.transpose(0, 1).reshape((num_samples,) + d.batch_shape)
        ev = len(d.event_shape)
        gather_idx = idx.reshape(idx.shape + (1,) + (1,) * ev).expand(
            idx.shape + (1,) + d.event_shape
        )
        return xs.gather(len(idx.shape), gather_idx).squeeze(len(idx.shape))
    if isinstance(d, Normal):
        loc, scale = d.loc.expand(d.batch_shape), d.scale.expand(d.batch_shape)
        eps = torch.randn(shape, dtype=loc.dtype, device=loc.device, generator=generator)
        return loc + scale * eps
    if isinstance(d, Independent) and isinstance(d.base_dist, Normal):
        full = d.batch_shape + d.event_shape
        loc, scale = d.base_dist.loc.expand(full), d.base_dist.scale.expand(full)
        eps = torch.randn(shape, dtype=loc.dtype, device=loc.device, generator=generator)
        return loc + scale * eps
    if isinstance(d, MultivariateNormal):
        loc = d.loc
        eps = torch.randn(shape, dtype=loc.dtype, device=loc.device, generator=generator)
        return loc + (d.scale_tril @ eps.unsqueeze(-1)).squeeze(-1)
    if isinstance(d, LowRankMultivariateNormal):
        loc, w = d.loc, d.cov_factor
        eps_w = torch.randn(
            (num_samples,) + d.batch_shape + (w.shape[-1],),
            dtype=loc.dtype, device=loc.device, generator=generator,
        )
        eps_d = torch.randn(shape, dtype=loc.dtype, device=loc.device, generator=generator)
        return loc + (w @ eps_w.unsqueeze(-1)).squeeze(-1) + d.cov_diag.sqrt() * eps_d
    raise TypeError(f"sample: unsupported distribution {type(d).__name__}")


class MonteCarloEstimate(NamedTuple):
    """A Monte Carlo estimate: ``mean`` and its standard error ``stderr`` (same shape)."""

    mean: Tensor
    stderr: Tensor


def monte_carlo_kl(
    p: Distribution,
    q: Distribution,
    num_samples: int,
    *,
    generator: torch.Generator | None = None,
) -> MonteCarloEstimate:
    r"""Unbiased Monte Carlo estimate of ``KL(p || q) = E_p[log p(x) − log q(x)]``.

    ``x_s ~ p`` (``s = 1..S``, drawn with :func:`sample`), estimate ``(1/S) Σ_s [log p(x_s) −
    log q(x_s)]`` and standard error ``std_s / sqrt(S)``. Works for any pair with ``log_prob``,
    in particular Gaussian mixtures where no closed form exists.
    """
    if num_samples < 2:
        raise ValueError(f"monte_carlo_kl: num_samples must be >= 2, got {num_samples}")
    _check_events(p, q, "monte_carlo_kl")
    x = sample(p, num_samples, generator=generator)
    diff = p.log_prob(x) - q.log_prob(x)
    return MonteCarloEstimate(diff.mean(0), diff.std(0) / math.sqrt(num_samples))


# --------------------------------------------------------------------------------------------------
# KL
# --------------------------------------------------------------------------------------------------
def _as_mvn(d: Distribution) -> MultivariateNormal:
    loc, cov, diag = _gaussian_params(d, "kl_divergence")
    return MultivariateNormal(loc, covariance_matrix=_to_full(cov, diag))


def kl_divergence(
    p: Distribution,
    q: Distribution,
    *,
    mc_samples: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""``KL(p || q) = ∫ p log(p/q)``, shape = broadcast batch shape.

    Closed forms (used whenever they exist; ``mc_samples`` is then ignored): everything registered
    with :func:`torch.distributions.kl_divergence` (e.g. 1-D Normal:
    ``log(σ₂/σ₁) + (σ₁² + (μ₁−μ₂)²)/(2σ₂²) − ½``; MVN:
    ``½[tr(S₂⁻¹S₁) + Δᵀ S₂⁻¹ Δ − d + log|S₂|/|S₁|]``), plus cross-family pairs of single
    Gaussians (diagonal vs full/low-rank), computed through the full-covariance formula.

    Gaussian mixtures (either side a ``MixtureSameFamily``) have **no closed-form KL**: a
    ``ValueError`` is raised unless ``mc_samples`` is given, in which case the Monte Carlo estimate
    of :func:`monte_carlo_kl` with ``mc_samples`` draws from ``p`` (seeded by ``generator``) is
    returned. Use :func:`cs_divergence` for an analytic mixture divergence.
    """
    _check_events(p, q, "kl_divergence")
    if isinstance(p, MixtureSameFamily) or isinstance(q, MixtureSameFamily):
        if mc_samples is None:
            raise ValueError(
                f"kl_divergence({type(p).__name__}, {type(q).__name__}): the KL divergence "
                "involving a Gaussian mixture has no closed form. Pass mc_samples=S for an "
                "explicit Monte Carlo estimate, or use cs_divergence (closed form for mixtures)."
            )
        return monte_carlo_kl(p, q, mc_samples, generator=generator).mean
    try:
        return _torch_kl(p, q)  # closed forms, ours included, dispatch through register_kl
    except NotImplementedError:
        if mc_samples is not None:
            return monte_carlo_kl(p, q, mc_samples, generator=generator).mean
        raise TypeError(
            f"kl_divergence: no closed form for ({type(p).__name__}, {type(q).__name__}); "
            "pass mc_samples=S for a Monte Carlo estimate"
        ) from None


def _kl_via_full_covariance(p: Distribution, q: Distribution) -> Tensor:
    """``KL`` between single Gaussians of different families (diagonal vs full/low-rank) through
    the full-covariance formula; registered with :func:`torch.distributions.kl.register_kl`."""
    if not (is_gaussian(p) and is_gaussian(q)):
        raise NotImplementedError
    return _torch_kl(_as_mvn(p), _as_mvn(q))


for _tp, _tq in ((Independent, MultivariateNormal), (MultivariateNormal, Independent),
                 (Independent, LowRankMultivariateNormal),
                 (LowRankMultivariateNormal, Independent)):
    register_kl(_tp, _tq)(_kl_via_full_covariance)
