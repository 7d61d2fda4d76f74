r"""Result types of filtering and predictive scoring (the ELBO's own is
:class:`dyngraphvae.objectives.elbo.ELBOOutput`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Categorical, Distribution, Independent, MixtureSameFamily, Normal

from dyngraphvae.models.context import DecoderContext

__all__ = ["FilterState", "PredictiveLogLikelihood", "predictive_log_likelihood"]


@dataclass
class FilterState:
    r"""The filtered state after ``num_snapshots = T`` snapshots: what forecasting needs.

    Attributes:
        z: ``(S, N, d)`` samples of ``Z_T`` drawn ancestrally through the posterior chain
            ``Z_{t+1} ~ q(· | Z_t, G_{1:t+1})`` (joint over nodes).
        posterior: ``q(Z_T | Z_{T-1}^{(s)}, G_{1:T})`` with batch ``(S, N)`` and event ``(d,)``;
            ``None`` when ``T = 0`` (``Z_0`` is fixed) or for the deterministic ablation.
        summary: ``(N, H)`` recurrent summary ``h_T`` of ``G_{1:T}`` (``None`` when ``T = 0``).
        num_snapshots: ``T``; ``z`` generates snapshot index ``T`` (``G_{T+1}``).
        context: for an autoregressive decoder (``decoder_context != "none"``), the
            :class:`DecoderContext` of snapshot index ``T`` (``A_T``, ``H_T``, ``x_T`` of the
            observed history, shared by the samples); ``None`` otherwise.
        lead_terms: with ``ForecasterConfig.context_refit``, the edge context terms of leads
            ``1..K`` refitted at this origin (:mod:`dyngraphvae.models.refit`); forecasts from
            the state read them; ``None`` otherwise.
    """

    z: Tensor
    posterior: Distribution | None
    summary: Tensor | None
    num_snapshots: int
    context: DecoderContext | None = None
    lead_terms: list | None = None

    @property
    def num_samples(self) -> int:
        return int(self.z.size(0))

    def marginal(self) -> Distribution:
        r"""Per-node Monte Carlo approximation of the filtering marginal ``q(z_v^T | G_{1:T})``.

        A uniform mixture over the ``S`` conditional posteriors, batch ``(N,)``, event ``(d,)``
        (``MixtureSameFamily``). It drops the dependence between nodes that :attr:`z` keeps.
        """
        if self.posterior is None:
            raise ValueError("FilterState.marginal: no posterior (T = 0 or deterministic model)")
        base = self.posterior.base_dist
        loc, scale = base.loc.transpose(0, 1), base.scale.transpose(0, 1)  # (N, S, d)
        mix = Categorical(logits=torch.zeros(loc.shape[:2], dtype=loc.dtype, device=loc.device))
        return MixtureSameFamily(mix, Independent(Normal(loc, scale), 1))


@dataclass
class PredictiveLogLikelihood:
    r"""Monte Carlo predictive log-likelihoods ``log p(G_{T+h} | G_{1:T})``, ``h = 1..H``.

    ``log p̂ = logsumexp_s log p(· | Ẑ^{(s)}_{T+h-1}) − log S`` over ``S`` forecast trajectories
    (a consistent estimator, biased low for finite ``S`` by Jensen's inequality).

    Attributes:
        feature: ``(H,)`` for ``X_{T+h}`` jointly over the observed nodes, or ``None`` without a
            feature decoder. Its Monte Carlo bias grows with ``N`` (a log-mean of products).
        feature_marginal: ``(H,)`` ``Σ_v log p(x_v^{T+h} | G_{1:T})``: the sum of the per-node
            marginal predictive log-densities (the per-node log score), each estimated by its own
            ``logsumexp_s − log S``; far lower variance, and equal to ``feature`` in the limit
            when node trajectories are independent under the model (factorised or node-mixture
            transition: the posterior and the transition are node-wise given the deterministic
            summaries). ``None`` without a feature decoder.
        edge: ``(H,)`` for ``A_{T+h}``, or ``None`` without an edge decoder.
        joint: ``(H,)`` for ``(X_{T+h}, A_{T+h})`` jointly.
        num_observed_nodes: ``(H,)`` observed nodes per step (to normalise per node).
        num_samples: ``S``.
    """

    feature: Tensor | None
    feature_marginal: Tensor | None
    edge: Tensor | None
    joint: Tensor
    num_observed_nodes: Tensor
    num_samples: int


def predictive_log_likelihood(
    model: Any,
    graph: Any,
    start: int,
    horizon: int = 1,
    num_samples: int = 100,
    *,
    adjacency: str | None = None,
    generator: torch.Generator | None = None,
) -> PredictiveLogLikelihood:
    r"""Monte Carlo ``log p(G_{T+h} | G_{1:T})`` for ``h = 1..H`` with ``T = start``.

    Conditions on snapshots ``0..start-1`` of ``graph`` (``start = 0``: on nothing, from
    ``Z_0``), forecasts ``S`` trajectories and scores snapshots ``start..start+H-1``:
    ``logsumexp_s log p(G_{T+h} | Ẑ^{(s)}_{T+h-1}) − log S`` (see
    :class:`PredictiveLogLikelihood`). Absent nodes are excluded.
    """
    graph = model._prepare(graph, "predictive_log_likelihood")
    if model.config.deterministic_decoder:
        raise ValueError(
            "predictive_log_likelihood: the deterministic decoder has no density (Problem 4.3)"
        )
    if isinstance(start, bool) or int(start) != start or start < 0:
        raise ValueError(
            f"predictive_log_likelihood: start must be an integer >= 0, got {start}"
        )
    graph.require_snapshots(start + horizon, f"predictive_log_likelihood(start={start}, "
                                             f"horizon={horizon})")
    with torch.no_grad():
        if start == 0:
            state = model.initial_state(num_samples)
        else:
            state = model.filter(graph[:start], num_samples, generator=generator)
        fc = model.forecast(state, horizon, num_samples, generator=generator)
        method = model._method(adjacency)
        fls, els, fms = [], [], []
        for k in range(horizon):
            # autoregressive decoder: conditioned on the trajectory's own sampled past
            ctx = fc.contexts[k] if fc.autoregressive else None
            # the forecast's own scorer: lead term and snapshot effect of that step
            sc = fc._scorer(k) if fc.autoregressive and fc.edge_decoder is not None else None
            fl, el = model._step_ll(fc.z[:, k], graph, start + k, method, generator, ctx, k + 1,
                                    sc)
            fls.append(fl)
            els.append(el)
            if model.feature_decoder is not None:
                fn = model._feature_ll(fc.z[:, k], graph, start + k, per_node=True,
                                      context=ctx)  # (S, N)
                fms.append((torch.logsumexp(fn, dim=0) - math.log(num_samples)).sum())
        fl, el = torch.stack(fls), torch.stack(els)  # (H, S)
        log_s = math.log(num_samples)

        def log_mean_exp(v: Tensor) -> Tensor:
            return torch.logsumexp(v, dim=1) - log_s

        mask = graph.node_mask
        counts = torch.tensor(
            [int(mask[start + k].sum()) if mask is not None else model.config.num_nodes
             for k in range(horizon)]
        )
        return PredictiveLogLikelihood(
            feature=log_mean_exp(fl) if model.feature_decoder is not None else None,
            feature_marginal=torch.stack(fms) if fms else None,
            edge=log_mean_exp(el) if model.edge_decoder is not None else None,
            joint=log_mean_exp(fl + el),
            num_observed_nodes=counts,
            num_samples=int(num_samples),
        )
