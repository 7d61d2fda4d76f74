"""Wall time of ``train``'s validation scoring of refit candidates on a saved model folder.

    export DYNGRAPHVAE_DATA=../shared/datasets
    python benchmarks/score_timing.py --model runs/bitcoin --dataset bitcoin_alpha --candidates 0

Scores each candidate as ``dyngraphvae train`` does (the validation origins and horizon recorded
in the folder's manifest, 20 samples, the training seed) on one thread and prints a table of
seconds and scores. Run it with ``PYTHONPATH`` at two commits side by side (one per core) to
compare code versions on one machine under one load: the scores must agree to every digit.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
from results_links import refit_candidates

from dyngraphvae.cli_io import load_data
from dyngraphvae.evaluation.forecast_choice import choose_context_refit
from dyngraphvae.training.io import load_saved


def saved_choice(folder: str, dataset: str, data_root: str | None) -> tuple[Any, Any, Any, dict]:
    """``(saved, model, history, refit_selection)`` of a ``dyngraphvae train`` folder: the model
    in eval mode, the dataset cut to the training history, and the manifest's choice record
    (validation origins, horizon, scores)."""
    saved = load_saved(folder)
    meta = saved.metadata
    history = load_data(dataset, data_root)[: int(meta["history_snapshots"])]
    return saved, saved.model.eval(), history, meta["refit_selection"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="model folder of dyngraphvae train")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--candidates", nargs="+", default=["0"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    saved, model, graph, sel = saved_choice(args.model, args.dataset, args.data_root)
    print(f"{len(sel['origins'])} validation origins, h = 1..{sel['horizon']}, "
          f"{graph.num_nodes} nodes")
    print("| candidate | seconds | score per target edge |\n|---|---|---|")
    for cand, c in zip(args.candidates, refit_candidates(args.candidates), strict=True):
        t = time.perf_counter()
        _, scores = choose_context_refit(model, graph, sel["origins"], sel["horizon"], (c,),
                                         num_samples=20, seed=int(saved.train_config.seed))
        print(f"| {cand} | {time.perf_counter() - t:.1f} | {scores[c]:.12f} |", flush=True)


if __name__ == "__main__":
    main()
