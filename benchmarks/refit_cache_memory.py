"""Peak memory of a rolling evaluation with the per-origin refit, with and without pruning the
refit's cache (``dyngraphvae.models.refit.prune_refit_cache``).

    export DYNGRAPHVAE_DATA=../shared/datasets
    python benchmarks/refit_cache_memory.py --model runs/uci --dataset uci_collegemsg \\
        --candidate 10+degrees+pc --first-origin 15

Scores the forecasts of a saved model folder from every origin ``first-origin ..
history − horizon`` with one refit candidate, as ``dyngraphvae train`` scores its validation
origins (the pairwise log score, 20 samples, the training seed), once as the package runs it and
once with the pruning replaced by a no-op (everything the rolling evaluation ever built is
kept). Each run is its own process, so its peak resident memory is its own; the two scores must
agree to every digit. Prints one table.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch
from results_links import refit_candidates
from score_timing import saved_choice


def _run(args: argparse.Namespace, prune: bool) -> dict:
    import dyngraphvae.models.refit as refit
    from dyngraphvae.evaluation.forecast_choice import choose_context_refit

    torch.set_num_threads(1)
    if not prune:
        refit.prune_refit_cache = lambda *a, **k: None
    saved, model, graph, sel = saved_choice(args.model, args.dataset, args.data_root)
    h = int(sel["horizon"])
    origins = list(range(args.first_origin, len(graph) - h + 1))
    (cand,) = refit_candidates([args.candidate])
    t = time.perf_counter()
    _, scores = choose_context_refit(model, graph, origins, h, (cand,), num_samples=20,
                                     seed=int(saved.train_config.seed))
    return {"origins": len(origins), "score": scores[cand],
            "seconds": time.perf_counter() - t,
            "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True, help="model folder of dyngraphvae train")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--candidate", default="10", help="a refit candidate (refit_settings)")
    ap.add_argument("--first-origin", type=int, required=True)
    ap.add_argument("--child", choices=["prune", "keep"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_run(args, args.child == "prune")))
        return
    rows = {}
    for mode in ("keep", "prune"):
        out = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--child", mode],
                             check=True, capture_output=True, text=True).stdout
        rows[mode] = json.loads(out.strip().splitlines()[-1])
    print(f"{rows['keep']['origins']} origins, candidate {args.candidate}, one thread")
    print("| refit cache | seconds | peak RSS (MB) | score per target edge |\n|---|---|---|---|")
    for mode, name in (("keep", "kept whole"), ("prune", "pruned (the package)")):
        r = rows[mode]
        print(f"| {name} | {r['seconds']:.1f} | {r['max_rss_mb']:.0f} | {r['score']:.12f} |")
    ratio = rows["prune"]["max_rss_mb"] / rows["keep"]["max_rss_mb"]
    print(f"peak RSS ratio pruned / kept: {ratio:.2f}; scores equal: "
          f"{rows['prune']['score'] == rows['keep']['score']}")


if __name__ == "__main__":
    main()
