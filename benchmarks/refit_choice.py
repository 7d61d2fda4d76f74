"""The automatic choice of the per-origin refit on the validation origins, per seed.

    export DYNGRAPHVAE_DATA=../shared/datasets
    python benchmarks/refit_choice.py --dataset uci_collegemsg --seeds 0 1 2 \
        --windows 0 10 10+degrees 10+rates \
        --out benchmarks/results/refit_choice_uci_collegemsg_four.json
    python benchmarks/refit_choice.py --dataset bitcoin_alpha --start 60 --seeds 0 1 2 \
        --windows 0 10 10+degrees 10+rates \
        --out benchmarks/results/refit_choice_bitcoin_alpha_four.json

Trains the default link recipe exactly as ``results_links.py`` does (``--decoder-context
pair_history --history-decay 0.9 --epochs 100 --replicas 1 --patience 20 --window 2
--val-samples 4``; the printed validation ELBO identifies the model with the stored runs') and
runs :func:`~dyngraphvae.evaluation.forecast_choice.choose_context_refit` on the protocol's
validation origins with the candidates of ``--windows`` (``0``: the trained weights, iterated;
``10``: the refit on 10 snapshots, with its snapshot effect unless ``--no-refit-effect``;
``10+degrees`` / ``10+rates``: with the degree columns, cumulative / as log rates;
``10+rates+cn``: and the common-neighbour column; ``dyngraphvae train`` uses these five): the
pairwise log
score per target edge of each, and the choice. A candidate's score does not depend on the others
(each is scored on the same seeded pairs with a fresh seeded generator).
``results_links.py --context-refit auto`` makes the same choice inside the protocol and then
scores every origin with it; since the refit changes forecasts only, its rows equal those of the
stored run of the chosen candidate.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from results_links import refit_candidates, unweighted

from dyngraphvae.data import load_dataset
from dyngraphvae.evaluation.forecast_choice import candidate_rows, greedy_refit_choice
from dyngraphvae.experiments.links import link_protocol_origins
from dyngraphvae.experiments.runs import train_forecaster
from dyngraphvae.models import ForecasterConfig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="uci_collegemsg")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--horizon", type=int, default=5)
    ap.add_argument("--windows", nargs="+", default=["0", "10"],
                    help="refit candidates: a window W, 'W+degrees' or 'W+rates', each "
                         "optionally ending in '+cn' (refit_settings)")
    ap.add_argument("--refinements", nargs="*", default=[],
                    help="greedy steps after the candidates (forecast_choice.refined)")
    ap.add_argument("--margins", nargs="+", type=float, default=[0.0],
                    help="the choice with each step margin (standard errors of a step's gain; "
                         "the first is the recorded 'chosen')")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--refit-degrees", action="store_true",
                    help="ForecasterConfig.context_refit_degrees (cumulative degree columns; "
                         "a candidate's own settings replace it)")
    ap.add_argument("--no-refit-effect", dest="refit_effect", action="store_false",
                    help="ForecasterConfig.context_refit_effect=False")
    ap.add_argument("--epochs", type=int, default=100,
                    help="training epochs (fewer for --time-candidates: the refit's cost does "
                         "not depend on how well the model is trained)")
    ap.add_argument("--time-candidates", action="store_true",
                    help="record the wall seconds of each candidate's scoring in the choice")
    ap.add_argument("--out", default=None, help="write the choices as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = unweighted(load_dataset(args.dataset, args.data_root))[args.start:]
    H = args.horizon
    _, T0, val = link_protocol_origins(g, H, num_origins=20, num_val=10)
    candidates = refit_candidates(args.windows)
    out = []
    for seed in args.seeds:
        cfg = ForecasterConfig.for_graph(g, latent_dim=16, hidden_dim=32, adjacency="sparse",
                                         num_negatives=20000, decoder_context="pair_history",
                                         history_decay=0.9,
                                         context_refit_effect=args.refit_effect,
                                         context_refit_degrees=args.refit_degrees)
        tk = dict(epochs=args.epochs, replicas=1, lr=0.01, patience=20, free_bits=0.0,
                  val_samples=4, window=2, overshooting=1.0, overshooting_shared=False)
        model, info = train_forecaster(cfg, g[:T0], seed=seed, val_snapshots=10, **tk)
        t0 = time.perf_counter()
        scored = candidate_rows(model, g, val, H, num_samples=args.samples, seed=seed)
        seconds: dict[str, float] = {}

        def rows(w, _seconds=seconds, _scored=scored):
            # every candidate is scored once; the choices with each margin read the same rows
            t = time.perf_counter()
            out = _scored(w)
            _seconds.setdefault(str(w), time.perf_counter() - t)
            return out

        picks, scores = {}, {}
        for margin in args.margins:
            picks[str(margin)], visited = greedy_refit_choice(
                rows, candidates, tuple(args.refinements), origins=val, horizon=H,
                step_margin=margin)
            scores.update(visited)
        row = {"seed": seed, "best_val_elbo_per_step": info["best_val_elbo_per_step"],
               "epochs": info["epochs"], "scores": scores,
               "chosen": picks[str(args.margins[0])], "chosen_by_margin": picks,
               "choice_seconds": time.perf_counter() - t0,
               **({"candidate_seconds": seconds} if args.time_candidates else {})}
        print(json.dumps(row), flush=True)
        out.append(row)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"dataset": args.dataset, "validation_origins": val,
                       "context_refit_effect": args.refit_effect,
                       "context_refit_degrees": args.refit_degrees, "runs": out}, f, indent=1)


if __name__ == "__main__":
    main()
