r"""Amortization gap of the temporal posterior (Cremer, Li & Duvenaud, "Inference Suboptimality
in Variational Autoencoders", ICML 2018; Problem 4 item 7): the ELBO of the amortised encoder
against that of a posterior refined per sequence. The chain is walked by
:func:`dyngraphvae.models.engine.posterior_chain` with the posterior step replaced."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.distributions import Independent, Normal

from dyngraphvae.amortization.refine import refine_posterior
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models import engine
from dyngraphvae.models.context import DecoderContext

if TYPE_CHECKING:
    from dyngraphvae.models.forecaster import TemporalGraphVAE

__all__ = ["AMORTIZATION_FAMILIES", "TemporalAmortizationGap", "amortization_gap"]


AMORTIZATION_FAMILIES = ("residual", "mean_field")
"""Local variational families of :func:`amortization_gap`."""


@dataclass(frozen=True)
class TemporalAmortizationGap:
    r"""Result of :func:`amortization_gap` for one sequence (scalars are sequence ELBOs in nats).

    Attributes:
        elbo_encoder: ELBO of the amortised posterior ``q_φ`` (Monte Carlo over the evaluation
            noise).
        elbo_initial: ELBO of the local family at its initialisation (equal to ``elbo_encoder``
            for ``"residual"``, whose initialisation *is* ``q_φ``).
        elbo_refined: ELBO of the refined local posterior ``q_λ*`` (same evaluation noise).
        amortization_gap: ``elbo_refined − elbo_encoder`` (``"residual"``: the amortization gap
            with respect to the local family; ``"mean_field"``: it also contains the difference
            between the Markov and the mean-field families, so it may be negative).
        standard_error: Monte Carlo standard error of the paired difference.
        family: ``"residual"`` or ``"mean_field"``.
        loc, log_scale: ``(T, N, d)`` refined local parameters (offsets for ``"residual"``).
        history: training objective (fixed-noise ELBO) before each step and after the last.
    """

    elbo_encoder: Tensor
    elbo_initial: Tensor
    elbo_refined: Tensor
    amortization_gap: Tensor
    standard_error: Tensor
    family: str
    loc: Tensor
    log_scale: Tensor
    history: Tensor


def _local_elbo(
    model: TemporalGraphVAE,
    graph: TemporalGraph,
    summaries: list[Tensor],
    contexts: list[DecoderContext] | None,
    eps: Tensor,
    loc: Tensor,
    log_scale: Tensor,
    family: str,
    method: str,
    pair_seed: int,
) -> Tensor:
    r"""Per-trajectory ELBOs ``(K,)`` of the local posterior with fixed noise ``eps (K, T, N, d)``:
    ``Σ_t [log p(G_{t+1} | Z_t[, G_{≤t}]) − KL(q_λ(Z_{t+1} | Z_t) || p(Z_{t+1} | Z_t))]`` along
    ``Z_{t+1} = loc_t(Z_t) + scale_t(Z_t) ⊙ ε_t`` (reparameterised in ``λ``)."""
    K, n, d = eps.size(0), model.config.num_nodes, model.config.latent_dim
    gen = None
    if method == "sparse" or (method == "auto" and n > model.config.dense_max_nodes):
        gen = torch.Generator(device=eps.device).manual_seed(pair_seed)  # same pairs every call

    def propose(s: int, z: Tensor) -> tuple[Independent, Tensor]:
        if family == "residual":
            base = model.posterior(summaries[s], z).base_dist
            mu, sd = base.loc + loc[s], base.scale * log_scale[s].exp()
        else:
            mu, sd = loc[s].expand(K, n, d), log_scale[s].exp().expand(K, n, d)
        return Independent(Normal(mu, sd), 1), mu + sd * eps[:, s]

    tr = engine.posterior_chain(
        model, graph, K, method=method, divergence_kind="kl", densities=False, propose=propose,
        initial=model.initial_latent().detach(), summaries=summaries,
        contexts=contexts, pair_generator=gen,
    )
    return (tr.feature_ll + tr.edge_ll - tr.kl.sum((-1, -2))).sum(1)


def amortization_gap(
    model: TemporalGraphVAE,
    graph: TemporalGraph,
    *,
    family: str = "residual",
    steps: int = 200,
    lr: float = 5e-2,
    num_samples: int = 8,
    eval_samples: int = 256,
    init_samples: int = 256,
    adjacency: str | None = None,
    generator: torch.Generator | None = None,
) -> TemporalAmortizationGap:
    r"""Amortization gap of the temporal posterior on one sequence (Cremer, Li & Duvenaud,
    "Inference Suboptimality in Variational Autoencoders", ICML 2018; Problem 4 item 7).

    The amortised posterior is Markov, ``q_φ(Z_{t+1} | Z_t, G_{1:t+1}) = N(μ_φ(h_{t+1}, Z_t),
    diag σ_φ²(h_{t+1}, Z_t))``: its parameters are functions of the sampled ``Z_t``, not a fixed
    ``(T, N, d)`` array. Two local families with free parameters ``λ = (m, ℓ) ∈ R^{T×N×d} ×
    R^{T×N×d}`` replace it:

    * ``"residual"`` (default): ``q_λ(Z_{t+1} | Z_t) = N(μ_φ(h_{t+1}, Z_t) + m_t,
      diag (σ_φ(h_{t+1}, Z_t) e^{ℓ_t})²)``, initialised at ``λ = 0``, where it *is* ``q_φ`` (the
      Markov dependence on the sampled path is kept; each step's mean and log-scale are refined
      given the path). ``L[q_λ*] − L[q_φ] ≥ 0`` is the amortization gap with respect to this
      family (a lower bound on the gap of any larger family).
    * ``"mean_field"``: ``q_λ(Z_{1:T}) = Π_t N(m_t, diag e^{2ℓ_t})`` (no dependence on ``Z_t``),
      initialised at the encoder's Monte Carlo filtering marginals (mean and total-variance
      standard deviation over ``init_samples`` posterior trajectories, as
      ``ELBOOutput.posterior_loc/scale``). The reported difference mixes amortization with the
      change of family.

    ``λ`` is refined by :func:`dyngraphvae.amortization.refine_posterior` (Adam, ``steps``, ``lr``)
    on the reparameterised ELBO with ``num_samples`` fixed noise paths (sample-average
    approximation; the sparse edge estimator, if used, keeps the same pairs at every step); the
    model's parameters receive no gradient. The reported ELBOs use ``eval_samples`` fresh paths
    shared by ``q_φ`` and ``q_λ*`` (paired difference). The edge term is exact (dense) when
    ``N ≤ dense_max_nodes`` unless ``adjacency`` says otherwise. The autoregressive decoder
    conditions on the observed past (no input dropout).
    """
    if not hasattr(model, "posterior_head") or not hasattr(model, "config"):
        raise TypeError(f"amortization_gap: expected a TemporalGraphVAE, got "
                        f"{type(model).__name__}")
    if family not in AMORTIZATION_FAMILIES:
        raise ValueError(f"amortization_gap: family must be one of {AMORTIZATION_FAMILIES}, "
                         f"got {family!r}")
    c = model.config
    if c.deterministic_decoder or c.deterministic:
        raise ValueError("amortization_gap: the deterministic ablation has no ELBO (Problem 4.3)")
    for name, v in (("num_samples", num_samples), ("eval_samples", eval_samples),
                    ("init_samples", init_samples)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"amortization_gap: {name} must be a positive integer, got {v!r}")
    graph = model._prepare(graph, "amortization_gap")
    if adjacency is None:
        adjacency = "dense" if c.num_nodes <= c.dense_max_nodes else c.adjacency
    method = model._method(adjacency)
    T, n, d = len(graph), c.num_nodes, c.latent_dim
    dev = model.device
    with torch.no_grad():
        summaries = model._summaries(graph)
        contexts = model.decoder_contexts(graph) if model.autoregressive else None
        if family == "residual":
            loc0 = torch.zeros(T, n, d, device=dev)
            ls0 = torch.zeros(T, n, d, device=dev)
        else:
            tr = engine.posterior_chain(model, graph, int(init_samples), generator=generator,
                                        likelihood=False, divergences=False)
            loc0 = tr.loc.mean(0)
            ls0 = 0.5 * (tr.scale.pow(2).mean(0) + tr.loc.var(0, unbiased=False)).log()
    pair_seed = int(torch.randint(0, 2**62, (1,), generator=generator))

    def noise(k: int) -> Tensor:
        return torch.randn((k, T, n, d), generator=generator, device=dev)

    def make(eps: Tensor, fam: str) -> Callable[[Tensor, Tensor], Tensor]:
        def fn(mu: Tensor, ls: Tensor) -> Tensor:  # flat (1, T·N·d) -> (1,)
            return _local_elbo(model, graph, summaries, contexts, eps,
                               mu.reshape(T, n, d), ls.reshape(T, n, d), fam, method,
                               pair_seed).mean().reshape(1)

        return fn

    res = refine_posterior(loc0.reshape(1, -1), ls0.reshape(1, -1),
                           make(noise(int(num_samples)), family), steps=int(steps), lr=lr)
    eps = noise(int(eval_samples))
    with torch.no_grad():
        zero = torch.zeros(T, n, d, device=dev)
        enc = _local_elbo(model, graph, summaries, contexts, eps, zero, zero, "residual",
                          method, pair_seed)
        init = enc if family == "residual" else _local_elbo(
            model, graph, summaries, contexts, eps, loc0, ls0, family, method, pair_seed)
        ref = _local_elbo(model, graph, summaries, contexts, eps,
                          res.loc.reshape(T, n, d), res.log_scale.reshape(T, n, d), family,
                          method, pair_seed)
    diff = ref - enc
    se = diff.std() / math.sqrt(diff.numel()) if diff.numel() > 1 else diff.new_zeros(())
    return TemporalAmortizationGap(
        elbo_encoder=enc.mean(),
        elbo_initial=init.mean(),
        elbo_refined=ref.mean(),
        amortization_gap=diff.mean(),
        standard_error=se,
        family=family,
        loc=res.loc.reshape(T, n, d),
        log_scale=res.log_scale.reshape(T, n, d),
        history=res.history,
    )
