"""Multi-horizon link forecasting (AUC / AP / MRR at h = 1..5) on uci_collegemsg and
bitcoin_alpha next to persistence and edge frequency.

    python benchmarks/results_links.py --dataset uci_collegemsg --data-root ../shared/datasets
    python benchmarks/results_links.py --dataset bitcoin_alpha --data-root ../shared/datasets

The origin is T - 5; the model trains on snapshots [0, T - 5) (last 5 validate) and the baselines
see the same history. Writes benchmarks/results/links_<dataset>.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from dyngraphvae.data import load_dataset
from dyngraphvae.evaluation.protocols import link_forecast_protocol
from dyngraphvae.models.config import ForecasterConfig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="uci_collegemsg")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--replicas", type=int, default=4)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--patience", type=int, default=4)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--horizon", type=int, default=5)
    ap.add_argument("--negatives", type=int, default=20000,
                    help="sparse edge likelihood: uniformly sampled non-edges per snapshot")
    ap.add_argument("--decoder-context", default="none", choices=["none", "previous", "history"],
                    help="autoregressive decoder (ForecasterConfig.decoder_context)")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = load_dataset(args.dataset, args.data_root)
    ctx = {} if args.decoder_context == "none" else {"decoder_context": args.decoder_context}
    cfg = ForecasterConfig.for_graph(g, latent_dim=16, hidden_dim=32, adjacency="sparse",
                                     num_negatives=args.negatives, **ctx)
    tk = dict(epochs=args.epochs, replicas=args.replicas, lr=args.lr, patience=args.patience)
    t0 = time.perf_counter()
    res = link_forecast_protocol(g, cfg, horizon=args.horizon, seeds=args.seeds,
                                 num_samples=args.samples, train_kwargs=tk)
    res["wall_seconds"] = time.perf_counter() - t0
    res["dataset"] = args.dataset
    res["args"] = vars(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.decoder_context == "none" else f"_{args.decoder_context}"
    (out / f"links_{args.dataset}{suffix}.json").write_text(json.dumps(res, indent=1))
    for name, d in res["summary"].items():
        print(name, {k: [round(x["mean"], 2) for x in v] for k, v in d.items()})
    print(f"wall {res['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
