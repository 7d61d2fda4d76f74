r"""The temporal ELBO as an objective object (Pyro-style): terms of posterior trajectories in,
named loss and bound out.

For ``S`` trajectories ``Z^{(s)}_{1:T} ~ q`` of the filtering posterior::

    ELBO = Σ_{t=0}^{T-1} E_q[ log p(X_{t+1} | Z_t) + log p(A_{t+1} | Z_t)
                              − KL(q(Z_{t+1} | Z_t, G_{1:t+1}) || p(Z_{t+1} | Z_t)) ]

(Hajiramezanali et al., "Variational Graph Recurrent Neural Networks", NeurIPS 2019, eq. 6, with
this package's index convention: ``Z_t`` generates ``G_{t+1}``; ``docs/model.md``). The loss is
``−J / D`` with ``J = Σ_t F_t + Σ_t E_t − β R``, where ``R`` is the KL sum, its free-bits floor
(Kingma et al. 2016) or a custom transform, and ``D`` the reduction's divisor.

The model produces a :class:`Trajectory` (:func:`dyngraphvae.models.engine.posterior_chain`);
:class:`TemporalELBO` turns it into an :class:`ELBOOutput`. Nothing here knows the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from dyngraphvae.objectives.free_bits import free_bits as _free_bits

__all__ = ["ELBOOutput", "REDUCTIONS", "TemporalELBO", "Trajectory"]

REDUCTIONS = ("sum", "mean_node", "mean_edge")
"""Accepted ``reduction=`` values of :class:`TemporalELBO`."""

KLTransform = Callable[[Tensor], Tensor]


@dataclass
class Trajectory:
    r"""Per-step terms of ``S`` posterior trajectories over ``T`` snapshots (leading ``(S, T)``).

    Attributes:
        feature_ll: ``(S, T)`` ``log p(X_{t+1} | Z_t[, G_{≤t}])`` over observed nodes (``None``
            when the chain ran without the likelihood).
        edge_ll: ``(S, T)`` ``log p(A_{t+1} | Z_t[, G_{≤t}])`` over observed pairs (or ``None``).
        kl: element-wise divergence terms ``(S, T, N, d)`` (factorised prior), ``(S, T, N, 1)``
            (node mixture) or ``(S, T, 1, 1)`` (graph mixture); they sum to each step's
            divergence.
        log_prior, log_posterior: ``(S, T)`` ``log p(Z_{t+1} | Z̃_t)`` and ``log q(Z_{t+1} | ·)``
            at the sampled ``Z_{t+1}`` (``None`` for the deterministic ablation).
        loc, scale: ``(S, T, N, d)`` parameters of each step's posterior.
        z_last: ``(S, N, d)`` ``Z_T``; q_last: the last step's posterior; summary_last: ``h_T``.
        states: ``[Z_0, …, Z_T]`` when the chain kept them (else empty).
    """

    feature_ll: Tensor | None
    edge_ll: Tensor | None
    kl: Tensor
    log_prior: Tensor | None
    log_posterior: Tensor | None
    loc: Tensor
    scale: Tensor
    z_last: Tensor
    q_last: Any
    summary_last: Tensor | None
    states: list[Tensor] = field(default_factory=list)

    @property
    def log_weights(self) -> Tensor:
        r"""``(S,)`` whole-trajectory importance log-weights ``Σ_t [F_t + E_t + log p − log q]``."""
        if self.feature_ll is None or self.log_prior is None:
            raise ValueError("Trajectory.log_weights: needs the likelihood and the densities")
        return (self.feature_ll + self.edge_ll + self.log_prior - self.log_posterior).sum(1)


@dataclass
class ELBOOutput:
    r"""Named terms of the temporal ELBO (all per-step tensors are averages over the ``S`` samples).

    Attributes:
        elbo: scalar ``Σ_t per_step_elbo``: the ELBO of the whole sequence (sum over steps and
            nodes; KL weight 1, no free bits) — a lower bound on ``log p(G_{1:T})`` when
            :attr:`is_bound` is true (sparse edge evaluator: an unbiased estimate of it).
        loss: scalar to minimise, ``−(Σ_t F_t + Σ_t E_t − β R)`` divided according to
            :attr:`reduction` (see :class:`TemporalELBO`), ``β`` = ``kl_weight``, ``R``
            = :attr:`regulariser`.
        feature_ll: ``(T,)`` ``F_t = E_q log p(X_{t+1} | Z_t)`` summed over observed nodes (with the
            deterministic decoder: the squared-error score ``−½‖x − μ‖²``, not a log-density).
        edge_ll: ``(T,)`` ``E_t = E_q log p(A_{t+1} | Z_t)`` summed over observed pairs.
        kl: ``(T,)`` ``KL(q(Z_{t+1}|·) || p(Z_{t+1}|Z̃_t))`` summed over nodes (closed form; a
            one-sample Monte Carlo estimate ``log q − log p`` for mixture priors; the CS
            divergence when ``divergence="cs"``; ``½‖μ_q − μ_p‖²`` for the deterministic ablation).
        per_step_elbo: ``(T,)`` ``F_t + E_t − KL_t``.
        kl_per_dim: ``(d,)`` KL per latent dimension per node per step (mean over samples, steps
            and nodes) — the free-bits units; ``None`` for mixture priors (no factorisation).
        posterior_loc: ``(T, N, d)`` Monte Carlo mean of ``Z_{t+1}`` under ``q`` (mean over the
            ``S`` trajectories of the conditional means).
        posterior_scale: ``(T, N, d)`` the matching standard deviation (law of total variance).
        regulariser: scalar ``R`` entering the loss: ``Σ_t KL_t`` or its free-bits /
            ``kl_transform`` replacement.
        reduction, teacher_forcing, num_samples: the arguments used.
        is_bound: ``elbo`` is a lower bound on ``log p(G_{1:T})`` (KL divergence, a density decoder,
            ``teacher_forcing == 1``).
        num_observed_nodes: ``Σ_t n_t`` observed (node, step) pairs (``mean_node`` divisor).
        num_observed_pairs: ``Σ_t n_t(n_t − 1)/2`` (undirected) or ``n_t(n_t − 1)`` (directed).
    """

    elbo: Tensor
    loss: Tensor
    feature_ll: Tensor
    edge_ll: Tensor
    kl: Tensor
    per_step_elbo: Tensor
    kl_per_dim: Tensor | None
    posterior_loc: Tensor
    posterior_scale: Tensor
    regulariser: Tensor
    reduction: str
    teacher_forcing: float
    num_samples: int
    is_bound: bool
    num_observed_nodes: int
    num_observed_pairs: int


@dataclass(frozen=True)
class TemporalELBO:
    r"""The temporal ELBO and its regularised training variants.

    ``loss = −J / D``, ``J = Σ_t F_t + Σ_t E_t − β R``:

    * ``reduction="sum"``: ``D = 1`` — with ``β = 1``, no free bits and teacher forcing the loss is
      exactly ``−elbo``;
    * ``"mean_node"``: ``D = Σ_t n_t`` (observed node-steps): the same objective per node-step;
    * ``"mean_edge"``: a *re-weighted* objective, ``−(Σ_t E_t / P + (Σ_t F_t − β R) / M)`` with
      ``P`` observed node pairs and ``M`` observed node-steps (VGAE/VGRNN-style normalisation;
      it changes the balance between edges and the rest, so it is not proportional to the ELBO).

    Args:
        kl_weight: ``β`` multiplying the regulariser ``R`` (KL annealing).
        free_bits: ``λ`` nats per latent dimension per node per step (Kingma et al. 2016):
            ``R = T·N·Σ_d max(λ, KL̄_d)`` with ``KL̄_d`` the mean over samples, steps and nodes;
            needs element-wise terms with a latent-dimension axis (a factorised prior).
        kl_transform: custom regulariser: called with the element-wise divergence terms
            ``(S, T, N, d)`` (mixture priors: ``(S, T, N, 1)`` / ``(S, T, 1, 1)``) and returning
            the scalar ``R`` on the scale of ``Σ_t KL_t``. Overrides ``free_bits``.
        reduction: ``"sum"``, ``"mean_node"`` or ``"mean_edge"``.
    """

    kl_weight: float = 1.0
    free_bits: float = 0.0
    kl_transform: KLTransform | None = None
    reduction: str = "sum"

    def __post_init__(self) -> None:
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"elbo: reduction must be one of {REDUCTIONS}, got {self.reduction!r}")
        if not (math.isfinite(self.kl_weight) and self.kl_weight >= 0):
            raise ValueError(f"elbo: kl_weight must be finite and >= 0, got {self.kl_weight}")
        if not (math.isfinite(self.free_bits) and self.free_bits >= 0):
            raise ValueError(f"elbo: free_bits must be finite and >= 0, got {self.free_bits}")

    @property
    def uses_free_bits(self) -> bool:
        return self.free_bits > 0 and self.kl_transform is None

    def regulariser(self, kl: Tensor, num_nodes: int) -> Tensor:
        """``R`` from the element-wise terms ``kl (S, T, ., .)``."""
        if self.kl_transform is not None:
            reg = self.kl_transform(kl)
            if not isinstance(reg, Tensor) or reg.dim() != 0:
                raise ValueError("elbo: kl_transform must return a scalar tensor")
            return reg
        if self.free_bits > 0:
            T = kl.size(1)
            return _free_bits(kl, self.free_bits, "dimension", reduce_over=(0, 1, 2),
                              reduction="mean") * (T * num_nodes)
        return kl.sum((-1, -2)).mean(0).sum()

    def __call__(
        self,
        trajectory: Trajectory,
        *,
        num_nodes: int,
        directed: bool,
        node_mask: Tensor | None = None,
        teacher_forcing: float = 1.0,
        exact: bool = True,
    ) -> ELBOOutput:
        r"""Named terms of ``trajectory``.

        Args:
            num_nodes, directed: the graph's ``N`` and direction (pair counts of ``mean_edge``).
            node_mask: ``(T, N)`` observed nodes (``None``: all).
            teacher_forcing: the ``ε`` the chain used (recorded; ``< 1`` is not a bound).
            exact: whether the terms are those of the bound (KL divergence, a density decoder,
                no decoder weakening); ``is_bound = exact and teacher_forcing == 1``.
        """
        tr = trajectory
        S, T = tr.kl.shape[:2]
        n = num_nodes
        fl, el = tr.feature_ll.mean(0), tr.edge_ll.mean(0)  # (T,)
        kl_el = tr.kl
        kl_t = kl_el.sum((-1, -2)).mean(0)
        per_step = fl + el - kl_t
        reg = self.regulariser(kl_el, n)
        counts = (
            node_mask.sum(-1).to(torch.float64)
            if node_mask is not None
            else torch.full((T,), float(n), dtype=torch.float64)
        )
        pairs_t = counts * (counts - 1) * (1.0 if directed else 0.5)
        m_nodes, m_pairs = int(counts.sum().item()), int(pairs_t.sum().item())
        rec_f, rec_e = fl.sum(), el.sum()
        beta = self.kl_weight
        if self.reduction == "sum":
            loss = -(rec_f + rec_e - beta * reg)
        elif self.reduction == "mean_node":
            loss = -(rec_f + rec_e - beta * reg) / max(m_nodes, 1)
        else:
            loss = -(rec_e / max(m_pairs, 1) + (rec_f - beta * reg) / max(m_nodes, 1))
        loc, scale = tr.loc, tr.scale  # (S, T, N, d)
        post_loc = loc.mean(0)
        # law of total variance written out: Tensor.var over a leading dim takes a slow CPU
        # reduction path (0.6 s vs 0.04 s at N=1e5, T=5; benchmarks/speed.py)
        post_scale = (scale.pow(2) + (loc - post_loc).pow(2)).mean(0).sqrt()
        d = loc.size(-1)
        kl_per_dim = (kl_el.mean((0, 1, 2)) if kl_el.size(-1) == d and kl_el.size(-2) == n
                      else None)
        return ELBOOutput(
            elbo=per_step.sum(),
            loss=loss,
            feature_ll=fl,
            edge_ll=el,
            kl=kl_t,
            per_step_elbo=per_step,
            kl_per_dim=kl_per_dim,
            posterior_loc=post_loc,
            posterior_scale=post_scale,
            regulariser=reg,
            reduction=self.reduction,
            teacher_forcing=float(teacher_forcing),
            num_samples=int(S),
            is_bound=bool(exact and teacher_forcing == 1.0),
            num_observed_nodes=m_nodes,
            num_observed_pairs=m_pairs,
        )
