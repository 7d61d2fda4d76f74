"""VGRNN protocol (dynamic link prediction and new-link prediction) on vgrnn_enron10 / vgrnn_colab.

Regenerates the VGRNN table of docs/results.md:

    python benchmarks/results_vgrnn.py --dataset vgrnn_enron10 --data-root ../shared/datasets
    python benchmarks/results_vgrnn.py --dataset vgrnn_colab --data-root ../shared/datasets
    python benchmarks/results_vgrnn.py --dataset vgrnn_enron10 --decoder-context history

Writes benchmarks/results/vgrnn_<dataset>[_<decoder context>].json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch
from results_links import add_refit_refinements, refit_candidates

from dyngraphvae.data import load_dataset
from dyngraphvae.experiments import vgrnn_link_protocol
from dyngraphvae.models.config import ForecasterConfig

PUBLISHED = {  # VGRNN_RESULTS.md, Tables 3 and 4 (AUC, AP; mean ± std in %)
    "vgrnn_enron10": {"VGRNN": (93.10, 0.57, 93.29, 0.69, 88.43, 0.75, 87.57, 0.57),
                      "SI-VGRNN": (93.93, 1.03, 94.44, 0.85, 88.60, 0.95, 87.88, 0.84)},
    "vgrnn_colab": {"VGRNN": (85.95, 0.49, 87.77, 0.79, 77.09, 0.23, 79.63, 0.94),
                    "SI-VGRNN": (85.45, 0.91, 88.36, 0.73, 77.95, 0.41, 81.26, 0.38)},
}
KEYS = ("link_auc", "link_ap", "new_link_auc", "new_link_ap")


def markdown(result: dict, dataset: str) -> str:
    lines = ["| method | link AUC | link AP | new-link AUC | new-link AP |",
             "|---|---|---|---|---|"]
    for name, v in PUBLISHED[dataset].items():
        cells = [f"{v[2 * i]:.2f} ± {v[2 * i + 1]:.2f}" for i in range(4)]
        lines.append(f"| {name} (paper) | " + " | ".join(cells) + " |")
    for name, d in result["summary"].items():
        cells = [f"{d[k]['mean']:.2f} ± {d[k]['std']:.2f}" for k in KEYS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="vgrnn_enron10")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--replicas", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--patience", type=int, default=15)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--decoder-context", default="none",
                    choices=["none", "previous", "history", "pair_history"],
                    help="autoregressive decoder (ForecasterConfig.decoder_context)")
    ap.add_argument("--context-refit", default="0",
                    help="ForecasterConfig.context_refit: refit the edge context term at every "
                         "origin on the last W snapshots; 0: off; 'auto': choose among "
                         "--refit-candidates per seed on the validation snapshot")
    ap.add_argument("--refit-candidates", nargs="+",
                    default=["0", "10", "10+degrees", "10+rates", "10+rates+cn"],
                    help="with --context-refit auto: the candidates (refit_settings)")
    add_refit_refinements(ap)
    ap.add_argument("--tag", default="", help="suffix of the output file")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"),
                    help="output folder (default: benchmarks/results, wherever it is run from)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = load_dataset(args.dataset, args.data_root)
    ctx = {} if args.decoder_context == "none" else {"decoder_context": args.decoder_context}
    cfg = ForecasterConfig.for_graph(g, node_input="identity", latent_dim=16, hidden_dim=32, **ctx)
    tk = dict(epochs=args.epochs, replicas=args.replicas, lr=args.lr, patience=args.patience)
    t0 = time.perf_counter()
    auto = args.context_refit == "auto"
    if not auto and int(args.context_refit):
        cfg = dataclasses.replace(cfg, context_refit=int(args.context_refit))
    res = vgrnn_link_protocol(g, cfg, seeds=args.seeds, num_samples=args.samples, train_kwargs=tk,
                              refit_windows=(refit_candidates(args.refit_candidates) if auto
                                             else None),
                              refit_refinements=tuple(args.refit_refinements),
                              refit_step_margin=args.refit_step_margin)
    res["wall_seconds"] = time.perf_counter() - t0
    res["dataset"] = args.dataset
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.decoder_context == "none" else f"_{args.decoder_context}"
    suffix += f"_{args.tag}" if args.tag else ""
    (out / f"vgrnn_{args.dataset}{suffix}.json").write_text(json.dumps(res, indent=1))
    print(markdown(res, args.dataset))
    print(f"wall {res['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
