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

import torch

from dyngraphvae.cli_io import load_data
from dyngraphvae.evaluation.forecast_choice import choose_context_refit
from dyngraphvae.training.io import load_saved


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="model folder of dyngraphvae train")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--candidates", nargs="+", default=["0"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    saved = load_saved(args.model)
    model = saved.model.eval()
    sel = saved.metadata["refit_selection"]
    graph = load_data(args.dataset, args.data_root)[: int(saved.metadata["history_snapshots"])]
    print(f"{len(sel['origins'])} validation origins, h = 1..{sel['horizon']}, "
          f"{graph.num_nodes} nodes")
    print("| candidate | seconds | score per target edge |\n|---|---|---|")
    for cand in args.candidates:
        c = int(cand) if cand.isdigit() else cand
        t = time.perf_counter()
        _, scores = choose_context_refit(model, graph, sel["origins"], sel["horizon"], (c,),
                                         num_samples=20, seed=int(saved.train_config.seed))
        print(f"| {cand} | {time.perf_counter() - t:.1f} | {scores[c]:.12f} |", flush=True)


if __name__ == "__main__":
    main()
