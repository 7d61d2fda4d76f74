"""Plots of the results (matplotlib, Agg backend, imported lazily on first use).

* :func:`plot_drift`: metric vs horizon (mean ± std over origins) for several models (e.g. with
  and without scheduled sampling), the baselines and an oracle.
* :func:`plot_stationarity`: long-rollout density, latent norm, coupling distance and Jacobian
  norms.
* :func:`plot_mode_fractions`: mode fractions of sampled futures on the fork process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_drift", "plot_mode_fractions", "plot_stationarity"]

_DEFAULT_PANELS = ("link/auc", "link/ap", "feature/crps", "feature/mse", "feature/log_score",
                   "feature/coverage")
_BASELINE_OF = {
    "link/auc": ("link/persistence_auc", "link/frequency_auc", "link/edgebank_auc",
                 "link/edgebank_tw_auc", "link/pair_history_auc"),
    "link/ap": ("link/persistence_ap", "link/frequency_ap", "link/edgebank_ap",
                "link/edgebank_tw_ap", "link/pair_history_ap"),
    "feature/crps": ("feature/persistence_crps", "feature/linear_lags_crps",
                     "feature/spatial_lags_crps"),
    "feature/mse": ("feature/persistence_mse", "feature/linear_lags_mse",
                    "feature/spatial_lags_mse"),
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def legend_below(fig: Any, axes: Sequence[Any], ncol: int = 6) -> None:
    """One legend for all panels (each label once), below them and off the data; lays out the
    figure around it."""
    handles: dict[str, Any] = {}
    for ax in axes:
        for hd, lb in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lb, hd)
    fig.legend(list(handles.values()), list(handles), loc="lower center",
               ncol=min(len(handles), ncol), fontsize=8, frameon=False)
    rows = (len(handles) + ncol - 1) // ncol
    fig.tight_layout(rect=(0, 0.06 + 0.05 * rows, 1, 1))


def plot_drift(
    results: Mapping[str, Any],
    path: str | Path,
    *,
    metrics: Sequence[str] | None = None,
    oracle: Any = None,
    baselines_from: str | None = None,
) -> Path:
    """Metric vs horizon, one panel per metric, one line (mean ± std band over origins) per model.

    Args:
        results: ``label -> DriftResult``.
        path: PNG file.
        metrics: panels (default: those of ``_DEFAULT_PANELS`` present in the first result).
        oracle: an ``oracle_drift`` result; ``oracle_kalman/<m>`` and ``oracle_state/<m>`` are
            drawn in the panel of ``feature/<m>`` (``oracle_state/auc`` in ``link/auc``).
        baselines_from: label of the result whose baselines are drawn (default: the first).
    """
    import torch

    plt = _pyplot()
    first = next(iter(results.values()))
    panels = [m for m in (metrics or _DEFAULT_PANELS) if m in first.values]
    if not panels:
        raise ValueError("plot_drift: no metric to draw")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 3.6), squeeze=False)
    base = results[baselines_from] if baselines_from else first
    for ax, m in zip(axes[0], panels, strict=True):
        for label, res in results.items():
            h = torch.arange(1, res.horizon + 1)
            mu, sd = res.mean(m), res.std(m)
            ax.plot(h, mu, "o-", label=label)
            ax.fill_between(h, mu - sd, mu + sd, alpha=0.2)
        for b in _BASELINE_OF.get(m, ()):
            if b in base.values:
                h = torch.arange(1, base.horizon + 1)
                ax.plot(h, base.mean(b), "s--", label=b.split("/")[1].replace("_", " "))
        if oracle is not None:
            key = m.split("/")[1]
            for kind, style in (("oracle_kalman", "k:"), ("oracle_state", "k-.")):
                name = f"{kind}/{key}"
                if name in oracle.values:
                    h = torch.arange(1, oracle.horizon + 1)
                    ax.plot(h, oracle.mean(name), style, label=kind.replace("_", " "))
        if m == "feature/coverage":
            lvl = first.meta.get("level")
            if lvl is not None:
                ax.axhline(lvl, color="grey", lw=0.8)
        ax.set_title(m)
        ax.set_xlabel("horizon h")
        ax.set_xticks(range(1, max(r.horizon for r in results.values()) + 1))  # whole steps
    legend_below(fig, axes[0])
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_stationarity(stats: Any, path: str | Path, *, title: str = "") -> Path:
    """Four panels: density over time (both chains, mean ± std over samples), latent RMS,
    coupling distance (log scale), histogram of Jacobian spectral norms' summary."""
    import torch

    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    steps = torch.arange(stats.density.size(-1))
    for c, label in ((0, "from filtered state"), (1, f"from {stats.meta.get('other_start')}")):
        for ax, v in ((axes[0], stats.density[c]), (axes[1], stats.latent_norm[c])):
            mu, sd = v.mean(0), v.std(0)
            ax.plot(steps, mu, label=label, lw=0.8)
            ax.fill_between(steps, mu - sd, mu + sd, alpha=0.2)
    axes[0].set_title("sampled-graph density")
    axes[1].set_title("latent RMS")
    d = stats.coupling_distance.mean(0).clamp(min=1e-12)
    axes[2].semilogy(steps, d)
    lip = stats.lipschitz
    axes[2].set_title(f"coupling distance (L̂ = {lip.max:.3f}, mean {lip.mean:.3f})")
    for ax in axes:
        ax.set_xlabel("rollout step")
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_mode_fractions(results: Mapping[str, Mapping[str, Any]], path: str | Path) -> Path:
    """Bar chart of the pooled mode fractions (mode 0, mode 1, neither) per model, with the
    ideal 1/2 line; ``results`` maps labels to :func:`fork_multimodality` outputs."""
    plt = _pyplot()
    labels = list(results)
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(labels), 3.6))
    width = 0.25
    for j, (key, name) in enumerate((("fraction_0", "mode 0"), ("fraction_1", "mode 1"),
                                     ("fraction_neither", "neither"))):
        xs = [i + (j - 1) * width for i in range(len(labels))]
        ax.bar(xs, [results[lb]["pooled"][key] for lb in labels], width, label=name)
    ax.axhline(0.5, color="grey", lw=0.8)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("fraction of sampled futures")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)
