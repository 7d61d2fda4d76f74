"""Command line: ``dyngraphvae demo | train | forecast | evaluate``.

``demo`` trains on the built-in dynamic SBM (80 epochs, about 5 CPU-minutes, so 2.5-5 minutes on
2 cores) and writes a report folder; ``train`` fits a model on a named dataset and writes a model
folder; ``forecast`` samples futures from a model folder (``.npz``, no pickles); ``evaluate``
scores forecasts on the held-out snapshots (``metrics.json``). Run
``dyngraphvae <command> --help`` for the options.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["CLIError", "build_parser", "load_data", "main", "SYNTHETIC_DATASETS"]

#: built-in synthetic datasets: name -> keyword arguments of ``dynamic_sbm``.
SYNTHETIC_DATASETS: dict[str, dict[str, Any]] = {
    "dynamic_sbm": dict(num_nodes=120, num_snapshots=30, num_communities=4, num_features=8),
    "dynamic_sbm_small": dict(num_nodes=24, num_snapshots=12, num_communities=2, num_features=3),
}


class CLIError(Exception):
    """A user error: printed without a traceback, exit status 2."""


# ---------------------------------------------------------------------------- data
def load_data(
    name: str, root: str | None = None, seed: int = 0, options: dict[str, Any] | None = None
):
    """The dataset ``name``: a built-in synthetic one (:data:`SYNTHETIC_DATASETS`, generated with
    ``seed``; ``options`` override its generator arguments) or a real one read by
    :func:`dyngraphvae.data.io.load_dataset` from ``root``."""
    if name in SYNTHETIC_DATASETS:
        from dyngraphvae.data.synthetic import dynamic_sbm

        return dynamic_sbm(seed=seed, **{**SYNTHETIC_DATASETS[name], **(options or {})})
    from dyngraphvae.data import io as dio

    try:
        return dio.load_dataset(name, root)
    except dio.DatasetNotFoundError as err:
        known = sorted(SYNTHETIC_DATASETS) + dio.list_datasets()
        searched = dio.data_root(root).resolve()
        raise CLIError(
            f"unknown or missing dataset {name!r}: {err}.\n"
            f"Known datasets: {', '.join(known)}.\n"
            f"Data root searched: {searched}. Pass --data-root DIR (or set "
            f"${dio.ENV_VAR}) to the folder holding <name>/data.npz."
        ) from err


def _split_sizes(T: int, test: int | None) -> int:
    n_test = max(1, round(0.15 * T)) if test is None else test
    if n_test < 1 or T - n_test < 3:
        raise CLIError(
            f"--test-snapshots {n_test} leaves {T - n_test} of {T} snapshots for training and "
            "validation (need >= 3); choose a smaller value"
        )
    return n_test


def _positive(name: str, value: int) -> int:
    if value is None or value <= 0:
        raise CLIError(f"{name} must be a positive integer, got {value}")
    return value


def _load_model_dir(path: str):
    from dyngraphvae.training import load_saved

    p = Path(path)
    if not p.exists():
        raise CLIError(
            f"model folder {p} does not exist; train one with "
            f"`dyngraphvae train --dataset NAME --out {p}` (or run `dyngraphvae demo`)"
        )
    try:
        saved = load_saved(p)
    except FileNotFoundError as err:
        raise CLIError(str(err)) from err
    return saved


def _model_data(saved, args) -> tuple[Any, dict[str, Any]]:
    meta = saved.metadata
    if "dataset" not in meta:
        raise CLIError(
            f"{saved.directory}/manifest.json does not say which dataset the model was trained "
            "on; pass --dataset NAME"
        )
    name = args.dataset or meta["dataset"]
    root = args.data_root if args.data_root is not None else meta.get("data_root")
    graph = load_data(name, root, seed=int(meta.get("data_seed", 0)),
                      options=meta.get("data_options") if args.dataset is None else None)
    n_model = getattr(saved.model.config, "num_nodes", graph.num_nodes)
    if graph.num_nodes != n_model:
        raise CLIError(
            f"dataset {name!r} has {graph.num_nodes} nodes but the model in {saved.directory} "
            f"was built for {n_model}"
        )
    if len(graph) <= int(meta.get("history_snapshots", 0)) - 1:
        raise CLIError(f"dataset {name!r} is shorter than the model's training history")
    return graph, meta


# ---------------------------------------------------------------------------- commands
def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from dyngraphvae.models.config import ForecasterConfig
    from dyngraphvae.training import TrainConfig, fit

    _positive("--epochs", args.epochs)
    if args.threads:
        torch.set_num_threads(args.threads)
    graph = load_data(args.dataset, args.data_root, seed=args.data_seed)
    n_test = _split_sizes(len(graph), args.test_snapshots)
    history = graph[: len(graph) - n_test]
    if args.model_config:
        model_config = ForecasterConfig.load(args.model_config)
    else:
        model_config = ForecasterConfig.for_graph(
            graph, latent_dim=args.latent_dim, hidden_dim=args.hidden_dim, encoder=args.encoder,
            transition_components=args.components,
        )
    if args.train_config:
        tc = TrainConfig.load(args.train_config).to_dict()
    else:
        tc = TrainConfig().to_dict()
    tc.update(epochs=args.epochs, seed=args.seed, progress_bar=not args.no_progress)
    for key in ("lr", "patience", "accelerator", "devices", "strategy", "val_snapshots"):
        if getattr(args, key) is not None:
            tc[key] = getattr(args, key)
    if isinstance(tc.get("devices"), str) and tc["devices"].isdigit():
        tc["devices"] = int(tc["devices"])
    if args.kl_warmup:
        tc["kl_schedule"] = {"kind": "linear", "num_steps": args.kl_warmup}
    train_config = TrainConfig.from_dict(tc)
    meta = {
        "dataset": args.dataset,
        "data_root": str(Path(args.data_root).resolve()) if args.data_root else None,
        "data_seed": args.data_seed,
        "num_snapshots": len(graph),
        "history_snapshots": len(history),
        "test_snapshots": n_test,
    }
    res = fit(model_config, train_config, history, args.out, metadata=meta,
              resume=args.resume)
    print(f"trained {res.epochs_completed} epochs; best val ELBO/step "
          f"{res.best_score if res.best_score is not None else 'n/a'}; model folder {res.out_dir}")
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from dyngraphvae.report import write_json

    _positive("--horizon", args.horizon)
    _positive("--samples", args.samples)
    saved = _load_model_dir(args.model)
    graph, meta = _model_data(saved, args)
    start = len(graph) if args.condition_on == "all" else int(meta["history_snapshots"])
    model = saved.model.eval()
    gen = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        fc = model.forecast(graph[:start], args.horizon, args.samples, generator=gen)
        arrays: dict[str, np.ndarray] = {
            "z": fc.z.numpy(),
            "start": np.asarray(start),
            "horizon": np.asarray(args.horizon),
        }
        for key in ("feature_mean", "feature_var", "x"):
            v = getattr(fc, key)
            if v is not None:
                arrays[key] = v.numpy()
        summary: dict[str, Any] = {
            "model": str(saved.directory), "dataset": meta["dataset"], "start": start,
            "horizon": args.horizon, "num_samples": args.samples, "seed": args.seed,
            "condition_on": args.condition_on,
        }
        if fc.edge_decoder is not None:
            coords = torch.cat(
                [
                    torch.cat([torch.tensor([[s], [k]]).expand(2, e.size(1)), e])
                    for s in range(fc.num_samples)
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
                prob = fc.edge_prob().mean(0)
                arrays["edge_prob_mean"] = prob.numpy()
                iu = torch.triu_indices(fc.num_nodes, fc.num_nodes, 1)
                expected = prob[:, iu[0], iu[1]].sum(-1) if not fc.directed else (
                    prob.sum((-1, -2)) - prob.diagonal(dim1=-2, dim2=-1).sum(-1))
                summary["expected_edges"] = expected.tolist()
        if fc.x is not None:
            summary["feature_mean_per_step"] = fc.x.mean((0, 2, 3)).tolist()
            summary["feature_std_per_step"] = fc.x.std((0, 2, 3)).tolist()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "forecast.npz", **arrays)
    write_json(out / "summary.json", summary)
    print(f"wrote {out / 'forecast.npz'} and {out / 'summary.json'}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from dyngraphvae.report import evaluate_forecast, write_json

    _positive("--horizon", args.horizon)
    _positive("--samples", args.samples)
    saved = _load_model_dir(args.model)
    graph, meta = _model_data(saved, args)
    start = int(meta["history_snapshots"])
    available = len(graph) - start
    if args.horizon > available:
        raise CLIError(
            f"--horizon {args.horizon} exceeds the {available} held-out test snapshots of "
            f"{meta['dataset']!r}; use --horizon <= {available}"
        )
    metrics = evaluate_forecast(saved.model.eval(), graph, start, args.horizon,
                                num_samples=args.samples, seed=args.seed)
    report = {"model": str(saved.directory), "dataset": meta["dataset"], "forecast": metrics}
    if not args.no_drift:
        from dyngraphvae.evaluation.drift import evaluate_model

        # every origin of the held-out range, scored at h = 1..H (drift vs horizon)
        last_origin = len(graph) - 1
        drift = evaluate_model(saved.model, graph, args.horizon, Path(args.out) / "drift",
                               origins=list(range(start, last_origin + 1)),
                               num_samples=args.samples, seed=args.seed)
        report["drift"] = drift
    path = write_json(Path(args.out) / "metrics.json", report)
    print(f"wrote {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import torch

    from dyngraphvae.data.synthetic import dynamic_sbm
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
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.quick:
        data_kw = dict(num_nodes=30, num_snapshots=12, num_communities=3, num_features=4)
        n_test, n_val, epochs, samples = 3, 2, 8, 20
        model_kw = dict(latent_dim=4, hidden_dim=16, node_embedding_dim=8)
    else:
        data_kw = dict(SYNTHETIC_DATASETS["dynamic_sbm"])
        n_test, n_val, epochs, samples = 5, 3, 300, 100
        model_kw = dict(latent_dim=8, hidden_dim=32)
    if args.epochs is not None:
        epochs = _positive("--epochs", args.epochs)
    graph, communities = dynamic_sbm(seed=args.seed, return_communities=True, **data_kw)
    T = len(graph)
    start = T - n_test
    model_config = ForecasterConfig.for_graph(graph, **model_kw)
    train_config = TrainConfig(
        epochs=epochs, lr=1e-2, val_snapshots=n_val, val_samples=2,
        patience=max(10, epochs // 4),
        kl_schedule={"kind": "linear", "num_steps": max(1, epochs // 4)},
        seed=args.seed, progress_bar=not args.no_progress,
    )
    meta = {"dataset": "dynamic_sbm", "data_seed": args.seed, "data_options": data_kw,
            "num_snapshots": T, "history_snapshots": start, "test_snapshots": n_test}
    t_fit = time.perf_counter()
    res = fit(model_config, train_config, graph[:start], out / "model", metadata=meta)
    fit_s = time.perf_counter() - t_fit
    model = res.model
    metrics = evaluate_forecast(model, graph, start, n_test, num_samples=samples, seed=args.seed)
    plot_training_curves(res.history, out / "training_curves.png")
    plot_horizon_metrics(metrics, out / "forecast_vs_horizon.png")
    with torch.no_grad():
        fc = model.forecast(graph[:start], n_test, 3,
                            generator=torch.Generator().manual_seed(args.seed))
        sampled = fc.sample_adjacency(generator=torch.Generator().manual_seed(args.seed + 1))
    truth = torch.stack([graph.dense_adjacency(start + k) for k in range(n_test)])
    order = torch.argsort(communities[start:start + n_test], dim=-1, stable=True)
    plot_sampled_graphs(truth, sampled, out / "sampled_graphs.png", order=order)

    def mean(key: str) -> float | None:
        vals = [v for v in metrics.get(key, []) if v is not None]
        return sum(vals) / len(vals) if vals else None

    summary = {
        "model_auc": mean("links/model_auc"), "persistence_auc": mean("links/persistence_auc"),
        "model_ap": mean("links/model_ap"), "persistence_ap": mean("links/persistence_ap"),
        "model_crps": mean("features/model_crps"),
        "persistence_crps": mean("features/persistence_crps"),
    }
    report = {
        "dataset": {"name": "dynamic_sbm", "seed": args.seed, **data_kw,
                    "train_snapshots": start - n_val, "val_snapshots": n_val,
                    "test_snapshots": n_test},
        "model_config": model_config.to_dict(),
        "train_config": train_config.to_dict(),
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
    print(f"report: {out.resolve()} (metrics.json, training_curves.png, forecast_vs_horizon.png, "
          f"sampled_graphs.png; model folder {out / 'model'}) in {report['wall_seconds']:.0f} s")
    return 0


def _fmt(v: float | None) -> str:
    return "  n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}"


def _demo_table(metrics: dict[str, Any], summary: dict[str, Any]) -> str:
    lines = ["h  | AUC model | AUC persist | AP model | AP persist | CRPS model | CRPS persist"]
    for i, h in enumerate(metrics["horizon"]):
        def g(k: str, i: int = i) -> float | None:
            return metrics.get(k, [None] * (i + 1))[i]

        lines.append(
            f"{h:<2} | {_fmt(g('links/model_auc')):>9} | {_fmt(g('links/persistence_auc')):>11} | "
            f"{_fmt(g('links/model_ap')):>8} | {_fmt(g('links/persistence_ap')):>10} | "
            f"{_fmt(g('features/model_crps')):>10} | {_fmt(g('features/persistence_crps')):>12}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dyngraphvae",
        description="Probabilistic forecasting of dynamic graphs with temporal graph VAEs.",
    )
    p.add_argument("--verbose", action="store_true", help="show Lightning's info messages")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="train on the built-in dynamic SBM and write a report")
    d.add_argument("--out", default="dyngraphvae-demo", help="report folder (default: %(default)s)")
    d.add_argument("--quick", action="store_true", help="tiny graph and few epochs (seconds)")
    d.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    d.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train a model on a dataset; writes a model folder")
    t.add_argument("--dataset", required=True,
                   help=f"built-in ({', '.join(SYNTHETIC_DATASETS)}) or a data-root dataset")
    t.add_argument("--data-root", default=None, help="folder holding <dataset>/data.npz")
    t.add_argument("--data-seed", type=int, default=0, help="seed of synthetic datasets")
    t.add_argument("--out", required=True, help="model folder to write")
    t.add_argument("--epochs", type=int, default=100)
    t.add_argument("--test-snapshots", type=int, default=None,
                   help="last snapshots held out for `evaluate` (default: 15%%, at least 1)")
    t.add_argument("--val-snapshots", type=int, default=None,
                   help="snapshots before the test ones used for validation (default: 20%%)")
    t.add_argument("--latent-dim", type=int, default=16)
    t.add_argument("--hidden-dim", type=int, default=32)
    t.add_argument("--encoder", default="gcn", help="gcn, sage, gat, gin or graphconv")
    t.add_argument("--components", type=int, default=1, help="transition mixture components")
    t.add_argument("--lr", type=float, default=None)
    t.add_argument("--patience", type=int, default=None)
    t.add_argument("--kl-warmup", type=int, default=0, help="linear KL warm-up steps (0: off)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--accelerator", default=None, help="auto, cpu, gpu, ...")
    t.add_argument("--devices", default=None, help="number of devices (or 'auto')")
    t.add_argument("--strategy", default=None, help="auto, ddp, ddp_spawn, ...")
    t.add_argument("--model-config", default=None, help="ForecasterConfig JSON file")
    t.add_argument("--train-config", default=None, help="TrainConfig JSON file")
    t.add_argument("--resume", default=None, help="checkpoint to resume from, or 'last'")
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=cmd_train)

    f = sub.add_parser("forecast", help="sample future graphs from a trained model")
    f.add_argument("--model", required=True, help="model folder (from train or demo)")
    f.add_argument("--horizon", type=int, required=True)
    f.add_argument("--samples", type=int, default=20)
    f.add_argument("--out", required=True)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--condition-on", choices=("all", "history"), default="all",
                   help="condition on all snapshots (true future, default) or on the training "
                        "history only (forecast the held-out test period)")
    f.add_argument("--dataset", default=None, help="override the dataset in the manifest")
    f.add_argument("--data-root", default=None)
    f.set_defaults(func=cmd_forecast)

    e = sub.add_parser("evaluate", help="score forecasts on the held-out test snapshots")
    e.add_argument("--model", required=True, help="model folder (from train or demo)")
    e.add_argument("--horizon", type=int, required=True)
    e.add_argument("--samples", type=int, default=50)
    e.add_argument("--out", required=True)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--dataset", default=None, help="override the dataset in the manifest")
    e.add_argument("--data-root", default=None)
    e.add_argument("--no-drift", action="store_true",
                   help="skip the multi-origin drift-vs-horizon evaluation (drift/ and drift.png)")
    e.set_defaults(func=cmd_evaluate)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dyngraphvae`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.verbose and args.command in ("demo", "train"):
        import lightning.pytorch  # noqa: F401  (it sets its loggers to INFO on import)

        for name in ("lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.WARNING)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    try:
        return int(args.func(args) or 0)
    except CLIError as err:
        print(f"dyngraphvae {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
