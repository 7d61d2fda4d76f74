r"""Overshooting terms: train the edge decoder for the leads a forecast uses.

The ELBO trains the decoder at lead 1 only: snapshot ``s`` (``G_{s+1}``) from ``Z_s`` and the
observed ``G_{≤s}``. A forecast from origin ``T`` decodes snapshot ``T + k − 1`` (lead ``k``) from
the transition's ``Ẑ_{T+k-1}``, ``k − 1`` steps from the filtered ``Z_T``. With the direct
multi-horizon decoder (``ForecasterConfig.context_leads = K > 1``) its edge context is the observed
history at ``T`` aged ``k − 1`` snapshots (:func:`~dyngraphvae.models.context.aged`), read through
the term of lead ``k``. The overshooting term trains exactly that use (observation overshooting,
Hafner et al., "Learning Latent Dynamics for Planning from Pixels", ICML 2019, Sec. 4, here on the
decoder's edges)::

    O_k(T) = E_{Z_T ~ q} E_{Ẑ_{T+k-1} ~ p^{k-1}(· | Z_T)}
             [ log p(A_{T+k} | Ẑ_{T+k-1}, age^{k-1}(C_T), lead k) ],     k = 2..K

with ``C_T`` the decoder context of ``G_{≤T}``. The training loop adds ``−Σ_k O_k`` next to the
ELBO (:class:`~dyngraphvae.training.ELBOModule`). By default (``shared=False``) its gradient
reaches the lead terms alone: the latent path and the latent score ``s(ẑ_u, ẑ_v) + b`` are held
fixed, so the one-step model is exactly the one the ELBO trains and the lead terms are fitted
on top of it. With ``shared=True`` the gradient also reaches the transition (reparameterised
rollout) and the edge decoder; on bitcoin_alpha's validation origins that cost the one-step fit
(validation ELBO per step −412.3 against −407.1, early stop at epoch 62 against 95) and 3–9
points of historical-negative AUC (``docs/results.md``, section 3e).

A diagnostic on uci_collegemsg's validation origins (``benchmarks/drift_decomposition.py``,
``docs/results.md``) found the multi-step loss of the one-step decoder iterated in the context,
not the latent: forecasts with the transition's latents and the observed context score as the
one-step forecast (AUC 96.5–96.8 at h = 2..5), those with the filtered latents and the sampled
context as the rollout (92.7–94.9).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models.context import ContextScorer, aged
from dyngraphvae.models.results import FilterState

if TYPE_CHECKING:
    from dyngraphvae.models.forecaster import TemporalGraphVAE

__all__ = ["overshooting_edge_ll"]


def overshooting_edge_ll(
    model: TemporalGraphVAE,
    graph: TemporalGraph,
    start: FilterState | None,
    *,
    num_samples: int,
    leads: Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    method: str = "auto",
    shared: bool = False,
) -> Tensor:
    r"""``(S, len(leads))`` single-sample estimates of ``O_k(T)`` (module docstring) for each
    ``k`` in ``leads``.

    Args:
        graph: the snapshots from the origin on: ``graph[j]`` is snapshot ``T + j``, so lead
            ``k`` scores ``graph[k − 1]`` (``len(graph) ≥ max(leads)``).
        start: the filtered state at ``T`` (:meth:`~TemporalGraphVAE.filter_states`; its ``z``
            is detached here) or ``None`` for ``T = 0`` (``Z_0`` and the empty context).
        num_samples: ``S`` rollouts (``start.z`` with one row is broadcast).
        leads: the leads ``k ≥ 1`` to score (default ``2..K``).
        generator: seeds the rollout and the sparse estimator's negatives.
        method: the edge evaluator (``auto|dense|sparse``).
        shared: let the gradient reach the transition and the edge decoder too (module
            docstring); ``False``: the lead terms only.
    """
    c = model.config
    if model.lead_terms is None:
        raise ValueError("overshooting_edge_ll: the model has no lead terms "
                         "(ForecasterConfig.context_leads = 1)")
    leads = list(range(2, c.context_leads + 1)) if leads is None else [int(k) for k in leads]
    if not leads or min(leads) < 1 or max(leads) > len(graph):
        raise ValueError(f"overshooting_edge_ll: leads must lie in [1, len(graph) = {len(graph)}]"
                         f", got {leads}")
    S, n, d = int(num_samples), c.num_nodes, c.latent_dim
    if start is None:
        z, ctx = model.initial_latent().expand(S, n, d), model._empty_context()
    else:
        z = start.z.detach().to(model.device).expand(S, n, d)
        ctx = start.context if start.context is not None else model._empty_context()
    wanted, out = set(leads), {}
    for k in range(1, max(leads) + 1):
        if k in wanted:
            if shared:
                out[k] = model._edge_ll(z, graph, k - 1, method, generator, ctx, k)
            else:
                out[k] = _lead_only_ll(model, z, graph, k, method, generator, ctx)
        if k < max(leads):
            with torch.set_grad_enabled(shared and torch.is_grad_enabled()):
                z = model.next_latent(z, generator)
            ctx = replace(ctx, edges=aged(ctx.edges, c.context_decay))
    return torch.stack([out[k] for k in leads], dim=-1)


class _Frozen:
    """An edge decoder whose scores ``s(z_u, z_v) + b`` carry no gradient (the lead-only
    overshooting term trains the lead term alone)."""

    def __init__(self, decoder) -> None:
        self.decoder = decoder

    def logits(self, z: Tensor, pairs: Tensor) -> Tensor:
        with torch.no_grad():
            return self.decoder.logits(z, pairs)

    def dense_logits(self, z: Tensor) -> Tensor:
        with torch.no_grad():
            return self.decoder.dense_logits(z)


def _lead_only_ll(model, z, graph, k, method, generator, ctx) -> Tensor:
    """``log p(A | ẑ, C, lead k)`` with the gradient reaching the lead term only."""
    scorer = ContextScorer(_Frozen(model.edge_decoder), model.context_term(k), ctx.edges)
    return model._edge_ll(z.detach(), graph, k - 1, method, generator, ctx, k, scorer=scorer)
