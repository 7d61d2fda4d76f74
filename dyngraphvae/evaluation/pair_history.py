r"""The pair-history regression: the strongest simple link baseline of sparse activity data.

A logistic regression on 14 features of each pair's history, fitted on the history alone. It is
the learned heuristic of ``evaluation-conventions.md`` ("features of a strong pair-history
baseline"), which beats every published learned model on Bitcoin and UCI messages under random
negatives; a forecaster worth using must beat it.

**Features** of a pair ``(u, v)`` from snapshots ``G_0..G_{T-1}`` (:func:`pair_history_features`;
counts enter as ``log(1 + x)``, then all are standardised on the training rows):

1. snapshots with an edge between ``u`` and ``v`` in either direction;
2. – 3. snapshots with the edge ``u → v``, and with ``v → u``;
4. – 6. exponentially decayed counts :math:`c_r = \sum_t r^{T-1-t}\,\mathbf 1[(u,v) \in E_t]`,
   ``r ∈ {0.5, 0.8, 0.95}`` (either direction);
7. out-degree of ``u`` and 8. in-degree of ``v``, summed over the history;
9. – 10. total degrees of ``u`` and ``v``; 11. the product of the total degrees;
12. common neighbours of ``u`` and ``v`` in the union of the history's graphs;
13. – 14. snapshots since ``u`` and since ``v`` were last active (``T + 1`` if never).

**Fit** (:meth:`PairHistoryRegression.fit`), for forecasts ``h`` steps ahead: origins
``o = T − h + 1 − m`` for ``m = 1..num_origins`` (at least 2 snapshots of history), target
snapshot ``t = o + h − 1`` (always inside the history, so nothing after it is read); rows are
the target's edges (at most ``max_positives``, sampled), as many uniform non-edges and as many
historical negatives (pairs seen before ``o``, absent at ``t``), the features from ``G_{0..o-1}``.
The weights minimise the (weighted) binary cross-entropy summed over the rows and divided by
their number, plus ``l2 · |w|²`` (L-BFGS, float64). With no
usable origin the score falls back to feature 1 (edge frequency).

**Weighting.** ``"balanced"`` (the default, the baseline of the issue tracker and of
``docs/results.md``) gives the three kinds of row equal shares. That equalises the base rates of
seen and unseen pairs (half the positives of uci recur, and there are as many historical negatives
as positives), which is what AUC against historical negatives rewards. ``"natural"`` weights each
stratum by its size in the target snapshot (edges ``|E_t| / p``; uniform non-edges outside the
seen pairs ``(N_pairs − |E_t|) / k``, draws that hit a seen pair get weight 0; seen-but-absent pairs
``|H_t| / k_h``), so the weighted cross-entropy is an unbiased estimate of the full Bernoulli
log-likelihood of the snapshot: the objective a generative forecaster maximises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from dyngraphvae.data.neighbours import common_neighbours, union_adjacency
from dyngraphvae.data.temporal_graph import TemporalGraph

__all__ = ["PAIR_HISTORY_FEATURES", "PairHistoryFit", "PairHistoryRegression",
           "pair_history_features"]

PAIR_HISTORY_FEATURES = (
    "count", "count_uv", "count_vu", "decayed_0.5", "decayed_0.8", "decayed_0.95",
    "out_degree_u", "in_degree_v", "degree_u", "degree_v", "degree_product",
    "common_neighbours", "recency_u", "recency_v",
)


def pair_history_features(history: TemporalGraph, pairs: Tensor,
                          rates: tuple[float, ...] = (0.5, 0.8, 0.95)) -> Tensor:
    """``(P, 11 + len(rates))`` float64 features of ``pairs (2, P)`` (module docstring)."""
    n, T = history.num_nodes, len(history)
    pairs = pairs.long().cpu()
    u, v = pairs[0], pairs[1]
    k_uv, k_vu = u * n + v, v * n + u
    P = pairs.size(1)
    count = torch.zeros(P, dtype=torch.float64)
    count_uv, count_vu = torch.zeros_like(count), torch.zeros_like(count)
    decayed = torch.zeros(len(rates), P, dtype=torch.float64)
    r = torch.tensor(rates, dtype=torch.float64).unsqueeze(1)
    d_out = torch.zeros(n, dtype=torch.float64)
    d_in = torch.zeros(n, dtype=torch.float64)
    last = torch.full((n,), -1, dtype=torch.long)
    for t in range(T):
        e = history.edges(t).cpu()
        if not history.directed:
            e = torch.cat([e, e.flip(0)], dim=1)
        keys = torch.unique(e[0] * n + e[1])
        hit_uv, hit_vu = torch.isin(k_uv, keys), torch.isin(k_vu, keys)
        hit = (hit_uv | hit_vu).double()
        count += hit
        count_uv += hit_uv.double()
        count_vu += hit_vu.double()
        decayed = decayed * r + hit
        d_out += torch.bincount(e[0], minlength=n).double()
        d_in += torch.bincount(e[1], minlength=n).double()
        last[e.flatten()] = t
    deg = d_out + d_in if history.directed else d_out
    # common neighbours in the union of the history's (symmetrised) graphs, by sparse rows
    cn = common_neighbours(union_adjacency(history), pairs) if T else torch.zeros(
        P, dtype=torch.float64)
    rec_u = torch.where(last[u] >= 0, T - last[u], T + 1).double()
    rec_v = torch.where(last[v] >= 0, T - last[v], T + 1).double()
    cols = [count, count_uv, count_vu, *decayed, d_out[u], d_in[v], deg[u], deg[v],
            deg[u] * deg[v], cn, rec_u, rec_v]
    return torch.log1p(torch.stack(cols, dim=1))


@dataclass(frozen=True)
class PairHistoryFit:
    """A fitted pair-history regression: ``logit = ((x − mean) / std) · weight + bias``."""

    weight: Tensor
    bias: Tensor
    mean: Tensor
    std: Tensor
    num_rows: int
    origins: list[int] = field(default_factory=list)

    def logits(self, x: Tensor) -> Tensor:
        return ((x - self.mean) / self.std) @ self.weight + self.bias


@dataclass(frozen=True)
class PairHistoryRegression:
    """Logistic regression on each pair's history (module docstring): ``score_pairs`` gives
    the logit of an edge ``h = horizon`` snapshots after the history's end."""

    horizon: int = 1
    num_origins: int = 10
    max_positives: int = 2000
    l2: float = 1e-3
    seed: int = 0
    weighting: str = "balanced"

    def rows(self, graph: TemporalGraph, origin: int, gen: torch.Generator
              ) -> tuple[Tensor, Tensor, Tensor] | None:
        """The training rows of one origin (``None`` if its target is empty): features
        ``(R, F)`` from ``graph[:origin]``, labels ``(R,)`` and weights ``(R,)`` (module
        docstring, "Weighting")."""
        from dyngraphvae.data.splits import _pair_keys
        from dyngraphvae.evaluation.links import snapshot_non_edges
        from dyngraphvae.evaluation.negatives import candidate_negatives, negative_pairs

        t = origin + self.horizon - 1
        pos = graph.edges(t).cpu()
        if pos.size(1) == 0:
            return None
        if pos.size(1) > self.max_positives:
            pos = pos[:, torch.randperm(pos.size(1), generator=gen)[:self.max_positives]]
        p = pos.size(1)
        n_pairs = graph.num_nodes * (graph.num_nodes - 1)
        n_pairs = n_pairs if graph.directed else n_pairs // 2
        k = min(p, n_pairs - graph.num_edges(t))
        if k < 1:
            return None
        rnd = snapshot_non_edges(graph, t, k, generator=gen).cpu()
        if self.weighting == "balanced":
            hist = negative_pairs(graph, t, k, "historical", history_end=origin,
                                  generator=gen).cpu()
            w = torch.ones(p + 2 * k, dtype=torch.float64)
        else:  # stratified estimate of the snapshot's full log-likelihood
            n = graph.num_nodes
            cand = candidate_negatives(graph, t, "historical", history_end=origin)
            kh = min(k, cand.numel())
            chosen = cand[torch.randperm(cand.numel(), generator=gen)[:kh]]
            hist = torch.stack([chosen // n, chosen % n])
            in_seen = torch.isin(_pair_keys(rnd, n, graph.directed), cand)
            w = torch.cat([torch.full((p,), graph.num_edges(t) / p, dtype=torch.float64),
                           (~in_seen).double() * (n_pairs - graph.num_edges(t)) / k,
                           torch.full((kh,), cand.numel() / max(kh, 1), dtype=torch.float64)])
        pairs = torch.cat([pos, rnd, hist], dim=1)
        y = torch.cat([torch.ones(p), torch.zeros(pairs.size(1) - p)]).double()
        return pair_history_features(graph[:origin], pairs), y, w

    def fit(self, history: TemporalGraph) -> PairHistoryFit | None:
        """Fit on ``history`` alone (``None`` when it is too short to give a training row)."""
        h = int(self.horizon)
        if h < 1:
            raise ValueError(f"PairHistoryRegression: horizon must be >= 1, got {self.horizon}")
        if self.weighting not in ("balanced", "natural"):
            raise ValueError("PairHistoryRegression: weighting must be 'balanced' or 'natural', "
                             f"got {self.weighting!r}")
        T = len(history)
        gen = torch.Generator().manual_seed(int(self.seed) * 1_000_003 + T * 31 + h)
        xs, ys, ws, used = [], [], [], []
        for m in range(1, self.num_origins + 1):
            origin = T - h + 1 - m
            if origin < 2:
                break
            rows = self.rows(history, origin, gen)
            if rows is not None:
                xs.append(rows[0])
                ys.append(rows[1])
                ws.append(rows[2])
                used.append(origin)
        if not xs:
            return None
        X, y, wt = torch.cat(xs), torch.cat(ys), torch.cat(ws)
        # an edge row weighs 1, so the penalty is as strong against the edges' evidence under
        # either weighting (balanced: every weight 1, the plain mean cross-entropy)
        wt = wt / wt[y == 1].mean()
        mean, std = X.mean(0), X.std(0, unbiased=False).clamp(min=1e-6)
        Z = (X - mean) / std
        w = torch.zeros(Z.size(1), dtype=torch.float64, requires_grad=True)
        b = torch.zeros((), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                Z @ w + b, y, weight=wt, reduction="sum") / y.numel() + self.l2 * w.pow(2).sum()
            loss.backward()
            return loss

        with torch.enable_grad():
            opt.step(closure)
        return PairHistoryFit(w.detach(), b.detach(), mean, std, int(y.numel()), used)

    def score_pairs(self, history: TemporalGraph, pairs: Tensor) -> Tensor:
        """``(P,)`` float64 logits of an edge at snapshot ``T + horizon`` (1-based)."""
        x = pair_history_features(history, pairs)
        fitted = self.fit(history)
        if fitted is None:  # too short a history to fit: edge frequency
            return x[:, 0].to(pairs.device)
        return fitted.logits(x).to(pairs.device)
