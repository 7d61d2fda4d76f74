r"""Automatic choice of a model setting on the validation snapshots.

No decoder is best everywhere (``docs/cli.md``, "Which decoder?"): the pair-history context wins
by far on real interaction data (Enron) and loses to the plain decoder on the built-in SBM, whose
edges depend on communities rather than on each pair's past. So ``dyngraphvae train`` fits each
candidate configuration and keeps the one that forecasts the **validation** snapshots best:

    score(c) = mean over validation snapshots t of AUC( p̂_c(A_t | G_{<t}) )

one-step forecasts from the filtered history (each validation snapshot forecast from the true
snapshots before it), every edge of ``t`` against as many uniform non-edges (seeded by ``t``
alone, so every candidate is scored on the same pairs). Validation snapshots are the last
``val_fraction`` of the training history (:func:`dyngraphvae.training.fit` early-stops on their
ELBO); the test snapshots are never read. A tie keeps the earlier candidate.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.evaluation.forecast_choice import refit_settings
from dyngraphvae.evaluation.links import link_metrics, link_prediction_pairs
from dyngraphvae.models.rolling import predictive_pair_probs
from dyngraphvae.training import TrainConfig, fit
from dyngraphvae.training.lightning_module import num_validation_snapshots

__all__ = ["NODE_EFFECT_MAX_NODES", "REFIT_KEYS", "REFIT_REFINEMENTS", "REFIT_STEP_MARGIN",
           "REFIT_WINDOWS", "choose_forecasts", "fit_and_select", "refit_validation_origins",
           "select_context_refit", "select_node_effect", "selection_line", "validation_link_auc"]

#: refit candidates ``dyngraphvae train`` chooses from (``ForecasterConfig.context_refit``; 0: off;
#: ``"10+degrees"`` / ``"10+rates"``: with ``context_refit_degrees``, cumulative / as log rates;
#: ``"10+rates+cn"``: and the common-neighbour column, ``context_refit_neighbours``;
#: ``docs/results.md``, sections 3i, 3j, 3k and 3m)
REFIT_WINDOWS: tuple[int | str, ...] = (0, 10, "10+degrees", "10+rates", "10+rates+cn")

#: then greedy steps, each kept where it scores higher than the best so far: ``"+pc"``, the
#: undecayed pair counts (``context_refit_counts``, ``docs/results.md`` 3s), and ``"@20"``, the
#: window doubled (3t), on the best candidate (none on ``W = 0``); then the refit's prior scale
#: ``"~0.3"``, ``"~3"`` and ``"~0.1"`` (``context_refit_prior``, 3t) on the best refit, also
#: where ``W = 0`` is best
REFIT_REFINEMENTS: tuple[str, ...] = ("+pc", "@20", "~0.3", "~3", "~0.1")

#: a step is kept only where its gain exceeds this many standard errors of the gain (origins as
#: clusters, ``forecast_choice.gain_standard_error``; ``docs/results.md`` 3u)
REFIT_STEP_MARGIN: float = 0.0

#: above this many nodes ``train`` leaves the node effects off: their fit holds a few dense
#: ``N × N`` float64 matrices per snapshot (0.5 GB at 3,783 nodes, 8 GB at 15,000)
NODE_EFFECT_MAX_NODES = 10_000

#: the config fields that the refit choice sets (a user who sets one keeps their own)
REFIT_KEYS = frozenset(refit_settings(0))


def validation_link_auc(model: Any, history: TemporalGraph, num_val: int, *,
                        num_samples: int = 20, seed: int = 0) -> float | None:
    """Mean one-step link AUC (%) over the last ``num_val`` snapshots of ``history`` (module
    docstring); ``None`` when none of them has an edge."""
    origins = [t for t in range(len(history) - num_val, len(history)) if history.num_edges(t)]
    if not origins:
        return None
    pairs = []
    for t in origins:
        pos, neg = link_prediction_pairs(history, t, generator=torch.Generator().manual_seed(
            1_000_003 * (seed + 1) + t))
        pairs.append((pos, neg))
    requests = [[torch.cat(p, 1)] for p in pairs]
    model.eval()
    probs = predictive_pair_probs(model, history, origins, 1, num_samples, requests,
                                  torch.Generator().manual_seed(seed))
    aucs = []
    for (pos, _), row in zip(pairs, probs, strict=True):
        p = row[0]
        aucs.append(100 * link_metrics(p[:pos.size(1)], p[pos.size(1):]).auc)
    return float(sum(aucs) / len(aucs))


def fit_and_select(
    candidates: dict[str, Any],
    train_config: TrainConfig,
    history: TemporalGraph,
    out_dir: str | Path,
    *,
    metadata: dict[str, Any] | None = None,
    num_samples: int = 20,
) -> tuple[Any, dict[str, Any]]:
    """Fit every candidate model config on ``history`` (into ``out_dir/selection/<name>``), score
    each on the validation snapshots (:func:`validation_link_auc`) and make the best one the
    model folder ``out_dir`` (its files copied there; ``manifest.json`` records the scores under
    ``"selection"``). Returns ``(FitResult of the winner, selection record)``."""
    out_dir = Path(out_dir)
    num_val = num_validation_snapshots(len(history), train_config)
    if num_val == 0:
        raise ValueError("fit_and_select: the choice is made on validation snapshots; set "
                         "val_fraction > 0 or val_snapshots >= 1")
    results, scores = {}, {}
    for name, config in candidates.items():
        res = fit(config, train_config, history, out_dir / "selection" / name,
                  metadata=metadata)
        results[name] = res
        scores[name] = {
            "validation_link_auc": validation_link_auc(res.model, history, num_val,
                                                       num_samples=num_samples,
                                                       seed=train_config.seed),
            "best_val_elbo_per_step": res.best_score,
            "epochs": res.epochs_completed,
        }
    order: Sequence[str] = list(candidates)
    best = max(order, key=lambda n: (scores[n]["validation_link_auc"] or float("-inf"),
                                     -order.index(n)))
    record = {"chosen": best, "by": "mean one-step link AUC on the validation snapshots",
              "validation_snapshots": num_val, "candidates": scores}
    src = results[best].out_dir
    for entry in src.iterdir():
        dst = out_dir / entry.name
        if entry.is_dir():
            shutil.copytree(entry, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(entry, dst)
    _record(out_dir, "selection", record)
    return results[best], record


def _record(out_dir: Path, key: str, record: dict[str, Any]) -> None:
    """Add ``record`` under ``metadata[key]`` of the model folder's ``manifest.json``."""
    manifest = out_dir / "manifest.json"
    data = json.loads(manifest.read_text())
    data.setdefault("metadata", {})[key] = record
    manifest.write_text(json.dumps(data, indent=2, sort_keys=True))


def refit_validation_origins(history: TemporalGraph, train_config: TrainConfig,
                             horizon: int = 5) -> tuple[list[int], int]:
    """The origins whose forecasts :func:`select_context_refit` scores, and their horizon: every
    origin whose targets at ``h = 1..min(horizon, num_val)`` lie in the validation block of
    ``history`` (no origin without validation snapshots)."""
    num_val = num_validation_snapshots(len(history), train_config)
    h = min(int(horizon), num_val)
    if num_val == 0:
        return [], h
    return list(range(len(history) - num_val, len(history) - h + 1)), h


def select_context_refit(model: Any, history: TemporalGraph, train_config: TrainConfig,
                         out_dir: str | Path, *, windows: Sequence[int | str] = REFIT_WINDOWS,
                         refinements: Sequence[str] = REFIT_REFINEMENTS, horizon: int = 5,
                         num_samples: int = 20, step_margin: float = REFIT_STEP_MARGIN
                         ) -> dict[str, Any] | None:
    """Choose the model's per-origin refit (``ForecasterConfig.context_refit`` and
    ``context_refit_degrees``, :func:`~dyngraphvae.evaluation.forecast_choice.refit_settings`) on
    the validation snapshots of ``history`` and record it in the model folder ``out_dir``
    (``config.json``; ``manifest.json`` under ``"refit_selection"``). The refit changes forecasts
    only, so the trained model is scored as it is with each window, then with each of
    ``refinements`` applied greedily (a suffix appended or ``"@V"`` a window replaced on the best
    so far, ``"~σ"`` a prior scale set on the best refit; each kept where it scores higher by
    more than ``step_margin`` standard errors of the gain):
    :func:`~dyngraphvae.evaluation.forecast_choice.choose_context_refit`, the pairwise log score
    of forecasts from the origins whose targets lie in the validation block, at horizons
    ``1..min(horizon, num_val)``. Returns the record, or ``None`` (nothing changed) when the model
    has no edge context or there are no validation snapshots."""
    from dyngraphvae.evaluation.forecast_choice import choose_context_refit
    from dyngraphvae.training.io import CONFIG_FILE

    if getattr(model, "edge_context", None) is None:
        return None
    origins, h = refit_validation_origins(history, train_config, horizon)
    if not origins:
        return None
    best, scores = choose_context_refit(model.eval(), history, origins, h, tuple(windows),
                                        num_samples=num_samples, seed=train_config.seed,
                                        refinements=tuple(refinements),
                                        step_margin=step_margin)
    record = {"chosen": best, "by": "pairwise log score per target edge of the forecasts from "
              "the validation origins", "origins": origins, "horizon": h,
              "step_margin": step_margin,
              "scores": {str(w): v for w, v in scores.items()}}
    out_dir = Path(out_dir)
    model.config.save(out_dir / CONFIG_FILE)
    _record(out_dir, "refit_selection", record)
    return record


def select_node_effect(model: Any, history: TemporalGraph, train_config: TrainConfig,
                       out_dir: str | Path) -> dict[str, Any] | None:
    """Turn on the node effects (``ForecasterConfig.node_effect``,
    :mod:`dyngraphvae.training.node_effect`) of a trained model whose chosen forecasts are
    direct (``ForecasterConfig.direct_forecasts``), fit them on the training snapshots of
    ``history`` (its validation block excluded) and rewrite the model folder ``out_dir``
    (weights, config, ``manifest.json`` under ``"node_effect"``).

    Why only there: the effects keep every pair's forecast probability, so a direct forecast
    ranks pairs as before, while its sampled graphs get the busy and silent nodes of real data
    (rule K, ``docs/results.md`` 3q: degree MMD lower on uci_collegemsg, vgrnn_enron10 and
    vgrnn_colab at level ranking and count coverage). Where the forecasts read their own samples
    back (``W = 0``), a bursty sampled step lifts its busy nodes' pairs at the next step and MRR
    fell at h ≥ 4 on bitcoin_alpha (3p). Returns the record, or ``None`` (nothing changed) when
    the model has no edge context, already has the effects, forecasts with feedback, or the
    training span is too short to fit them. Above :data:`NODE_EFFECT_MAX_NODES` nodes nothing
    is fitted and the record says ``"skipped"``."""
    from dyngraphvae.training.io import update_saved_model
    from dyngraphvae.training.node_effect import enable_node_effect, fit_node_effect

    c = model.config
    if (getattr(model, "edge_context", None) is None or c.node_effect or c.deterministic
            or not c.direct_forecasts):
        return None
    if c.num_nodes > NODE_EFFECT_MAX_NODES:
        record = {"skipped": f"{c.num_nodes} nodes > NODE_EFFECT_MAX_NODES = "
                  f"{NODE_EFFECT_MAX_NODES} (the fit is dense in N²)"}
        _record(Path(out_dir), "node_effect", record)
        return record
    train = history[: len(history) - num_validation_snapshots(len(history), train_config)]
    enable_node_effect(model)
    info = fit_node_effect(model, train, seed=train_config.seed)
    if info is None:  # too few snapshots with edges: leave the model as it was
        c.node_effect = False
        del model.node_scale, model.node_corr
        return None
    record = {"by": "rows' and columns' marginal likelihood on the training snapshots; on "
              "because the chosen forecasts are direct", **info}
    out_dir = Path(out_dir)
    update_saved_model(model, out_dir)
    _record(out_dir, "node_effect", record)
    return record


def choose_forecasts(model: Any, history: TemporalGraph, train_config: TrainConfig,
                     out_dir: str | Path, *, refit: bool = True,
                     node_effect: bool = True) -> list[str]:
    """What ``dyngraphvae train`` chooses after training, in order: the refit
    (:func:`select_context_refit`), then the node effects where the chosen forecasts are direct
    (:func:`select_node_effect`); ``False`` skips a step (a setting the user gave). Returns one
    line per choice made, for the log."""
    lines = []
    if refit and (record := select_context_refit(model, history, train_config, out_dir)):
        table = ", ".join(f"W={w} {v:.3f}" for w, v in record["scores"].items())
        lines.append(f"context refit chosen on {len(record['origins'])} validation origins, "
                     f"h = 1..{record['horizon']} (pairwise log score per edge: {table}): "
                     f"W={record['chosen']}")
    r = select_node_effect(model, history, train_config, out_dir) if node_effect else None
    if r and "skipped" in r:
        lines.append(f"node effects off: {r['skipped']}")
    elif r:
        scales = (f"τ_out {r['scale_out']:.3f}, τ_in {r['scale_in']:.3f}, ρ {r['corr']:.2f}"
                  if model.config.directed else
                  f"τ {r['scale_out']:.3f}, one intercept per node (undirected)")
        lines.append(f"node effects on (direct forecasts): {scales}, fitted on "
                     f"{r['num_snapshots']} training snapshots")
    return lines


def selection_line(record: dict[str, Any]) -> str:
    """One line saying which decoder context the validation snapshots chose, and the scores."""
    table = ", ".join(
        f"{name} {v['validation_link_auc']:.1f}" if v["validation_link_auc"] is not None
        else f"{name} n/a" for name, v in record["candidates"].items())
    return (f"decoder context chosen on the {record['validation_snapshots']} validation "
            f"snapshots (one-step link AUC: {table}): {record['chosen']}")
