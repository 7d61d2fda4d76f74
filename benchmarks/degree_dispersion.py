"""Are the sampled futures' out-degrees under-dispersed?

For a model folder of ``dyngraphvae train`` (a link dataset): forecasts from the first
``--origins`` test origins (``--samples`` samples, h = 1..``--horizon``), and per horizon the
share of nodes with out-degree 0, the variance, maximum and mean of the out-degrees, for the
truth, the samples (averaged over samples) and the last observed graph (persistence).

    dyngraphvae train --dataset uci_collegemsg --out runs/uci
    python benchmarks/degree_dispersion.py --model runs/uci --dataset uci_collegemsg
"""

from __future__ import annotations

import argparse

import torch

from dyngraphvae.cli_io import load_data
from dyngraphvae.models.rolling import rolling_forecast
from dyngraphvae.training.io import load_saved


def degree_stats(deg: torch.Tensor) -> tuple[float, float, float, float]:
    """Share of zeros, variance, maximum and mean of a degree vector."""
    d = deg.double()
    return float((d == 0).double().mean()), float(d.var()), float(d.max()), float(d.mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--origins", type=int, default=8)
    ap.add_argument("--horizon", type=int, default=3)
    ap.add_argument("--samples", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    saved = load_saved(args.model)
    graph = load_data(args.dataset, args.data_root)
    start = int(saved.metadata["history_snapshots"])
    origins = [o for o in range(start, start + args.origins) if o < len(graph)]
    fc = rolling_forecast(saved.model.eval(), graph, origins, args.horizon, args.samples,
                          generator=torch.Generator().manual_seed(0))
    n = graph.num_nodes
    rows: dict[int, list[tuple]] = {}
    for i, o in enumerate(origins):
        e = fc.sampled_edges[i]  # rows (sample, step, u, v)
        for k in range(args.horizon):
            if o + k >= len(graph):
                continue
            truth = degree_stats(torch.bincount(graph.edges(o + k)[0], minlength=n))
            last = degree_stats(torch.bincount(graph.edges(o - 1)[0], minlength=n))
            per = [degree_stats(torch.bincount(e[2][(e[0] == s) & (e[1] == k)], minlength=n))
                   for s in range(args.samples)]
            sampled = tuple(sum(p[j] for p in per) / len(per) for j in range(4))
            rows.setdefault(k + 1, []).append((truth, sampled, last))
    print("| h | out-degree 0: truth / samples / last graph | variance | maximum | mean |")
    print("|---|---|---|---|---|")
    for h, r in rows.items():
        def avg(which: int, j: int, r: list = r) -> float:
            return sum(x[which][j] for x in r) / len(r)

        print(f"| {h} | {avg(0, 0):.3f} / {avg(1, 0):.3f} / {avg(2, 0):.3f} | "
              f"{avg(0, 1):.3f} / {avg(1, 1):.3f} / {avg(2, 1):.3f} | "
              f"{avg(0, 2):.1f} / {avg(1, 2):.1f} / {avg(2, 2):.1f} | "
              f"{avg(0, 3):.4f} / {avg(1, 3):.4f} / {avg(2, 3):.4f} |")


if __name__ == "__main__":
    main()
