r"""Link-forecast study runners.

* :func:`vgrnn_link_protocol`: Hajiramezanali et al. (NeurIPS 2019) dynamic link prediction and
  new-link prediction on the last 3 snapshots (``link_prediction_split``; a validation snapshot
  before them), AUC/AP of the one-step predictive edge probability
  :math:`\bar\pi_{uv} = \frac1S\sum_s\sigma(s(\hat z_u^{(s)}, \hat z_v^{(s)}))`, next to
  persistence, edge frequency, EdgeBank, the pair-history regression and a static VGAE, plus the
  stacked variant :class:`HistoryStackedLinks`.
* :func:`link_forecast_protocol`: AUC/AP/MRR at horizons ``1..H`` from one or many origins
  (per-``h`` means over origins), next to the link baselines computed from the same history as
  the model at each origin; :func:`link_baselines_protocol` the baselines alone.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from dyngraphvae._checks import check_int
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.experiments.runs import summarise_runs, to_dict, train_forecaster
from dyngraphvae.models.rolling import predictive_pair_probs, rolling_forecast

__all__ = [
    "HistoryStackedLinks",
    "edge_history_features",
    "link_baselines_protocol",
    "link_forecast_protocol",
    "link_protocol_origins",
    "vgrnn_link_protocol",
]


# ==================================================================================================
# VGRNN link protocol
# ==================================================================================================
def edge_history_features(history: TemporalGraph, pairs: Tensor) -> Tensor:
    r"""``(P, 3)`` history features of node pairs for the snapshot after ``history``:
    ``[#{t: (u,v) ∈ E_t} / T, A_T(u, v), log(1 + d_u d_v)]`` with ``d_v = Σ_t deg_t(v)``
    (the ingredients of :class:`~dyngraphvae.evaluation.baselines.EdgeFrequencyLinks`)."""
    from dyngraphvae.evaluation.baselines import EdgeFrequencyLinks, PersistenceLinks

    T = len(history)
    count = EdgeFrequencyLinks(persistence_weight=0.0, degree_weight=0.0).score_pairs(
        history, pairs)
    last = PersistenceLinks().score_pairs(history, pairs)
    all_edges = torch.cat([history.edges(t) for t in range(T)], dim=1)
    n = history.num_nodes
    if history.directed:
        d_out = torch.bincount(all_edges[0], minlength=n).double()
        d_in = torch.bincount(all_edges[1], minlength=n).double()
    else:
        d_out = d_in = torch.bincount(all_edges.flatten(), minlength=n).double()
    pa = torch.log1p(d_out[pairs[0]] * d_in[pairs[1]])
    return torch.stack([count / T, last, pa], dim=1)


@dataclass
class HistoryStackedLinks:
    r"""Model variant: the forecaster's edge logit stacked with edge-history features.

    .. math::
        \operatorname{logit} p(A_{T+1}(u,v) = 1) = w_0 + w_1\,\bar\ell_{uv}
        + w_2\,\tfrac1T\#\{t: (u,v)\in E_t\} + w_3\,A_T(u,v) + w_4 \log(1 + d_u d_v),

    with :math:`\bar\ell_{uv} = \operatorname{logit}\bar\pi_{uv}` the logit of the model's Monte
    Carlo predictive edge probability. The weights are a ridge-penalised logistic regression
    (L-BFGS, penalty ``ridge·‖w_{1:4}‖²``) fitted on the *validation* snapshots' positive and
    negative pairs only (a one-layer "decoder that also reads the previous adjacencies", the
    ingredient VGRNN's quirk 6 shows is needed on these data). Composes from the public API.
    """

    ridge: float = 1e-3
    weights: Tensor | None = None

    @staticmethod
    def design(model_prob: Tensor, history: TemporalGraph, pairs: Tensor) -> Tensor:
        p = model_prob.double().clamp(1e-6, 1 - 1e-6)
        return torch.cat([torch.logit(p).unsqueeze(1), edge_history_features(history, pairs)], 1)

    def fit(self, designs: Sequence[Tensor], labels: Sequence[Tensor]) -> HistoryStackedLinks:
        """Return a fitted copy: ``designs`` ``(P_i, 4)`` and 0/1 ``labels`` ``(P_i,)``."""
        X = torch.cat(list(designs)).double()
        y = torch.cat(list(labels)).double()
        mu, sd = X.mean(0), X.std(0).clamp(min=1e-6)
        Xs = torch.cat([torch.ones(X.size(0), 1, dtype=X.dtype), (X - mu) / sd], 1)
        w = torch.zeros(Xs.size(1), dtype=X.dtype, requires_grad=True)
        opt = torch.optim.LBFGS([w], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(Xs @ w, y) \
                + self.ridge * w[1:].pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        ws = w.detach()
        # back to the unstandardised design: logit = b + Σ_j a_j (x_j − μ_j)/σ_j
        a = ws[1:] / sd
        b = ws[0] - (a * mu).sum()
        return HistoryStackedLinks(ridge=self.ridge, weights=torch.cat([b.view(1), a]))

    def score(self, design: Tensor) -> Tensor:
        if self.weights is None:
            raise ValueError("HistoryStackedLinks: call fit first")
        return design.double() @ self.weights[1:] + self.weights[0]


def _choose_refit(model: Any, graph: TemporalGraph, origins: Sequence[int], horizon: int,
                  windows: Sequence[int | str], seed: int, info: dict[str, Any],
                  num_samples: int = 20, refinements: Sequence[str] = (),
                  step_margin: float = 0.0) -> None:
    """Choose the model's per-origin refit among ``windows`` on the validation ``origins``
    (:func:`~dyngraphvae.evaluation.forecast_choice.choose_context_refit`, on a copy of the
    config: the choice is this model's own) and record it, its scores and its seconds in
    ``info``."""
    from dyngraphvae.evaluation.forecast_choice import choose_context_refit

    model.config = dataclasses.replace(model.config)
    t0 = time.perf_counter()
    best, scores = choose_context_refit(model, graph, origins, horizon, tuple(windows),
                                        num_samples=num_samples, seed=seed,
                                        refinements=tuple(refinements), step_margin=step_margin)
    info.update(context_refit=best, refit_scores={str(w): v for w, v in scores.items()},
                refit_choice_seconds=time.perf_counter() - t0)


def vgrnn_link_protocol(
    graph: TemporalGraph,
    model_config: Any,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    num_test: int = 3,
    num_val: int = 1,
    num_samples: int = 50,
    train_kwargs: dict[str, Any] | None = None,
    baselines: bool = True,
    vgae_epochs: int = 200,
    refit_windows: Sequence[int | str] | None = None,
    refit_refinements: Sequence[str] = (),
    refit_step_margin: float = 0.0,
) -> dict[str, Any]:
    r"""VGRNN dynamic link prediction and new-link prediction (module docstring).

    ``refit_windows``: choose the per-origin refit among these candidates, then the greedy
    ``refit_refinements`` (``choose_context_refit``'s ``refinements``, each kept if it gains more
    than ``refit_step_margin`` standard errors), for each seed on the
    validation snapshots (one-step forecasts, the pairwise log score,
    :func:`~dyngraphvae.evaluation.forecast_choice.choose_context_refit`) before any test
    snapshot is forecast; the choice is recorded in ``training[i]["context_refit"]``.

    ``model_config=None`` scores the baselines alone (same pairs, no training).

    For each seed: :func:`~dyngraphvae.data.splits.link_prediction_split` with that seed (the
    negatives), a model trained on the snapshots before the test block with the last ``num_val``
    as its validation (early stopping on the validation ELBO), one-step forecasts of the validation
    and test snapshots from the true history (as VGRNN does), and :class:`HistoryStackedLinks`
    fitted on the validation snapshot. Metrics are means over the test snapshots; the result holds
    per-seed values and mean ± std over seeds for the model, the stacked variant and the
    baselines (persistence, edge frequency, EdgeBank with unlimited memory and with the last
    ``num_test`` snapshots, the pair-history regression on balanced rows and by the full
    likelihood (``pair_history_ml``), static VGAE trained on the last history snapshot). Besides
    the link and new-link tasks on uniform non-edges, ``hist_link_auc`` / ``hist_link_ap`` score
    all edges of each test snapshot against as many historical negatives (pairs seen before it
    but absent from it; Poursafaei et al. 2022), drawn from a generator seeded by ``(seed, step)``.
    """
    from dyngraphvae.data.splits import link_prediction_split
    from dyngraphvae.evaluation.baselines import VGAELinks, link_baselines
    from dyngraphvae.evaluation.links import link_metrics
    from dyngraphvae.evaluation.negatives import negative_pairs

    kw = dict(train_kwargs or {})
    rows: dict[str, list[dict[str, float]]] = {}
    infos = []
    for seed in seeds:
        split = link_prediction_split(graph, num_test=num_test, num_val=num_val, seed=seed)
        first_test = split.test_steps[0]
        fc = stacked = None
        if model_config is not None:
            cfg_seed = dict(kw, seed=int(seed), val_snapshots=num_val)
            model, info = train_forecaster(model_config, graph[:first_test], **cfg_seed)
            infos.append(info)
            if refit_windows is not None:
                _choose_refit(model, graph[:first_test], list(split.val_steps), 1,
                              refit_windows, int(seed), info, refinements=refit_refinements,
                              step_margin=refit_step_margin)
            steps = split.val_steps + split.test_steps
            gen = torch.Generator().manual_seed(10_000 + int(seed))
            t0 = time.perf_counter()
            fc = rolling_forecast(model, graph, steps, 1, num_samples, generator=gen)
            info["forecast_seconds"] = time.perf_counter() - t0
        scorers: dict[str, Any] = {}
        if baselines:
            scorers.update(link_baselines(num_test),  # EdgeBank_tw over the test span
                           vgae=VGAELinks(epochs=vgae_epochs, seed=int(seed)))
        if fc is not None:  # stacked variant fitted on the validation snapshots
            designs, labels = [], []
            for i, ev in enumerate(split.val):
                pairs, lab = ev.pairs_and_labels()
                prob = fc.edge_prob(i, 0, pairs)
                designs.append(HistoryStackedLinks.design(prob, split.history(ev.step), pairs))
                labels.append(lab)
            stacked = HistoryStackedLinks().fit(designs, labels)
        per: dict[str, dict[str, list[float]]] = {}
        for j, ev in enumerate(split.test):
            i = len(split.val) + j
            hist = split.history(ev.step)
            for task in ("link", "new_link", "hist_link"):
                if task == "hist_link":
                    pos = graph.edges(ev.step)
                    hgen = torch.Generator().manual_seed(_pair_seed(seed, ev.step) + 17)
                    neg = negative_pairs(graph, ev.step, pos.size(1), "historical",
                                         generator=hgen)
                    pairs = torch.cat([pos, neg], dim=1)
                    lab = torch.arange(pairs.size(1)) < pos.size(1)
                else:
                    pairs, lab = ev.pairs_and_labels(new_links=task == "new_link")
                if pairs.size(1) == 0:
                    continue
                npos = int(lab.sum())
                scores = {}
                if fc is not None:
                    prob = fc.edge_prob(i, 0, pairs)
                    scores["model"] = prob.double()
                    scores["model+history"] = stacked.score(
                        HistoryStackedLinks.design(prob, hist, pairs))
                for name, sc in scorers.items():
                    scores[name] = sc.score_pairs(hist, pairs).double()
                for name, s in scores.items():
                    m = link_metrics(s[:npos], s[npos:])
                    d = per.setdefault(name, {})
                    d.setdefault(f"{task}_auc", []).append(100 * m.auc)
                    d.setdefault(f"{task}_ap", []).append(100 * m.ap)
        for name, d in per.items():
            rows.setdefault(name, []).append({k: sum(v) / len(v) for k, v in d.items()})
    summary = {
        name: {k: summarise_runs([r[k] for r in runs]) for k in runs[0]}
        for name, runs in rows.items()
    }
    return {"per_seed": rows, "summary": summary, "training": infos, "seeds": list(seeds),
            "num_samples": num_samples, "model_config": to_dict(model_config),
            "train_kwargs": kw}




# multi-horizon link forecasting
# ==================================================================================================
@dataclass(frozen=True)
class _TargetPairs:
    """The pairs that score one target snapshot (see :func:`_target_pairs`)."""

    pos: Tensor  # (2, P) every edge of the target
    neg: Tensor  # (2, P) uniform non-edges of the target
    queries: Tensor  # (2, Q) MRR queries (positives, at most max_queries)
    corrupted: Tensor  # (2, Q·K) corrupted destinations, query-major

    def all_pairs(self) -> Tensor:
        return torch.cat([self.pos, self.neg, self.queries, self.corrupted], dim=1)


def _pair_seed(seed: int, t: int) -> int:
    """Seed of the evaluation pairs of target snapshot ``t`` under run seed ``seed``."""
    return (30_000 + int(seed)) * 1_000_003 + int(t)


def _target_pairs(graph: TemporalGraph, t: int, seed: int, num_mrr_negatives: int,
                  max_queries: int) -> _TargetPairs | None:
    r"""Evaluation pairs of target snapshot ``t``, or ``None`` when ``t`` has no edge.

    Drawn from a generator seeded by ``(seed, t)`` alone (:func:`_pair_seed`), so every origin and
    horizon that forecasts snapshot ``t`` is scored on the same pairs, whichever other origins are
    evaluated: all edges of ``t`` and as many uniform non-edges (AUC/AP), and up to
    ``max_queries`` positives, each with ``num_mrr_negatives`` corrupted destinations (MRR).
    """
    from dyngraphvae.evaluation.links import link_prediction_pairs
    from dyngraphvae.evaluation.negatives import corrupted_destinations

    if graph.num_edges(t) == 0:
        return None
    gen = torch.Generator().manual_seed(_pair_seed(seed, t))
    pos, neg = link_prediction_pairs(graph, t, generator=gen)
    q_idx = torch.randperm(pos.size(1), generator=gen)[:max_queries]
    queries = pos[:, q_idx]
    corrupted = corrupted_destinations(graph, t, queries, num_mrr_negatives, gen).reshape(2, -1)
    return _TargetPairs(pos, neg, queries, corrupted)


def _historical_pairs(graph: TemporalGraph, origin: int, t: int, num: int, seed: int) -> Tensor:
    """``num`` historical negatives of target ``t`` for a forecast from ``origin``: pairs seen in
    ``G_{0..origin-1}`` and absent at ``t`` (random-filled when too few), seeded by
    ``(seed, t, origin)``."""
    from dyngraphvae.evaluation.negatives import negative_pairs

    gen = torch.Generator().manual_seed(_pair_seed(seed, t) * 1009 + int(origin))
    return negative_pairs(graph, t, num, "historical", history_end=origin, generator=gen)


def _link_scores(scores: Tensor, pairs: _TargetPairs, num_mrr_negatives: int
                 ) -> tuple[float, float, float, float, float]:
    """``(AUC, AP, MRR, AUC_hist, AP_hist)`` in % from the scores of ``pairs.all_pairs()``
    followed by the historical negatives (:func:`_historical_pairs`)."""
    from dyngraphvae.evaluation.links import link_metrics, mean_reciprocal_rank

    p, q = pairs.pos.size(1), pairs.queries.size(1)
    s = scores.double()
    m = link_metrics(s[:p], s[p:2 * p])
    sq = s[2 * p:2 * p + q]
    end = 2 * p + q + q * num_mrr_negatives
    sn = s[2 * p + q:end].reshape(q, num_mrr_negatives)
    mh = link_metrics(s[:p], s[end:])
    return (100 * m.auc, 100 * m.ap, 100 * float(mean_reciprocal_rank(sq, sn)),
            100 * mh.auc, 100 * mh.ap)


def _link_ece(probs: Tensor, pairs: _TargetPairs, graph: TemporalGraph, t: int) -> float:
    """Expected calibration error (in %) of predictive edge probabilities over **all** pairs of
    snapshot ``t`` from its edges and the uniform non-edges of ``pairs``
    (:func:`~dyngraphvae.evaluation.calibration.snapshot_ece`; 15 equal bins)."""
    from dyngraphvae.evaluation.calibration import snapshot_ece

    p = pairs.pos.size(1)
    return 100 * snapshot_ece(probs, graph, t, p, p)


# metrics of every method's scores, then those of the sampled futures (model and persistence)
_SCORE_METRICS = ("auc", "ap", "mrr", "auc_hist", "ap_hist", "ece")
_FUTURE_METRICS = ("count_cover", "count_ratio", "mmd_degree")
_LINK_METRICS = _SCORE_METRICS + _FUTURE_METRICS


def _score_link_origins(model: Any, graph: TemporalGraph, origins: Sequence[int], horizon: int,
                        *, seed: int, num_samples: int, num_mrr_negatives: int, max_queries: int,
                        generator: torch.Generator | None, edgebank_window: int | None = None
                        ) -> dict[str, Any]:
    r"""Score the model (unless ``model`` is ``None``), persistence, edge frequency, EdgeBank
    (unlimited memory, and the last ``edgebank_window`` snapshots, default
    ``len(origins) + H - 1``: the test span) and the pair-history regression on balanced rows and
    by the full likelihood (fitted on each origin's history for each ``h``) at every
    ``(origin, h)``.

    Origin ``T`` conditions on snapshots ``0..T-1``: the model through its filter, the baselines
    through ``graph[:T]`` (exactly that history; never a snapshot ``>= T``). Horizon ``h`` scores
    snapshot ``T + h - 1`` on :func:`_target_pairs` (``None`` when it has no edge: that
    ``(origin, h)`` is skipped and listed).

    Returns ``{"scores": {name: {metric: [[value | None] * H] * O}}, "skipped": [{"origin", "h",
    "target"}], "num_positives": [[int] * H] * O}``.
    """
    from dyngraphvae.evaluation.baselines import link_baselines
    from dyngraphvae.evaluation.futures import future_stats

    H = horizon
    targets = {t + k for t in origins for k in range(H)}
    pairs = {t: _target_pairs(graph, t, seed, num_mrr_negatives, max_queries)
             for t in sorted(targets)}
    requests = [[None if pairs[t + k] is None else torch.cat([
        pairs[t + k].all_pairs(),
        _historical_pairs(graph, t, t + k, pairs[t + k].pos.size(1), seed)], dim=1)
        for k in range(H)] for t in origins]
    futures: list[Tensor] = []
    probs = None if model is None else predictive_pair_probs(model, graph, origins, H, num_samples,
                                                         requests, generator, futures=futures)
    window = len(origins) + H - 1 if edgebank_window is None else int(edgebank_window)
    per_h = [link_baselines(window, horizon=k + 1) for k in range(H)]
    names = ([] if model is None else ["model"]) + list(per_h[0])
    scores = {name: {m: [[None] * H for _ in origins] for m in _LINK_METRICS} for name in names}
    skipped, npos = [], [[0] * H for _ in origins]
    for i, t in enumerate(origins):
        history = graph[:t]
        for k in range(H):
            tp = pairs[t + k]
            if tp is None:
                skipped.append({"origin": int(t), "h": k + 1, "target": int(t + k)})
                continue
            npos[i][k] = int(tp.pos.size(1))
            vals = {} if probs is None else {"model": probs[i][k]}
            for name, b in per_h[k].items():
                vals[name] = b.score_pairs(history, requests[i][k])
            for name, s in vals.items():
                ece = _link_ece(s, tp, graph, t + k) if name == "model" else None
                for m, v in zip(_SCORE_METRICS, (*_link_scores(s, tp, num_mrr_negatives), ece),
                                strict=True):
                    scores[name][m][i][k] = v
            if futures:
                for m, (ours, last) in future_stats(futures[i], k, graph, t,
                                                    num_samples).items():
                    scores["model"][m][i][k] = ours
                    scores["persistence"][m][i][k] = None if m == "count_ratio" else last
    return {"scores": scores, "skipped": skipped, "num_positives": npos}


def _mean_or_none(values: Sequence[float | None]) -> float | None:
    v = [x for x in values if x is not None]
    return sum(v) / len(v) if v else None


def _aggregate_link_runs(runs: list[dict[str, Any]], origins: Sequence[int], horizon: int
                         ) -> dict[str, Any]:
    """Per seed: per-``h`` means over the scored origins; over seeds: mean ± std per ``h`` and
    of the mean over ``h``."""
    H = horizon
    names = list(runs[0]["scores"]) if runs else []
    per_seed: dict[str, list[dict[str, list[float | None]]]] = {}
    for run in runs:
        for name in names:
            per_seed.setdefault(name, []).append({
                m: [_mean_or_none([row[k] for row in run["scores"][name][m]]) for k in range(H)]
                for m in _LINK_METRICS})

    def summarise(values: list[float | None]) -> dict[str, float] | None:
        v = [x for x in values if x is not None]
        return summarise_runs(v) if v else None

    summary, over_h = {}, {}
    for name, rs in per_seed.items():
        summary[name] = {m: [summarise([r[m][k] for r in rs]) for k in range(H)]
                         for m in _LINK_METRICS}
        over_h[name] = {m: summarise([_mean_or_none(r[m]) for r in rs]) for m in _LINK_METRICS}
    first = runs[0] if runs else {"skipped": [], "num_positives": []}
    num_scored = [sum(1 for row in first["num_positives"] if row[k] > 0) for k in range(H)]
    return {"origins": [int(t) for t in origins], "per_seed": per_seed, "summary": summary,
            "summary_mean_over_h": over_h,
            "per_origin": {name: [run["scores"][name] for run in runs] for name in names},
            "num_positives": first["num_positives"], "num_scored": num_scored,
            "skipped": first["skipped"], "num_skipped": len(first["skipped"])}


def _link_test_origins(graph: TemporalGraph, horizon: int, origins: Sequence[int] | None,
                       num_origins: int) -> list[int]:
    T = len(graph)
    if origins is None:
        n = check_int(num_origins, "link_forecast_protocol: num_origins", 1)
        origins = range(T - horizon - n + 1, T - horizon + 1)
    out = sorted({int(t) for t in origins})
    if not out:
        raise ValueError("link_forecast_protocol: no origins")
    if out[0] < 1 or out[-1] > T - horizon:
        raise ValueError(
            f"link_forecast_protocol: origins must lie in [1, len(graph) - horizon] = "
            f"[1, {T - horizon}] (every h = 1..{horizon} scored from every origin), got "
            f"[{out[0]}, {out[-1]}]")
    return out


def link_protocol_origins(graph: TemporalGraph, horizon: int, *, num_origins: int = 1,
                          num_val: int = 5, origins: Sequence[int] | None = None,
                          train_end: int | None = None) -> tuple[list[int], int, list[int]]:
    """The split of :func:`link_forecast_protocol`: ``(test origins, T_0, validation origins)``,
    ``T_0`` the end of the training snapshots (default: the first test origin) and the
    validation origins those whose targets lie in its last ``num_val`` snapshots."""
    test = _link_test_origins(graph, horizon, origins, num_origins)
    T0 = test[0] if train_end is None else check_int(train_end,
                                                      "link_forecast_protocol: train_end", 1)
    if T0 > test[0]:
        raise ValueError(f"link_forecast_protocol: train_end = {T0} is after the first test origin "
                         f"{test[0]}: the model would train on test targets")
    num_val = check_int(num_val, "link_forecast_protocol: num_val", 0)
    return test, T0, list(range(max(1, T0 - num_val), T0 - horizon + 1))


def link_baselines_protocol(
    graph: TemporalGraph,
    origins: Sequence[int],
    *,
    horizon: int = 5,
    seeds: Sequence[int] = (0, 1, 2),
    num_mrr_negatives: int = 100,
    max_queries: int = 2000,
) -> dict[str, Any]:
    """The baseline rows of :func:`link_forecast_protocol` alone (no model is trained): the same
    pairs for the same ``(seed, target)``, so its persistence and frequency rows equal those of a
    full run, and EdgeBank and the historical-negative scores can be added to a results table
    without re-running the model."""
    H = check_int(horizon, "link_baselines_protocol: horizon", 1)
    test = _link_test_origins(graph, H, origins, 1)
    runs = [_score_link_origins(None, graph, test, H, seed=int(s), num_samples=0,
                                num_mrr_negatives=num_mrr_negatives, max_queries=max_queries,
                                generator=None) for s in seeds]
    res = _aggregate_link_runs(runs, test, H)
    res.update({"horizon": H, "seeds": list(seeds), "num_mrr_negatives": num_mrr_negatives,
                "max_queries": max_queries})
    return res


def link_forecast_protocol(
    graph: TemporalGraph,
    model_config: Any,
    *,
    horizon: int = 5,
    num_val: int = 5,
    seeds: Sequence[int] = (0, 1, 2),
    num_samples: int = 20,
    num_mrr_negatives: int = 100,
    max_queries: int = 2000,
    train_kwargs: dict[str, Any] | None = None,
    origins: Sequence[int] | None = None,
    num_origins: int = 1,
    train_end: int | None = None,
    score_validation: bool = True,
    refit_windows: Sequence[int | str] | None = None,
    refit_refinements: Sequence[str] = (),
    refit_step_margin: float = 0.0,
) -> dict[str, Any]:
    r"""Link forecasting at horizons ``1..H`` from one or many origins, next to persistence,
    edge frequency and EdgeBank (unlimited memory, ``edgebank``, and the test span's window,
    ``edgebank_tw``; Poursafaei et al. 2022).

    **Split.** Test origins are ``origins`` or, by default, the last ``num_origins`` origins
    ``T ∈ [len(graph) − H − num_origins + 1, len(graph) − H]`` (``num_origins = 1``: the single
    origin ``len(graph) − H``). Every origin is scored at every ``h = 1..H``, so each horizon
    averages over the same origins. The model is trained on snapshots ``[0, T_0)``,
    ``T_0 = train_end`` (default: the first test origin; never later), whose last ``num_val``
    snapshots are its validation block (early stopping and best-epoch restore on the validation
    ELBO). With ``score_validation`` the origins whose targets lie inside the validation block,
    ``T ∈ [T_0 − num_val, T_0 − H]``, are scored the same way and reported under
    ``"validation"``: choose settings on those, never on the test origins. With
    ``refit_windows`` (e.g. ``(0, 10)``) each trained model's ``context_refit`` is chosen among
    them on those validation origins by the pairwise log score, then refined by the greedy
    steps ``refit_refinements`` (each kept if it gains more than ``refit_step_margin`` standard
    errors; :func:`~dyngraphvae.evaluation.forecast_choice.choose_context_refit`), before any
    origin is scored; ``training`` records the choice and the scores.

    **Forecast.** One filtering pass gives every origin (:func:`rolling_forecast`; for an
    autoregressive decoder, :func:`_autoregressive_pair_probs`, the same law at the scored pairs
    only). From origin ``T`` (history ``G_{0..T-1}``), ``S`` joint futures of ``H`` steps; horizon
    ``h`` scores snapshot ``T + h − 1`` with the Monte Carlo predictive
    :math:`\bar\pi_{uv} = \frac1S\sum_s σ(ℓ^{(s)}_{uv})`. The baselines see ``graph[:T]``, the
    same history.

    **Metrics** per ``(origin, h)``: AUC and AP on all edges of the target and as many uniform
    non-edges (``auc``, ``ap``) or as many historical negatives (``auc_hist``, ``ap_hist``:
    pairs seen before the target but absent from it, random-filled when too few, see
    :mod:`dyngraphvae.evaluation.negatives`); MRR of each positive ``(u, v)`` (at most
    ``max_queries``, sampled) against ``num_mrr_negatives`` corrupted destinations ``(u, v')``
    (ties count one half, TGB). The pairs of a target depend only on ``(seed, target)``. An
    ``(origin, h)`` whose target snapshot has no edge is skipped and listed (``"skipped"``,
    ``"num_skipped"``), never silently dropped. Per seed, per-``h`` means over the scored
    origins; then mean ± population std over seeds (``"summary"``; ``"summary_mean_over_h"``
    averages over ``h`` first). The model also gets ``ece``: the expected calibration error (in
    %) of its predictive probabilities over all pairs of the target (:func:`_link_ece`), and,
    when its forecasts are full rollouts (an autoregressive decoder that reads degrees, ``H >
    1``), the sampled futures as distributions
    (:func:`~dyngraphvae.evaluation.futures.future_stats`): ``count_cover`` (does the 90 %
    interval of the sampled edge counts cover the truth), ``count_ratio`` and
    ``mmd_degree``, the latter also for persistence.

    Returns a dict with ``per_seed[name][seed_index][metric]`` (``H`` values),
    ``summary[name][metric]`` (``H`` of ``{"mean", "std", "n"}``, or ``None`` where every origin
    was skipped), ``per_origin[name][seed_index][metric]`` (``O × H``), ``num_positives``,
    ``num_scored`` (origins per ``h``), ``skipped``, ``validation`` (same keys, for the validation
    origins; ``None`` if none), ``origins``, ``origin`` (the first test origin), ``train_end``,
    ``training`` and the settings.
    """
    H = check_int(horizon, "link_forecast_protocol: horizon", 1)
    test, T0, val = link_protocol_origins(graph, H, num_origins=num_origins, num_val=num_val,
                                          origins=origins, train_end=train_end)
    if not score_validation:
        val = []
    if refit_windows is not None and not val:
        raise ValueError("link_forecast_protocol: refit_windows needs validation origins "
                         "(score_validation=True and num_val > horizon)")
    kw = dict(train_kwargs or {})
    runs, val_runs, infos = [], [], []
    score_kw = dict(num_samples=num_samples, num_mrr_negatives=num_mrr_negatives,
                    max_queries=max_queries)
    for seed in seeds:
        model, info = train_forecaster(model_config, graph[:T0],
                                       **dict(kw, seed=int(seed), val_snapshots=num_val))
        gen = torch.Generator().manual_seed(30_000 + int(seed))
        t0 = time.perf_counter()
        if refit_windows is not None:
            _choose_refit(model, graph, val, H, refit_windows, int(seed), info,
                          num_samples=num_samples, refinements=refit_refinements,
                          step_margin=refit_step_margin)
        runs.append(_score_link_origins(model, graph, test, H, seed=int(seed), generator=gen,
                                        **score_kw))
        if val:
            val_runs.append(_score_link_origins(model, graph, val, H, seed=int(seed),
                                                generator=gen, **score_kw))
        info["forecast_seconds"] = time.perf_counter() - t0
        infos.append(info)
    res = _aggregate_link_runs(runs, test, H)
    model_vals = [v for r in res["per_seed"].get("model", []) for vals in r.values()
                  for v in vals if v is not None]
    res.update({
        "validation": _aggregate_link_runs(val_runs, val, H) if val else None,
        "origin": test[0], "train_end": T0, "num_val": num_val, "training": infos,
        "horizon": H, "seeds": list(seeds), "num_samples": num_samples,
        "num_mrr_negatives": num_mrr_negatives, "max_queries": max_queries,
        "model_config": to_dict(model_config), "train_kwargs": kw,
        "nan_check": bool(all(math.isfinite(v) for v in model_vals)),
    })
    return res
