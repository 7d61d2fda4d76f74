#!/usr/bin/env python
r"""Wall time to the validation optimum: what a user waits for, not only seconds per step.

For every dataset, decoder context and training window (truncated back-propagation length, ``none``
= whole sequence), this trains exactly as ``dyngraphvae train --dataset NAME`` does (the CLI's
split: the last 15 % of snapshots held out for testing, 20 % of the rest for validation;
``TrainConfig()`` defaults: Adam 1e-2, up to 100 epochs, early stopping after 20 epochs without
a better validation ELBO, the pair-history warm start) with only ``TrainConfig.window`` changed,
one thread, and records:

* seconds per epoch (one pass over the training snapshots, plus the validation ELBO) and
  optimizer steps per epoch;
* the epoch of the best validation ELBO per step and the wall time from the start of ``fit``
  (warm start included) to the end of that epoch: **time to the validation optimum**;
* the total wall time (the run continues for ``patience`` epochs after the optimum);
* the best validation ELBO per step, and the mean one-step link AUC of the restored model on
  the validation snapshots (what the CLI's ``--decoder-context auto`` compares; 20 samples).

No test snapshot is read. Usage (from the repository root)::

    python benchmarks/time_to_quality.py --datasets uci_collegemsg,bitcoin_alpha \
        --contexts pair_history --windows none,16,8,4 --json ttq.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _recorder():
    from lightning.pytorch.callbacks import Callback

    from dyngraphvae.training.lightning_module import VAL_METRIC

    class Recorder(Callback):
        """Wall clock at the end of every validation (the epoch's end) and its metric."""

        def __init__(self) -> None:
            self.rows: list[dict[str, float]] = []
            self.steps_per_epoch: int | None = None

        def on_validation_epoch_end(self, trainer, pl_module) -> None:
            if trainer.sanity_checking:
                return
            metric = trainer.callback_metrics.get(VAL_METRIC)
            self.rows.append({"epoch": int(trainer.current_epoch), "t": time.perf_counter(),
                              "val": float(metric) if metric is not None else float("nan"),
                              "step": int(trainer.global_step)})

    return Recorder()


def run_one(dataset: str, context: str, window: int | None, data_root: str | None,
            seed: int = 0, epochs: int = 100, adjacency: str | None = None) -> dict[str, Any]:
    import torch

    from dyngraphvae.cli_io import _split_sizes, load_data
    from dyngraphvae.models.config import ForecasterConfig
    from dyngraphvae.nn.adjacency import resolve_method
    from dyngraphvae.selection import validation_link_auc
    from dyngraphvae.training import TrainConfig, fit
    from dyngraphvae.training.lightning_module import num_validation_snapshots

    torch.set_num_threads(1)
    graph = load_data(dataset, data_root, seed=0, weights="auto")
    history = graph[: len(graph) - _split_sizes(len(graph), None)]
    extra = {} if adjacency is None else {"adjacency": adjacency}
    config = ForecasterConfig.for_graph(history, decoder_context=context, **extra)
    train = TrainConfig(epochs=epochs, window=window, seed=seed, progress_bar=False,
                        tensorboard=False, threads=1)
    rec = _recorder()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = fit(config, train, history, Path(tmp) / "run", callbacks=[rec])
        total = time.perf_counter() - t0
    rows = rec.rows
    best = max(range(len(rows)), key=lambda i: rows[i]["val"])
    per_epoch = [b["t"] - a["t"] for a, b in zip(rows, rows[1:], strict=False)]
    num_val = num_validation_snapshots(len(history), train)
    auc = validation_link_auc(res.model, history, num_val, num_samples=20, seed=seed)
    return {
        "dataset": dataset, "context": context, "window": window, "seed": seed,
        "num_nodes": history.num_nodes, "train_snapshots": len(history) - num_val,
        "val_snapshots": num_val,
        "adjacency": resolve_method(config.adjacency, config.num_nodes, config.dense_max_nodes),
        "epochs": len(rows), "best_epoch": rows[best]["epoch"] + 1,
        "steps_per_epoch": rows[0]["step"] if rows else None,
        "s_per_epoch": statistics.median(per_epoch) if per_epoch else rows[0]["t"] - t0,
        "time_to_best_s": rows[best]["t"] - t0, "total_s": total,
        "best_val_elbo_per_step": rows[best]["val"], "val_link_auc": auc,
        "curve": [[r["epoch"] + 1, round(r["t"] - t0, 2), r["val"]] for r in rows],
    }


def table(results: list[dict[str, Any]]) -> str:
    head = ("| dataset | context | likelihood | window | steps/epoch | s/epoch | best epoch "
            "| time to best (s) | total (s) | best val ELBO/step | val link AUC |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n")
    rows = []
    for r in results:
        if "error" in r:
            rows.append(f"| {r['dataset']} | {r['context']} | {r['window']} | error: "
                        f"{r['error']} |||||||")
            continue
        auc = r["val_link_auc"]
        rows.append(
            f"| {r['dataset']} | {r['context']} | {r['adjacency']} | {r['window'] or 'whole'} | "
            f"{r['steps_per_epoch']} | {r['s_per_epoch']:.2f} | {r['best_epoch']} | "
            f"{r['time_to_best_s']:.0f} | {r['total_s']:.0f} | "
            f"{r['best_val_elbo_per_step']:.1f} | "
            f"{'n/a' if auc is None else f'{auc:.1f}'} |")
    return head + "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default="uci_collegemsg,bitcoin_alpha")
    p.add_argument("--contexts", default="pair_history")
    p.add_argument("--windows", default="none,16,8,4",
                   help="comma-separated window lengths; 'none' = whole sequence")
    p.add_argument("--data-root", default=os.environ.get("DYNGRAPHVAE_DATA"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--adjacency", default=None, choices=("auto", "dense", "sparse"),
                   help="override the edge likelihood (default: the recipe's)")
    p.add_argument("--json", default=None, help="append each result to this JSON-lines file")
    args = p.parse_args(argv)
    windows = [None if w == "none" else int(w) for w in args.windows.split(",")]
    results = []
    for ds in args.datasets.split(","):
        for ctx in args.contexts.split(","):
            for w in windows:
                try:
                    r = run_one(ds, ctx, w, args.data_root, args.seed, args.epochs,
                                args.adjacency)
                except Exception as err:  # shown in the table, never dropped
                    r = {"dataset": ds, "context": ctx, "window": w,
                         "error": f"{type(err).__name__}: {err}"[:200]}
                results.append(r)
                print(json.dumps({k: v for k, v in r.items() if k != "curve"}), flush=True)
                if args.json:
                    with open(args.json, "a") as fh:
                        fh.write(json.dumps(r) + "\n")
    print(table(results))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
