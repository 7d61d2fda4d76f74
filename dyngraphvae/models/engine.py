r"""The one inference and rollout engine of the temporal graph VAE.

Every walk along the latent chain goes through two functions:

* :func:`posterior_chain` — the filtering posterior over observed snapshots::

      Z_0 fixed;  Z_{t+1} ~ q(Z_{t+1} | Z_t, G_{1:t+1}),   t = 0..T-1

  with, per step, the decoder terms ``log p(G_{t+1} | Z_t[, G_{≤t}])``, the divergence to the
  transition ``p(Z_{t+1} | Z̃_t)`` (``Z̃_t``: the posterior sample, or with probability ``1 − ε``
  the model's own rollout — scheduled sampling, Bengio et al. 2015) and the densities of the
  importance weights. Used by the ELBO, the importance-weighted bound, filtering, rolling
  forecasts and (with a replaced posterior step) the amortization gap.
* :func:`rollout` — the generative model forward from a filtered state::

      X̂_{T+k+1} ~ p(X | Ẑ_{T+k}[, X̂_{T+k}]),  Â_{T+k+1} ~ p(A | Ẑ_{T+k}[, Â_{T+k}, Ĥ_{T+k}]),
      Ẑ_{T+k+1} ~ p(Z | Ẑ_{T+k})

  vectorised over any leading sample/origin dimensions (the plain decoder) or over samples with
  the sampled graphs fed back as context (the autoregressive decoder). Used by
  :meth:`~dyngraphvae.models.TemporalGraphVAE.forecast` and the rolling forecasts.

The functions take the model as their first argument and read its building blocks
(``posterior``, ``prior``, ``decode_features``, ``edge_scorer``); they hold no state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.distributions import Distribution

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models.context import (
    ContextScorer,
    DecoderContext,
    EdgeContext,
    EdgeContextTerm,
    OffsetScorer,
    aged,
    push_lag,
)
from dyngraphvae.models.forecast import Forecast, feature_step, sample_edge_coords, sample_one
from dyngraphvae.models.results import FilterState
from dyngraphvae.objectives.elbo import Trajectory

if TYPE_CHECKING:
    from dyngraphvae.models.forecaster import TemporalGraphVAE

__all__ = [
    "Rollout", "assemble_forecast", "filter_states", "filtered_states", "latent_path",
    "posterior_chain", "rollout", "step_effect", "window_inputs",
]

Propose = Callable[[int, Tensor], tuple[Distribution, Tensor]]
"""``propose(s, Z_s) -> (q, Z_{s+1})``: a replacement posterior step (amortization gap)."""


def posterior_chain(
    model: TemporalGraphVAE,
    graph: TemporalGraph,
    num_samples: int,
    *,
    teacher_forcing: float = 1.0,
    generator: torch.Generator | None = None,
    likelihood: bool = True,
    divergences: bool = True,
    densities: bool = True,
    method: str = "auto",
    divergence_kind: str | None = None,
    context_dropout: float = 0.0,
    keep_states: bool = False,
    propose: Propose | None = None,
    initial: Tensor | None = None,
    summaries: list[Tensor] | None = None,
    contexts: list[DecoderContext] | None = None,
    pair_generator: torch.Generator | None = None,
) -> Trajectory:
    r"""Run the posterior chain over all snapshots of ``graph`` with ``S`` samples (vectorised).

    Args:
        teacher_forcing: ``ε``, the probability (one coin per sample and step) that the
            transition's input is the posterior sample ``Z_s`` rather than the rollout
            ``Ẑ_s ~ p(·|Z̃_{s-1})`` (Problem 4.5).
        likelihood: compute the decoder terms ``F_t``, ``E_t``.
        divergences: compute the transition prior and the divergence terms (off: filtering only).
        densities: also ``log p(Z_{t+1}|Z̃_t)`` and ``log q(Z_{t+1}|·)`` (importance weights).
        method: the edge evaluator (``auto|dense|sparse``).
        divergence_kind: ``"kl"`` or ``"cs"`` (default: the model's).
        context_dropout: decoder weakening of the autoregressive context.
        keep_states: record ``[Z_0, …, Z_T]`` in :attr:`Trajectory.states`.
        propose: replaces the amortised posterior step (``q``, ``Z_{s+1}``).
        initial: ``Z_0`` (default: the model's).
        summaries, contexts: precomputed ``h_{1:T}`` and decoder contexts.
        pair_generator: seeds the sparse edge estimator's negatives (default ``generator``).
    """
    c = model.config
    S, n, d = num_samples, c.num_nodes, c.latent_dim
    kind = c.divergence if divergence_kind is None else divergence_kind
    if summaries is None:
        summaries = model._summaries(graph)
    if contexts is None and likelihood and model.autoregressive:
        contexts = model.decoder_contexts(graph, len(graph) - 1, dropout=context_dropout,
                                          generator=generator)
    pair_gen = generator if pair_generator is None else pair_generator
    z = (model.initial_latent() if initial is None else initial).expand(S, n, d)
    states = [z] if keep_states else []
    p_prev = None
    fls, els, kls, logps, logqs, locs, scales = [], [], [], [], [], [], []
    q = None
    for s in range(len(graph)):
        if likelihood:
            ctx = None if contexts is None else contexts[s]
            fl, el = model._step_ll(z, graph, s, method, pair_gen, ctx)
            fls.append(fl)
            els.append(el)
        # Scheduled sampling: the transition's input is the posterior sample with prob. ε (drawn
        # before Z_{s+1}, so that a seed gives the same stream as ever).
        z_tilde = z
        if divergences and s > 0 and teacher_forcing < 1.0:
            z_hat = p_prev.mean if c.deterministic else sample_one(p_prev, generator)
            coin = torch.rand(S, 1, 1, generator=generator, device=z.device) < teacher_forcing
            z_tilde = torch.where(coin, z, z_hat)
        if propose is not None:
            q, z_next = propose(s, z)
        else:
            q = model.posterior(summaries[s], z)
            z_next = q.mean if c.deterministic else sample_one(q, generator)
        if divergences:
            p = model.prior(z_tilde)
            kls.append(model._kl_elements(q, p, z_next, kind))
            if densities and not c.deterministic:
                logqs.append(q.log_prob(z_next).sum(-1))
                lp = p.log_prob(z_next)
                logps.append(lp if len(p.event_shape) == 2 else lp.sum(-1))  # graph mixture
            p_prev = p
        locs.append(q.base_dist.loc)
        scales.append(q.base_dist.scale)
        z = z_next
        if keep_states:
            states.append(z)

    def stack(v: list[Tensor]) -> Tensor | None:
        return torch.stack(v, dim=1) if v else None  # (S, T, ...)

    return Trajectory(
        feature_ll=stack(fls), edge_ll=stack(els), kl=stack(kls), log_prior=stack(logps),
        log_posterior=stack(logqs), loc=stack(locs), scale=stack(scales), z_last=z, q_last=q,
        summary_last=summaries[-1] if len(summaries) else None, states=states,
    )


def filtered_states(model: TemporalGraphVAE, graph: TemporalGraph, upto: int, num_samples: int,
                    generator: torch.Generator | None = None,
                    summaries: list[Tensor] | None = None) -> list[Tensor]:
    """``[Z_0, Z_1, …, Z_upto]`` of one filtering pass over snapshots ``0..upto-1``, each
    ``(S, N, d)``: the filtered state of every origin ``T ≤ upto`` at once (``summaries``: the
    precomputed ``h_{1:upto}``)."""
    if upto == 0:
        c = model.config
        return [model.initial_latent().expand(num_samples, c.num_nodes, c.latent_dim)]
    tr = posterior_chain(model, graph[:upto], num_samples, generator=generator, likelihood=False,
                         divergences=False, keep_states=True, summaries=summaries)
    return tr.states


def filter_states(model: TemporalGraphVAE, graph: TemporalGraph, at: Sequence[int],
                  num_samples: int, generator: torch.Generator | None = None,
                  ) -> dict[int, FilterState]:
    r"""The filtered states after ``T`` snapshots for every ``T`` in ``at``, from one pass of
    the posterior chain over ``graph[:max(at)]``: ``{T: FilterState}`` with ``z`` the
    ``(S, N, d)`` samples of ``Z_T``, ``summary`` = ``h_T`` (``None`` for ``T = 0``) and the
    decoder context of snapshot index ``T``; ``posterior`` is not kept (``None``).

    These are the starts of windowed training (``elbo(window, start=...)``): the chain is the
    one ``model.filter`` runs, so ``filter_states(g, [T])[T].z`` equals ``filter(g[:T]).z`` for
    the same generator state. Runs with the caller's autograd mode (training wraps it in
    ``torch.no_grad()``)."""
    points = sorted({int(t) for t in at})
    if points and not 0 <= points[0] <= points[-1] <= len(graph):
        raise ValueError(f"filter_states: every T in at must lie in [0, {len(graph)}], "
                         f"got {points[0]}..{points[-1]}")
    last = points[-1] if points else 0
    summaries = model._summaries(graph[:last]) if last > 0 else []
    states = filtered_states(model, graph, last, int(num_samples), generator, summaries)
    out: dict[int, FilterState] = {}
    ctx = model._empty_context() if model.autoregressive else None
    done = 0
    for t in points:
        if ctx is not None and t > done:
            ctx = model.decoder_contexts(graph[done:t], t - done, start=ctx)[-1]
        done = t
        out[t] = FilterState(z=states[t], posterior=None,
                             summary=summaries[t - 1] if t > 0 else None,
                             num_snapshots=t, context=ctx)
    return out


def window_inputs(model: TemporalGraphVAE, graph: TemporalGraph, start: FilterState,
                  num_samples: int, dropout: float,
                  generator: torch.Generator | None) -> dict[str, Any]:
    """The chain's ``initial``, ``summaries`` and ``contexts`` of a window after ``start``."""
    if not isinstance(start, FilterState):
        raise TypeError(f"elbo: start must be a FilterState, got {type(start).__name__}")
    z = start.z.to(model.device)
    if z.dim() != 3 or z.size(0) not in (1, num_samples):
        raise ValueError(f"elbo: start.z must have shape (S, N, d) with S = 1 or "
                         f"num_samples = {num_samples}, got {tuple(z.shape)}")
    out: dict[str, Any] = {
        "initial": z,
        "summaries": model._summaries(graph, start.summary),
    }
    if model.autoregressive:
        if start.context is None and start.num_snapshots > 0:
            raise ValueError("elbo: the autoregressive decoder needs start.context (build "
                             "the start with model.filter_states)")
        out["contexts"] = model.decoder_contexts(graph, len(graph) - 1, dropout=dropout,
                                                generator=generator, start=start.context)
    return out


def filter_state(model: TemporalGraphVAE, graph: TemporalGraph, num_samples: int,
                 generator: torch.Generator | None = None) -> FilterState:
    """:meth:`TemporalGraphVAE.filter`: the posterior chain over ``graph`` and, with
    ``config.context_refit``, the refitted lead terms of a forecast from its end."""
    c = model.config
    refit = c.context_refit > 0  # the config allows it only with an edge context
    tr = posterior_chain(model, graph, num_samples, generator=generator, likelihood=False,
                         divergences=False, keep_states=refit)
    q = None if c.deterministic else tr.q_last
    ctx = terms = None
    if model.autoregressive:
        contexts = model.decoder_contexts(graph, len(graph))
        ctx = contexts[-1]
        if refit:
            from dyngraphvae.models.refit import refit_lead_terms

            terms = refit_lead_terms(model, graph, len(graph), c.context_refit_leads, tr.states,
                                     contexts, generator=generator)
    return FilterState(z=tr.z_last, posterior=q, summary=tr.summary_last,
                       num_snapshots=len(graph), context=ctx, lead_terms=terms)


def step_effect(model: TemporalGraphVAE, term: EdgeContextTerm | None, num_samples: int,
                generator: torch.Generator | None = None) -> tuple[Tensor | None, float]:
    """One forecast step's snapshot effect: ``(S,)`` draws of ``δ`` (one per sampled future,
    shared by its pairs) and their scale ``τ``, or ``(None, 0)`` without an effect. A refitted
    lead term with its own effect (:class:`~dyngraphvae.models.refit.RefitTerm`,
    ``context_refit_effect``) sets ``τ``; otherwise the model's trained effect does."""
    tau = getattr(term, "snapshot_scale", None)
    if tau is None:
        off = model.snapshot_offsets(num_samples, generator)
        return off, (0.0 if off is None else float(model.snapshot_scale))
    if model.config.deterministic:  # the ablation's mode, as the trained effect's
        return None, 0.0
    return torch.randn(num_samples, generator=generator, device=model.device) * tau, float(tau)


@dataclass
class NodeDraws:
    """One forecast step's node effects (``node_effect``): ``source``, ``target`` ``(S, N)``
    draws centred at 0 (undirected: the same tensor) and ``var`` the variance they add to a
    pair's logit."""

    source: Tensor
    target: Tensor
    var: float


def node_draws(model: TemporalGraphVAE, num_samples: int,
               generator: torch.Generator | None = None) -> NodeDraws | None:
    """Draw one step's sender and receiver intercepts per sampled future (a node's two with
    correlation ``node_corr``; :mod:`dyngraphvae.training.node_effect`), or ``None`` without
    node effects (and for the deterministic ablation)."""
    c = model.config
    if not getattr(c, "node_effect", False) or c.deterministic:
        return None
    t_out, t_in = (float(v) for v in model.node_scale)
    if t_out == 0 and t_in == 0:  # not fitted, or fitted to none: no effect
        return None
    n, dev = c.num_nodes, model.device
    src = torch.randn(num_samples, n, generator=generator, device=dev) * t_out
    if not c.directed:
        return NodeDraws(src, src, 2 * t_out ** 2)
    rho = float(model.node_corr)
    own = torch.randn(num_samples, n, generator=generator, device=dev)
    tgt = t_in * (rho * src / t_out if t_out > 0 else 0.0) + t_in * math.sqrt(1 - rho ** 2) * own
    return NodeDraws(src, tgt, t_out ** 2 + t_in ** 2)


def effect_scorer(scorer: Any, offsets: Tensor | None, scale: float, nodes: NodeDraws | None
                  ) -> tuple[Any, Tensor | None, float]:
    """``scorer`` with one step's snapshot effect (``offsets (S,)`` of scale ``scale``) and node
    effects added (:class:`~dyngraphvae.models.context.OffsetScorer`), and the step's offsets
    and total scale; unchanged without either."""
    if nodes is None:
        if offsets is None:
            return scorer, None, 0.0
        return OffsetScorer(scorer, offsets, scale), offsets, scale
    if offsets is None:
        offsets = nodes.source.new_zeros(nodes.source.size(0))
        scale = 0.0
    total = math.sqrt(scale ** 2 + nodes.var)
    return (OffsetScorer(scorer, offsets, total, nodes.source, nodes.target, nodes.var),
            offsets, total)


def latent_path(model: TemporalGraphVAE, z: Tensor, horizon: int,
                generator: torch.Generator | None = None) -> list[Tensor]:
    """``[Ẑ_T, …, Ẑ_{T+H-1}]`` from ``Ẑ_T = z`` by the transition alone."""
    zs = [z]
    for _ in range(horizon - 1):
        zs.append(model.next_latent(zs[-1], generator))
    return zs


@dataclass
class Rollout:
    """Per-step lists of one rollout (``k = 0..H-1``): latents ``Ẑ_{T+k}``, the feature
    predictive's mean/variance/sample, the decoder contexts read, and the sampled edges
    ``(4, E)`` rows ``(sample, k, u, v)`` (autoregressive decoder), and the snapshot effect's
    ``(S,)`` draws per step and its scale (``snapshot_effect``, ``context_refit_effect``), and the
    refitted context term read at each
    step (``context_refit``), and the node effects' ``(2, S, N)`` draws per step
    (``node_effect``)."""

    z: list[Tensor]
    feature_mean: list[Tensor]
    feature_var: list[Tensor]
    x: list[Tensor]
    contexts: list[DecoderContext] | None = None
    sampled_edges: Tensor | None = None
    edge_offsets: list[Tensor] | None = None
    edge_scales: list[float] | None = None
    edge_terms: list[EdgeContextTerm] | None = None
    node_offsets: list[Tensor] | None = None
    node_var: float = 0.0


def rollout(
    model: TemporalGraphVAE,
    z: Tensor,
    horizon: int,
    *,
    context: DecoderContext | None = None,
    generator: torch.Generator | None = None,
    terms: list[EdgeContextTerm] | None = None,
) -> Rollout:
    r"""Roll the generative model ``H`` steps forward from ``Ẑ_T = z`` (module docstring).

    Plain decoder: ``z (..., N, d)`` with any leading sample/origin dimensions. Autoregressive
    decoder: ``z (S, N, d)`` and ``context`` (that of the observed ``G_{≤T}``); at each step the
    features and the edges (row blocks of pairs, O(S·N²) time, O(E) memory) are sampled and fed
    back as the next context. With ``context_leads > 1`` (the direct multi-horizon decoder) the
    edges are sampled the same way but not fed back: step ``k`` reads the observed history aged
    ``k`` snapshots (:func:`~dyngraphvae.models.context.aged`) through the term of lead ``k + 1``.
    ``terms``: one edge context term per lead (refitted at the origin,
    :func:`~dyngraphvae.models.refit.refit_lead_terms`; later steps use the last), read the same
    direct way instead of the model's own.
    """
    c = model.config
    zs, means, vars_, xs = [], [], [], []
    if not model.autoregressive:
        for _ in range(int(horizon)):
            zs.append(z)
            if model.feature_decoder is not None:
                step = feature_step(model.feature_decoder(z), c.deterministic_decoder, generator)
                for acc, v in zip((means, vars_, xs), step, strict=True):
                    acc.append(v)
            z = model.next_latent(z, generator)
        return Rollout(zs, means, vars_, xs)
    S, n = z.size(0), c.num_nodes
    ctx = context
    decay = c.context_decay
    direct = c.context_leads > 1 or terms is not None
    if terms is not None:  # one term per step; steps beyond the refitted leads use the last
        terms = [terms[min(k, len(terms) - 1)] for k in range(int(horizon))]
    ctxs, edges, offsets, scales, node_offsets = [], [], [], [], []
    node_var = 0.0
    for k in range(int(horizon)):
        zs.append(z)
        ctxs.append(ctx)
        x_next, e_next = ctx.x, ctx.edges
        if model.feature_decoder is not None:
            step = feature_step(model.decode_features(z, ctx), c.deterministic_decoder, generator)
            for acc, v in zip((means, vars_, xs), step, strict=True):
                acc.append(v)
            x_next = push_lag(xs[-1], ctx.x)
        if model.edge_decoder is not None:
            scorer = (model.edge_scorer(ctx, k + 1) if terms is None
                      else ContextScorer(model.edge_decoder, terms[k], ctx.edges))
            off, tau = step_effect(model, None if terms is None else terms[k], S, generator)
            nodes = node_draws(model, S, generator)
            scorer, off, tau = effect_scorer(scorer, off, tau, nodes)
            if off is not None:
                offsets.append(off)
                scales.append(tau)
            if nodes is not None:
                node_offsets.append(torch.stack([nodes.source, nodes.target]))
                node_var = nodes.var
            coords = sample_edge_coords(scorer, z, c.directed, c.deterministic,
                                        generator)  # (3, E): b, u, v
            edges.append(torch.cat([coords[:1], torch.full_like(coords[:1], k), coords[1:]]))
            e_next = (aged(ctx.edges, decay) if direct
                      else EdgeContext.from_edges(coords, n, c.directed, S, ctx.edges, decay))
        ctx = DecoderContext(edges=e_next, x=x_next, neighbours=ctx.neighbours)
        z = model.next_latent(z, generator)
    return Rollout(zs, means, vars_, xs, contexts=ctxs,
                   sampled_edges=torch.cat(edges, dim=1) if edges else None,
                   edge_offsets=offsets or None, edge_scales=scales or None, edge_terms=terms,
                   node_offsets=node_offsets or None, node_var=node_var)


def assemble_forecast(model: TemporalGraphVAE, start: int, ro: Rollout) -> Forecast:
    """Stack a rollout's per-step lists along the horizon dim into a :class:`Forecast` of the
    ``T = start`` observed snapshots (per-step context terms for the direct decoder, or the
    rollout's refitted ones)."""
    c = model.config

    def stack(v: list[Tensor]) -> Tensor | None:
        return torch.stack(v, dim=1) if model.feature_decoder is not None else None

    extra: dict[str, Any] = {}
    if model.autoregressive:
        if ro.edge_terms is not None:
            terms = ro.edge_terms
        elif model.lead_terms is None:
            terms = model.edge_context
        else:
            terms = [model.context_term(k + 1) for k in range(len(ro.z))]
        extra = dict(edge_context=terms, contexts=ro.contexts, sampled_edges=ro.sampled_edges,
                     edge_offsets=(torch.stack(ro.edge_offsets, dim=1) if ro.edge_offsets
                                   else None),
                     snapshot_scale=tuple(ro.edge_scales) if ro.edge_offsets else None,
                     node_offsets=(torch.stack(ro.node_offsets, dim=2) if ro.node_offsets
                                   else None),
                     node_var=float(ro.node_var) if ro.node_offsets else 0.0)
    return Forecast(z=torch.stack(ro.z, dim=1), feature_mean=stack(ro.feature_mean),
                    feature_var=stack(ro.feature_var), x=stack(ro.x), start=int(start),
                    directed=c.directed, deterministic=c.deterministic,
                    edge_decoder=model.edge_decoder, dense_max_nodes=c.dense_max_nodes, **extra)
