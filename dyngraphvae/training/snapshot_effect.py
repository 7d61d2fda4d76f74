r"""The snapshot effect's scale, by marginal likelihood (empirical Bayes).

With ``ForecasterConfig.snapshot_effect`` the edges of a snapshot are
``Bernoulli(σ(ℓ_uv + δ))`` with one ``δ ~ N(0, τ²)`` per snapshot, shared by all its pairs: a
random intercept (a generalised linear mixed model's), so that the number of edges of a sampled
future swings from snapshot to snapshot as real activity does, instead of the near-binomial
spread of independent pairs. After the ELBO has fitted the logits ``ℓ`` (with ``δ = 0``), ``τ``
and a shift ``b`` of the edge decoder's offset maximise the marginal likelihood of the training
snapshots given their one-step logits (filtered latent, observed context)::

    Π_s ∫ p(A_s | ℓ_s + b + δ) N(δ; 0, τ²) dδ.

``L_s(δ) = log p(A_s | ℓ_s + δ)`` is concave in ``δ`` with curvature ``c_s = Σ_uv π(1 − π)``;
with hundreds of edges per snapshot it is close to quadratic, and Laplace's method gives::

    log ∫ … ≈ L_s(δ̂_s) + ½ log(2π / c_s) + log N(δ̂_s; b, τ² + 1/c_s)

with ``δ̂_s`` the snapshot's own best offset. So ``(b, τ)`` is the maximum-likelihood
random-effects fit of the estimates ``δ̂_s`` with variances ``1 / c_s``
(:mod:`dyngraphvae.models.random_effect`). ``L_s`` is the stratified sparse estimate
of the ELBO (:func:`~dyngraphvae.models.refit.stratified_pairs`).
"""

from __future__ import annotations

from typing import Any

import torch

from dyngraphvae.models.random_effect import offset_estimates, random_effect_fit
from dyngraphvae.models.refit import stratified_pairs

__all__ = ["fit_snapshot_effect", "offset_estimates", "random_effect_fit"]


def fit_snapshot_effect(model: Any, graph: Any, *, negatives: int = 20000, seed: int = 0,
                        num_samples: int = 4) -> dict[str, Any] | None:
    """Fit ``τ`` and the offset shift ``b`` (module docstring) on ``graph``'s snapshots
    ``1..T−1`` and set them on ``model`` (``model.snapshot_scale = τ``, the edge decoder's offset
    moved by ``b``). Returns ``{"scale", "offset_shift", "num_snapshots", "offsets"}`` (the
    snapshots' own best offsets ``δ̂_s``), or ``None`` when the model has no snapshot effect
    (nothing is changed then)."""
    from dyngraphvae.models import engine

    if not getattr(model.config, "snapshot_effect", False) or len(graph) < 3:
        return None
    if getattr(model.edge_decoder, "bias", None) is None:
        raise ValueError("fit_snapshot_effect: the edge decoder has no offset (edge_bias=False); "
                         "the effect's mean shift has nowhere to go")
    gen = torch.Generator().manual_seed(int(seed))
    was_training = model.training
    model.eval()
    logits, labels, weights = [], [], []
    try:
        with torch.no_grad():
            states = engine.filtered_states(model, graph, len(graph) - 1, num_samples, gen)
            contexts = model.decoder_contexts(graph)
            for s in range(1, len(graph)):
                if graph.num_edges(s) == 0:
                    continue
                ctx = contexts[s]
                pairs, y, w = stratified_pairs(graph, s, ctx.edges.keys.cpu(), negatives, gen)
                lg = model.edge_scorer(ctx).logits(states[s], pairs.to(model.device))
                # the predictive logit of the S filtered latents: log of the mean probability
                p = torch.sigmoid(lg.double()).mean(0).clamp(1e-12, 1 - 1e-12).cpu()
                logits.append(torch.log(p) - torch.log1p(-p))
                labels.append(y)
                weights.append(w)
    finally:
        model.train(was_training)
    if len(logits) < 2:
        return None
    d_hat, curv = offset_estimates(logits, labels, weights)
    b, tau = random_effect_fit(d_hat, 1.0 / curv)
    with torch.no_grad():
        model.snapshot_scale.fill_(tau)
        model.edge_decoder.bias.add_(b)
    return {"scale": tau, "offset_shift": b, "num_snapshots": len(logits),
            "offsets": d_hat.tolist()}
