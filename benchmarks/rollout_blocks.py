"""Autoregressive rollouts: row blocks scored by one matrix product against gathered pair lists,
in one run (same model, same draws; the sampled edges must be identical).

    python benchmarks/rollout_blocks.py [--nodes 1900] [--samples 10] [--horizon 2]

A directed random graph of ``--nodes`` nodes and 20 snapshots of ~600 edges; the edge decoder's
offset set to -12 so that sampled graphs are sparse, as those of a trained model are. Prints a
markdown table (seconds per forecast, ratio). Results in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time

import torch

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE
from dyngraphvae.models import context as context_module


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1900)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--horizon", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    n = args.nodes
    snaps = [torch.randint(0, n, (2, 600), generator=gen) for _ in range(20)]
    g = TemporalGraph([s[:, s[0] != s[1]] for s in snaps], n, directed=True, duplicates="merge")
    block_logits = context_module.ContextScorer.block_logits
    print("| decoder context | row blocks (s) | pair lists (s) | ratio | edges sampled |")
    print("|---|---|---|---|---|")
    for ctx in ("history", "pair_history"):
        torch.manual_seed(0)
        m = TemporalGraphVAE(ForecasterConfig.for_graph(
            g, latent_dim=16, hidden_dim=32, decoder_context=ctx, adjacency="sparse")).eval()
        with torch.no_grad():
            m.edge_decoder.bias.fill_(-12.0)
            state = m.filter(g, args.samples, generator=torch.Generator().manual_seed(1))
        times, edges = [], []
        for blocks in (True, False):
            if not blocks:  # hide the block path: the sampler falls back to pair lists
                del context_module.ContextScorer.block_logits
            try:
                t0 = time.perf_counter()
                with torch.no_grad():
                    fc = m.forecast(state, args.horizon, args.samples,
                                    generator=torch.Generator().manual_seed(2))
                times.append(time.perf_counter() - t0)
                edges.append(fc.sampled_edges)
            finally:
                context_module.ContextScorer.block_logits = block_logits
        assert torch.equal(edges[0], edges[1]), "the two paths must draw the same edges"
        print(f"| {ctx} | {times[0]:.2f} | {times[1]:.2f} | {times[1] / times[0]:.1f}x | "
              f"{edges[0].size(1)} |")


if __name__ == "__main__":
    main()
