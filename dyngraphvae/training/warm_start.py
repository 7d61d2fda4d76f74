r"""Warm start of the pair-history decoder context at the logistic regression it contains.

With ``decoder_context="pair_history"`` the edge logit is ``s(z_u, z_v) + b + w·φ_uv`` where
``φ_uv`` are the pair-history features of :meth:`EdgeContextTerm.pair_features
<dyngraphvae.models.context.EdgeContextTerm.pair_features>`. Before the ELBO is maximised,
``(w, b)`` are set to the maximum-likelihood logistic regression of the training snapshots on
``φ`` alone — the model then starts at the counting solution and the latent is trained on top
of it (otherwise the handful of context weights would move by about one learning rate per Adam
step and stay far from their optimum after a typical run; measured in ``docs/results.md``).

The fit uses the unbiased estimate of the full Bernoulli log-likelihood that the sparse ELBO
uses: every edge of snapshot ``s`` plus ``K`` uniformly drawn pairs weighted by
``(M_s − E_s) / K`` (``M_s`` valid pairs), a pair that is an edge getting weight 0 among the
negatives. L-BFGS in float64 with a small ridge (``1e-4`` per unit weight). Training data only.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

__all__ = ["warm_start_context"]


def _design(model: Any, graph: Any, negatives: int, generator: torch.Generator
            ) -> tuple[Tensor, Tensor, Tensor]:
    term = model.edge_context
    n, directed = graph.num_nodes, graph.directed
    total = n * (n - 1) if directed else n * (n - 1) // 2
    contexts = model.decoder_contexts(graph)
    xs, ys, ws = [], [], []
    for s in range(1, len(graph)):
        pos = graph.edges(s).cpu().long()
        pos = pos[:, pos[0] != pos[1]]
        if not directed:
            pos = torch.unique(torch.stack([pos.min(0).values, pos.max(0).values]), dim=1)
        e = pos.size(1)
        k = max(negatives, 10 * e)
        u = torch.randint(0, n, (k,), generator=generator)
        v = torch.randint(0, n - 1, (k,), generator=generator)
        v = v + (v >= u).long()  # uniform over u != v
        if not directed:
            u, v = torch.minimum(u, v), torch.maximum(u, v)
        neg = torch.stack([u, v])
        keys = pos[0] * n + pos[1]
        is_edge = torch.isin(neg[0] * n + neg[1], keys)
        ctx = contexts[s].edges
        with torch.no_grad():
            feats = term.pair_features(ctx, torch.cat([pos, neg], 1))[0].double()
        xs.append(feats)
        ys.append(torch.cat([torch.ones(e), torch.zeros(k)]).double())
        w_neg = (total - e) / k
        ws.append(torch.cat([torch.ones(e), torch.where(is_edge, 0.0, w_neg)]).double())
    return torch.cat(xs), torch.cat(ys), torch.cat(ws)


def warm_start_context(model: Any, graph: Any, *, negatives: int = 2000, seed: int = 0,
                       max_iter: int = 200, ridge: float = 1e-4) -> dict[str, Any] | None:
    """Set the pair-history context weights and the edge decoder's offset to the logistic
    regression of ``graph``'s snapshots ``1..T−1`` on their pair-history features (module
    docstring). Returns ``{"weights", "bias", "log_loss_per_pair"}``, or ``None`` when the model
    has no pair-history context (nothing is changed then)."""
    term = getattr(model, "edge_context", None)
    if term is None or getattr(term, "pair_weight", None) is None or len(graph) < 2:
        return None
    dec = model.edge_decoder
    if getattr(dec, "bias", None) is None:
        raise ValueError("warm_start_context: the edge decoder has no offset (edge_bias=False); "
                         "the regression's intercept has nowhere to go")
    gen = torch.Generator().manual_seed(int(seed))
    x, y, w = _design(model, graph, int(negatives), gen)
    scale = x.abs().amax(0).clamp_min(1.0)  # conditioning only; undone below
    xs = x / scale
    theta = torch.zeros(x.size(1) + 1, dtype=torch.float64, requires_grad=True)
    wsum = float(w.sum())
    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=int(max_iter), line_search_fn="strong_wolfe",
                            tolerance_grad=1e-10, tolerance_change=1e-12)

    def closure() -> Tensor:
        opt.zero_grad()
        logit = xs @ theta[:-1] + theta[-1]
        nll = (w * torch.nn.functional.binary_cross_entropy_with_logits(
            logit, y, reduction="none")).sum() / wsum
        loss = nll + ridge * theta[:-1].pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        coef = (theta[:-1] / scale).float()
        bias = float(theta[-1])
        logit = xs @ theta[:-1] + theta[-1]
        ll = float((w * torch.nn.functional.binary_cross_entropy_with_logits(
            logit, y, reduction="none")).sum() / wsum)
        term.load_weight_vector(coef.to(term.previous_weight.device))
        dec.bias.fill_(bias)
    if not math.isfinite(ll):
        raise FloatingPointError("warm_start_context: the regression did not converge")
    return {"weights": coef.tolist(), "bias": bias, "log_loss_per_pair": ll}
