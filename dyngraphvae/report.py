r"""Forecast evaluation against held-out snapshots, ``metrics.json`` and PNG plots.

:func:`evaluate_forecast` conditions a trained model on ``G_{1:T}``, samples ``S`` futures over
``H`` steps and scores each horizon ``h = 1..H`` against the true ``G_{T+h}``:

* links: AUC and AP of the Monte Carlo predictive edge probability
  :math:`\bar\pi_{uv} = \frac1S\sum_s \sigma(s(\hat z^{(s)}_u, \hat z^{(s)}_v))` on the VGRNN pairs
  (all edges of ``G_{T+h}`` against as many sampled non-edges), next to the persistence baseline
  :math:`s_{uv} = A_T(u, v)` on the same pairs (Hajiramezanali et al. 2019; ties count one half);
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from dyngraphvae.data.temporal_graph import TemporalGraph

__all__ = [
    "ForecastContext",
    "evaluate_forecast",
    "plot_horizon_metrics",
    "plot_sampled_graphs",
    "plot_training_curves",
    "register_metric",
    "write_json",
]


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
    """

    model: Any
    graph: TemporalGraph
    start: int
    horizon: int
    forecast: Any
    generator: torch.Generator

    @property
    def history(self) -> TemporalGraph:
        return self.graph[: self.start]


MetricFn = Callable[[ForecastContext], dict[str, list[float | None]]]
_METRICS: dict[str, MetricFn] = {}


def register_metric(name: str, fn: MetricFn) -> None:
    """Add a horizon metric: ``fn(context) -> {key: [value for h in 1..H]}``; its keys are
    prefixed with ``name + "/"`` in the result of :func:`evaluate_forecast`."""
    if not callable(fn):
        raise TypeError(f"register_metric: {name!r} is not callable")
    _METRICS[name] = fn


def _link_metrics(ctx: ForecastContext) -> dict[str, list[float | None]]:
    from dyngraphvae.evaluation.baselines import PersistenceLinks
    from dyngraphvae.evaluation.links import link_metrics, link_prediction_pairs

    if ctx.forecast.edge_decoder is None:
        return {}
    out: dict[str, list[float | None]] = {
        "model_auc": [], "model_ap": [], "persistence_auc": [], "persistence_ap": []
    }
    history = ctx.history
    persistence = PersistenceLinks()
    for k in range(ctx.horizon):
        t = ctx.start + k
        try:
            pos, neg = link_prediction_pairs(ctx.graph, t, generator=ctx.generator)
        except ValueError:  # no edges at this step: AUC/AP undefined
            for v in out.values():
                v.append(None)
            continue
        pairs = torch.cat([pos, neg], dim=1)
        prob = ctx.forecast.edge_prob(pairs)[:, k].mean(0)  # (P,)
        p = pos.size(1)
        m = link_metrics(prob[:p].double(), prob[p:].double())
        b = persistence.score_pairs(history, pairs)
        mb = link_metrics(b[:p], b[p:])
        out["model_auc"].append(m.auc)
        out["model_ap"].append(m.ap)
        out["persistence_auc"].append(mb.auc)
        out["persistence_ap"].append(mb.ap)
    return out


def _feature_metrics(ctx: ForecastContext) -> dict[str, list[float | None]]:
    from dyngraphvae.evaluation.scores import crps_ensemble

    fc = ctx.forecast
    if fc.x is None or not ctx.graph.has_features:
        return {}
    last = ctx.graph.features(ctx.start - 1)
    out: dict[str, list[float | None]] = {"model_crps": [], "persistence_crps": [],
                                          "model_mae": []}
    mask = ctx.graph.node_mask
    for k in range(ctx.horizon):
        t = ctx.start + k
        y = ctx.graph.features(t)
        keep = mask[t] if mask is not None else torch.ones(y.size(0), dtype=torch.bool)
        crps = crps_ensemble(y, fc.x[:, k], dim=0)[keep]
        out["model_crps"].append(float(crps.mean()))
        out["model_mae"].append(float((fc.feature_mean[:, k].mean(0) - y).abs()[keep].mean()))
        out["persistence_crps"].append(float((last - y).abs()[keep].mean()))
    return out


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
            )
            result: dict[str, Any] = {
                "horizon": list(range(1, horizon + 1)),
                "start": int(start),
                "num_samples": int(num_samples),
                "seed": int(seed),
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
    """Forecast quality vs horizon: edge AUC / AP (model vs persistence), feature CRPS."""
    plt = _pyplot()
    h = metrics["horizon"]
    panels = [
        ("AUC (higher is better)", "links/model_auc", "links/persistence_auc"),
        ("AP (higher is better)", "links/model_ap", "links/persistence_ap"),
        ("feature CRPS (lower is better)", "features/model_crps", "features/persistence_crps"),
        ("predictive log-lik per node", "predictive/log_likelihood_per_node", None),
    ]
    panels = [p for p in panels if p[1] in metrics]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(4.5 * max(1, len(panels)), 3.6),
                             squeeze=False)
    for ax, (title, model_key, base_key) in zip(axes[0], panels, strict=False):
        for key, label, style in ((model_key, "model", "o-"), (base_key, "persistence", "s--")):
            if key is None or key not in metrics:
                continue
            pts = [(x, y) for x, y in zip(h, metrics[key], strict=True) if y is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), style, label=label)
        ax.set_title(title)
        ax.set_xlabel("horizon h")
        ax.set_xticks(h)
        ax.legend()
    fig.tight_layout()
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
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
