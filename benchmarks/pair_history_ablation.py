"""Which features of the pair-history regression carry its link forecasts? (docs/results.md, 3d)

    export DYNGRAPHVAE_DATA=../shared/datasets
    python benchmarks/pair_history_ablation.py --dataset uci_collegemsg
    python benchmarks/pair_history_ablation.py --dataset bitcoin_alpha --start 60

The regression (``PairHistoryRegression``, refitted at every origin on that origin's history) with
feature subsets, scored like ``results_links.py`` (AUC with random and with historical negatives,
MRR against 100 corrupted destinations) at h = 1..5 on the **validation** origins of that
protocol (the ``--num-val`` origins before the first of the ``--num-origins`` test origins whose
targets stay inside the validation block): a design question about the decoder is answered on
validation data, never on the test origins. Subsets: ``all`` 14 features; ``no_cn`` without
common neighbours; ``no_rec`` without the two recency features; ``ours`` the features the
pair-history decoder had before its recency term (decayed counts at 0.5 / 0.8 / 0.95, out-degree
of u, in-degree of v, their product); ``ours+cn``; ``ours+rec``.
"""

from __future__ import annotations

import argparse

import torch
from results_links import unweighted

from dyngraphvae.data import load_dataset
from dyngraphvae.evaluation import pair_history as ph
from dyngraphvae.experiments.links import (
    _historical_pairs,
    _link_scores,
    _target_pairs,
    link_protocol_origins,
)

SUBSETS = {
    "all": list(range(14)),
    "no_cn": [i for i in range(14) if i != 11],
    "no_rec": [i for i in range(14) if i not in (12, 13)],
    "ours": [3, 4, 5, 6, 7, 10],
    "ours+cn": [3, 4, 5, 6, 7, 10, 11],
    "ours+rec": [3, 4, 5, 6, 7, 10, 12, 13],
    "ours+rec+count": [0, 3, 4, 5, 6, 7, 10, 12, 13],
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="uci_collegemsg")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--horizon", type=int, default=5)
    ap.add_argument("--num-origins", type=int, default=20)
    ap.add_argument("--num-val", type=int, default=10)
    ap.add_argument("--subsets", nargs="+", default=list(SUBSETS), choices=list(SUBSETS))
    ap.add_argument("--weighting", default="balanced", choices=["balanced", "natural"],
                    help="PairHistoryRegression.weighting (natural: the full likelihood)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = unweighted(load_dataset(args.dataset, args.data_root))[args.start:]
    H = args.horizon
    _, _, origins = link_protocol_origins(g, H, num_origins=args.num_origins,
                                          num_val=args.num_val)
    full = ph.pair_history_features
    print(f"{args.dataset}: validation origins {origins[0]}..{origins[-1]}, h = 1..{H}, "
          f"{args.weighting} rows\n")
    print("| features | metric | " + " | ".join(f"h={k + 1}" for k in range(H)) + " |")
    print("|---" * (H + 2) + "|")
    try:
        for name in args.subsets:
            cols = SUBSETS[name]
            ph.pair_history_features = (
                lambda hist, pairs, rates=(0.5, 0.8, 0.95), cols=cols: full(hist, pairs,
                                                                           rates)[:, cols])
            rows = [[] for _ in range(H)]
            for t in origins:
                for k in range(H):
                    tp = _target_pairs(g, t + k, 0, 100, 2000)
                    if tp is None:
                        continue
                    req = torch.cat([tp.all_pairs(),
                                     _historical_pairs(g, t, t + k, tp.pos.size(1), 0)], 1)
                    s = ph.PairHistoryRegression(horizon=k + 1,
                                                  weighting=args.weighting).score_pairs(g[:t], req)
                    rows[k].append(_link_scores(s, tp, 100))
            for label, i in (("AUC", 0), ("AUC, hist. neg.", 3), ("MRR", 2)):
                cells = [sum(r[i] for r in v) / len(v) for v in rows]
                print(f"| {name} | {label} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    finally:
        ph.pair_history_features = full


if __name__ == "__main__":
    main()
