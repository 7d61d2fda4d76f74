"""What each feature group of the likelihood-fitted pair-history regression is worth, on
validation snapshots only.

For every validation origin ``o`` (the ``--val`` snapshots before the ``--test`` held-out ones)
and lead ``h`` with target ``o + h − 1`` inside the validation block, the regression
(``PairHistoryRegression(horizon=h, weighting="natural")``, fitted on ``G_{<o}``) scores the
target's edges against as many uniform non-edges, with all 14 features and with a group of them
set to zero (a zero column is constant after standardisation, so the fit ignores it). Prints the
link AUC per (origin, h) and the mean.

    python benchmarks/pair_history_ablation.py --dataset vgrnn_enron10 --test 2 --val 2
    python benchmarks/pair_history_ablation.py --dataset vgrnn_colab --test 3 --val 2
    python benchmarks/pair_history_ablation.py --dataset uci_collegemsg --test 5 --val 3
"""

from __future__ import annotations

import argparse
import json

import torch

import dyngraphvae.evaluation.pair_history as ph
from dyngraphvae.data import load_dataset
from dyngraphvae.evaluation import link_metrics, link_pairs

GROUPS = {"all": [], "no_common_neighbours": [11], "no_counts": [0, 1, 2],
          "no_counts_no_common_neighbours": [0, 1, 2, 11]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--test", type=int, required=True, help="held-out snapshots (never read)")
    ap.add_argument("--val", type=int, required=True, help="validation snapshots before them")
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = load_dataset(args.dataset, args.data_root)
    T = len(g) - args.test
    features = ph.pair_history_features

    def without(cols: list[int]):
        def f(history, pairs, rates=(0.5, 0.8, 0.95)):
            x = features(history, pairs, rates).clone()
            x[:, cols] = 0.0
            return x
        return f

    res: dict[str, list[float]] = {k: [] for k in GROUPS}
    try:
        for origin in range(T - args.val, T):
            for h in range(1, T - origin + 1):
                gen = torch.Generator().manual_seed(100 * origin + h)
                pos, neg = link_pairs(g, origin + h - 1, "random", history_end=origin,
                                      generator=gen)
                pairs, p = torch.cat([pos, neg], 1), pos.size(1)
                for name, cols in GROUPS.items():
                    ph.pair_history_features = without(cols)
                    s = ph.PairHistoryRegression(horizon=h, weighting="natural").score_pairs(
                        g[:origin], pairs)
                    res[name].append(100 * link_metrics(s[:p], s[p:]).auc)
                print(json.dumps({"origin": origin, "h": h,
                                  **{k: round(v[-1], 2) for k, v in res.items()}}), flush=True)
    finally:
        ph.pair_history_features = features
    print(json.dumps({"mean": {k: round(sum(v) / len(v), 2) for k, v in res.items()}}))


if __name__ == "__main__":
    main()
