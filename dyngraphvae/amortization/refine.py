r"""Amortization gap (Cremer, Li & Duvenaud, "Inference Suboptimality in Variational Autoencoders",
ICML 2018).

For a variational family Q and an amortised encoder q_φ ∈ Q::

    log p(x) − L[q_φ] = (log p(x) − L[q*])  +  (L[q*] − L[q_φ])
                         approximation gap      amortization gap

where ``q* = argmax_{q ∈ Q} L[q]`` is the per-datapoint optimum in the same family. ``q*`` is found
by gradient ascent on local variational parameters (λ_i = (μ_i, log σ_i) for each datapoint),
initialised at the encoder output (Problem 1.6 explains why this is not done at training time: it
does not scale, and amortisation replaces it). ``log p(x)`` is estimated with a large-K
importance-weighted bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Independent, Normal

from dyngraphvae.distributions import kl_divergence

__all__ = ["AmortizationGap", "RefinementResult", "cvae_amortization_gap", "refine_posterior"]


@dataclass(frozen=True)
class RefinementResult:
    """Result of :func:`refine_posterior` (per-datapoint tensors have the batch shape ``(B,)``).

    ``gain = elbo_after − elbo_before`` is the amortization gap estimate when the refinement
    converged; ``history`` is the mean ELBO over the batch before each step and after the last.
    """

    loc: Tensor
    log_scale: Tensor
    elbo_before: Tensor
    elbo_after: Tensor
    history: Tensor

    @property
    def gain(self) -> Tensor:
        return self.elbo_after - self.elbo_before


def refine_posterior(
    loc: Tensor,
    log_scale: Tensor,
    elbo_fn: Callable[[Tensor, Tensor], Tensor],
    steps: int = 100,
    lr: float = 1e-2,
) -> RefinementResult:
    r"""Per-datapoint refinement of a diagonal Gaussian ``q = N(loc, diag exp(2 log_scale))``.

    Maximises ``Σ_i elbo_fn(loc, log_scale)_i`` over the local parameters only (Adam, ``steps``
    steps, learning rate ``lr``), starting at ``(loc, log_scale)`` (typically the encoder output).
    Since datapoint ``i``'s ELBO depends only on its own λ_i, maximising the sum maximises each one.
    Gradients are taken with respect to the local parameters only: model parameters' ``.grad`` are
    left untouched. ``elbo_fn`` must return one value per datapoint (the leading shape of ``loc``
    without the last dimension); a deterministic ``elbo_fn`` (analytic, or Monte Carlo with fixed
    noise) makes ``elbo_before``/``elbo_after`` exact.
    """
    if steps < 0:
        raise ValueError(f"refine_posterior: steps must be >= 0, got {steps}")
    if lr <= 0:
        raise ValueError(f"refine_posterior: lr must be > 0, got {lr}")
    if loc.shape != log_scale.shape:
        raise ValueError(
            f"refine_posterior: loc {tuple(loc.shape)} and log_scale "
            f"{tuple(log_scale.shape)} differ"
        )
    mu = loc.detach().clone().requires_grad_(True)
    ls = log_scale.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([mu, ls], lr=lr)
    with torch.no_grad():
        before = elbo_fn(mu, ls)
    if before.shape != loc.shape[:-1]:
        raise ValueError(
            f"refine_posterior: elbo_fn must return shape {tuple(loc.shape[:-1])}, "
            f"got {tuple(before.shape)}"
        )
    history = []
    for _ in range(steps):
        elbo = elbo_fn(mu, ls)
        history.append(elbo.detach().mean())
        g_mu, g_ls = torch.autograd.grad(-elbo.sum(), [mu, ls])
        opt.zero_grad(set_to_none=True)
        mu.grad, ls.grad = g_mu, g_ls
        opt.step()
    with torch.no_grad():
        after = elbo_fn(mu, ls)
    history.append(after.mean())
    return RefinementResult(
        loc=mu.detach(),
        log_scale=ls.detach(),
        elbo_before=before.detach(),
        elbo_after=after.detach(),
        history=torch.stack(history),
    )


@dataclass(frozen=True)
class AmortizationGap:
    """Decomposition of the inference gap of a CVAE (shapes ``(B,)``).

    ``elbo_encoder`` = L[q_φ], ``elbo_refined`` = L[q*] (same noise for both, so the difference
    has low variance), ``amortization_gap = elbo_refined − elbo_encoder``; when ``iw_samples > 0``,
    ``log_likelihood`` is the IW estimate of ``log p(x|y)`` (proposal q*) and
    ``approximation_gap = log_likelihood − elbo_refined`` (else both are ``None``).
    """

    elbo_encoder: Tensor
    elbo_refined: Tensor
    amortization_gap: Tensor
    log_likelihood: Tensor | None
    approximation_gap: Tensor | None
    refinement: RefinementResult


def cvae_amortization_gap(
    model,
    x: Tensor,
    y: Tensor,
    *,
    steps: int = 200,
    lr: float = 5e-2,
    num_samples: int = 16,
    eval_samples: int = 1000,
    iw_samples: int = 1000,
    generator: torch.Generator | None = None,
) -> AmortizationGap:
    r"""Amortization and approximation gaps of a :class:`~dyngraphvae.models.cvae.CVAE`.

    The encoder must return a diagonal Gaussian ``Independent(Normal, 1)``. The refinement objective
    is the reparameterised ELBO ``(1/S) Σ_s log p(x|y, μ + σ ε_s) − KL(q || p(z|y))`` with
    ``S = num_samples`` noise draws ε fixed during the optimisation (sample-average approximation);
    the reported ELBOs use ``eval_samples`` fresh draws, shared by the encoder's and the refined
    posterior. ``log p(x|y)`` is estimated with ``iw_samples`` importance samples from the refined
    posterior (skipped when 0).
    """
    with torch.no_grad():
        q = model.posterior(x, y)
    if not (isinstance(q, Independent) and isinstance(q.base_dist, Normal)):
        raise TypeError(
            "cvae_amortization_gap: the encoder must return Independent(Normal, 1) (a diagonal "
            f"Gaussian), got {type(q).__name__}"
        )
    loc0, log_scale0 = q.base_dist.loc.detach(), q.base_dist.scale.detach().log()
    prior = model.conditional_prior(y, loc0.shape[-1])

    def make_elbo(eps: Tensor) -> Callable[[Tensor, Tensor], Tensor]:
        def elbo_fn(mu: Tensor, ls: Tensor) -> Tensor:
            qq = Independent(Normal(mu, ls.exp()), 1)
            z = mu + ls.exp() * eps
            rec = model.likelihood(z, y).log_prob(x).mean(0)
            return rec - kl_divergence(qq, prior)

        return elbo_fn

    def noise(s: int) -> Tensor:
        return torch.randn(
            (s,) + loc0.shape, generator=generator, dtype=loc0.dtype, device=loc0.device
        )

    res = refine_posterior(loc0, log_scale0, make_elbo(noise(num_samples)), steps=steps, lr=lr)
    evaluate = make_elbo(noise(eval_samples))
    with torch.no_grad():
        e0 = evaluate(loc0, log_scale0)
        e1 = evaluate(res.loc, res.log_scale)
        ll = gap = None
        if iw_samples > 0:
            q_ref = Independent(Normal(res.loc, res.log_scale.exp()), 1)
            parts, done = [], 0
            while done < iw_samples:
                k = min(256, iw_samples - done)
                lw = model.log_weights(x, y, k, generator=generator, posterior=q_ref)
                parts.append(torch.logsumexp(lw, 0))
                done += k
            ll = torch.logsumexp(torch.stack(parts), 0) - math.log(iw_samples)
            gap = ll - e1
    return AmortizationGap(
        elbo_encoder=e0,
        elbo_refined=e1,
        amortization_gap=e1 - e0,
        log_likelihood=ll,
        approximation_gap=gap,
        refinement=res,
    )
