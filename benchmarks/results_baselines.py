"""The baseline rows of the link tables of docs/results.md: EdgeBank, the pair-history regression
and historical negatives.

    export DYNGRAPHVAE_DATA=../shared/datasets
    python benchmarks/results_baselines.py

No model is trained: the protocols' baselines-only paths (``vgrnn_link_protocol(g, None)``,
``link_baselines_protocol``) score persistence, edge frequency, EdgeBank∞, EdgeBank over the
test span (Poursafaei et al. 2022) and the pair-history regression on exactly the pairs of the
published runs (the pairs of a target depend only on the seed and the target). Before anything
is printed, the persistence and frequency rows are checked against those stored in
``benchmarks/results/*.json`` by the full runs: equal values mean equal pairs, so the new rows
belong in the same tables. Historical-negative columns (pairs seen before the target's history
end but absent from it) are new; the model's values there need a re-run of the model and are not
claimed here.

Writes benchmarks/results/baselines_<dataset>.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from dyngraphvae.data import load_dataset
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.experiments import link_baselines_protocol, vgrnn_link_protocol

RESULTS = Path(__file__).resolve().parent / "results"
NAMES = {"persistence": "persistence A_T", "frequency": "edge frequency",
         "edgebank": "EdgeBank∞", "edgebank_tw": "EdgeBank_tw", "vgae": "static VGAE",
         "pair_history": "pair-history regression",
         "pair_history_ml": "pair-history regression, full likelihood"}


def unweighted(g: TemporalGraph) -> TemporalGraph:
    return TemporalGraph([g.edges(t) for t in range(len(g))], g.num_nodes, directed=g.directed,
                         name=g.name)


def _check(stored: dict, new: dict, names: list[str], keys: list[str], where: str) -> None:
    for name in names:
        for key in keys:
            a, b = stored[name][key], new[name][key]
            pairs = a if isinstance(a, list) else [a]
            news = b if isinstance(b, list) else [b]
            for x, y in zip(pairs, news, strict=True):
                if x is None or y is None:
                    continue
                if abs(x["mean"] - y["mean"]) > 1e-6:
                    raise SystemExit(f"{where}: {name} {key} differs from the stored run "
                                     f"({x['mean']} vs {y['mean']}): not the same pairs")


def vgrnn(name: str, root: str | None) -> tuple[dict, str]:
    g = load_dataset(name, root)
    t0 = time.perf_counter()
    res = vgrnn_link_protocol(g, None, seeds=(0, 1, 2))
    res["wall_seconds"] = time.perf_counter() - t0
    stored = json.loads((RESULTS / f"vgrnn_{name}.json").read_text())["summary"]
    _check(stored, res["summary"], ["persistence", "frequency", "vgae"],
           ["link_auc", "link_ap", "new_link_auc", "new_link_ap"], name)
    cols = ["link_auc", "link_ap", "new_link_auc", "new_link_ap", "hist_link_auc",
            "hist_link_ap"]
    lines = [f"| {name} (baselines) | link AUC | link AP | new-link AUC | new-link AP | "
             "AUC, historical neg. | AP, historical neg. |", "|---" * 7 + "|"]
    for key in [k for k in NAMES if k in res["summary"]]:
        d = res["summary"][key]
        lines.append(f"| {NAMES[key]} | " + " | ".join(
            f"{d[c]['mean']:.2f} ± {d[c]['std']:.2f}" for c in cols) + " |")
    return res, "\n".join(lines)


def many_origins(name: str, root: str | None, tag: str = "") -> tuple[dict, str]:
    suffix = f"_{tag}" if tag else ""
    stored = json.loads((RESULTS / f"links_{name}{suffix}.json").read_text())
    g = unweighted(load_dataset(name, root))
    start = int(stored["args"].get("start", 0) or 0)
    if start:
        g = g[start:]
    t0 = time.perf_counter()
    res = link_baselines_protocol(g, stored["origins"], horizon=stored["horizon"],
                                  seeds=stored["seeds"],
                                  num_mrr_negatives=stored["num_mrr_negatives"],
                                  max_queries=stored["max_queries"])
    res["wall_seconds"] = time.perf_counter() - t0
    res["snapshots_used"] = stored.get("snapshots_used")
    _check(stored["summary"], res["summary"], ["persistence", "frequency"], ["auc", "ap", "mrr"],
           name)
    H = res["horizon"]
    lines = []
    metrics = (("auc", "AUC"), ("ap", "AP"), ("mrr", "MRR"),
               ("auc_hist", "AUC, historical neg."), ("ap_hist", "AP, historical neg."))
    for m, label in metrics:
        lines += [f"| {name} test {label} | " + " | ".join(f"h={k + 1}" for k in range(H))
                  + " | mean over h |", "|---" * (H + 2) + "|"]
        for key in [k for k in NAMES if k in res["summary"]]:
            cells = [f"{c['mean']:.2f} ± {c['std']:.2f}" for c in res["summary"][key][m]]
            o = res["summary_mean_over_h"][key][m]
            cells.append(f"{o['mean']:.2f} ± {o['std']:.2f}")
            lines.append(f"| {NAMES[key]} | " + " | ".join(cells) + " |")
        lines.append("")
    return res, "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--datasets", nargs="+",
                    default=["vgrnn_enron10", "vgrnn_colab", "uci_collegemsg", "bitcoin_alpha"])
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--tag", default="", help="read links_<dataset>_<tag>.json (multi-origin "
                    "datasets): the stored run whose pairs are scored")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    for name in args.datasets:
        if name.startswith("vgrnn_"):
            res, table = vgrnn(name, args.data_root)
        else:
            res, table = many_origins(name, args.data_root, args.tag)
        print(f"\n{name} ({res['wall_seconds']:.0f} s; persistence and frequency equal the "
              "stored full run: same pairs)\n")
        print(table)
        suffix = f"_{args.tag}" if args.tag and not name.startswith("vgrnn_") else ""
        (Path(args.out) / f"baselines_{name}{suffix}.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
