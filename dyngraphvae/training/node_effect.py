r"""The node effects' scales, by marginal likelihood (empirical Bayes).

With ``ForecasterConfig.node_effect`` the edges of a snapshot are
``Bernoulli(σ(ℓ_uv + a_u + c_v))``, with a sender intercept ``a_u ~ N(b_out, τ_out²)`` and a
receiver intercept ``c_v ~ N(b_in, τ_in²)`` drawn per snapshot (undirected graphs: one
intercept per node, on both ends): the sender and receiver effects of the p2 model (van Duijn,
Snijders & Zijlstra 2004), so that a sampled future can have a few busy nodes on a step, as real
activity has, where pairs independent given the latent spread a step's edges over too many nodes
(``docs/results.md``, 3o).

After the ELBO has fitted the logits ``ℓ`` (filtered latent, observed context), each training
snapshot's dense predictive logits are shifted by the snapshot's own best offset ``δ̂_s`` (so that
the effects model the spread *within* a snapshot, not the swings of its total, which the snapshot
effect carries). A node's out-row is then conditionally independent of the other rows given
``a_u`` (the receivers' effects average out over a row's ``N`` pairs), and ``τ_out`` maximises::

    Σ_s Σ_u log ∫ Π_v p(y_suv | ℓ_suv + δ̂_s + a) N(a; b_out, τ_out²) da

(Gauss–Hermite), with ``b_out`` at each ``τ`` the centre that keeps the rows' expected edge count
(:func:`~dyngraphvae.models.random_effect.node_effect_fit`); ``τ_in`` the same on the columns,
then the correlation ``ρ`` of a node's two intercepts from its row and column together
(:func:`~dyngraphvae.models.random_effect.node_correlation_fit`).
The rows' sums over pairs are kept as ``(N, G)`` tables on a grid of offsets
(:class:`~dyngraphvae.models.random_effect.RowStatistics`), so one pass over the ``N²`` pairs of
each snapshot serves every ``τ``. That pass holds one snapshot's dense ``(N, N)`` float64 logits
(115 MB at bitcoin_alpha's 3,783 nodes; 13 s on uci_collegemsg, 37 s on bitcoin_alpha for 20
snapshots); graphs of tens of thousands of nodes would need it in row blocks, not built.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from dyngraphvae.models.random_effect import (
    RARE_LOGIT,
    RowStatistics,
    node_correlation_fit,
    node_effect_fit,
    row_statistics,
)

__all__ = ["enable_node_effect", "fit_node_effect", "snapshot_logits"]


def snapshot_logits(scorer: Any, z: Tensor, num_nodes: int, max_block: int = 1 << 22) -> Tensor:
    r"""``(N, N)`` float64 predictive logits ``log π̄ − log(1 − π̄)`` of every pair, ``π̄`` the
    mean of ``σ(ℓ)`` over the ``S`` latents ``z (S, N, d)`` (row blocks of the scorer's
    ``block_logits``); ``-inf`` on the diagonal, which no forecast samples."""
    s, n = z.size(0), int(num_nodes)
    rows = max(1, max_block // max(1, s * n))
    out = torch.empty(n, n, dtype=torch.float64)
    for i in range(0, n, rows):
        j = min(n, i + rows)
        p = torch.sigmoid(scorer.block_logits(z, i, j).double()).mean(0).cpu()
        p = p.clamp(1e-300, 1 - 1e-16)
        out[i:j] = p.log() - torch.log1p(-p)
    out.fill_diagonal_(-torch.inf)
    return out


def _snapshot_offset(logits: Tensor, count: float) -> float:
    """``δ̂`` with ``Σ σ(ℓ + δ̂) = count``: :func:`~dyngraphvae.models.random_effect.matched_centre`
    without a spread, by bisection with the rare pairs summed once as ``e^ℓ`` (five times faster
    on a dense snapshot: 0.7 s against 3.3 s at 3,783 nodes)."""
    rare = logits < RARE_LOGIT
    r = float(torch.where(rare, logits.exp(), torch.zeros_like(logits)).sum())
    common = logits[~rare & torch.isfinite(logits)]
    lo, hi = -30.0, 30.0
    for _ in range(80):
        d = 0.5 * (lo + hi)
        c = r * float(torch.tensor(d).exp()) + float(torch.sigmoid(common + d).sum())
        lo, hi = (d, hi) if c < count else (lo, d)
    return 0.5 * (lo + hi)


def enable_node_effect(model: Any) -> None:
    """Give a trained model the node effects it was built without: ``config.node_effect`` and
    the zero buffers ``node_scale``, ``node_corr`` that the constructor registers for it (zero
    scales draw nothing until :func:`fit_node_effect` sets them). Nothing trained depends on
    them, so the weights are untouched."""
    if getattr(model.config, "node_effect", False):
        return
    device = next(model.parameters()).device
    model.config.node_effect = True
    model.register_buffer("node_scale", torch.zeros(2, device=device))
    model.register_buffer("node_corr", torch.zeros((), device=device))


def fit_node_effect(model: Any, graph: Any, *, snapshots: int = 20, seed: int = 0,
                    num_samples: int = 4) -> dict[str, Any] | None:
    """Fit ``(b_out, τ_out)`` and ``(b_in, τ_in)`` (module docstring) on the last ``snapshots``
    snapshots of ``graph`` that have edges (from snapshot 1 on: each is scored by the filter of
    the ones before) and set them on ``model`` (``node_scale = (τ_out, τ_in)``, ``node_corr =
    ρ``; undirected: ``τ_in = 0`` and the one intercept on both ends). Forecasts keep every
    pair's probability (:func:`~dyngraphvae.models.random_effect.marginal_logit`); the fitted
    centres ``b_out + b_in`` (the rare pairs' limit of that map) are returned as ``"shift"``.
    Returns
    ``{"scale_out", "scale_in", "corr", "shift", "num_snapshots"}``, or ``None`` when
    the model has no node effect or the graph too few snapshots (nothing is changed then)."""
    from dyngraphvae.models import engine

    if not getattr(model.config, "node_effect", False) or len(graph) < 3:
        return None
    directed, n = bool(model.config.directed), int(model.config.num_nodes)
    gen = torch.Generator().manual_seed(int(seed))
    chosen = [s for s in range(1, len(graph)) if graph.num_edges(s) > 0][-int(snapshots):]
    if len(chosen) < 2:
        return None
    was_training = model.training
    model.eval()
    rows: list[RowStatistics] = []
    cols: list[RowStatistics] = []
    try:
        with torch.no_grad():
            states = engine.filtered_states(model, graph, len(graph) - 1, num_samples, gen)
            contexts = model.decoder_contexts(graph)
            for s in chosen:
                lg = snapshot_logits(model.edge_scorer(contexts[s]), states[s], n)
                y = graph.dense_adjacency(s).double().cpu().fill_diagonal_(0.0)
                lg = lg + _snapshot_offset(lg, float(y.sum()))
                rows.append(row_statistics(lg, y))
                if directed:
                    cols.append(row_statistics(lg.T, y.T))
    finally:
        model.train(was_training)
    rows_all = RowStatistics.cat(rows)
    b_out, t_out = node_effect_fit(rows_all)
    rho = 0.0
    if directed:
        cols_all = RowStatistics.cat(cols)
        b_in, t_in = node_effect_fit(cols_all)
        rho = node_correlation_fit(rows_all, cols_all, (b_out, t_out), (b_in, t_in))
    else:
        b_in, t_in = b_out, 0.0
    with torch.no_grad():
        model.node_scale.copy_(torch.tensor([t_out, t_in]))
        model.node_corr.fill_(rho)
    return {"scale_out": t_out, "scale_in": t_in if directed else t_out, "corr": rho,
            "shift": b_out + b_in, "num_snapshots": len(chosen)}
