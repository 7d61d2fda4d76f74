r"""Rolling forecasts: ``H``-step futures from many origins in one filtering pass.

Forecasting from origin ``T`` (conditioning on snapshots ``0..T-1``) for every ``T`` in a test
range with :meth:`TemporalGraphVAE.filter` costs ``O(T)`` per origin, ``O(T^2)`` in all. Because
the filtering posterior is a chain, one pass gives every origin at once:

.. math::
    Z_0 \text{ fixed},\qquad Z_{s+1} \sim q(Z_{s+1} \mid Z_s, G_{1:s+1}),\quad s = 0..T_{\max}-1,

and ``Z_T`` of that pass has exactly the law of ``model.filter(graph[:T]).z`` (the summaries
``h_s`` only read snapshots ``< s+1``). From every origin the ``H``-step rollout
``Ẑ_{T+k+1} \sim p(\cdot \mid Ẑ_{T+k})`` runs batched over ``(S, origins)``; ``Ẑ_{T+k}``
generates snapshot ``T + k`` (``h = k + 1``). Both walks are those of
:mod:`dyngraphvae.models.engine` (:func:`~dyngraphvae.models.engine.filtered_states`,
:func:`~dyngraphvae.models.engine.rollout`), so :func:`rolling_forecast` is exactly ``filter`` +
``forecast`` in law, and bit-for-bit for the deterministic ablation (tested).
:func:`predictive_pair_probs` scores requested pairs only, with the autoregressive decoder's
pair-only rollout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from dyngraphvae._checks import check_int
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models import engine
from dyngraphvae.models.context import (
    ContextScorer,
    DecoderContext,
    EdgeContext,
    OffsetScorer,
    aged,
)
from dyngraphvae.models.results import FilterState

__all__ = ["RollingForecast", "predictive_pair_probs", "rolling_forecast"]


@dataclass
class RollingForecast:
    r"""``S`` sampled futures of ``H`` steps from each of ``O`` origins.

    ``z[:, i, k]`` is ``Ẑ_{T_i + k}``, which generates snapshot ``T_i + k`` (horizon ``k + 1``),
    with ``T_i = origins[i]`` the number of conditioning snapshots.

    Attributes:
        origins: ``(O,)`` long.
        z: ``(S, O, H, N, d)``.
        feature_mean, feature_var, x: ``(S, O, H, N, F)`` decoder means, marginal variances and
            samples (``x = mean``, ``var = 0`` for the deterministic decoder), or ``None``.
        edge_decoder: the model's edge decoder (or ``None``).
        edge_scorers: autoregressive decoder only (``decoder_context != "none"``):
            ``edge_scorers[i][k]`` scores the edges of snapshot ``origins[i] + k`` given that
            trajectory's previous graph (the observed ``A_T``, ``H_T`` at ``k = 0``, the sampled
            ``Â``, ``Ĥ`` after), from :meth:`TemporalGraphVAE.edge_scorer`; ``None`` otherwise.
        sampled_edges: autoregressive decoder only: ``sampled_edges[i]`` is the ``(4, E)``
            :attr:`Forecast.sampled_edges` of origin ``i`` (rows ``(sample, step, u, v)``).
    """

    origins: Tensor
    z: Tensor
    feature_mean: Tensor | None
    feature_var: Tensor | None
    x: Tensor | None
    edge_decoder: Any
    edge_scorers: list[list[Any]] | None = None
    sampled_edges: list[Tensor] | None = None

    @property
    def num_samples(self) -> int:
        return int(self.z.size(0))

    @property
    def horizon(self) -> int:
        return int(self.z.size(2))

    def edge_logits(self, origin_index: int, step: int, pairs: Tensor) -> Tensor:
        """``(S, P)`` edge logits of ``pairs (2, P)`` for snapshot ``origins[i] + step``."""
        if self.edge_decoder is None:
            raise ValueError("RollingForecast: the model has no edge decoder")
        scorer = (self.edge_decoder if self.edge_scorers is None
                  else self.edge_scorers[origin_index][step])
        with torch.no_grad():
            return scorer.logits(self.z[:, origin_index, step], pairs.to(self.z.device))

    def edge_prob(self, origin_index: int, step: int, pairs: Tensor) -> Tensor:
        r"""``(P,)`` Monte Carlo predictive ``p(A_uv = 1 | G_{1:T}) ≈ \frac1S\sum_s π_uv^{(s)}``;
        with a snapshot effect or node effects, their draws at this step are integrated out of
        each ``π^{(s)}`` (:meth:`~dyngraphvae.models.context.OffsetScorer.predictive`)."""
        scorer = None if self.edge_scorers is None else self.edge_scorers[origin_index][step]
        if isinstance(scorer, OffsetScorer) and scorer.scale is not None:
            with torch.no_grad():
                logits = scorer.scorer.logits(self.z[:, origin_index, step],
                                              pairs.to(self.z.device))
            return scorer.predictive(logits).mean(0)
        return torch.sigmoid(self.edge_logits(origin_index, step, pairs)).mean(0)



def rolling_forecast(
    model: Any,
    graph: TemporalGraph,
    origins: Sequence[int] | Tensor,
    horizon: int,
    num_samples: int = 50,
    *,
    generator: torch.Generator | None = None,
) -> RollingForecast:
    r"""Forecast ``H`` steps from every origin in one filtering pass (module docstring).

    Args:
        model: a :class:`~dyngraphvae.models.TemporalGraphVAE`.
        graph: the sequence; origin ``T`` conditions on snapshots ``0..T-1`` (``0 <= T <=
            len(graph)``; ``T = 0`` forecasts from ``Z_0``).
        origins: the origins ``T_i`` (any order, repeats allowed).
        horizon: ``H >= 1``.
        num_samples: ``S`` joint trajectories per origin.
        generator: seeds every draw.
    """
    H = check_int(horizon, "rolling_forecast: horizon", 1)
    S = check_int(num_samples, "rolling_forecast: num_samples", 1)
    org = torch.as_tensor(list(origins) if not isinstance(origins, Tensor) else origins,
                          dtype=torch.long).flatten()
    if org.numel() == 0:
        raise ValueError("rolling_forecast: no origins")
    if int(org.min()) < 0 or int(org.max()) > len(graph):
        raise ValueError(
            f"rolling_forecast: origins must lie in [0, {len(graph)}], got "
            f"[{int(org.min())}, {int(org.max())}]"
        )
    if getattr(model, "autoregressive", False):
        return _rolling_forecast_autoregressive(model, graph, org, H, S, generator)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            states = engine.filtered_states(model, graph, int(org.max()), S, generator)
            z = torch.stack([states[int(t)] for t in org], dim=1)  # (S, O, N, d)
            ro = engine.rollout(model, z, H, generator=generator)
    finally:
        model.train(was_training)

    def stack(v: list[Tensor]) -> Tensor | None:
        return torch.stack(v, dim=2) if v else None

    return RollingForecast(
        origins=org,
        z=torch.stack(ro.z, dim=2),
        feature_mean=stack(ro.feature_mean),
        feature_var=stack(ro.feature_var),
        x=stack(ro.x),
        edge_decoder=model.edge_decoder,
    )



def _rolling_forecast_autoregressive(model: Any, graph: TemporalGraph, org: Tensor, H: int,
                                     S: int, generator: torch.Generator | None
                                     ) -> RollingForecast:
    r""":func:`rolling_forecast` for an autoregressive decoder (``decoder_context != "none"``).

    The filtered states come from the same single pass; from each origin ``T`` the rollout is
    :meth:`TemporalGraphVAE.forecast` started from the state ``(Ẑ_T, context of G_{≤T})``, so the
    step-0 decoder reads the observed ``A_T`` (``H_T``, ``x_T``) and later steps read the
    trajectory's own sampled graphs. One rollout per origin (a loop over origins, vectorised over
    samples).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            t_max = int(org.max())
            states = engine.filtered_states(model, graph, t_max, S, generator)
            contexts = model.decoder_contexts(graph, t_max)  # entry T: context of G_{≤T}
            fcs, cache, order = [], {}, org.tolist()
            for i, t in enumerate(order):
                state = FilterState(z=states[t], posterior=None, summary=None,
                                    num_snapshots=int(t), context=contexts[t],
                                    lead_terms=_refit(model, graph, t, H, states, contexts,
                                                      generator, cache, order[i:]))
                fcs.append(model.forecast(state, H, S, generator=generator))
    finally:
        model.train(was_training)

    def stack(name: str) -> Tensor | None:
        v = [getattr(f, name) for f in fcs]
        return None if v[0] is None else torch.stack(v, dim=1)

    scorers = None
    if model.edge_decoder is not None:
        scorers = [[f._scorer(k) for k in range(H)] for f in fcs]  # lead terms, offsets
    return RollingForecast(origins=org, z=stack("z"), feature_mean=stack("feature_mean"),
                           feature_var=stack("feature_var"), x=stack("x"),
                           edge_decoder=model.edge_decoder, edge_scorers=scorers,
                           sampled_edges=[f.sampled_edges for f in fcs])




def _refits(model: Any) -> bool:
    """Whether forecasts refit the edge context term at each origin (``context_refit > 0``,
    which the config only allows with an edge context)."""
    return getattr(getattr(model, "config", None), "context_refit", 0) > 0


def _refit(model: Any, graph: TemporalGraph, origin: int, horizon: int, states: list[Tensor],
           contexts: list[DecoderContext], generator: torch.Generator | None,
           cache: dict, remaining: Sequence[int]) -> list | None:
    """The refitted term of every step ``0..horizon-1`` from ``origin`` (steps beyond
    ``context_refit_leads`` share the last lead's), or ``None`` without ``context_refit``.
    ``remaining``: this origin and those still to come, whose rows the cache keeps."""
    if not _refits(model):
        return None
    from dyngraphvae.models.refit import prune_refit_cache, refit_lead_terms

    leads = min(int(horizon), model.config.context_refit_leads)
    prune_refit_cache(cache, model.config, remaining, leads)
    terms = refit_lead_terms(model, graph, origin, leads, states, contexts, generator=generator,
                             cache=cache)
    return [terms[min(k, leads - 1)] for k in range(int(horizon))]


def _unique_pairs(pairs: Tensor, num_nodes: int, directed: bool) -> tuple[Tensor, Tensor]:
    """Distinct pairs (undirected: canonical ``u < v``) and the inverse index of every column."""
    from dyngraphvae.data.splits import _pair_keys

    keys, inv = torch.unique(_pair_keys(pairs, num_nodes, directed), return_inverse=True)
    return torch.stack([torch.div(keys, num_nodes, rounding_mode="floor"), keys % num_nodes]), inv


def _autoregressive_pair_probs(model: Any, graph: TemporalGraph, origins: Sequence[int],
                               horizon: int, num_samples: int, requests: list[list[Tensor | None]],
                               generator: torch.Generator | None, max_pairs: int = 1 << 15
                               ) -> list[list[Tensor | None]]:
    r"""Predictive edge probabilities of an autoregressive decoder at the requested pairs only.

    ``requests[i][k]`` holds the pairs ``(2, P)`` of snapshot ``origins[i] + k`` (or ``None``); the
    result has the ``(P,)`` Monte Carlo predictive ``\frac1S \sum_s σ(ℓ^{(s)}_{uv})`` at the same
    place. The law is that of :func:`rolling_forecast` (which samples all ``N²`` pairs of every
    future graph): the transition is Markov in ``Z`` and never reads ``Â``, and the context term
    of pair ``(u, v)``, ``α Â_{t}(u, v) + γ Ĥ_{t}(u, v)`` with ``Ĥ_{t} = Â_{t} + λ Ĥ_{t-1}``,
    reads that pair's own past only. So along each sampled latent path
    ``Ẑ_T, …, Ẑ_{T+H-1}`` the indicators ``Â_{T+k}(u, v) \sim \text{Bernoulli}(σ(ℓ_{uv}))`` are
    drawn for the requested pairs alone (the union over horizons, each pair once; with the
    deterministic ablation the mode ``ℓ > 0``, as in the full rollout), fed back through
    :meth:`EdgeContext.from_edges`, and the cost is ``O(S·P·H)`` instead of ``O(S·N²·H)``.
    Equal to :func:`rolling_forecast` + :meth:`RollingForecast.edge_prob` for the deterministic
    ablation (tested), equal in law otherwise.
    """
    c = model.config
    det = bool(c.deterministic)
    decay = c.context_decay
    direct = c.direct_forecasts  # the aged observed history, no feedback
    n, S, H = c.num_nodes, num_samples, horizon
    out: list[list[Tensor | None]] = []
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            t_max = max(int(t) for t in origins)
            states = engine.filtered_states(model, graph, t_max, S, generator)
            contexts = model.decoder_contexts(graph, t_max)
            cache: dict = {}
            for i, t in enumerate(origins):
                present = [r for r in requests[i] if r is not None]
                zs, z = [], states[int(t)]
                for k in range(H):
                    zs.append(z)
                    if k < H - 1:
                        z = model.next_latent(z, generator)
                # one δ per sample and step, shared by every pair (None without the effect)
                offsets = [model.snapshot_offsets(S, generator) for _ in range(H)]
                scales = [0.0 if o is None else float(model.snapshot_scale) for o in offsets]
                if not present:
                    out.append([None] * H)
                    continue
                terms = _refit(model, graph, int(t), H, states, contexts, generator, cache,
                               origins[i:])
                if terms is not None and getattr(terms[0], "snapshot_scale", None) is not None:
                    # the refit's own effect replaces the trained one
                    offsets, scales = zip(*(engine.step_effect(model, terms[k], S, generator)
                                            for k in range(H)), strict=True)
                nodes = [engine.node_draws(model, S, generator) for _ in range(H)]
                effects = [engine.effect_scorer(None, offsets[k], scales[k], nodes[k])[0]
                           for k in range(H)]
                union, inv = _unique_pairs(torch.cat(present, dim=1), n, c.directed)
                probs = torch.empty(H, union.size(1), dtype=torch.float64)
                for a in range(0, union.size(1), max_pairs):
                    pairs = union[:, a:a + max_pairs]
                    ctx = contexts[int(t)].edges
                    for k in range(H):
                        scorer = (model.edge_scorer(DecoderContext(edges=ctx, x=None), k + 1)
                                  if terms is None else ContextScorer(model.edge_decoder,
                                                                     terms[k], ctx))
                        logits = scorer.logits(zs[k], pairs)  # (S, P)
                        # the random intercepts: integrated out of the predictive, drawn for Â
                        eff = effects[k]
                        pred = torch.sigmoid(logits) if eff is None else eff.predictive(logits)
                        prob = pred if eff is None else torch.sigmoid(eff.drawn(logits, pairs))
                        probs[k, a:a + pairs.size(1)] = pred.mean(0).double()
                        if k < H - 1 and direct:
                            ctx = aged(ctx, decay)
                        elif k < H - 1:
                            hit = (logits > 0) if det else (
                                torch.rand(logits.shape, generator=generator,
                                           dtype=logits.dtype) < prob)
                            b, j = hit.nonzero(as_tuple=True)
                            coords = torch.stack([b, pairs[0, j], pairs[1, j]])
                            ctx = EdgeContext.from_edges(coords, n, c.directed, S, ctx, decay)
                row, offset = [], 0
                for k, r in enumerate(requests[i]):
                    if r is None:
                        row.append(None)
                        continue
                    row.append(probs[k, inv[offset:offset + r.size(1)]])
                    offset += r.size(1)
                out.append(row)
    finally:
        model.train(was_training)
    return out


def predictive_pair_probs(model: Any, graph: TemporalGraph, origins: Sequence[int], horizon: int,
                      num_samples: int, requests: list[list[Tensor | None]],
                      generator: torch.Generator | None, origin_chunk: int = 8,
                      futures: list | None = None) -> list[list[Tensor | None]]:
    """``requests[i][k]`` → the model's ``(P,)`` predictive edge probabilities for snapshot
    ``origins[i] + k``: :func:`rolling_forecast` (chunks of ``origin_chunk`` origins, to bound the
    ``(S, O, H, N, d)`` latents) for the plain decoder, :func:`_autoregressive_pair_probs` for an
    autoregressive one whose context term reads each pair's own past only. The pair-history
    context also reads the endpoints' degrees, i.e. every pair of the sampled graphs, so beyond
    ``h = 1`` it is scored on full rollouts (all ``N²`` pairs sampled per step), unless the
    decoder is direct (``context_leads > 1``: the context never reads a sample). With a
    ``futures`` list and full autoregressive rollouts, the sampled graphs of each origin
    (:attr:`RollingForecast.sampled_edges`) are appended to it, in the order of ``origins``."""
    cfg = getattr(model, "config", None)
    reads_degrees = bool(getattr(cfg, "context_rates", ()))
    direct = bool(getattr(cfg, "direct_forecasts", False)) and futures is None
    if getattr(model, "autoregressive", False) and (horizon == 1 or not reads_degrees or direct):
        return _autoregressive_pair_probs(model, graph, origins, horizon, num_samples, requests,
                                          generator)
    out: list[list[Tensor | None]] = []
    for a in range(0, len(origins), origin_chunk):
        chunk = list(origins[a:a + origin_chunk])
        fc = rolling_forecast(model, graph, chunk, horizon, num_samples, generator=generator)
        if futures is not None and fc.sampled_edges is not None:
            futures.extend(fc.sampled_edges)
        for j in range(len(chunk)):
            out.append([None if r is None else fc.edge_prob(j, k, r).double()
                        for k, r in enumerate(requests[a + j])])
    return out
