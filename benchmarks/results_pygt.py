"""PyTorch Geometric Temporal node forecasting (lags 4, temporal_signal_split): MSE next to the
published/tutorial numbers and baselines, plus CRPS and 90% interval coverage.

    export DYNGRAPHVAE_DATA=../shared/datasets
    python benchmarks/results_pygt.py --dataset chickenpox --train-ratio 0.2
    python benchmarks/results_pygt.py --dataset chickenpox --train-ratio 0.8
    python benchmarks/results_pygt.py --dataset pedalme_london --train-ratio 0.8

Writes benchmarks/results/pygt_<dataset>_<ratio>.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from dyngraphvae.data import load_dataset
from dyngraphvae.experiments import pygt_node_protocol
from dyngraphvae.models.config import ForecasterConfig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="chickenpox")
    ap.add_argument("--train-ratio", type=float, default=0.8)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--replicas", type=int, default=5)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--feature-min-scale", type=float, default=1e-3,
                    help="floor on the feature decoder's standard deviation")
    ap.add_argument("--decoder-context", default="none", choices=["none", "previous", "history"],
                    help="autoregressive decoder (ForecasterConfig.decoder_context)")
    ap.add_argument("--feature-lags", default="1",
                    help="AR(L) feature mean on the last L observed values "
                         "(ForecasterConfig.feature_lags; needs --decoder-context); 'auto': "
                         "chosen on the validation snapshots (select_feature_lags)")
    ap.add_argument("--feature-neighbours", action="store_true",
                    help="the AR feature mean also reads the neighbours' mean lags "
                         "(ForecasterConfig.feature_neighbours; needs --decoder-context)")
    ap.add_argument("--full-lags", action="store_true",
                    help="the feature likelihood only where all L lags are observed "
                         "(ForecasterConfig.feature_full_lags)")
    ap.add_argument("--window", type=int, default=None,
                    help="truncated-BPTT window (TrainConfig.window; default whole sequence)")
    ap.add_argument("--tag", default=None, help="suffix of the output file")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"),
                    help="output folder (default: benchmarks/results, wherever it is run from)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    signal = load_dataset(args.dataset, args.data_root, lags=4)
    auto_lags = args.feature_lags == "auto"
    ctx = {} if args.decoder_context == "none" else {"decoder_context": args.decoder_context,
                                                     "feature_lags": 1 if auto_lags
                                                     else int(args.feature_lags),
                                                     "feature_neighbours": args.feature_neighbours,
                                                     "feature_full_lags": args.full_lags}
    cfg = ForecasterConfig(num_nodes=signal.num_nodes, num_features=1, directed=signal.directed,
                           node_input="both", decode_edges=False, latent_dim=8, hidden_dim=32,
                           feature_min_scale=args.feature_min_scale, **ctx)
    tk = dict(epochs=args.epochs, replicas=args.replicas, lr=args.lr, patience=args.patience)
    if args.window is not None:
        tk["window"] = args.window
    t0 = time.perf_counter()
    res = pygt_node_protocol(signal, cfg, train_ratio=args.train_ratio, seeds=args.seeds,
                             num_samples=args.samples, train_kwargs=tk, choose_lags=auto_lags)
    res["wall_seconds"] = time.perf_counter() - t0
    res["dataset"] = args.dataset
    res["args"] = vars(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.decoder_context == "none" else f"_{args.decoder_context}"
    suffix += f"_{args.tag}" if args.tag else ""
    path = out / f"pygt_{args.dataset}_{args.train_ratio}{suffix}.json"
    path.write_text(json.dumps(res, indent=1))
    s = res["summary"]
    print(args.dataset, args.train_ratio, {k: f"{v['mean']:.4f} ± {v['std']:.4f}"
                                           for k, v in s.items()}, res["baselines_mse"],
          res["baseline_scores"])
    print(f"wall {res['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
