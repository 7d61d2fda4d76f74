"""Score a trained model folder (from ``dyngraphvae train``) with each refit candidate.

The refit changes forecasts only, so one trained model is scored as it is with every candidate:
the validation scores exactly as ``train`` computes them (the pairwise log score per target edge
of the forecasts from the validation origins, ``selection.select_context_refit``) and, for the
report only, the test rows of ``dyngraphvae evaluate`` (AUC and MRR, h = 1..H, against edge
frequency and the likelihood-fitted pair-history regression). Nothing is chosen on test.

    python benchmarks/refit_rescore.py --model runs/enron --dataset vgrnn_enron10 \\
        --candidates 0 10 10+degrees 10+rates 10+cn 10+rates+cn
"""

from __future__ import annotations

import argparse
import json

import torch
from results_links import refit_candidates

from dyngraphvae.cli_io import load_data
from dyngraphvae.evaluation.forecast_choice import choose_context_refit, refit_settings
from dyngraphvae.report import evaluate_forecast
from dyngraphvae.selection import refit_validation_origins
from dyngraphvae.training import TrainConfig
from dyngraphvae.training.io import load_saved
from dyngraphvae.training.lightning_module import num_validation_snapshots


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="model folder of dyngraphvae train")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--candidates", nargs="+",
                    default=["0", "10", "10+degrees", "10+rates", "10+cn", "10+rates+cn"])
    ap.add_argument("--samples", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    saved = load_saved(args.model)
    model = saved.model.eval()
    graph = load_data(args.dataset, args.data_root, seed=0, weights="auto")
    start = int(saved.metadata["history_snapshots"])
    history = graph[:start]
    with open(f"{args.model}/train_config.json") as f:
        tc = TrainConfig.from_dict(json.load(f))
    origins, h = refit_validation_origins(history, tc)  # those `train` scored
    num_val = num_validation_snapshots(len(history), tc)
    cands = refit_candidates(args.candidates)
    best, scores = choose_context_refit(model, history, origins, h, cands,
                                        num_samples=args.samples, seed=tc.seed)
    print(json.dumps({"validation_origins": origins, "horizon": h, "chosen": best,
                      "scores": {str(k): v for k, v in scores.items()}}), flush=True)
    for c in cands:
        for k, v in refit_settings(c).items():
            setattr(model.config, k, v)
        m = evaluate_forecast(model, graph, start, len(graph) - start, num_samples=args.samples,
                              seed=0, metrics=["links"], train_end=start - num_val)
        row = {k: [round(100 * x, 2) for x in m[f"links/{k}"]]
               for k in ("model_auc", "model_mrr", "frequency_auc", "frequency_mrr",
                         "pair_history_ml_auc", "pair_history_ml_mrr")}
        print(json.dumps({"candidate": str(c), **row}), flush=True)


if __name__ == "__main__":
    main()
