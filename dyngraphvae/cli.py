"""Command line: ``dyngraphvae demo | train | forecast | evaluate``.

``demo`` trains on the built-in dynamic SBM (two decoders, up to 2000 epochs each with early
stopping: 2-4 minutes on one core) and writes a report folder; ``train`` fits a model on a named
dataset and writes a model folder; ``forecast`` samples futures from a model folder (``.npz``, no
pickles); ``evaluate`` scores forecasts on the held-out snapshots (``metrics.json``). Run
``dyngraphvae <command> --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dyngraphvae.cli_io import (
    EVENT_OPTIONS,
    SYNTHETIC_DATASETS,
    WEIGHT_POLICIES,
    CLIError,
    _default_out,
    _event_options,
    _json_object,
    _load_model_dir,
    _model_data,
    _positive,
    _prepare_out,
    _progress_on_terminal,
    _split_sizes,
    _val_snapshots,
    apply_weight_policy,
    load_data,
    load_event_data,
    static_edges,
)

__all__ = ["CLIError", "EVENT_OPTIONS", "SYNTHETIC_DATASETS", "WEIGHT_POLICIES",
           "apply_weight_policy", "build_parser", "load_data", "load_event_data", "main"]

# ---------------------------------------------------------------------------- commands
#: model settings the CLI exposes, as flag name -> ForecasterConfig field (defaults: the config's)
MODEL_FLAGS = ("latent_dim", "hidden_dim", "encoder", "decoder_context", "history_decay",
               "adjacency", "num_negatives")
#: decoder contexts that ``--decoder-context auto`` (the default) chooses from on validation
AUTO_DECODER_CONTEXTS = ("none", "pair_history")


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from dyngraphvae.models.config import ForecasterConfig
    from dyngraphvae.training import TrainConfig, fit
    from dyngraphvae.training.config import RECOMMENDED_WINDOW

    _positive("--epochs", args.epochs)
    torch.set_num_threads(_positive("--threads", args.threads))
    out = Path(args.out)
    _prepare_out(out, args.resume, args.overwrite)
    events = None
    if args.events is not None:
        events = {"path": str(Path(args.events).resolve()), "options": _event_options(args)}
        graph = load_event_data(args.events, events["options"], args.weights)
    else:
        graph = load_data(args.dataset, args.data_root, seed=args.data_seed,
                          weights=args.weights)
    if sum(graph.num_edges()) == 0 and not graph.has_features:
        raise CLIError(f"{graph.name or 'the graph'}: every snapshot is empty and there are no "
                       "node features: there is nothing to learn")
    n_test = _split_sizes(len(graph), args.test_snapshots)
    history = graph[: len(graph) - n_test]
    # defaults for the graph, then a (partial) JSON config, then explicit flags
    settings: dict[str, Any] = {}
    if args.model_config:
        settings.update(_json_object(args.model_config, "--model-config"))
    for key in MODEL_FLAGS:
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.components is not None:
        settings["transition_components"] = args.components
    # the decoder context is chosen on the validation snapshots unless it is given
    contexts = [settings.pop("decoder_context", "auto")]
    if graph.has_features and "decode_edges" not in settings and static_edges(graph):
        # a fixed graph (sensors, roads): forecast the features with the AR mean of
        # docs/results.md, section 2c, and take the graph as given
        settings["decode_edges"] = False
        contexts = ["previous"] if contexts == ["auto"] else contexts
        print(f"{graph.name or 'the graph'}: the same edges in every snapshot, so only the node "
              "features are forecast (decode_edges=False, decoder context "
              f"{contexts[0]!r}); --model-config can say otherwise")
    if contexts == ["auto"]:
        contexts = list(AUTO_DECODER_CONTEXTS)
        if args.resume is not None:  # continue the run with the context it was trained with
            recorded = out / "config.json"
            if not recorded.is_file():
                raise CLIError(f"--resume: {recorded} is missing, so the run's decoder context "
                               "is unknown; pass --decoder-context")
            contexts = [json.loads(recorded.read_text()).get("decoder_context", "none")]
    try:
        candidates = {c: ForecasterConfig.for_graph(graph, decoder_context=c, **settings)
                      for c in contexts}
    except TypeError as err:
        raise CLIError(f"model settings: {err} (--model-config takes ForecasterConfig fields)"
                       ) from err
    except ValueError as err:
        raise CLIError(str(err)) from err
    tc = _json_object(args.train_config, "--train-config") if args.train_config else {}
    tc = {**TrainConfig(window=RECOMMENDED_WINDOW).to_dict(), **tc}
    tc.update(epochs=args.epochs, seed=args.seed, threads=args.threads,
              progress_bar=not args.no_progress and _progress_on_terminal())
    for key in ("lr", "patience", "accelerator", "devices", "strategy", "val_snapshots",
                "free_bits", "kl_weight", "batch_size"):
        if getattr(args, key) is not None:
            tc[key] = getattr(args, key)
    if args.bptt_window is not None:
        tc["window"] = None if args.bptt_window == 0 else args.bptt_window
    if isinstance(tc.get("devices"), str) and tc["devices"].isdigit():
        tc["devices"] = int(tc["devices"])
    if args.kl_warmup:
        tc["kl_schedule"] = {"kind": "linear", "num_steps": args.kl_warmup}
    try:
        train_config = TrainConfig.from_dict(tc)
    except (TypeError, ValueError) as err:
        raise CLIError(f"training settings: {err}") from err
    meta = {
        "dataset": args.dataset,
        "data_root": str(Path(args.data_root).resolve()) if args.data_root else None,
        "data_seed": args.data_seed,
        "num_snapshots": len(graph),
        "history_snapshots": len(history),
        "test_snapshots": n_test,
        "weights": args.weights,
    }
    if events is not None:
        meta["events"] = events
    if len(candidates) > 1:
        from dyngraphvae.selection import fit_and_select, selection_line

        try:
            res, record = fit_and_select(candidates, train_config, history, args.out,
                                         metadata=meta)
        except ValueError as err:
            raise CLIError(str(err)) from err
        print(selection_line(record))
    else:
        try:
            res = fit(next(iter(candidates.values())), train_config, history, args.out,
                      metadata=meta, resume=args.resume)
        except (FileNotFoundError, ValueError) as err:
            if isinstance(err, ValueError) and "checkpoint" not in str(err):
                raise
            raise CLIError(str(err)) from err
    if args.resume is None:  # what the user did not set is chosen on validation
        from dyngraphvae.selection import REFIT_KEYS, choose_forecasts

        for line in choose_forecasts(res.model, history, train_config, args.out,
                                     refit=not REFIT_KEYS & set(settings),
                                     node_effect="node_effect" not in settings):
            print(line)
    print(f"trained {res.epochs_completed} epochs; best val ELBO/step "
          f"{res.best_score if res.best_score is not None else 'n/a'}; model folder {args.out}")
    print(f"next: dyngraphvae evaluate --model {args.out}   |   "
          f"dyngraphvae forecast --model {args.out}")
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    import csv

    import numpy as np
    import torch

    from dyngraphvae.progress import progress
    from dyngraphvae.report import plot_edge_counts, top_pairs, write_json

    _positive("--samples", args.samples)
    _positive("--top-k", args.top_k)
    torch.set_num_threads(_positive("--threads", args.threads))
    saved = _load_model_dir(args.model)
    graph, meta = _model_data(saved, args)
    horizon = args.horizon if args.horizon is not None else int(meta.get("test_snapshots", 1))
    _positive("--horizon", horizon)
    start = len(graph) if args.condition_on == "all" else int(meta["history_snapshots"])
    model = saved.model.eval()
    gen = torch.Generator().manual_seed(args.seed)
    out = _default_out(args.model, args.out, "forecast")
    out.mkdir(parents=True, exist_ok=True)
    ids = graph.node_ids if graph.node_ids is not None else list(range(graph.num_nodes))
    files = [out / "forecast.npz", out / "summary.json"]
    with torch.no_grad():
        fc = model.forecast(graph[:start], horizon, args.samples, generator=gen)
        arrays: dict[str, np.ndarray] = {
            "z": fc.z.numpy(),
            "start": np.asarray(start),
            "horizon": np.asarray(horizon),
        }
        for key in ("feature_mean", "feature_var", "x"):
            v = getattr(fc, key)
            if v is not None:
                arrays[key] = v.numpy()
        summary: dict[str, Any] = {
            "model": str(saved.directory), "dataset": meta.get("dataset"), "start": start,
            "horizon": horizon, "num_samples": args.samples, "seed": args.seed,
            "condition_on": args.condition_on,
        }
        if "events" in meta:
            summary["events"] = meta["events"]["path"]
        if fc.edge_decoder is not None:
            coords = torch.cat(
                [
                    torch.cat([torch.tensor([[s], [k]]).expand(2, e.size(1)), e])
                    for s in progress(range(fc.num_samples), "sampling graphs")
                    for k in range(fc.horizon)
                    for e in [fc.sample_edge_index(s, k, generator=gen)]
                ],
                dim=1,
            )
            arrays["sampled_edges"] = coords.numpy()  # rows: sample, step, u, v
            counts = torch.zeros(fc.num_samples, fc.horizon)
            counts.index_put_((coords[0], coords[1]), torch.ones(coords.size(1)), accumulate=True)
            summary["sampled_edges_mean"] = counts.mean(0).tolist()
            summary["sampled_edges_std"] = counts.std(0, unbiased=False).tolist()
            if fc.num_nodes <= fc.dense_max_nodes:
                prob = fc.predictive_edge_prob().mean(0)
                arrays["edge_prob_mean"] = prob.numpy()
                iu = torch.triu_indices(fc.num_nodes, fc.num_nodes, 1)
                expected = prob[:, iu[0], iu[1]].sum(-1) if not fc.directed else (
                    prob.sum((-1, -2)) - prob.diagonal(dim1=-2, dim2=-1).sum(-1))
                summary["expected_edges"] = expected.tolist()
            # top-k predicted edges per step, named by the original node ids
            top_p, top_i = top_pairs(fc, args.top_k)
            with open(out / "edges.csv", "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["h", "snapshot", "src", "dst", "probability"])
                for k in range(horizon):
                    for j in range(top_p.size(1)):
                        u, v = int(top_i[k, 0, j]), int(top_i[k, 1, j])
                        w.writerow([k + 1, start + k, ids[u], ids[v], f"{float(top_p[k, j]):.6g}"])
            files.append(out / "edges.csv")
            past = graph.num_edges()[max(0, start - 30):start]
            files.append(plot_edge_counts(past, counts, out / "edge_count.png", start))
            lo, hi = min(graph.num_edges()[:start]), max(graph.num_edges()[:start])
            far = [k + 1 for k, m in enumerate(summary["sampled_edges_mean"])
                   if m > 2 * max(hi, 1) or m < 0.5 * lo]
            if far:
                summary["edge_count_warning"] = far
                print(f"warning: the sampled futures have {summary['sampled_edges_mean'][0]:.0f}"
                      f" edges per step on average at h={far[0]}, far outside the history's "
                      f"{lo}..{hi}: the forecast's edge probabilities are not calibrated to the "
                      "graph's density", file=sys.stderr)
        if fc.x is not None:
            summary["feature_mean_per_step"] = fc.x.mean((0, 2, 3)).tolist()
            summary["feature_std_per_step"] = fc.x.std((0, 2, 3)).tolist()
    np.savez_compressed(out / "forecast.npz", **arrays)
    write_json(out / "summary.json", summary)
    print("wrote " + ", ".join(str(f) for f in files))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import torch

    from dyngraphvae.report import (
        drift_feature_table,
        drift_future_table,
        evaluate_forecast,
        feature_table,
        link_table,
        write_json,
    )

    _positive("--samples", args.samples)
    torch.set_num_threads(_positive("--threads", args.threads))
    saved = _load_model_dir(args.model)
    graph, meta = _model_data(saved, args)
    start = int(meta["history_snapshots"])
    available = len(graph) - start
    horizon = args.horizon if args.horizon is not None else min(available, 5)
    _positive("--horizon", horizon)
    if horizon > available:
        raise CLIError(
            f"--horizon {horizon} exceeds the {available} held-out test snapshots of "
            f"{meta.get('dataset') or meta.get('events', {}).get('path')!r}; use --horizon <= "
            f"{available}"
        )
    out = _default_out(args.model, args.out, "evaluation")
    train_end = start - _val_snapshots(saved, start)
    metrics = evaluate_forecast(saved.model.eval(), graph, start, horizon,
                                num_samples=args.samples, seed=args.seed,
                                negatives=args.negatives, train_end=train_end,
                                edgebank_window=available, mrr_negatives=args.mrr_negatives)
    report = {"model": str(saved.directory), "dataset": meta.get("dataset"),
              "negatives": args.negatives, "forecast": metrics}
    if "events" in meta:
        report["events"] = meta["events"]["path"]
    if not args.no_drift:
        from dyngraphvae.evaluation.drift import evaluate_model

        # every origin of the held-out range, scored at h = 1..H (drift vs horizon)
        last_origin = len(graph) - 1
        drift = evaluate_model(saved.model, graph, horizon, out / "drift",
                               origins=list(range(start, last_origin + 1)),
                               num_samples=args.samples, seed=args.seed,
                               negatives=args.negatives)
        report["drift"] = drift
    path = write_json(out / "metrics.json", report)
    tables = [feature_table(metrics)]
    if "drift" in report:
        tables += [drift_feature_table(report["drift"]), drift_future_table(report["drift"])]
    if any(k.startswith("links/") for k in metrics):
        tables.insert(0, link_table(metrics, args.negatives, args.mrr_negatives))
    for table, warns in tables:
        if table:
            print(table)
        for w in warns:
            print(f"warning: {w}", file=sys.stderr)
    print(f"wrote {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import torch

    from dyngraphvae.data.synthetic import dynamic_sbm
    from dyngraphvae.evaluation.sbm_oracles import (
        probability_oracle,
        sample_undirected,
        sbm_oracle,
        sbm_state_probs,
    )
    from dyngraphvae.models.config import ForecasterConfig
    from dyngraphvae.report import (
        evaluate_forecast,
        plot_horizon_metrics,
        plot_sampled_graphs,
        plot_training_curves,
        write_json,
    )
    from dyngraphvae.training import TrainConfig, fit

    t0 = time.perf_counter()
    torch.set_num_threads(_positive("--threads", args.threads))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.quick:
        data_kw = dict(num_nodes=30, num_snapshots=12, num_communities=3, num_features=4)
        n_test, n_val, epochs, samples = 3, 2, 8, 20
        model_kw = dict(latent_dim=4, hidden_dim=16, node_embedding_dim=8)
    else:
        data_kw = dict(SYNTHETIC_DATASETS["dynamic_sbm"])
        # the validation ELBO still rose at 300 and 1000 epochs (docs/results.md, 3l)
        n_test, n_val, epochs, samples = 5, 3, 2000, 100
        model_kw = dict(latent_dim=8, hidden_dim=32)
    if args.epochs is not None:
        epochs = _positive("--epochs", args.epochs)
    graph, communities = dynamic_sbm(seed=args.seed, return_communities=True, **data_kw)
    T = len(graph)
    start = T - n_test
    contexts = (list(AUTO_DECODER_CONTEXTS) if args.decoder_context in (None, "auto")
                else [args.decoder_context])
    candidates = {c: ForecasterConfig.for_graph(graph, decoder_context=c, **model_kw)
                  for c in contexts}
    train_config = TrainConfig(
        epochs=epochs, lr=1e-2, val_snapshots=n_val, val_samples=2,
        patience=max(10, epochs // 4),
        kl_schedule={"kind": "linear", "num_steps": max(1, epochs // 4)},
        seed=args.seed, progress_bar=not args.no_progress and _progress_on_terminal(),
        threads=args.threads,
    )
    meta = {"dataset": "dynamic_sbm", "data_seed": args.seed, "data_options": data_kw,
            "num_snapshots": T, "history_snapshots": start, "test_snapshots": n_test}
    t_fit = time.perf_counter()
    selection = None
    if len(candidates) > 1:
        from dyngraphvae.selection import fit_and_select, selection_line

        res, selection = fit_and_select(candidates, train_config, graph[:start], out / "model",
                                        metadata=meta)
        print(selection_line(selection))
    else:
        res = fit(next(iter(candidates.values())), train_config, graph[:start], out / "model",
                  metadata=meta)
    from dyngraphvae.selection import choose_forecasts

    for line in choose_forecasts(res.model, graph[:start], train_config, out / "model"):
        print(line)  # as train does, for a decoder with an edge context
    model_config = res.model.config
    fit_s = time.perf_counter() - t_fit
    model = res.model
    # the law's own forecast from the true labels of the last history snapshot
    state_probs = sbm_state_probs(communities, data_kw, start - 1, n_test, args.seed)
    metrics = evaluate_forecast(model, graph, start, n_test, num_samples=samples, seed=args.seed,
                                link_oracle={
                                    "oracle": sbm_oracle(communities, data_kw),
                                    "oracle_state": probability_oracle(state_probs, start)})
    plot_training_curves(res.history, out / "training_curves.png")
    plot_horizon_metrics(metrics, out / "forecast_vs_horizon.png")
    with torch.no_grad():
        fc = model.forecast(graph[:start], n_test, samples,
                            generator=torch.Generator().manual_seed(args.seed))
        sampled = fc.sample_adjacency(generator=torch.Generator().manual_seed(args.seed + 1))
    truth = torch.stack([graph.dense_adjacency(start + k) for k in range(n_test)])
    order = torch.argsort(communities[start:start + n_test], dim=-1, stable=True)
    plot_sampled_graphs(truth, sampled, out / "sampled_graphs.png", order=order)
    from dyngraphvae.evaluation.graph_stats import block_density_ratios

    state_sampled = sample_undirected(state_probs, samples,
                                      torch.Generator().manual_seed(args.seed + 2))
    for who, draws in (("", sampled), ("oracle_state_", state_sampled)):
        blocks = [block_density_ratios(draws[:, k], truth[k], communities[start + k])
                  for k in range(n_test)]
        metrics.update({f"graphs/{who}density_ratio_{name}":
                        [None if math.isnan(b[name]) else b[name] for b in blocks]
                        for name in ("overall", "within", "between")})

    def mean(key: str) -> float | None:
        vals = [v for v in metrics.get(key, []) if v is not None]
        return sum(vals) / len(vals) if vals else None

    summary = {
        "model_auc": mean("links/model_auc"), "persistence_auc": mean("links/persistence_auc"),
        "model_ap": mean("links/model_ap"), "persistence_ap": mean("links/persistence_ap"),
        "frequency_auc": mean("links/frequency_auc"), "edgebank_auc": mean("links/edgebank_auc"),
        "edgebank_tw_auc": mean("links/edgebank_tw_auc"),
        "oracle_auc": mean("links/oracle_auc"),
        "oracle_state_auc": mean("links/oracle_state_auc"),
        "model_crps": mean("features/model_crps"),
        "persistence_crps": mean("features/persistence_crps"),
    }
    report = {
        "dataset": {"name": "dynamic_sbm", "seed": args.seed, **data_kw,
                    "train_snapshots": start - n_val, "val_snapshots": n_val,
                    "test_snapshots": n_test},
        "model_config": model_config.to_dict(),
        "train_config": train_config.to_dict(),
        "selection": selection,
        "training": {
            "epochs_completed": res.epochs_completed, "stopped_early": res.stopped_early,
            "best_val_elbo_per_step": res.best_score, "fit_seconds": round(fit_s, 2),
        },
        "forecast": metrics,
        "summary_mean_over_horizons": summary,
        "wall_seconds": round(time.perf_counter() - t0, 2),
        "quick": bool(args.quick),
    }
    write_json(out / "metrics.json", report)
    print(_demo_table(metrics, summary))
    for name in ("overall", "within", "between"):
        for who, label in (("", "model"), ("oracle_state_", "oracle_state")):
            cells = "".join(f"{_fmt(v):>9}" for v in metrics[f"graphs/{who}density_ratio_{name}"])
            print(f"{(name if not who else ''):<9}{label:<16}{cells}")
    print(f"(density of {samples} sampled futures over the truth's: all pairs, pairs inside a true "
          "community of the target, pairs across; oracle_state samples the law's own forecast "
          "from the true communities at the origin, oracle knows the target's communities)")
    print(f"report: {out.resolve()} (metrics.json, training_curves.png, forecast_vs_horizon.png, "
          f"sampled_graphs.png; model folder {out / 'model'}) in {report['wall_seconds']:.0f} s")
    return 0


def _fmt(v: float | None) -> str:
    return "  n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def _demo_table(metrics: dict[str, Any], summary: dict[str, Any]) -> str:
    """The link and feature tables of ``evaluate`` (model above each baseline)."""
    from dyngraphvae.report import feature_table, link_table

    table, warns = link_table(metrics, metrics.get("negatives", "random"))
    ftable, fwarns = feature_table(metrics)
    return "\n".join([table, *(f"warning: {w}" for w in warns), ftable,
                      *(f"warning: {w}" for w in fwarns)])


# ---------------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``dyngraphvae train: error: ...`` and where to look,
    instead of the whole usage block."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="dyngraphvae",
        description="Probabilistic forecasting of dynamic graphs with temporal graph VAEs.",
    )
    p.add_argument("--verbose", action="store_true", help="show Lightning's info messages")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND",
                           parser_class=_Parser)

    d = sub.add_parser("demo", help="train on the built-in dynamic SBM and write a report",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d.add_argument("--out", default="dyngraphvae-demo", help="report folder (default: %(default)s)")
    d.add_argument("--quick", action="store_true", help="tiny graph and few epochs (seconds)")
    d.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    d.add_argument("--decoder-context", default=None,
                   choices=("auto", "none", "previous", "history", "pair_history"),
                   help="decoder context (auto: none and pair_history, the better one on the "
                        "validation snapshots, as in train)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1 is fastest at these sizes; see docs/cli.md)")
    d.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser(
        "train", help="train a model on a dataset or an events file; writes a model folder",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset",
                     help=f"built-in ({', '.join(SYNTHETIC_DATASETS)}) or a data-root dataset")
    src.add_argument("--events", metavar="PATH",
                     help="a table of timestamped interactions (CSV/TSV, .gz, Parquet), binned "
                          "into snapshots; see --src/--dst/--time and --window or --snapshots")
    ev = t.add_argument_group("events file (with --events)")
    ev.add_argument("--src", help="source node column")
    ev.add_argument("--dst", help="destination node column")
    ev.add_argument("--time", help="time column (unix seconds, numbers or ISO datetimes)")
    ev.add_argument("--weight", default=None, help="optional event weight column")
    ev.add_argument("--window", default=None,
                    help="snapshot width: seconds (in the time column's unit) or 30min, 1h, 1d, 1w")
    ev.add_argument("--snapshots", type=int, default=None,
                    help="number of equal-width snapshots (instead of --window)")
    ev.add_argument("--format", choices=("dyglib", "tgb"), default=None,
                    help="a known layout: DyGLib ml_<name>.csv or TGB raw edge lists")
    ev.add_argument("--undirected", action="store_true", help="merge u->v and v->u")
    ev.add_argument("--start", default=None, help="first window's start (default: first event)")
    ev.add_argument("--self-loops", choices=("error", "remove", "keep"), default="error",
                    help="what to do with events u->u")
    ev.add_argument("--delimiter", default=None, help="CSV delimiter (default: sniffed)")
    t.add_argument("--weights", choices=WEIGHT_POLICIES, default="auto",
                   help="edge weights for the encoder: auto keeps non-negative weights and drops "
                        "signed ones (with a log line), use, drop, or abs (|w|)")
    t.add_argument("--data-root", default=None, help="folder holding <dataset>/data.npz")
    t.add_argument("--data-seed", type=int, default=0, help="seed of synthetic datasets")
    t.add_argument("--out", required=True, help="model folder to write")
    t.add_argument("--epochs", type=int, default=100)
    t.add_argument("--test-snapshots", type=int, default=None,
                   help="last snapshots held out for `evaluate` (default: 15%%, at least 1)")
    t.add_argument("--val-snapshots", type=int, default=None,
                   help="snapshots before the test ones used for validation (default: 20%%)")
    m = t.add_argument_group(
        "model (defaults: ForecasterConfig.for_graph; flags override --model-config)")
    m.add_argument("--latent-dim", type=int, default=None, help="latent size d (16)")
    m.add_argument("--hidden-dim", type=int, default=None, help="hidden size (32)")
    m.add_argument("--encoder", default=None, choices=("gcn", "sage", "gat", "gin", "graphconv"),
                   help="snapshot encoder (gcn)")
    m.add_argument("--components", type=int, default=None,
                   help="transition mixture components (1)")
    m.add_argument("--decoder-context", default=None,
                   choices=("auto", "none", "previous", "history", "pair_history"),
                   help="what the edge decoder reads of the past: nothing / the previous graph / "
                        "a decayed history / pair and degree history at several rates; auto "
                        "fits none and pair_history and keeps the better one on the validation "
                        "snapshots (auto)")
    m.add_argument("--history-decay", type=float, default=None,
                   help="decay of the history context (0.5)")
    m.add_argument("--adjacency", default=None, choices=("auto", "dense", "sparse"),
                   help="edge likelihood: exact O(N^2) or sparse unbiased O(E + K) (auto)")
    m.add_argument("--num-negatives", type=int, default=None,
                   help="sampled non-edges per snapshot of the sparse likelihood")
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--patience", type=int, default=None)
    t.add_argument("--bptt-window", type=int, default=None,
                   help="train on windows of this many snapshots (truncated back-propagation, "
                        "each window started from the filtered state before it); 0 = whole "
                        "sequence (default: 2, measured in docs/benchmarks.md)")
    t.add_argument("--batch-size", type=int, default=None,
                   help="windows (or sequences) per optimizer step")
    t.add_argument("--kl-warmup", type=int, default=0, help="linear KL warm-up steps (0: off)")
    t.add_argument("--kl-weight", type=float, default=None, help="constant KL weight beta (1)")
    t.add_argument("--free-bits", type=float, default=None,
                   help="free bits per latent dimension (0: off)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--accelerator", default=None, help="auto, cpu, gpu, ...")
    t.add_argument("--devices", default=None, help="number of devices (or 'auto')")
    t.add_argument("--strategy", default=None, help="auto, ddp, ddp_spawn, ...")
    t.add_argument("--model-config", default=None,
                   help="ForecasterConfig JSON, full or partial (merged over the defaults)")
    t.add_argument("--train-config", default=None,
                   help="TrainConfig JSON, full or partial (merged over the defaults)")
    t.add_argument("--resume", default=None, help="checkpoint to resume from, or 'last'")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the model already in --out (its checkpoints and logs go too)")
    t.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1 is fastest at these sizes; see docs/cli.md)")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=cmd_train)

    f = sub.add_parser("forecast", help="sample future graphs from a trained model",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    f.add_argument("--model", required=True, help="model folder (from train or demo)")
    f.add_argument("--horizon", type=int, default=None,
                   help="steps ahead (default: the model's number of test snapshots)")
    f.add_argument("--samples", type=int, default=20)
    f.add_argument("--top-k", type=int, default=100,
                   help="predicted edges per step written to edges.csv (original node ids)")
    f.add_argument("--out", default=None, help="output folder (default: MODEL/forecast)")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--condition-on", choices=("all", "history"), default="all",
                   help="condition on all snapshots (true future) or on the training history "
                        "only (forecast the held-out test period)")
    f.add_argument("--dataset", default=None, help="override the dataset in the manifest")
    f.add_argument("--data-root", default=None)
    f.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    f.set_defaults(func=cmd_forecast)

    e = sub.add_parser("evaluate", help="score forecasts on the held-out test snapshots",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    e.add_argument("--model", required=True, help="model folder (from train or demo)")
    e.add_argument("--horizon", type=int, default=None,
                   help="steps ahead (default: the test snapshots, at most 5)")
    e.add_argument("--samples", type=int, default=50)
    e.add_argument("--negatives", choices=("random", "historical", "inductive"), default="random",
                   help="negatives for AUC/AP (Poursafaei et al. 2022): uniform non-edges, pairs "
                        "seen in the history but absent, or pairs new since training")
    e.add_argument("--mrr-negatives", choices=("random", "hist_rnd"), default="random",
                   help="MRR/Hits@10 negatives: random destinations, or TGB's hist_rnd (half of "
                        "them destinations the source had before)")
    e.add_argument("--out", default=None, help="output folder (default: MODEL/evaluation)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--dataset", default=None, help="override the dataset in the manifest")
    e.add_argument("--data-root", default=None)
    e.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    e.add_argument("--no-drift", action="store_true",
                   help="skip the multi-origin drift-vs-horizon evaluation (drift/ and drift.png)")
    e.set_defaults(func=cmd_evaluate)
    for sp in (d, t, f, e):
        sp.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show Lightning's info messages and third-party tips")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dyngraphvae`` console script."""
    import os

    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dyngraphvae: %(message)s"))
    pkg = logging.getLogger("dyngraphvae")
    pkg.addHandler(handler)
    pkg.setLevel(logging.INFO)
    verbose_before = os.environ.get("DYNGRAPHVAE_VERBOSE")
    if args.verbose:
        os.environ["DYNGRAPHVAE_VERBOSE"] = "1"
    if args.command in ("demo", "train"):
        import lightning.pytorch  # noqa: F401  (it sets its loggers to INFO on import)

        for name in ("lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except CLIError as err:
        print(f"dyngraphvae {args.command}: error: {err}", file=sys.stderr)
        return 2
    finally:
        pkg.removeHandler(handler)
        if verbose_before is None:
            os.environ.pop("DYNGRAPHVAE_VERBOSE", None)


if __name__ == "__main__":
    sys.exit(main())
