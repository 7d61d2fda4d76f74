r"""Forecast evaluation against held-out snapshots, ``metrics.json`` and PNG plots.

:func:`evaluate_forecast` conditions a trained model on ``G_{1:T}``, samples ``S`` futures over
``H`` steps and scores each horizon ``h = 1..H`` against the true ``G_{T+h}``:

* links: AUC and AP of the Monte Carlo predictive edge probability
  :math:`\bar\pi_{uv} = \frac1S\sum_s \sigma(s(\hat z^{(s)}_u, \hat z^{(s)}_v))` on all edges of
  ``G_{T+h}`` against as many negatives (uniform non-edges as in VGRNN, Hajiramezanali et al.
  2019, or historical / inductive ones, Poursafaei et al. 2022; ties count one half), and TGB's
  one-vs-many MRR and Hits@10 (each positive against ``K`` corrupted destinations), next to
  persistence :math:`A_T(u, v)`, edge frequency, EdgeBank (unlimited and time window) and the
  pair-history regression on the same pairs
  (:func:`~dyngraphvae.evaluation.baselines.link_baselines`);
* features: the sample CRPS (Gneiting & Raftery 2007)
  :math:`\mathrm{CRPS} = \frac1S\sum_s|x_s - y| - \frac1{2S^2}\sum_{s,s'}|x_s - x_{s'}|`,
  averaged over nodes and features, next to persistence :math:`\hat x_{T+h} = x_T` (the CRPS of
  a point forecast is its absolute error);
* the Monte Carlo predictive log-likelihood :math:`\log \hat p(G_{T+h} \mid G_{1:T})` per node.

Further metrics plug in with :func:`register_metric`; each returns one value per horizon.
Plots use matplotlib with the Agg backend, imported only when a plot is drawn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.progress import progress

__all__ = [
    "ForecastContext",
    "LINK_SCORES",
    "evaluate_forecast",
    "plot_horizon_metrics",
    "plot_sampled_graphs",
    "plot_edge_counts",
    "plot_training_curves",
    "register_metric",
    "link_table",
    "top_pairs",
    "write_json",
]


OracleArg = Callable[[int, Tensor], Tensor] | Mapping[str, Callable[[int, Tensor], Tensor]] | None


def _oracles(arg: OracleArg) -> dict[str, Callable[[int, Tensor], Tensor]]:
    """``link_oracle`` as ``{name: fn}``: one callable is ``"oracle"``."""
    if arg is None:
        return {}
    if callable(arg):
        return {"oracle": arg}
    out = dict(arg)
    bad = [k for k, v in out.items() if not (isinstance(k, str) and k.startswith("oracle")
                                             and callable(v))]
    if bad:
        raise ValueError(f"link_oracle: every name must start with 'oracle' and map to a "
                         f"callable (t, pairs) -> probabilities; wrong: {bad}")
    return out


@dataclass
class ForecastContext:
    """What a horizon metric sees.

    Attributes:
        model: the trained model (eval mode).
        graph: the whole sequence; snapshots ``0..start-1`` are the history.
        start: ``T``, the number of conditioning snapshots.
        horizon: ``H``; ``graph`` holds at least ``start + H`` snapshots.
        forecast: the model's :class:`~dyngraphvae.models.forecaster.Forecast` (``S`` samples).
        generator: a seeded generator for any further randomness (negative pairs...).
        negatives: ``"random"``, ``"historical"`` or ``"inductive"`` negatives for AUC/AP
            (:mod:`dyngraphvae.evaluation.negatives`).
        train_end: end of the training span (inductive negatives; default ``start``).
            Historical and inductive candidates come from the history ``G_{1:start}``.
        edgebank_window: EdgeBank_tw's memory in snapshots (default ``horizon``, the test span).
        num_mrr_negatives: corrupted destinations per MRR query (TGB's one-vs-many ranking).
        max_queries: positives ranked per step (a random subset when there are more).
        mrr_negatives: ``"random"`` corrupted destinations or TGB's ``"hist_rnd"`` (half of
            them destinations the source had before, see
            :func:`~dyngraphvae.evaluation.negatives.corrupted_destinations`).
        link_oracle: optional ``(t, pairs (2, P)) -> (P,)`` true edge probabilities of snapshot
            ``t`` (synthetic data with a known law); scored on the same pairs as ``"oracle"``.
            A mapping ``{name: fn}`` scores several (names start with ``"oracle"``).
    """

    model: Any
    graph: TemporalGraph
    start: int
    horizon: int
    forecast: Any
    generator: torch.Generator
    negatives: str = "random"
    train_end: int | None = None
    edgebank_window: int | None = None
    num_mrr_negatives: int = 100
    max_queries: int = 500
    mrr_negatives: str = "random"
    link_oracle: OracleArg = None

    @property
    def history(self) -> TemporalGraph:
        return self.graph[: self.start]

    @property
    def oracles(self) -> dict[str, Callable[[int, Tensor], Tensor]]:
        return _oracles(self.link_oracle)


MetricFn = Callable[[ForecastContext], dict[str, list[float | None]]]
_METRICS: dict[str, MetricFn] = {}


def register_metric(name: str, fn: MetricFn) -> None:
    """Add a horizon metric: ``fn(context) -> {key: [value for h in 1..H]}``; its keys are
    prefixed with ``name + "/"`` in the result of :func:`evaluate_forecast`."""
    if not callable(fn):
        raise TypeError(f"register_metric: {name!r} is not callable")
    _METRICS[name] = fn


LINK_SCORES = ("auc", "ap", "mrr", "hits10")


def _link_metrics(ctx: ForecastContext) -> dict[str, list[float | None]]:
    from dyngraphvae.evaluation.baselines import link_baselines
    from dyngraphvae.evaluation.calibration import snapshot_ece
    from dyngraphvae.evaluation.links import hits_at_k, link_metrics, mean_reciprocal_rank
    from dyngraphvae.evaluation.negatives import corrupted_destinations, link_pairs

    if ctx.forecast.edge_decoder is None:
        return {}
    window = ctx.edgebank_window or ctx.horizon
    oracles = ctx.oracles
    names = ("model", *link_baselines(window), *oracles)
    out: dict[str, list[float | None]] = {f"{name}_{m}": [] for name in names
                                          for m in LINK_SCORES}
    if ctx.negatives == "random":  # uniform non-edges stand for all of them: ECE over all pairs
        out["model_ece"] = []
    history = ctx.history
    train_end = ctx.start if ctx.train_end is None else ctx.train_end
    K = ctx.num_mrr_negatives
    # the ranking draws come from their own stream, so the AUC/AP pairs of every h are those of
    # the generator alone (as before the ranking metrics were added)
    rank_gen = torch.Generator(device=ctx.generator.device).manual_seed(
        ctx.generator.initial_seed() + 1_000_003)
    for k in range(ctx.horizon):
        t = ctx.start + k
        try:
            pos, neg = link_pairs(ctx.graph, t, ctx.negatives, train_end=train_end,
                                  history_end=ctx.start, generator=ctx.generator)
        except ValueError:  # no edges at this step: AUC/AP undefined
            for v in out.values():
                v.append(None)
            continue
        p = pos.size(1)
        queries = pos[:, torch.randperm(p, generator=rank_gen,
                                        device=rank_gen.device)[:ctx.max_queries]]
        q = queries.size(1)
        corrupted = corrupted_destinations(ctx.graph, t, queries, K, rank_gen,
                                           strategy=ctx.mrr_negatives, history_end=ctx.start)
        pairs = torch.cat([pos, neg, queries, corrupted.reshape(2, -1)], dim=1)
        scores = {"model": ctx.forecast.predictive_edge_prob(pairs)[:, k].mean(0).double()}
        for name, b in link_baselines(window, horizon=k + 1).items():
            scores[name] = b.score_pairs(history, pairs).double()
        for name, oracle in oracles.items():
            scores[name] = oracle(t, pairs).double()
        if "model_ece" in out:
            out["model_ece"].append(snapshot_ece(scores["model"], ctx.graph, t, p, neg.size(1)))
        for name, s in scores.items():
            m = link_metrics(s[:p], s[p:2 * p])
            sq, sn = s[2 * p:2 * p + q], s[2 * p + q:].reshape(q, K)
            out[f"{name}_auc"].append(m.auc)
            out[f"{name}_ap"].append(m.ap)
            out[f"{name}_mrr"].append(float(mean_reciprocal_rank(sq, sn)))
            out[f"{name}_hits10"].append(float(hits_at_k(sq, sn, 10)))
    return out


def _feature_metrics(ctx: ForecastContext) -> dict[str, list[float | None]]:
    from dyngraphvae.evaluation.scores import crps_ensemble

    fc = ctx.forecast
    if fc.x is None or not ctx.graph.has_features:
        return {}
    last = ctx.graph.features(ctx.start - 1)
    out: dict[str, list[float | None]] = {"model_crps": [], "persistence_crps": [],
                                          "model_mae": [], "persistence_mae": []}
    from dyngraphvae.evaluation.baselines import lag_baseline_paths

    # seeded by the origin, not by the context's generator: the other metrics stay unmoved
    base = lag_baseline_paths(ctx.graph[:ctx.start], ctx.horizon, fc.num_samples, ctx.start)
    for name in base:
        out[f"{name}_crps"], out[f"{name}_mae"] = [], []
    mask = ctx.graph.node_mask
    for k in range(ctx.horizon):
        t = ctx.start + k
        y = ctx.graph.features(t)
        keep = mask[t] if mask is not None else torch.ones(y.size(0), dtype=torch.bool)
        crps = crps_ensemble(y, fc.x[:, k], dim=0)[keep]
        out["model_crps"].append(float(crps.mean()))
        out["model_mae"].append(float((fc.feature_mean[:, k].mean(0) - y).abs()[keep].mean()))
        out["persistence_crps"].append(float((last - y).abs()[keep].mean()))
        out["persistence_mae"].append(out["persistence_crps"][-1])  # a point forecast
        for name, (point, paths) in base.items():
            out[f"{name}_crps"].append(float(crps_ensemble(y, paths[:, k], dim=0)[keep].mean()))
            out[f"{name}_mae"].append(float((point[k] - y).abs()[keep].mean()))
    return out


#: the feature baselines of ``evaluate``, in table order
FEATURE_BASELINES = ("persistence", "linear_lags", "spatial_lags")


def _likelihood_metrics(ctx: ForecastContext) -> dict[str, list[float | None]]:
    model = ctx.model
    if getattr(getattr(model, "config", None), "deterministic_decoder", False):
        return {}
    ll = model.predictive_log_likelihood(
        ctx.graph, ctx.start, ctx.horizon, ctx.forecast.num_samples, generator=ctx.generator
    )
    per_node = ll.joint / ll.num_observed_nodes.to(ll.joint.dtype).clamp(min=1)
    return {"log_likelihood_per_node": [float(v) for v in per_node]}


register_metric("links", _link_metrics)
register_metric("features", _feature_metrics)
register_metric("predictive", _likelihood_metrics)


def evaluate_forecast(
    model: Any,
    graph: TemporalGraph,
    start: int,
    horizon: int,
    *,
    num_samples: int = 50,
    seed: int = 0,
    metrics: Sequence[str] | None = None,
    negatives: str = "random",
    train_end: int | None = None,
    edgebank_window: int | None = None,
    num_mrr_negatives: int = 100,
    mrr_negatives: str = "random",
    link_oracle: OracleArg = None,
) -> dict[str, Any]:
    """Score ``S`` sampled futures of ``G_{start+1..start+H}`` given ``G_{1..start}``.

    Args:
        model: a trained :class:`~dyngraphvae.models.TemporalGraphVAE` (or compatible).
        graph: the sequence; snapshots ``start..start+horizon-1`` are the truth.
        start: number of conditioning snapshots ``T >= 1``.
        horizon: ``H >= 1``.
        num_samples: ``S`` forecast samples.
        seed: seeds the forecast and the negative pairs.
        metrics: names of registered metrics to compute (default: all).
        negatives: ``"random"`` (default), ``"historical"`` or ``"inductive"`` negatives for
            the link AUC/AP (:mod:`dyngraphvae.evaluation.negatives`).
        train_end: end of the training span for inductive negatives (default ``start``).
        edgebank_window: EdgeBank_tw's memory in snapshots (default ``horizon``).
        num_mrr_negatives: corrupted destinations per positive in the MRR / Hits@10 ranking.
        mrr_negatives: ``"random"`` or TGB's ``"hist_rnd"`` corrupted destinations.
        link_oracle: optional true edge probabilities ``(t, pairs) -> (P,)`` of the generating
            law, scored as ``"oracle"`` on the same pairs as the model; or ``{name: fn}`` for
            several (names start with ``"oracle"``).

    Returns:
        ``{"horizon": [1..H], "start": T, "num_samples": S, "seed": seed,
        "<metric>/<key>": [value per horizon], ...}`` (JSON-ready; ``None`` where undefined).
    """
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise ValueError(f"evaluate_forecast: horizon must be a positive integer, got {horizon!r}")
    if not 1 <= start < len(graph):
        raise ValueError(
            f"evaluate_forecast: start must be in [1, {len(graph) - 1}] for a graph of "
            f"{len(graph)} snapshots, got {start}"
        )
    if start + horizon > len(graph):
        raise ValueError(
            f"evaluate_forecast: horizon {horizon} needs snapshots up to {start + horizon}, but "
            f"only {len(graph) - start} held-out snapshots follow the history; use "
            f"--horizon <= {len(graph) - start}"
        )
    from dyngraphvae.evaluation.negatives import NEGATIVE_STRATEGIES

    if negatives not in NEGATIVE_STRATEGIES:
        raise ValueError(f"evaluate_forecast: negatives must be one of {NEGATIVE_STRATEGIES}, "
                         f"got {negatives!r}")
    names = list(_METRICS) if metrics is None else list(metrics)
    unknown = [n for n in names if n not in _METRICS]
    if unknown:
        raise ValueError(f"evaluate_forecast: unknown metric(s) {unknown}; known {list(_METRICS)}")
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            fc = model.forecast(graph[:start].to(device), horizon, num_samples, generator=gen)
            ctx = ForecastContext(
                model=model, graph=graph.to(device), start=start, horizon=horizon, forecast=fc,
                generator=torch.Generator(device=device).manual_seed(seed + 1),
                negatives=negatives, train_end=train_end, edgebank_window=edgebank_window,
                num_mrr_negatives=num_mrr_negatives, mrr_negatives=mrr_negatives,
                link_oracle=link_oracle,
            )
            result: dict[str, Any] = {
                "horizon": list(range(1, horizon + 1)),
                "start": int(start),
                "num_samples": int(num_samples),
                "seed": int(seed),
                "negatives": negatives,
                "mrr_negatives": mrr_negatives,
            }
            for name in names:
                for key, values in _METRICS[name](ctx).items():
                    result[f"{name}/{key}"] = [_clean(v) for v in values]
    finally:
        model.train(was_training)
    return result


def _clean(v: Any) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON (non-finite floats become ``null``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return path


# ---------------------------------------------------------------------------- plots
def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_training_curves(history: Sequence[dict[str, float]], path: str | Path) -> Path:
    """ELBO terms per epoch (train and validation): per-step ELBO, feature and edge
    log-likelihoods, KL, and the KL weight / teacher-forcing schedules."""
    plt = _pyplot()
    panels = [
        ("elbo_per_step", "ELBO per snapshot"),
        ("feature_ll", "feature log-lik per snapshot"),
        ("edge_ll", "edge log-lik per snapshot"),
        ("kl", "KL per snapshot"),
    ]
    fig, axes = plt.subplots(1, 5, figsize=(20, 3.6))
    epochs = [int(r["epoch"]) for r in history]
    for ax, (key, title) in zip(axes, panels, strict=False):
        for split, style in (("train", "-"), ("val", "--")):
            ys = [r.get(f"{split}/{key}") for r in history]
            pts = [(e, y) for e, y in zip(epochs, ys, strict=True) if y is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, label=split)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.legend()
    ax = axes[-1]
    for key, label in (("train/kl_weight", "KL weight β"),
                       ("train/teacher_forcing", "teacher forcing ε")):
        ys = [r.get(key) for r in history]
        pts = [(e, y) for e, y in zip(epochs, ys, strict=True) if y is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), label=label)
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("schedules")
    ax.set_xlabel("epoch")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_horizon_metrics(metrics: dict[str, Any], path: str | Path) -> Path:
    """Forecast quality vs horizon: edge AUC / AP / MRR of the model next to persistence, edge
    frequency and EdgeBank; feature CRPS next to persistence and the Gaussian linear models on
    the lags (own; own and neighbours'); predictive log-likelihood."""
    plt = _pyplot()
    h = metrics["horizon"]
    link_base = _link_baseline_names()
    panels = [
        ("AUC (higher is better)", "links/model_auc", [f"links/{b}_auc" for b in link_base]),
        ("AP (higher is better)", "links/model_ap", [f"links/{b}_ap" for b in link_base]),
        ("MRR (higher is better)", "links/model_mrr", [f"links/{b}_mrr" for b in link_base]),
        ("feature CRPS (lower is better)", "features/model_crps",
         [f"features/{b}_crps" for b in FEATURE_BASELINES]),
        ("predictive log-lik per node", "predictive/log_likelihood_per_node", []),
    ]
    panels = [p for p in panels if p[1] in metrics]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(4.5 * max(1, len(panels)), 3.9),
                             squeeze=False)
    styles = ["s--", "^--", "v:", "d:", "x-.", "+-."]
    for ax, (title, model_key, base_keys) in zip(axes[0], panels, strict=False):
        series = [(model_key, "model", "o-")] + [
            (k, k.split("/")[1].rsplit("_", 1)[0], styles[i % len(styles)])
            for i, k in enumerate(base_keys)]
        for key, label, style in series:
            if key not in metrics:
                continue
            pts = [(x, y) for x, y in zip(h, metrics[key], strict=True) if y is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, label=label)
        ax.set_title(title)
        ax.set_xlabel("horizon h")
        ax.set_xticks(h)
    from dyngraphvae.evaluation.plots import legend_below

    legend_below(fig, axes[0])
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_sampled_graphs(
    truth: Tensor,
    samples: Tensor,
    path: str | Path,
    *,
    order: Tensor | None = None,
    steps: Sequence[int] | None = None,
) -> Path:
    """Adjacency matrices of sampled futures beside the truth.

    Args:
        truth: ``(H, N, N)`` true adjacencies of ``G_{T+1..T+H}``.
        samples: ``(S, H, N, N)`` sampled adjacencies (bool or 0/1); the first 3 are drawn.
        path: PNG file.
        order: optional ``(H, N)`` node order per step (e.g. sorted by true community).
        steps: horizons (0-based) to draw (default: first and last).
    """
    plt = _pyplot()
    H = truth.size(0)
    steps = sorted({0, H - 1}) if steps is None else list(steps)
    n_s = min(3, samples.size(0))
    fig, axes = plt.subplots(len(steps), 1 + n_s, figsize=(3 * (1 + n_s), 3 * len(steps)),
                             squeeze=False)
    for row, k in enumerate(steps):
        perm = order[k] if order is not None else torch.arange(truth.size(-1))
        mats = [truth[k]] + [samples[s, k] for s in range(n_s)]
        titles = [f"truth, h={k + 1}"] + [f"sample {s + 1}, h={k + 1}" for s in range(n_s)]
        for col, (m, title) in enumerate(zip(mats, titles, strict=True)):
            ax = axes[row][col]
            ax.imshow(m.float()[perm][:, perm].cpu().numpy(), cmap="Greys", vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_title(title)
            ax.set_xticks([])
            ax.set_yticks([])
    if order is not None:
        fig.text(0.5, 0.005, "nodes sorted by their true community at each step (blocks on the "
                 "diagonal are communities)", ha="center", va="bottom", fontsize=9)
    fig.tight_layout(rect=(0, 0.04 if order is not None else 0, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


# ---------------------------------------------------------------------------- forecast outputs
def top_pairs(fc: Any, top_k: int, block: int = 1 << 18) -> tuple[Tensor, Tensor]:
    r"""Per step, the ``top_k`` pairs of highest predictive probability
    :math:`\frac1S\sum_s π^{(s)}_{uv}` (undirected: ``u < v``; never ``u = v``), scanned in
    blocks of source rows so memory stays ``O(S·H·block)``. Returns ``(H, k)`` probabilities and
    ``(H, 2, k)`` pairs."""
    n, H = fc.num_nodes, fc.horizon
    best_p = torch.full((H, 0), -1.0, dtype=torch.float64)
    best_i = torch.empty(H, 2, 0, dtype=torch.long)
    rows = max(1, block // n)
    for u0 in progress(range(0, n, rows), "top-k edges"):
        us = torch.arange(u0, min(n, u0 + rows))
        u = us.repeat_interleave(n)
        v = torch.arange(n).repeat(us.numel())
        keep = (u < v) if not fc.directed else (u != v)
        pairs = torch.stack([u[keep], v[keep]])
        if pairs.size(1) == 0:
            continue
        p = fc.predictive_edge_prob(pairs).mean(0).double()  # (H, P)
        cat_p = torch.cat([best_p, p], dim=1)
        cat_i = torch.cat([best_i, pairs.unsqueeze(0).expand(H, 2, -1)], dim=2)
        k = min(top_k, cat_p.size(1))
        top = cat_p.topk(k, dim=1)
        best_p = top.values
        best_i = cat_i.gather(2, top.indices.unsqueeze(1).expand(H, 2, k))
    return best_p, best_i


def plot_edge_counts(history_counts: list[int], counts: Tensor, path: str | Path,
                     start: int) -> Path:
    """The predictive distribution of the number of edges per future step (median, 50 % and
    90 % bands from the samples) beside the observed history."""
    plt = _pyplot()
    levels = torch.tensor([0.05, 0.25, 0.5, 0.75, 0.95], dtype=torch.float64)
    q = counts.double().quantile(levels, dim=0)  # (5, H)
    steps = list(range(start, start + counts.size(1)))
    past = list(range(start - len(history_counts), start))
    fig, ax = plt.subplots(figsize=(8, 3.6))
    ax.plot(past, history_counts, "k.-", label="observed")
    ax.fill_between(steps, q[0], q[4], alpha=0.2, color="C0", label="90 % interval")
    ax.fill_between(steps, q[1], q[3], alpha=0.4, color="C0", label="50 % interval")
    ax.plot(steps, q[2], "o-", color="C0", label="forecast median")
    ax.set_xlabel("snapshot")
    ax.set_ylabel("number of edges")
    lo = min([*history_counts, float(q[0].min())])
    hi = max([*history_counts, float(q[4].max())])
    if lo > 0 and hi / lo > 30:  # futures far from the history: both stay readable
        ax.set_yscale("log")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    ax.set_title("edges per snapshot: history and sampled futures")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


# ---------------------------------------------------------------------------- console table
def _link_baseline_names() -> tuple[str, ...]:
    """The keys of :func:`~dyngraphvae.evaluation.baselines.link_baselines`, in its order: the
    one list of link baselines every table and plot shows."""
    from dyngraphvae.evaluation.baselines import link_baselines

    return tuple(link_baselines(1))


_TABLE_LABELS = {"auc": "AUC", "ap": "AP", "mrr": "MRR", "hits10": "Hits@10"}


def feature_table(metrics: dict[str, Any], scores: Sequence[str] = ("crps", "mae"),
                  note: str | None = None) -> tuple[str, list[str]]:
    """A console table (``scores`` × horizon, the model above each baseline) of
    :func:`~dyngraphvae.report.evaluate_forecast`'s feature scores (``features/<name>_<score>``),
    and the warnings where the model is worse than the best baseline (empty without feature
    scores). ``note``: a first line (e.g. over how many origins the scores are means)."""
    if "features/model_crps" not in metrics:
        return "", []
    hs = metrics["horizon"]
    if note is None and "start" in metrics:
        note = f"features, forecast from one origin (after snapshot {metrics['start']}):"
    lines = ([note] if note else []) + [
        f"{'metric':<9}{'':<16}" + "".join(f"{'h=' + str(h):>9}" for h in hs)]
    warns = []
    for m in scores:
        if f"features/model_{m}" not in metrics:
            continue
        names = [n for n in ("model", *FEATURE_BASELINES) if f"features/{n}_{m}" in metrics]
        for i, name in enumerate(names):
            cells = "".join(f"{'n/a' if v is None else f'{v:.3f}':>9}"
                            for v in metrics[f"features/{name}_{m}"])
            lines.append(f"{(m.upper() if i == 0 else ''):<9}{name:<16}{cells}")
        model = metrics[f"features/model_{m}"]
        worse = []
        for k, h in enumerate(hs):
            base = [(metrics[f"features/{b}_{m}"][k], b) for b in names[1:]
                    if metrics[f"features/{b}_{m}"][k] is not None]
            if base and model[k] is not None and model[k] > min(base)[0]:
                worse.append((h, model[k], min(base)))
        if worse:
            h, mv, (bv, bn) = worse[0]
            warns.append(f"the model is worse than the best baseline on feature {m.upper()} at "
                         f"h={','.join(str(w[0]) for w in worse)} (h={h}: model {mv:.3f}, "
                         f"{bn} {bv:.3f})" + (f"; {note.rstrip(':')}" if note else ""))
    lines.append("(lower is better; persistence: the last observed features (its CRPS is its "
                 "MAE); linear_lags / spatial_lags: Gaussian linear models on 4 own lags / and "
                 "their neighbour means, fitted on the history, simulated paths)")
    return "\n".join(lines), warns


def drift_feature_table(drift: dict[str, Any]) -> tuple[str, list[str]]:
    """:func:`feature_table` of the drift evaluation's means over origins (CRPS and MSE of the
    model and the feature baselines, :func:`~dyngraphvae.evaluation.drift.drift_curve`)."""
    mean = drift.get("mean", {})
    metrics: dict[str, Any] = {"horizon": list(range(1, int(drift["horizon"]) + 1))}
    for score in ("crps", "mse"):
        for name in ("model", *FEATURE_BASELINES):
            key = f"feature/{score}" if name == "model" else f"feature/{name}_{score}"
            if key in mean:
                metrics[f"features/{name}_{score}"] = mean[key]
    return feature_table(metrics, ("crps", "mse"),
                         note=f"features, mean over the {len(drift['origins'])} held-out origins:")


def drift_future_table(drift: dict[str, Any]) -> tuple[str, list[str]]:
    """The sampled futures over the drift evaluation's held-out origins: the 90 % interval's
    coverage of the true edge count, the mean sampled count over the true one and the degree
    MMD², each next to persistence's (the last observed graph), with a warning where the
    model's MMD is the larger (:func:`~dyngraphvae.evaluation.futures.future_stats`)."""
    mean = drift.get("mean", {})
    if "future/mmd_degree" not in mean:
        return "", []
    hs = range(1, int(drift["horizon"]) + 1)
    rows = (("coverage", "model", "future/count_cover", "{:.0f}"),
            ("count/true", "model", "future/count_ratio", "{:.2f}"),
            ("", "persistence", "future/persistence_count_ratio", "{:.2f}"),
            ("degree MMD", "model", "future/mmd_degree", "{:.1e}"),
            ("", "persistence", "future/persistence_mmd_degree", "{:.1e}"))
    lines = [f"sampled graphs, mean over the {len(drift['origins'])} held-out origins:",
             f"{'':<11}{'':<12}" + "".join(f"{'h=' + str(h):>9}" for h in hs)]
    for label, name, key, fmt in rows:
        cells = "".join(f"{'n/a' if v is None else fmt.format(v):>9}" for v in mean[key])
        lines.append(f"{label:<11}{name:<12}{cells}")
    lines.append("(coverage: % of origins whose sampled edge counts' 90 % interval holds the "
                 "true count; degree MMD²: GRAN's Gaussian-TV kernel)")
    worse = [h for h, a, b in zip(hs, mean["future/mmd_degree"],
                                  mean["future/persistence_mmd_degree"], strict=True)
             if a is not None and b is not None and a > b]
    warns = ([f"the sampled graphs' degree distributions are farther from the truth than the "
              f"last observed graph's at h={','.join(map(str, worse))}"] if worse else [])
    return "\n".join(lines), warns


def link_table(metrics: dict[str, Any], negatives: str,
               mrr_negatives: str = "random") -> tuple[str, list[str]]:
    """A console table (metric × horizon, the model above each baseline) of
    :func:`~dyngraphvae.report.evaluate_forecast`'s link scores, and the warnings where the
    model is below the best baseline."""
    hs = metrics["horizon"]
    baselines = _link_baseline_names()
    lines, warns = [], []
    head = f"{'metric':<9}{'':<16}" + "".join(f"{'h=' + str(h):>9}" for h in hs)
    lines.append(head)
    for m, label in _TABLE_LABELS.items():
        oracles = sorted({k[len("links/"):-len(m) - 1] for k in metrics
                          if k.startswith("links/oracle") and k.endswith("_" + m)})
        for i, name in enumerate(("model", *baselines, *oracles)):
            vals = metrics.get(f"links/{name}_{m}")
            if vals is None:
                continue
            cells = "".join(f"{'n/a' if v is None else f'{100 * v:.1f}':>9}" for v in vals)
            lines.append(f"{(label if i == 0 else ''):<9}{name:<16}{cells}")
        model = metrics.get(f"links/model_{m}") or []
        below = []
        for k, h in enumerate(hs):
            mv = model[k] if k < len(model) else None
            if mv is None:
                continue
            best = max(((metrics[f"links/{b}_{m}"][k], b) for b in baselines
                        if metrics.get(f"links/{b}_{m}") and metrics[f"links/{b}_{m}"][k]
                        is not None), default=None)
            if best is not None and mv < best[0]:
                below.append((h, mv, *best))
        if below:
            h, mv, bv, bn = below[0]
            warns.append(f"the model is below the best baseline on {label} at h="
                         f"{','.join(str(b[0]) for b in below)} (h={h}: model {100 * mv:.1f}, "
                         f"{bn} {100 * bv:.1f})")
    ece = metrics.get("links/model_ece")
    if ece:
        lines.append(f"{'ECE':<9}{'model':<16}"
                     + "".join(f"{'n/a' if v is None else f'{v:.1e}':>9}" for v in ece))
    how = "random" if mrr_negatives == "random" else "half historical, half random (TGB)"
    lines.append(f"(% ; AUC/AP against {negatives} negatives; MRR/Hits@10: each positive "
                 f"against 100 corrupted destinations, {how}; ties count one half"
                 + ("; ECE: expected calibration error over all pairs, a fraction" if ece else "")
                 + ")")
    return "\n".join(lines), warns
