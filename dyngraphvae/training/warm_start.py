r"""Warm start of the pair-history decoder context at the logistic regression it contains.

With ``decoder_context="pair_history"`` the edge logit is ``s(z_u, z_v) + b + w·φ_uv`` where
``φ_uv`` are the pair-history features of :meth:`EdgeContextTerm.pair_features
<dyngraphvae.models.context.EdgeContextTerm.pair_features>`. Before the ELBO is maximised,
``(w, b)`` are set to the maximum-likelihood logistic regression of the training snapshots on
``φ`` alone — the model then starts at the counting solution and the latent is trained on top
of it (otherwise the handful of context weights would move by about one learning rate per Adam
step and stay far from their optimum after a typical run; measured in ``docs/results.md``).

The fit uses the unbiased estimate of the full Bernoulli log-likelihood that the sparse ELBO
uses, stratified the same way (``dyngraphvae.nn.adjacency``): every edge of snapshot ``s``; every
non-edge among the pairs the context has stored (seen before; at most ``8 K`` of them, sub-sampled
with weight ``|C| / 8K`` above that); and ``K`` uniformly drawn pairs weighted by ``M_s / K``
(``M_s`` valid pairs), a draw that is an edge or a stored pair getting weight 0. L-BFGS in float64
with a small ridge (``1e-4`` per unit weight). Training data only.

The lead terms of the direct multi-horizon decoder (``context_leads = K > 1``) start the same way,
each at its own horizon: lead ``k`` regresses snapshot ``s`` on the context of ``G_{≤s−k+1}`` aged
``k − 1`` snapshots (:func:`~dyngraphvae.models.context.aged`), the features a forecast of lead
``k`` reads; its own offset takes the intercept's change from lead 1 (the decoder's bias, shared,
stays at lead 1's): the pair-history regression fitted per horizon, as the issue's baseline is.

:func:`warm_start_features` does the same for the autoregressive feature mean: the lag weights
``W_l`` and the mean head's offset are set to the least-squares AR(L) of the training snapshots;
:func:`select_feature_lags` chooses its order ``L`` by the same least squares on a validation
block.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from dyngraphvae.models.context import aged
from dyngraphvae.models.refit import stratified_pairs

__all__ = ["FEATURE_LAG_CANDIDATES", "feature_lag_scores", "select_feature_lags",
           "stratified_pairs", "warm_start_context", "warm_start_features"]


def _design(model: Any, graph: Any, negatives: int, generator: torch.Generator, lead: int = 1
            ) -> tuple[Tensor, Tensor, Tensor]:
    term = model.context_term(lead)
    contexts = model.decoder_contexts(graph)
    decay = model.config.context_decay
    xs, ys, ws = [], [], []
    for s in range(lead, len(graph)):
        ctx = contexts[s - lead + 1].edges
        for _ in range(lead - 1):
            ctx = aged(ctx, decay)
        pairs, y, w = stratified_pairs(graph, s, ctx.keys.cpu(), negatives, generator)
        with torch.no_grad():
            xs.append(term.pair_features(ctx, pairs)[0].double())
        ys.append(y)
        ws.append(w)
    return torch.cat(xs), torch.cat(ys), torch.cat(ws)


def warm_start_context(model: Any, graph: Any, *, negatives: int = 2000, seed: int = 0,
                       max_iter: int = 200, ridge: float = 1e-4) -> dict[str, Any] | None:
    """Set the pair-history context weights and the edge decoder's offset to the logistic
    regression of ``graph``'s snapshots ``1..T−1`` on their pair-history features (module
    docstring), and each lead term at its own horizon. Returns ``{"weights", "bias",
    "log_loss_per_pair"}`` (and ``"lead_log_loss_per_pair"`` for leads 2.. with lead terms), or
    ``None`` when the model has no pair-history context (nothing is changed then)."""
    term = getattr(model, "edge_context", None)
    if term is None or getattr(term, "pair_weight", None) is None or len(graph) < 2:
        return None
    dec = model.edge_decoder
    if getattr(dec, "bias", None) is None:
        raise ValueError("warm_start_context: the edge decoder has no offset (edge_bias=False); "
                         "the regression's intercept has nowhere to go")
    gen = torch.Generator().manual_seed(int(seed))
    coef, bias, ll = _logistic(*_design(model, graph, int(negatives), gen), None, max_iter, ridge)
    with torch.no_grad():
        term.load_weight_vector(coef.to(term.previous_weight.device))
        dec.bias.fill_(bias)
    info: dict[str, Any] = {"weights": coef.tolist(), "bias": bias, "log_loss_per_pair": ll}
    for k in range(2, model.config.context_leads + 1):
        if len(graph) <= k:  # too short for this lead: it starts at lead k - 1's weights
            ck = model.context_term(k - 1).weight_vector().detach()
            if k == 2:  # lead 1 has no offset of its own (the decoder's bias is its intercept)
                ck = torch.cat([ck, ck.new_zeros(1)])
        else:
            ck, _, llk = _logistic(*_design(model, graph, int(negatives), gen, k), bias,
                                   max_iter, ridge)
            info.setdefault("lead_log_loss_per_pair", []).append(llk)
        with torch.no_grad():
            model.context_term(k).load_weight_vector(ck.to(term.previous_weight.device))
    return info


def _logistic(x: Tensor, y: Tensor, w: Tensor, bias: float | None, max_iter: int, ridge: float
              ) -> tuple[Tensor, float, float]:
    """Weighted ridge logistic regression by L-BFGS in float64: ``(coef, intercept, log loss per
    pair)``; ``bias`` given: the intercept is held there."""
    scale = x.abs().amax(0).clamp_min(1.0)  # conditioning only; undone below
    xs = x / scale
    theta = torch.zeros(x.size(1) + 1, dtype=torch.float64, requires_grad=True)
    wsum = float(w.sum())
    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=int(max_iter), line_search_fn="strong_wolfe",
                            tolerance_grad=1e-10, tolerance_change=1e-12)

    def logits() -> Tensor:
        return xs @ theta[:-1] + (theta[-1] if bias is None else bias)

    def closure() -> Tensor:
        opt.zero_grad()
        nll = (w * torch.nn.functional.binary_cross_entropy_with_logits(
            logits(), y, reduction="none")).sum() / wsum
        loss = nll + ridge * theta[:-1].pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        coef = (theta[:-1] / scale).float()
        ll = float((w * torch.nn.functional.binary_cross_entropy_with_logits(
            logits(), y, reduction="none")).sum() / wsum)
    if not math.isfinite(ll):
        raise FloatingPointError("warm_start_context: the regression did not converge")
    return coef, float(theta[-1].detach()) if bias is None else float(bias), ll


def warm_start_features(model: Any, graph: Any) -> dict[str, Any] | None:
    r"""Set the autoregressive feature mean to the least-squares AR(L) of ``graph``'s features.

    The mean is ``μ(z_v) + Σ_l W_l x^v_{t+1-l}`` (``feature_lags = L``; with
    ``feature_neighbours`` also ``+ Σ_l V_l (P x)^v_{t+1-l}``). The pooled regression
    ``x^v_s = b + Σ_l W_l x^v_{s-l} [+ Σ_l V_l (P x)^v_{s-l}]`` over snapshots ``s = 1..T−1``
    (lags before snapshot 0 are zero, as in the decoder context, or with ``feature_full_lags``
    the rows ``s ≥ L`` only; rows of absent nodes left out)
    gives ``W_l`` (and ``V_l``) and ``b``; ``b``
    becomes the offset of the mean head, so an untrained latent part adds only its small
    initial output to the linear model. Returns ``{"weights", "bias", "mse"}``, or ``None`` when
    the model has no autoregressive feature mean (nothing is changed then)."""
    lin = getattr(model, "feature_context", None)
    dec = getattr(model, "feature_decoder", None)
    if lin is None or dec is None or len(graph) < 2 or not hasattr(dec, "mean"):
        return None
    from dyngraphvae.models.context import DecoderContext, lag_inputs

    # the lag windows only: the edge context's recursion is not needed here
    c = model.config
    window = torch.zeros(graph.num_nodes, c.num_features * c.feature_lags,
                         device=lin.weight.device)
    contexts = model.decoder_contexts(graph, start=DecoderContext(edges=None, x=window))
    xs, ys = [], []
    # with full lags, only the rows whose lag window is all observed (as the likelihood)
    for s in range(c.feature_lags if c.feature_full_lags else 1, len(graph)):
        lags = lag_inputs(contexts[s].x, contexts[s].neighbours, c.feature_neighbours)
        target = graph.features(s)
        keep = torch.ones(target.size(0), dtype=torch.bool, device=target.device)
        if graph.node_mask is not None:
            keep = graph.node_mask[s] & graph.node_mask[s - 1]
        xs.append(lags[keep].double())
        ys.append(target[keep].double())
    if not xs:
        return None
    X, Y = torch.cat(xs), torch.cat(ys)
    coef = torch.linalg.lstsq(torch.cat([X, torch.ones_like(X[:, :1])], 1), Y).solution
    W, b = coef[:-1], coef[-1]
    mse = float((X @ W + b - Y).pow(2).mean())
    with torch.no_grad():
        lin.weight.copy_(W.T.to(lin.weight))
        if dec.mean.bias is not None:
            dec.mean.bias.copy_(b.to(dec.mean.bias))
    return {"weights": W.T.tolist(), "bias": b.tolist(), "mse": mse}


#: lag orders :func:`select_feature_lags` chooses from (``ForecasterConfig.feature_lags``)
FEATURE_LAG_CANDIDATES: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)


def feature_lag_scores(graph: Any, num_val: int,
                       candidates: Sequence[int] = FEATURE_LAG_CANDIDATES,
                       neighbours: bool = False) -> dict[int, float]:
    r"""Validation mean squared error of the autoregressive feature mean's linear part for each
    lag order ``L`` in ``candidates``: the pooled least-squares fit

    .. math::
        x^v_s = b + \sum_{l=1}^{L} W_l x^v_{s-l}\ [+ \sum_{l=1}^{L} V_l (P_{s-1} x_{s-l})_v]

    (with ``neighbours``: ``P_{s-1}`` the neighbour-mean operator of ``G_{s-1}``, as the decoder
    reads it, :mod:`dyngraphvae.data.neighbours`) on the targets ``s = L..T_0 − 1`` before the
    validation block (``T_0 = T − num_val``; every lag observed), scored on the one-step targets
    ``s = T_0..T−1`` from the observed lags. Rows of nodes absent at ``s`` or ``s − 1`` are left
    out. Orders with fewer fit snapshots than lags (``T_0 − L < L``) are skipped. Computed from
    per-snapshot normal equations, so memory does not grow with ``T``."""
    from dyngraphvae.data.neighbours import neighbour_mean

    if not graph.has_features or graph.x is None or graph.x.dim() != 3:
        raise ValueError("feature_lag_scores: needs per-snapshot node features (T, N, F)")
    T, n, f = graph.x.shape
    t0 = T - int(num_val)
    if not 0 < t0 < T:
        raise ValueError(f"feature_lag_scores: num_val must lie in [1, {T - 1}], got {num_val}")
    cands = sorted({int(c) for c in candidates if 1 <= int(c) <= (t0 // 2)})
    if not cands:
        raise ValueError(f"feature_lag_scores: no lag order in {tuple(candidates)} leaves as many "
                         f"fit snapshots as lags before the validation block ({t0} snapshots)")
    lmax = max(cands)
    x = graph.x.double()
    mask = graph.node_mask

    def design(s: int) -> tuple[Tensor, Tensor, Tensor]:
        window = torch.cat([x[s - l] if s - l >= 0 else x.new_zeros(n, f)
                            for l in range(1, lmax + 1)], 1)  # (N, lmax·F), lag 1 first
        nb = (torch.sparse.mm(neighbour_mean(graph.edges(s - 1), n).double(), window)
              if neighbours else None)
        keep = torch.ones(n, dtype=torch.bool) if mask is None else (mask[s] & mask[s - 1]).cpu()
        return window[keep], (nb[keep] if nb is not None else None), x[s][keep]

    def columns(window: Tensor, nb: Tensor | None, lags: int) -> Tensor:
        parts = [window[:, :lags * f]] + ([nb[:, :lags * f]] if nb is not None else [])
        return torch.cat(parts + [window.new_ones(window.size(0), 1)], 1)

    k = {c: (2 if neighbours else 1) * c * f + 1 for c in cands}
    gram = {c: x.new_zeros(k[c], k[c]) for c in cands}
    cross = {c: x.new_zeros(k[c], f) for c in cands}
    for s in range(min(cands), t0):
        window, nb, y = design(s)
        for c in cands:
            if s >= c:
                d = columns(window, nb, c)
                gram[c] += d.T @ d
                cross[c] += d.T @ y
    coef = {c: torch.linalg.lstsq(gram[c], cross[c]).solution for c in cands}
    sse = dict.fromkeys(cands, 0.0)
    count = 0
    for s in range(t0, T):
        window, nb, y = design(s)
        count += y.numel()
        for c in cands:
            sse[c] += float((columns(window, nb, c) @ coef[c] - y).pow(2).sum())
    return {c: sse[c] / max(count, 1) for c in cands}


def select_feature_lags(graph: Any, num_val: int,
                        candidates: Sequence[int] = FEATURE_LAG_CANDIDATES,
                        neighbours: bool = False) -> tuple[int, dict[int, float]]:
    """The lag order of the autoregressive feature mean with the least validation error of its
    linear part (:func:`feature_lag_scores`; a tie keeps the smaller order) and every score."""
    scores = feature_lag_scores(graph, num_val, candidates, neighbours)
    return min(scores, key=lambda c: (scores[c], c)), scores
