r"""Conditional variational autoencoder (Sohn, Lee & Yan, NeurIPS 2015; Problem Set 2, Problem 1).

Generative model and inference network::

    p_θ(x, z | y) = p_θ(z | y) p_θ(x | y, z)          (conditional prior, decoder)
    q_φ(z | x, y)                                     (encoder)

Objectives (Problem 1.4, 1.7)::

    ELBO(x, y) = E_q[log p(x | y, z)] − KL(q(z|x,y) || p(z|y))
               = log p(x | y) − KL(q(z|x,y) || p(z|x,y))             (Problem 1.5)
    L_K(x, y)  = E[ log (1/K) Σ_k p(x, z_k | y) / q(z_k | x, y) ],  z_k ~ q   (importance weighted)

with ``ELBO = L_1 ≤ L_K ≤ L_{K'} ≤ log p(x|y)`` for ``K ≤ K'`` (Burda et al. 2016).

The model is assembled from small modules, PyG-autoencoder style (``GAE(encoder, decoder)``):

* ``encoder(x, y) -> Distribution`` over ``z`` (batch ``(B,)``, event ``(d,)``),
* ``decoder(z, y) -> Distribution`` over ``x`` (batch = leading dims of ``z``, event ``(D,)``);
  ``y`` is expanded to the leading dims of ``z`` before the call,
* ``prior(y) -> Distribution`` over ``z`` (batch ``(B,)``), or ``None`` for the standard Normal
  ``N(0, I)``.

Default MLP modules are provided (:class:`GaussianMLPEncoder`, :class:`GaussianMLPPrior`,
:class:`MLPDecoder`, assembled by :meth:`CVAE.from_config`), as well as an exactly solvable
linear-Gaussian CVAE (:class:`LinearGaussianCVAE`) whose ``log p(x|y)`` and posterior are known in
closed form — the ground truth of the tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.distributions import Bernoulli, Distribution, Independent, MultivariateNormal, Normal

from dyngraphvae._config import ConfigBase
from dyngraphvae.distributions import LOG_VAR_MAX, LOG_VAR_MIN, diagonal_normal, sample
from dyngraphvae.objectives import RegularisedObjective, importance_weighted_bound
from dyngraphvae.objectives import divergence as _divergence

__all__ = [
    "CVAE",
    "CVAEConfig",
    "CVAEOutput",
    "CVAESample",
    "GaussianMLPEncoder",
    "GaussianMLPPrior",
    "LinearGaussianCVAE",
    "MLPDecoder",
    "standard_normal_prior",
]

_LIKELIHOODS = ("gaussian", "bernoulli")


# --------------------------------------------------------------------------------------------------
# config
# --------------------------------------------------------------------------------------------------
@dataclass
class CVAEConfig(ConfigBase):
    """Hyper-parameters of the default MLP CVAE (:meth:`CVAE.from_config`).

    ``likelihood``: ``"gaussian"`` (diagonal, heteroscedastic) or ``"bernoulli"`` (x in {0,1}).
    ``conditional_prior=False`` uses the standard Normal prior ``N(0, I)``.
    """

    x_dim: int
    y_dim: int
    latent_dim: int = 8
    hidden_dim: int = 64
    num_layers: int = 2
    conditional_prior: bool = True
    likelihood: str = "gaussian"
    min_log_var: float = LOG_VAR_MIN
    max_log_var: float = LOG_VAR_MAX

    def __post_init__(self) -> None:
        for name in ("x_dim", "latent_dim", "hidden_dim", "num_layers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"CVAEConfig.{name} must be >= 1, got {getattr(self, name)}")
        if int(self.y_dim) < 0:
            raise ValueError(f"CVAEConfig.y_dim must be >= 0, got {self.y_dim}")
        if self.likelihood not in _LIKELIHOODS:
            raise ValueError(
                f"CVAEConfig.likelihood must be one of {_LIKELIHOODS}, got {self.likelihood!r}"
            )
        if self.min_log_var >= self.max_log_var:
            raise ValueError("CVAEConfig.min_log_var must be < max_log_var")


# --------------------------------------------------------------------------------------------------
# default modules
# --------------------------------------------------------------------------------------------------
def _mlp(in_dim: int, hidden_dim: int, out_dim: int, num_layers: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(num_layers - 1):
        layers += [nn.Linear(d, hidden_dim), nn.ReLU()]
        d = hidden_dim
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class GaussianMLPEncoder(nn.Module):
    """``q(z | x, y) = N(μ(x, y), diag(exp(log σ²(x, y))))`` with an MLP on ``[x, y]``."""

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        latent_dim: int,
        hidden_dim: int = 64,
        num_layers: int = 2,
        min_log_var: float = LOG_VAR_MIN,
        max_log_var: float = LOG_VAR_MAX,
    ) -> None:
        super().__init__()
        self.net = _mlp(x_dim + y_dim, hidden_dim, 2 * latent_dim, num_layers)
        self.latent_dim = latent_dim
        self.min_log_var, self.max_log_var = min_log_var, max_log_var

    def forward(self, x: Tensor, y: Tensor) -> Independent:
        loc, log_var = self.net(torch.cat([x, y], dim=-1)).chunk(2, dim=-1)
        return diagonal_normal(
            loc, log_var, min_log_var=self.min_log_var, max_log_var=self.max_log_var
        )


class GaussianMLPPrior(nn.Module):
    """Conditional prior ``p(z | y) = N(μ(y), diag(exp(log σ²(y))))`` with an MLP on ``y``."""

    def __init__(
        self,
        y_dim: int,
        latent_dim: int,
        hidden_dim: int = 64,
        num_layers: int = 2,
        min_log_var: float = LOG_VAR_MIN,
        max_log_var: float = LOG_VAR_MAX,
    ) -> None:
        super().__init__()
        if y_dim < 1:
            raise ValueError("GaussianMLPPrior needs y_dim >= 1; use prior=None for N(0, I)")
        self.net = _mlp(y_dim, hidden_dim, 2 * latent_dim, num_layers)
        self.min_log_var, self.max_log_var = min_log_var, max_log_var

    def forward(self, y: Tensor) -> Independent:
        loc, log_var = self.net(y).chunk(2, dim=-1)
        return diagonal_normal(
            loc, log_var, min_log_var=self.min_log_var, max_log_var=self.max_log_var
        )


class MLPDecoder(nn.Module):
    """``p(x | y, z)``: diagonal Gaussian ``N(μ(z,y), diag σ²(z,y))`` or Bernoulli with logits."""

    def __init__(
        self,
        latent_dim: int,
        y_dim: int,
        x_dim: int,
        hidden_dim: int = 64,
        num_layers: int = 2,
        likelihood: str = "gaussian",
        min_log_var: float = LOG_VAR_MIN,
        max_log_var: float = LOG_VAR_MAX,
    ) -> None:
        super().__init__()
        if likelihood not in _LIKELIHOODS:
            raise ValueError(f"MLPDecoder: likelihood must be one of {_LIKELIHOODS}")
        self.likelihood = likelihood
        out = 2 * x_dim if likelihood == "gaussian" else x_dim
        self.net = _mlp(latent_dim + y_dim, hidden_dim, out, num_layers)
        self.min_log_var, self.max_log_var = min_log_var, max_log_var

    def forward(self, z: Tensor, y: Tensor) -> Distribution:
        h = self.net(torch.cat([z, y], dim=-1))
        if self.likelihood == "bernoulli":
            return Independent(Bernoulli(logits=h), 1)
        loc, log_var = h.chunk(2, dim=-1)
        return diagonal_normal(
            loc, log_var, min_log_var=self.min_log_var, max_log_var=self.max_log_var
        )


def standard_normal_prior(
    batch_shape: torch.Size | tuple, latent_dim: int, like: Tensor
) -> Independent:
    """``N(0, I_d)`` as ``Independent(Normal, 1)``: given batch shape, dtype/device of ``like``."""
    zeros = like.new_zeros(tuple(batch_shape) + (latent_dim,))
    return Independent(Normal(zeros, torch.ones_like(zeros)), 1)


# --------------------------------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CVAEOutput:
    """Named terms of :meth:`CVAE.elbo`; per-datapoint tensors have shape ``(B,)``.

    * ``reconstruction``: Monte Carlo ``E_q[log p(x|y,z)]`` (mean over ``num_samples``);
    * ``divergence``: ``D(q(z|x,y) || p(z|y))`` of kind ``divergence_kind``;
    * ``objective = reconstruction − kl_weight · divergence`` and ``loss = −mean(objective)``;
    * ``elbo = reconstruction − KL(q || p)`` — the evidence lower bound, also when the objective
      uses the CS divergence (``None`` only if that KL has no closed form and ``analytic_kl=True``);
    * ``is_lower_bound``: whether ``objective`` itself lower-bounds ``log p(x|y)``.
    """

    objective: Tensor
    loss: Tensor
    reconstruction: Tensor
    divergence: Tensor
    elbo: Tensor | None
    divergence_kind: str
    kl_weight: float
    is_lower_bound: bool
    z: Tensor
    posterior: Distribution
    prior: Distribution


class CVAESample(NamedTuple):
    """Output of :meth:`CVAE.generate`.

    Latents ``z (S, B, d)``, samples ``x (S, B, D)`` and the decoder distribution ``likelihood``
    (batch ``(S, B)``; its ``mean`` is the noise-free output).
    """

    z: Tensor
    x: Tensor
    likelihood: Distribution


# --------------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------------
class CVAE(nn.Module):
    r"""Conditional VAE ``p(z|y) p(x|y,z)`` with inference network ``q(z|x,y)``.

    Args:
        encoder: ``encoder(x (B,D), y (B,C)) -> Distribution`` over ``z``, batch ``(B,)``.
        decoder: ``decoder(z (..., B, d), y (..., B, C)) -> Distribution`` over ``x``.
        prior: ``prior(y) -> Distribution`` (conditional prior ``p(z|y)``), or ``None`` for
            ``N(0, I)``.

    Latent samples are reparameterised (``loc + L ε``); pass a ``torch.Generator`` for seeded runs.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, prior: nn.Module | None = None):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.prior = prior

    @classmethod
    def from_config(cls, config: CVAEConfig) -> CVAE:
        """The default MLP CVAE described by ``config``."""
        c = config
        enc = GaussianMLPEncoder(
            c.x_dim, c.y_dim, c.latent_dim, c.hidden_dim, c.num_layers, c.min_log_var,
            c.max_log_var,
        )
        dec = MLPDecoder(
            c.latent_dim, c.y_dim, c.x_dim, c.hidden_dim, c.num_layers, c.likelihood,
            c.min_log_var, c.max_log_var,
        )
        prior = (
            GaussianMLPPrior(
                c.y_dim, c.latent_dim, c.hidden_dim, c.num_layers, c.min_log_var, c.max_log_var
            )
            if c.conditional_prior
            else None
        )
        return cls(enc, dec, prior)

    # ---------------------------------------------------------------------------------- pieces
    @staticmethod
    def _check_xy(x: Tensor | None, y: Tensor) -> None:
        if y.dim() != 2:
            raise ValueError(f"CVAE: y must have shape (B, C), got {tuple(y.shape)}")
        if x is not None:
            if x.dim() != 2:
                raise ValueError(f"CVAE: x must have shape (B, D), got {tuple(x.shape)}")
            if x.shape[0] != y.shape[0]:
                raise ValueError(
                    f"CVAE: x and y disagree on the batch size: {x.shape[0]} vs {y.shape[0]}"
                )

    def posterior(self, x: Tensor, y: Tensor) -> Distribution:
        """``q(z | x, y)`` (batch ``(B,)``, event ``(d,)``)."""
        self._check_xy(x, y)
        return self.encoder(x, y)

    def conditional_prior(self, y: Tensor, latent_dim: int | None = None) -> Distribution:
        """``p(z | y)``; for ``prior=None`` the standard Normal (needs ``latent_dim``)."""
        self._check_xy(None, y)
        if self.prior is not None:
            return self.prior(y)
        if latent_dim is None:
            raise ValueError("CVAE.conditional_prior: latent_dim is needed for the N(0, I) prior")
        return standard_normal_prior((y.shape[0],), latent_dim, y)

    def likelihood(self, z: Tensor, y: Tensor) -> Distribution:
        """``p(x | y, z)`` for ``z (..., B, d)``; ``y (B, C)`` is broadcast to ``z``'s lead dims."""
        y_exp = y.expand(z.shape[:-1] + y.shape[-1:])
        return self.decoder(z, y_exp)

    # ---------------------------------------------------------------------------------- objectives
    def elbo(
        self,
        x: Tensor,
        y: Tensor,
        num_samples: int = 1,
        kl_weight: float = 1.0,
        divergence: str = "kl",
        *,
        analytic_kl: bool = True,
        generator: torch.Generator | None = None,
    ) -> CVAEOutput:
        r"""``E_q[log p(x|y,z)] − kl_weight · D(q(z|x,y) || p(z|y))`` with ``num_samples`` draws.

        ``divergence="kl"`` (closed form when ``analytic_kl``; otherwise the sample estimate
        ``E_q[log q(z) − log p(z)]`` with the same draws, required for mixture priors) or ``"cs"``
        (Cauchy–Schwarz, closed form; the objective is then **not** a bound — see
        :mod:`dyngraphvae.objectives`). ``elbo`` in the output is always the ELBO estimate.
        """
        if num_samples < 1:
            raise ValueError(f"CVAE.elbo: num_samples must be >= 1, got {num_samples}")
        q = self.posterior(x, y)
        p = self.conditional_prior(y, q.event_shape[-1])
        z = sample(q, num_samples, generator=generator)  # (S, B, d)
        rec = self.likelihood(z, y).log_prob(x).mean(0)
        kind = divergence.lower() if isinstance(divergence, str) else divergence
        if analytic_kl:
            try:
                kl = _divergence(q, p, "kl")
            except (ValueError, TypeError) as err:
                if kind == "kl":
                    raise ValueError(
                        f"CVAE.elbo: no closed-form KL between the posterior "
                        f"({type(q).__name__}) and the prior ({type(p).__name__}); call with "
                        "analytic_kl=False for the sample estimate E_q[log q(z) - log p(z)]"
                    ) from err
                kl = None
        else:
            kl = (q.log_prob(z) - p.log_prob(z)).mean(0)
        terms = RegularisedObjective(kind, float(kl_weight))(
            rec, q, p, divergence=kl if kind == "kl" else None)
        return CVAEOutput(
            objective=terms.objective,
            loss=-terms.objective.mean(),
            reconstruction=rec,
            divergence=terms.divergence,
            elbo=None if kl is None else rec - kl,
            divergence_kind=terms.kind,
            kl_weight=terms.weight,
            is_lower_bound=terms.is_lower_bound,
            z=z,
            posterior=q,
            prior=p,
        )

    def log_weights(
        self,
        x: Tensor,
        y: Tensor,
        num_samples: int,
        *,
        generator: torch.Generator | None = None,
        posterior: Distribution | None = None,
    ) -> Tensor:
        r"""Importance log-weights ``log p(x|y,z_k) + log p(z_k|y) − log q(z_k|x,y)``, ``(K, B)``.

        ``z_k ~ q(z|x,y)`` i.i.d. (``posterior`` may be passed to avoid re-running the encoder).
        """
        q = self.posterior(x, y) if posterior is None else posterior
        p = self.conditional_prior(y, q.event_shape[-1])
        z = sample(q, num_samples, generator=generator)
        return self.likelihood(z, y).log_prob(x) + p.log_prob(z) - q.log_prob(z)

    def log_likelihood(
        self,
        x: Tensor,
        y: Tensor,
        num_samples: int = 1000,
        chunk_size: int | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""Importance-weighted estimate of ``log p(x | y)``, shape ``(B,)`` (Problem 1.7).

        ``L_K = logsumexp_k(log w_k) − log K`` with ``K = num_samples`` proposals from ``q(z|x,y)``;
        a lower bound in expectation that tightens with ``K`` (Burda et al. 2016). Samples are
        drawn in chunks of ``chunk_size`` (memory ``O(chunk · B)``) and combined exactly:
        ``logsumexp`` over per-chunk ``logsumexp``\ s.
        """
        if num_samples < 1:
            raise ValueError(f"CVAE.log_likelihood: num_samples must be >= 1, got {num_samples}")
        chunk = num_samples if chunk_size is None else int(chunk_size)
        if chunk < 1:
            raise ValueError(f"CVAE.log_likelihood: chunk_size must be >= 1, got {chunk_size}")
        q = self.posterior(x, y)
        parts = []
        done = 0
        while done < num_samples:
            k = min(chunk, num_samples - done)
            lw = self.log_weights(x, y, k, generator=generator, posterior=q)
            parts.append(torch.logsumexp(lw, dim=0))
            done += k
        return torch.logsumexp(torch.stack(parts), dim=0) - math.log(num_samples)

    def iw_bound(
        self, x: Tensor, y: Tensor, num_samples: int, *, generator: torch.Generator | None = None
    ) -> Tensor:
        """Differentiable IWAE bound ``L_K`` (one chunk), shape ``(B,)`` — for IWAE training."""
        return importance_weighted_bound(
            self.log_weights(x, y, num_samples, generator=generator), dim=0
        )

    # ---------------------------------------------------------------------------------- generation
    @torch.no_grad()
    def generate(
        self,
        y: Tensor,
        num_samples: int = 1,
        *,
        latent_dim: int | None = None,
        generator: torch.Generator | None = None,
    ) -> CVAESample:
        """Sample ``z ~ p(z|y)`` then ``x ~ p(x|y,z)`` (Problem 1.8); shapes ``(S, B, ·)``.

        ``latent_dim`` is needed only with the standard Normal prior.
        """
        if self.prior is None and latent_dim is None:
            latent_dim = getattr(self.encoder, "latent_dim", None)
        p = self.conditional_prior(y, latent_dim)
        z = sample(p, num_samples, generator=generator)
        lik = self.likelihood(z, y)
        if isinstance(lik, Independent) and isinstance(lik.base_dist, Bernoulli):
            u = torch.rand(lik.base_dist.probs.shape, generator=generator, dtype=z.dtype,
                           device=z.device)
            x = (u < lik.base_dist.probs).to(z.dtype)
        else:
            try:
                x = sample(lik, 1, generator=generator).squeeze(0)
            except TypeError:  # a decoder family without a seeded sampler here
                x = lik.sample()
        return CVAESample(z=z, x=x, likelihood=lik)


# --------------------------------------------------------------------------------------------------
# exactly solvable linear-Gaussian CVAE
# --------------------------------------------------------------------------------------------------
class _LinearPrior(nn.Module):
    def __init__(self, W: Tensor) -> None:
        super().__init__()
        self.W = nn.Parameter(W.clone())

    def forward(self, y: Tensor) -> Independent:
        loc = y @ self.W.T
        return Independent(Normal(loc, torch.ones_like(loc)), 1)


class _LinearDecoder(nn.Module):
    def __init__(self, B: Tensor, D: Tensor, sigma: float) -> None:
        super().__init__()
        self.B = nn.Parameter(B.clone())
        self.D = nn.Parameter(D.clone())
        self.sigma = float(sigma)

    def forward(self, z: Tensor, y: Tensor) -> Independent:
        loc = z @ self.B.T + y @ self.D.T
        return Independent(Normal(loc, torch.full_like(loc, self.sigma)), 1)


class _LinearEncoder(nn.Module):
    """``q(z|x,y) = N(E x + F y + c, L Lᵀ)``; ``L`` lower-triangular (full) or diagonal."""

    def __init__(self, E: Tensor, F: Tensor, c: Tensor, scale_tril: Tensor, full: bool) -> None:
        super().__init__()
        self.E, self.F, self.c = nn.Parameter(E.clone()), nn.Parameter(F.clone()), nn.Parameter(
            c.clone()
        )
        self.full = full
        self.scale_tril = nn.Parameter(scale_tril.clone())
        self.latent_dim = c.shape[-1]

    def forward(self, x: Tensor, y: Tensor) -> Distribution:
        loc = x @ self.E.T + y @ self.F.T + self.c
        if self.full:
            return MultivariateNormal(loc, scale_tril=torch.tril(self.scale_tril))
        scale = torch.diagonal(self.scale_tril).abs().expand_as(loc)
        return Independent(Normal(loc, scale), 1)


class LinearGaussianCVAE(CVAE):
    r"""Exactly solvable CVAE: ``z|y ~ N(W y, I)``, ``x|y,z ~ N(B z + D y, σ² I)``.

    Closed forms (Λ = I + BᵀB/σ², the posterior precision)::

        p(x | y)    = N(x; (BW + D) y, B Bᵀ + σ² I)
        p(z | x, y) = N(Λ⁻¹ (W y + Bᵀ (x − D y)/σ²), Λ⁻¹)
        E_q[log p(x|y,z)] = log N(x; B m + D y, σ² I) − tr(B S Bᵀ)/(2σ²)   for q = N(m, S)

    The encoder is linear, ``q(z|x,y) = N(E x + F y + c, L Lᵀ)``; with ``full_covariance=True`` and
    ``exact=True`` it is the exact posterior (``E = Λ⁻¹Bᵀ/σ²``, ``F = Λ⁻¹(W − BᵀD/σ²)``, ``c = 0``,
    ``L = chol Λ⁻¹``). ``exact=False`` gives a deliberately imperfect encoder (weights perturbed by
    ``perturbation``, and a diagonal covariance when ``full_covariance=False``).
    """

    def __init__(
        self,
        W: Tensor,
        B: Tensor,
        D: Tensor,
        sigma: float,
        *,
        exact: bool = True,
        full_covariance: bool = True,
        perturbation: float = 0.3,
        generator: torch.Generator | None = None,
    ) -> None:
        d, c_dim = W.shape
        x_dim = B.shape[0]
        if B.shape != (x_dim, d) or D.shape != (x_dim, c_dim):
            raise ValueError(
                f"LinearGaussianCVAE: need W (d, C), B (D, d), D (D, C); got W {tuple(W.shape)}, "
                f"B {tuple(B.shape)}, D {tuple(D.shape)}"
            )
        if sigma <= 0:
            raise ValueError(f"LinearGaussianCVAE: sigma must be > 0, got {sigma}")
        E, F, cov = self._exact_encoder(W, B, D, sigma)
        L = torch.linalg.cholesky(cov)
        c = torch.zeros(d, dtype=W.dtype)
        if not full_covariance:
            L = torch.diag(torch.diagonal(cov).sqrt())
        if not exact:
            def noise(t: Tensor) -> Tensor:
                return perturbation * torch.randn(t.shape, generator=generator, dtype=t.dtype)

            E, F, c = E + noise(E), F + noise(F), c + noise(c)
            L = L * (1.0 + perturbation)
        super().__init__(
            _LinearEncoder(E, F, c, L, full_covariance), _LinearDecoder(B, D, sigma),
            _LinearPrior(W),
        )
        self.sigma = float(sigma)

    @staticmethod
    def _exact_encoder(W: Tensor, B: Tensor, D: Tensor, sigma: float):
        d = W.shape[0]
        precision = torch.eye(d, dtype=W.dtype) + B.T @ B / sigma**2
        cov = torch.linalg.inv(precision)
        cov = 0.5 * (cov + cov.T)
        E = cov @ B.T / sigma**2
        F = cov @ (W - B.T @ D / sigma**2)
        return E, F, cov

    def exact_log_likelihood(self, x: Tensor, y: Tensor) -> Tensor:
        """``log p(x | y) = log N(x; (BW + D) y, BBᵀ + σ²I)``, shape ``(B,)``."""
        W, B, D = self.prior.W, self.decoder.B, self.decoder.D
        mean = y @ (B @ W + D).T
        cov = B @ B.T + self.sigma**2 * torch.eye(B.shape[0], dtype=B.dtype)
        return MultivariateNormal(mean, cov).log_prob(x)

    def true_posterior(self, x: Tensor, y: Tensor) -> MultivariateNormal:
        """``p(z | x, y) = N(Λ⁻¹(W y + Bᵀ(x − D y)/σ²), Λ⁻¹)``, batch ``(B,)``."""
        W, B, D = self.prior.W, self.decoder.B, self.decoder.D
        E, F, cov = self._exact_encoder(W, B, D, self.sigma)
        return MultivariateNormal(x @ E.T + y @ F.T, cov)

    def analytic_expected_log_likelihood(self, q: Distribution, x: Tensor, y: Tensor) -> Tensor:
        """``E_{q}[log p(x|y,z)] = log N(x; Bm + Dy, σ²I) − tr(B S Bᵀ)/(2σ²)`` for Gaussian q."""
        B, D = self.decoder.B, self.decoder.D
        m, S = q.mean, q.covariance_matrix if hasattr(q, "covariance_matrix") else torch.diag_embed(
            q.variance
        )
        loc = m @ B.T + y @ D.T
        ll = Independent(Normal(loc, torch.full_like(loc, self.sigma)), 1).log_prob(x)
        return ll - torch.einsum("ij,bjk,ik->b", B, S, B) / (2 * self.sigma**2)

    def analytic_elbo(self, q: Distribution, x: Tensor, y: Tensor) -> Tensor:
        """Exact ELBO of a Gaussian ``q``: analytic expected log-likelihood − closed-form KL."""
        return self.analytic_expected_log_likelihood(q, x, y) - _divergence(
            q, self.conditional_prior(y), "kl"
        )
