r"""Refit of the edge context term at every forecast origin (``ForecasterConfig.context_refit``).

The autoregressive edge logit of lead ``k`` (step ``k`` of a forecast from origin ``T``) is

.. math::
    ℓ^{(k)}_{uv} = s(\hat z^{(k)}_u, \hat z^{(k)}_v) + θ_k^\top φ_{uv}(G_{<T}, k),

with ``φ`` the pair-history features of the origin's observed context aged ``k − 1`` snapshots
(:meth:`EdgeContextTerm.pair_features <dyngraphvae.models.context.EdgeContextTerm.pair_features>`
plus a constant) and ``\hat z^{(k)}`` the transition's latent ``k − 1`` steps after the filtered
``Z_T``. The trained model fixes ``θ`` once, over the whole training span. With a window ``W`` the
forecast re-estimates ``θ_k`` at origin ``T`` by maximum a posteriori on the last ``W`` observed
snapshots, the latent score held fixed as an offset:

.. math::
    \hat θ_k = \arg\max_θ \sum_{s=T-W}^{T-1} \log p\big(A_s \mid o_s + θ^\top φ(G_{<s-k+1}, k)\big)
               - \frac{\lVert θ - θ^{(0)}_k \rVert^2}{2σ^2},

``o_s = \frac1S\sum_j s(\hat z^{(k), j}_u, \hat z^{(k), j}_v)`` the latent score of the forecast of
lead ``k`` from origin ``s − k + 1`` (Monte Carlo mean over the filtered samples), ``θ^{(0)}_k``
the trained weights of lead ``k`` (intercept shift 0) and ``σ`` the prior scale. The log-likelihood
of each snapshot is the unbiased stratified estimate of the sparse ELBO (:func:`stratified_pairs`).
The problem is concave in ``θ`` and solved by Newton's method. A forecast with refitted terms is
direct: step ``k`` reads the observed context aged ``k − 1`` snapshots, never a sample, so its
edge probabilities are the exact marginals of its sampled graphs.

With ``context_refit_effect`` the refitted lead also carries a snapshot effect: the edges of a
forecast snapshot are ``Bernoulli(σ(ℓ^{(k)}_{uv} + δ))``, one ``δ ~ N(0, τ_k²)`` per sampled
future and step, shared by all pairs. ``τ_k`` is the random-effects fit
(:mod:`dyngraphvae.models.random_effect`) of the window snapshots' own best offsets under the
refitted logits: how far the level of a snapshot ``k`` steps ahead strays from what its aged
context predicts. A shift of the intercept keeps the window's expected edge count under the
effect. Without it the sampled edge counts have the near-binomial spread of independent pairs,
far narrower than real activity's.

With ``context_refit_degrees`` the refit also fits columns the trained term lacks: the
endpoints' out-, in- and total degrees over all of ``G_{<T}`` (prior mean 0), each row reading
the degrees of its own origin and the forecast those of ``T``. Two forms
(``context_refit_degree_form``): ``"cumulative"``, ``log(1 + d)``, the pair-history regression's
degree features; and ``"rate"``, ``log(1 + d) − log T``, a log rate per observed snapshot. With
the cumulative form the forecast's degrees exceed every window row's, so the fitted weights
extrapolate and move the level (uci_collegemsg validation: 0.89 → 0.78× the true edge count;
``docs/results.md``, section 3j); the ``− log T`` keeps the columns on one scale as the history
grows. Plain rates ``log(1 + d / T)`` keep the level but are nearly linear in ``d`` and lost the
ranking gain in a scratch run.

With ``context_refit_neighbours`` the refit also fits ``log(1 + CN(u, v))``, the pair's common
neighbours in the symmetrised union of the history (:mod:`dyngraphvae.data.neighbours`; each row
reads its own origin's union, the forecast that of ``T``), the regression's one feature the
decoder has no counterpart of (triadic closure: friends of friends meet).

With ``context_refit_counts`` the refit also fits the undecayed pair counts of the origin's
history, ``log(1 + n_T(u, v))`` and (directed) ``log(1 + n_T(v, u))``
(:mod:`dyngraphvae.data.pair_counts`; the regression's features 1–3): the decayed rates forget
within tens of snapshots that a pair was ever seen, which decides whether it recurs where
ordered pairs never repeat (a rating) or often do (a conversation).

Why. The likelihood-fitted pair-history regression, refitted on the last 10 origins for each
horizon, was ahead of the model on uci_collegemsg at every horizon (``docs/results.md``, 3h): it
follows the level of recent activity and never feeds its own samples back. With the latent score
constant this refit *is* that regression (with the decoder's features), so the model contains it
as fitted, and the latent adds what counting cannot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from dyngraphvae.data.neighbours import common_neighbour_rows, common_neighbours, union_adjacency
from dyngraphvae.data.pair_counts import pair_count_rows, pair_count_values, pair_counts
from dyngraphvae.models.context import EdgeContextTerm, aged
from dyngraphvae.models.random_effect import (
    level_fit,
    level_forecast,
    matched_centre,
    offset_estimates,
    random_effect_fit,
)
from dyngraphvae.nn.adjacency import STRATUM_BUDGET_FACTOR, num_valid_pairs

__all__ = ["RefitTerm", "count_columns", "cumulative_degrees", "degree_columns", "map_logistic",
           "neighbour_column", "prune_refit_cache", "refit_lead_terms", "refit_negatives",
           "stratified_pairs", "window_steps", "with_extra_columns"]


class RefitTerm(EdgeContextTerm):
    r"""A refitted lead term: an :class:`EdgeContextTerm` with an intercept, optionally the
    endpoints' cumulative degrees in the origin's history (``degrees``, ``(N, 2)`` out- and
    in-degree summed over every observed snapshot; ``context_refit_degrees``; ``history``: the
    number ``T`` of those snapshots for the ``"rate"`` form, ``None`` for the cumulative one),
    and the scale
    ``τ_k`` of its snapshot effect ``δ ~ N(0, τ_k²)`` (``context_refit_effect``), which the
    forecast draws once per sample and step and adds to every logit; ``snapshot_scale = None``
    without it (the model's trained effect, if any, applies). With degrees the term is
    ``EdgeContextTerm + d(u) + e(v)``, ``d``, ``e`` linear in :func:`degree_columns`; with
    ``neighbours`` (the sparse union adjacency of the origin's history,
    ``context_refit_neighbours``) it adds ``c · log(1 + CN(u, v))`` (:func:`neighbour_column`);
    with ``counts`` (the sparse pair counts ``n_T`` of the origin's history,
    ``context_refit_counts``) it adds the weights of :func:`count_columns`.
    With ``latent`` (``context_refit_latent``) the latent score ``s(z_u, z_v)`` is multiplied by
    ``latent_weight`` ``β`` (:class:`~dyngraphvae.models.context.ContextScorer` applies it; it is
    not a column of :meth:`pair_features`, which has no latent). These weights sit before the
    intercept in :meth:`weight_vector`: degrees, common neighbours, pair counts, ``β``."""

    def __init__(self, term: EdgeContextTerm, snapshot_scale: float | None = None,
                 degrees: Tensor | None = None, history: int | None = None,
                 neighbours: Tensor | None = None, latent: bool = False,
                 counts: Tensor | None = None) -> None:
        super().__init__(term.history_weight is not None, term.rates, term.directed, offset=True)
        self.snapshot_scale = None if snapshot_scale is None else float(snapshot_scale)
        self.degree_weight = None
        self.history = None if degrees is None or history is None else int(history)
        self.register_buffer("degrees", None if degrees is None else degrees.float())
        if degrees is not None:
            self.degree_weight = torch.nn.Parameter(torch.zeros(4 if term.directed else 1))
        # the sparse union adjacency of the origin's history (common-neighbour column)
        self.register_buffer("neighbours", neighbours)
        self.neighbour_weight = (torch.nn.Parameter(torch.zeros(1)) if neighbours is not None
                                 else None)
        # the sparse pair counts n_T of the origin's history (pair-count columns)
        self.register_buffer("counts", counts)
        self.count_weight = (torch.nn.Parameter(torch.zeros(2 if term.directed else 1))
                             if counts is not None else None)
        # β of the latent score (context_refit_latent); ContextScorer multiplies s(z_u, z_v)
        self.latent_weight = torch.nn.Parameter(torch.ones(1)) if latent else None

    def _weights(self) -> list[torch.nn.Parameter]:
        out = super()._weights()
        extra = [w for w in (self.degree_weight, self.neighbour_weight, self.count_weight,
                             self.latent_weight) if w is not None]
        return out[:-1] + extra + out[-1:]  # before the intercept

    def _node_degree_terms(self) -> tuple[Tensor, Tensor]:
        """``(N,)`` degree terms of each node as a source and as a target."""
        f = degree_node_features(self.degrees, self.directed, self.history)
        w = self.degree_weight.to(f[0].dtype)
        if self.directed:  # columns: out(u), in(v), total(u), total(v)
            return f[0] @ w[[0, 2]], f[1] @ w[[1, 3]]
        return f[0] @ w, f[1] @ w

    def pair_features(self, ctx: Any, pairs: Tensor) -> Tensor:
        x = super().pair_features(ctx, pairs)
        return with_extra_columns(x, pairs, self.directed, self.degrees, self.history,
                                  self.neighbours, self.counts)

    def pair_logits(self, ctx: Any, pairs: Tensor) -> Tensor:
        out = super().pair_logits(ctx, pairs)
        pairs = pairs.long()
        if self.degree_weight is not None:
            src, dst = self._node_degree_terms()
            p = pairs.to(src.device)
            out = out + (src[p[0]] + dst[p[1]]).to(out.dtype)
        if self.neighbour_weight is not None:
            cn = neighbour_column(self.neighbours, pairs)[:, 0]
            out = out + (self.neighbour_weight.double() * cn).to(out.device, out.dtype)
        if self.count_weight is not None:
            pc = count_columns(self.counts, pairs, self.directed) @ self.count_weight.double()
            out = out + pc.to(out.device, out.dtype)
        return out

    def block_logits(self, ctx: Any, start: int, end: int, parts: tuple | None = None) -> Tensor:
        out = super().block_logits(ctx, start, end, parts)
        if self.degree_weight is not None:
            src, dst = self._node_degree_terms()
            out = out + (src[start:end, None] + dst[None, :]).to(out.dtype)
        if self.neighbour_weight is not None:
            cn = torch.log1p(common_neighbour_rows(self.neighbours, start, end))
            out = out + (self.neighbour_weight.double() * cn).to(out.device, out.dtype)
        if self.count_weight is not None:
            w = self.count_weight.double()
            pc = torch.log1p(pair_count_rows(self.counts, start, end)) * w[0]
            if self.directed:  # n_T(v, u)
                pc = pc + torch.log1p(pair_count_rows(self.counts, start, end, True)) * w[1]
            out = out + pc.to(out.device, out.dtype)
        return out


def with_extra_columns(x: Tensor, pairs: Tensor, directed: bool, degrees: Tensor | None = None,
                       history: int | None = None, neighbours: Tensor | None = None,
                       counts: Tensor | None = None) -> Tensor:
    """The features ``x (..., P, F)`` of the trained term (intercept last) with the refit's own
    columns inserted before the intercept: the degree columns of ``degrees``
    (:func:`degree_columns`), the common-neighbour column of the union ``neighbours``
    (:func:`neighbour_column`) and the pair-count columns of ``counts``
    (:func:`count_columns`), each where given: the layout of :meth:`RefitTerm.weight_vector`,
    for the refit's rows and for the term alike."""
    cols = []
    if degrees is not None:
        cols.append(degree_columns(degrees, pairs, directed, history))
    if neighbours is not None:
        cols.append(neighbour_column(neighbours, pairs))
    if counts is not None:
        cols.append(count_columns(counts, pairs, directed))
    if not cols:
        return x
    d = torch.cat(cols, 1).to(x.device, x.dtype).expand(*x.shape[:-1], -1)
    return torch.cat([x[..., :-1], d, x[..., -1:]], -1)


def neighbour_column(adjacency: Tensor, pairs: Tensor) -> Tensor:
    """``(P, 1)`` float64 ``log(1 + CN(u, v))`` of ``pairs (2, P)`` in the sparse union
    ``adjacency`` (:func:`~dyngraphvae.data.neighbours.union_adjacency`): the regression's
    common-neighbour feature."""
    return torch.log1p(common_neighbours(adjacency, pairs)).unsqueeze(1)


def count_columns(counts: Tensor, pairs: Tensor, directed: bool) -> Tensor:
    """``(P, 2)`` (directed: ``log(1 + n_T(u, v))``, ``log(1 + n_T(v, u))``) or ``(P, 1)``
    (undirected: ``log(1 + n_T(u, v))``) float64 columns of the sparse pair counts ``counts``
    (:func:`~dyngraphvae.data.pair_counts.pair_counts`) for ``pairs (2, P)``: the pair-history
    regression's count features."""
    pairs = pairs.long()
    cols = [pair_count_values(counts, pairs)]
    if directed:
        cols.append(pair_count_values(counts, pairs.flip(0)))
    return torch.log1p(torch.stack(cols, 1))


def _continued(cache: dict | None, name: str, origin: int, build: Any) -> Any:
    """``cache[name][origin]``, made by ``build(base, value)`` from the nearest earlier cached
    origin ``base`` and its ``value`` (``None, None`` when there is none): the history sums of a
    rolling evaluation (degrees, pair counts) continue instead of restarting at snapshot 0."""
    store = {} if cache is None else cache.setdefault(name, {})
    origin = int(origin)
    if origin not in store:
        base = max((o for o in store if o <= origin), default=None)
        store[origin] = build(base, None if base is None else store[base])
    return store[origin]


def counts_until(graph: Any, origin: int, cache: dict | None = None) -> Tensor:
    """The pair counts of snapshots ``0..origin−1`` (:func:`pair_counts`), cached per origin in
    ``cache["counts"]`` and continued from the nearest earlier cached origin."""
    return _continued(cache, "counts", origin, lambda base, value: pair_counts(
        graph, int(origin), None if base is None else (base, value)))


def snapshot_degrees(graph: Any, s: int) -> Tensor:
    """``(N, 2)`` out- and in-degree of snapshot ``s`` (distinct pairs, self-loops skipped;
    undirected: the degree in both slots)."""
    n = graph.num_nodes
    e = graph.edges(s).cpu().long()
    e = e[:, e[0] != e[1]]
    if not graph.directed:
        e = torch.stack([e.min(0).values, e.max(0).values])
    e = torch.unique(e, dim=1) if e.numel() else e
    out = torch.bincount(e[0], minlength=n).double()
    inn = torch.bincount(e[1], minlength=n).double()
    if not graph.directed:
        out = inn = out + inn
    return torch.stack([out, inn], 1)


def cumulative_degrees(graph: Any, origin: int, cache: dict | None = None) -> Tensor:
    """``(N, 2)`` out- and in-degrees summed over snapshots ``0..origin−1`` (the history a
    forecast from ``origin`` reads). ``cache``: computed origins, continued from the nearest
    earlier one."""

    def build(base: int | None, value: Tensor | None) -> Tensor:
        d = value.clone() if value is not None else torch.zeros(graph.num_nodes, 2,
                                                                dtype=torch.float64)
        for t in range(0 if base is None else base, int(origin)):
            d += snapshot_degrees(graph, t)
        return d

    return _continued(cache, "degrees", origin, build)


def union_until(graph: Any, origin: int, cache: dict | None = None) -> Tensor:
    """The sparse symmetrised union of snapshots ``0..origin−1``
    (:func:`~dyngraphvae.data.neighbours.union_adjacency`), cached per origin in
    ``cache["union"]``."""
    store = {} if cache is None else cache.setdefault("union", {})
    if origin not in store:
        store[origin] = union_adjacency(graph, origin)
    return store[origin]


def degree_node_features(degrees: Tensor, directed: bool, history: int | None = None
                         ) -> tuple[Tensor, Tensor]:
    """The log-degree features of each node as a source and as a target, ``r(d) =
    log(1 + d)`` (``history = None``, the cumulative form) or the log rate ``r(d) = log(1 + d) −
    log T`` with ``T = history`` snapshots: directed ``[r(out), r(total)]`` and
    ``[r(in), r(total)]``; undirected ``[r(degree)]`` in both."""
    if history is not None and int(history) < 1:
        raise ValueError(f"degree features need at least one history snapshot, got {history}")
    shift = 0.0 if history is None else math.log(int(history))
    out, inn = torch.log1p(degrees[:, 0]) - shift, torch.log1p(degrees[:, 1]) - shift
    if not directed:
        return out.unsqueeze(1), out.unsqueeze(1)
    tot = torch.log1p(degrees.sum(1)) - shift
    return torch.stack([out, tot], 1), torch.stack([inn, tot], 1)


def degree_columns(degrees: Tensor, pairs: Tensor, directed: bool,
                   history: int | None = None) -> Tensor:
    """``(P, 4)`` (directed: ``r(out(u))``, ``r(in(v))``, ``r(total(u))``, ``r(total(v))``)
    or ``(P, 1)`` (undirected: ``r(d(u)) + r(d(v))``) columns of the cumulative degrees for
    ``pairs (2, P)`` (:func:`degree_node_features`): the pair-history regression's degree features
    (:mod:`dyngraphvae.evaluation.pair_history`), less ``log T`` each with ``history = T``."""
    src, dst = degree_node_features(degrees, directed, history)
    pairs = pairs.to(src.device).long()
    su, tv = src[pairs[0]], dst[pairs[1]]
    if not directed:
        return su + tv
    return torch.stack([su[:, 0], tv[:, 0], su[:, 1], tv[:, 1]], 1)


def stratified_pairs(graph: Any, s: int, stored: Tensor, negatives: int,
                     generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """The pairs ``(2, P)``, labels and weights of the stratified estimate of snapshot ``s``'s
    Bernoulli log-likelihood: its edges (weight 1), the stored (seen-before) non-edges (at most
    ``STRATUM_BUDGET_FACTOR · K``, weighted up when sub-sampled) and ``K = max(negatives, 10 E)``
    uniform pairs weighted ``M_s / K`` to stand for the rest (a draw that is an edge or a stored
    pair gets weight 0); ``stored`` are the context's pair keys ``u·N + v``."""
    n, directed = graph.num_nodes, graph.directed
    total = num_valid_pairs(n, directed)
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
    neg_keys = neg[0] * n + neg[1]
    skip = torch.isin(neg_keys, keys) | torch.isin(neg_keys, stored)
    seen = stored[~torch.isin(stored, keys)]
    w_seen, budget = 1.0, STRATUM_BUDGET_FACTOR * k
    if seen.numel() > budget:
        w_seen = seen.numel() / budget
        seen = seen[torch.randint(0, seen.numel(), (budget,), generator=generator)]
    seen = torch.stack([seen // n, seen % n])
    c = seen.size(1)
    y = torch.cat([torch.ones(e), torch.zeros(c + k)]).double()
    w = torch.cat([torch.ones(e), torch.full((c,), w_seen),
                   torch.where(skip, 0.0, total / k)]).double()
    return torch.cat([pos, seen, neg], 1), y, w


def map_logistic(x: Tensor, y: Tensor, w: Tensor, offset: Tensor, prior_mean: Tensor,
                 prior_scale: float, max_iter: int = 50, tol: float = 1e-16) -> Tensor:
    r"""``argmax_θ Σ_i w_i log Bernoulli(y_i | σ(o_i + x_i·θ)) − ‖θ − θ_0‖² / (2σ²)`` by damped
    Newton steps in float64 (the objective is strictly concave for ``σ < ∞``; a step is halved
    until the objective rises), until the Newton decrement ``g·H⁻¹g / 2`` is below ``tol``.
    ``x (P, F)``, ``y``, ``w``, ``offset (P,)``, ``prior_mean (F,)``.
    """
    x, y, w, o = x.double(), y.double(), w.double(), offset.double()
    t0 = prior_mean.double()
    prec = 1.0 / float(prior_scale) ** 2
    eye = torch.eye(x.size(1), dtype=torch.float64)

    def objective(theta: Tensor) -> float:
        ll = -(w * torch.nn.functional.binary_cross_entropy_with_logits(
            o + x @ theta, y, reduction="none")).sum()
        return float(ll) - 0.5 * prec * float((theta - t0).pow(2).sum())

    theta = t0.clone()
    f = objective(theta)
    for _ in range(int(max_iter)):
        p = torch.sigmoid(o + x @ theta)
        grad = x.T @ (w * (y - p)) - prec * (theta - t0)
        hess = (x * (w * p * (1 - p)).unsqueeze(1)).T @ x + (prec + 1e-8) * eye
        step = torch.linalg.solve(hess, grad)
        if float(grad @ step) / 2 < tol:
            break
        a = 1.0
        while a > 1e-6:
            new = theta + a * step
            fn = objective(new)
            if fn >= f - 1e-12 * abs(f):  # a rise, up to rounding
                break
            a *= 0.5
        else:
            break
        theta, f = new, fn
    if not bool(torch.isfinite(theta).all()):
        raise FloatingPointError("map_logistic: the refit did not converge")
    return theta


def refit_negatives(config: Any) -> int:
    """Uniform pairs per snapshot of the refit's (and its choice's) stratified likelihood: the
    sparse ELBO's ``num_negatives``, or ``max(2000, N)``."""
    return config.num_negatives or max(2000, config.num_nodes)


def _prior_mean(term: EdgeContextTerm) -> Tensor:
    w = term.weight_vector().detach().double().cpu()
    return w if term.offset is not None else torch.cat([w, w.new_zeros(1)])


def _features(term: EdgeContextTerm, ctx: Any, pairs: Tensor) -> Tensor:
    x = term.pair_features(ctx, pairs)[0].double().cpu()
    if term.offset is None:  # the refit term always has its own intercept shift
        x = torch.cat([x, torch.ones(x.size(0), 1, dtype=torch.float64)], 1)
    return x


def _level_effect(theta: Tensor, rows: list[tuple], steps: list[int] | None = None,
                  target: int | None = None) -> tuple[Tensor, float]:
    r"""The snapshot effect of a refitted lead: ``τ`` from the random-effects fit
    (:mod:`dyngraphvae.models.random_effect`) of each window snapshot's own best offset ``δ̂_s``
    under the refitted logits, and the centre ``b`` at which ``δ ~ N(b, τ²)`` keeps the window's
    expected edge count (:func:`~dyngraphvae.models.random_effect.matched_centre`; the fit's own
    centre of the log-offsets raised the counts, ``docs/results.md``, section 3k). ``b`` moves the
    intercept (the last weight) and ``τ`` is returned. Snapshots with no edge (``δ̂ = −∞``) are
    left out; with fewer than 2 left the effect is ``τ = 0``.

    ``steps`` (the rows' snapshot indices) and ``target`` (the forecast snapshot) given: the
    persistent level of ``context_refit_level="ar1"``: ``δ`` an AR(1) over the snapshots
    (:func:`~dyngraphvae.models.random_effect.level_fit`), and the target's offset its
    conditional law given the window's (:func:`~dyngraphvae.models.random_effect.level_forecast`):
    the intercept moves further by its mean's distance from the window's centre, and its
    standard deviation is returned as ``τ``."""
    keep = [i for i, r in enumerate(rows) if float(r[1].sum()) > 0]
    rows = [rows[i] for i in keep]
    if len(rows) < 2:
        return theta, 0.0
    logits = [r[3] + r[0] @ theta for r in rows]
    labels, weights = [r[1] for r in rows], [r[2] for r in rows]
    d_hat, curv = offset_estimates(logits, labels, weights)
    shift = 0.0
    if target is None:
        _, tau = random_effect_fit(d_hat, 1.0 / curv)
    else:
        at = [steps[i] for i in keep]
        centre, tau, phi = level_fit(d_hat, 1.0 / curv, at)
        mean, tau_next = level_forecast(d_hat, 1.0 / curv, at, centre, tau, phi, target)
        shift = mean - centre
    b = matched_centre(torch.cat(logits), torch.cat(labels), torch.cat(weights), tau)
    theta = theta.clone()
    theta[-1] += b + shift
    return theta, (tau if target is None else tau_next)


def latent_rows(row: tuple) -> tuple:
    """A refit row ``(φ, y, w, o)`` with its latent offset ``o`` moved into a column before the
    intercept (offset 0): the rows of ``context_refit_latent``, whose weight ``β`` is fitted."""
    x, y, w, off = row
    x = torch.cat([x[:, :-1], off.unsqueeze(1).to(x.dtype), x[:, -1:]], 1)
    return x, y, w, torch.zeros_like(off)


def window_steps(origin: int, lead: int, window: int) -> range:
    """The target snapshots of a lead-``lead`` refit from ``origin`` with window ``W``:
    ``max(lead, origin − W) .. origin − 1`` (a target ``s`` needs the origin ``s − lead + 1 ≥ 1``
    before it)."""
    return range(max(int(lead), int(origin) - int(window)), int(origin))


def prune_refit_cache(cache: dict, config: Any, remaining: Sequence[int], leads: int) -> None:
    """Drop from a rolling evaluation's ``cache`` (:func:`refit_lead_terms`) what no origin in
    ``remaining`` will read: the rows of targets ``s < t − W`` and the latent paths and history
    sums of origins ``o < t − W − leads + 1``, ``t = min(remaining)``, ``W = context_refit``
    (the latest history sum stays, to be continued). A pruned entry is never rebuilt, so the
    pair draws, and every refit, are those of the unpruned cache; memory stays bounded by the
    window instead of growing with the number of origins (on uci_collegemsg each lead's row
    holds about 20,000 pairs, and each latent path ``S × N × d`` per lead)."""
    if not remaining:
        return
    first = min(int(t) for t in remaining) - int(config.context_refit)
    rows = cache.get("rows", {})
    for key in [key for key in rows if key[0] < first]:
        del rows[key]
    first -= int(leads) - 1
    for name in ("paths", "degrees", "counts", "union"):
        store = cache.get(name, {})
        latest = max(store, default=None)
        for o in [o for o in store if o < first and o != latest]:
            del store[o]


def refit_lead_terms(model: Any, graph: Any, origin: int, leads: int, states: list[Tensor],
                     contexts: list[Any], *, generator: torch.Generator | None = None,
                     cache: dict | None = None, negatives: int | None = None
                     ) -> list[RefitTerm]:
    r"""The refitted context terms of leads ``1..leads`` for a forecast from ``origin`` (module
    docstring): fresh :class:`RefitTerm` modules (an intercept; with
    ``config.context_refit_degrees`` the degree columns of each row's origin, and with
    ``config.context_refit_neighbours`` its common-neighbour column and with
    ``config.context_refit_counts`` its pair-count columns, prior mean 0; with
    ``config.context_refit_effect`` the scale of the lead's snapshot effect).

    ``states[o]`` are the filtered latents ``(S, N, d)`` and ``contexts[o]`` the decoder contexts
    of every ``o ≤ origin`` (:func:`~dyngraphvae.models.engine.filtered_states`,
    :meth:`TemporalGraphVAE.decoder_contexts`). ``cache``: a dict shared by the origins of one
    rolling evaluation: ``cache["rows"][(s, k)]`` holds the rows ``(φ, y, w, o)`` of target
    snapshot ``s`` at lead ``k``, which do not depend on the origin.
    A lead with no observed target in the window keeps the prior mean (the trained weights).
    ``negatives``: uniform pairs per snapshot (default: :func:`refit_negatives`). In a scratch
    run of one bitcoin_alpha model on its validation origins, 2,000 draws let the fit inflate
    the pairs among active nodes, which few uniform draws reach: forecast edge counts 2.9–5.6×
    the truth, against 1.3–3.7× with 20,000."""
    c = model.config
    if negatives is None:
        negatives = refit_negatives(c)
    window, scale = int(c.context_refit), float(c.context_refit_prior)
    degrees = bool(c.context_refit_degrees)
    rate = c.context_refit_degree_form == "rate"
    neighbours = bool(c.context_refit_neighbours)
    counts = bool(c.context_refit_counts)
    latent = bool(c.context_refit_latent)
    cache = {} if cache is None else cache
    if "generator" not in cache:  # the design's pair draws, one stream per evaluation
        cache["generator"] = torch.Generator().manual_seed(
            int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    gen = cache["generator"]
    cached, paths = cache.setdefault("rows", {}), cache.setdefault("paths", {})
    dec = model.edge_decoder
    out = []
    for k in range(1, int(leads) + 1):
        term = model.context_term(k)
        rows = []
        steps = list(window_steps(origin, k, window))
        for s in steps:
            key = (s, k)
            if key not in cached:
                o = s - k + 1
                ctx = contexts[o].edges
                for _ in range(k - 1):
                    ctx = aged(ctx, c.context_decay)
                if o not in paths:
                    paths[o] = [states[o]]
                zs = paths[o]
                while len(zs) < k:
                    zs.append(model.next_latent(zs[-1], generator))
                pairs, y, w = stratified_pairs(graph, s, ctx.keys.cpu(), negatives, gen)
                with torch.no_grad():
                    off = dec.logits(zs[k - 1], pairs).mean(0).double().cpu()
                    # the refit's own columns read the history of the target's origin o
                    x = with_extra_columns(
                        _features(term, ctx, pairs), pairs, c.directed,
                        cumulative_degrees(graph, o, cache) if degrees else None,
                        o if rate else None,
                        union_until(graph, o, cache) if neighbours else None,
                        counts_until(graph, o, cache) if counts else None)
                    cached[key] = (x, y, w, off)
            rows.append(latent_rows(cached[key]) if latent else cached[key])
        mean = _prior_mean(term)
        extra = (4 if c.directed else 1) * degrees + neighbours + (2 if c.directed else 1) * counts
        if extra:  # prior mean 0: the trained model has no such weights
            mean = torch.cat([mean[:-1], mean.new_zeros(extra), mean[-1:]])
        if latent:  # prior mean 1: the trained model's own weight on its latent score
            mean = torch.cat([mean[:-1], mean.new_ones(1), mean[-1:]])
        theta = mean if not rows else map_logistic(
            *(torch.cat([r[i] for r in rows]) for i in range(4)), mean, scale)
        tau = None
        if c.context_refit_effect:  # "ar1": the level of snapshot origin + k − 1 given these
            ar = c.context_refit_level == "ar1"
            theta, tau = _level_effect(theta, rows, steps, int(origin) + k - 1 if ar else None)
        # the origin's degrees continue the rows' (cached, so computed once per origin)
        new = RefitTerm(term, tau, cumulative_degrees(graph, int(origin), cache)
                        if degrees else None, int(origin) if rate else None,
                        union_until(graph, int(origin), cache) if neighbours else None,
                        latent, counts_until(graph, int(origin), cache) if counts else None
                        ).to(term.previous_weight.device)
        new.load_weight_vector(theta.float().to(term.previous_weight.device))
        new.requires_grad_(False)
        out.append(new)
    return out
