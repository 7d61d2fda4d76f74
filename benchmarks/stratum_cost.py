"""What the stratified sparse likelihood costs: one windowed training pass with and without it.

    export DYNGRAPHVAE_DATA=../shared/datasets
    python benchmarks/stratum_cost.py --dataset uci_collegemsg
    python benchmarks/stratum_cost.py --dataset bitcoin_alpha --start 60

The pair-history model of ``ForecasterConfig.for_graph`` (sparse likelihood above 1000 nodes),
the training span of ``results_links.py`` (the last 25 snapshots held out), windows of 2 from
their filtered starts, one Adam step per window, one thread. The same pass is timed with the
stratum (the default: every seen pair's non-edge term summed exactly, ``nn.adjacency``) and
without it (uniform pairs only), alternately, twice each; the model keeps training across passes,
so later passes see a larger, better-fitted model state, as in a real run.
"""

from __future__ import annotations

import argparse
import time

import torch
from results_links import unweighted

import dyngraphvae.nn.adjacency as adjacency
from dyngraphvae.data import load_dataset
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="uci_collegemsg")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--held-out", type=int, default=25)
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = unweighted(load_dataset(args.dataset, args.data_root))
    g = g[args.start:len(g) - args.held_out]
    torch.manual_seed(0)
    model = TemporalGraphVAE(ForecasterConfig.for_graph(g, decoder_context="pair_history",
                                                        history_decay=0.9))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    stratified = adjacency._sparse

    def uniform_only(*a, **k):  # the same estimator without its stratum
        return stratified(*a[:8])

    print(f"{args.dataset}: N = {g.num_nodes}, {len(g)} training snapshots, windows of 2\n")
    print("| likelihood | seconds per pass |\n|---|---|")
    try:
        for label, fn in (("stratified", stratified), ("uniform only", uniform_only)) * 2:
            adjacency._sparse = fn
            t0 = time.perf_counter()
            with torch.no_grad():
                states = model.filter_states(g, list(range(2, len(g) - 1, 2)), 1)
            for a in range(0, len(g) - 1, 2):
                out = model.elbo(g[a:a + 2], num_samples=1, start=states.get(a),
                                 generator=torch.Generator().manual_seed(a))
                opt.zero_grad()
                out.loss.backward()
                opt.step()
            print(f"| {label} | {time.perf_counter() - t0:.2f} |", flush=True)
    finally:
        adjacency._sparse = stratified


if __name__ == "__main__":
    main()
