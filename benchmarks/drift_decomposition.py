"""Where does multi-step link drift come from: the latent rollout or the sampled context?

    export DYNGRAPHVAE_DATA=../shared/datasets
    python benchmarks/drift_decomposition.py --dataset uci_collegemsg --save /tmp/uci_s0.pt

Trains the default link decoder as ``results_links.py`` does (``--decoder-context pair_history
--history-decay 0.9 --window 2 --replicas 1 --patience 20``, one seed) on the snapshots before the
first test origin (the iterated decoder, ``context_leads = 1``: the one whose drift is in
question), then scores the **validation** origins of that protocol at h = 1..H under four
forecasts of target ``T + h - 1`` from origin ``T``:

* ``rollout``: the model's forecast (latent ``Ẑ`` by the transition from the filtered ``Z_T``,
  decoder context fed with the model's own sampled graphs);
* ``true latent``: the filtered ``Z_{T+h-1}`` (the posterior given the observed snapshots before
  the target, none of the target itself), sampled context as in the rollout;
* ``true context``: the transition's ``Ẑ``, the observed context ``G_{≤T+h-1}``;
* ``one-step``: both observed (the h = 1 forecast of every target: the ceiling);
* ``frozen context``: the transition's ``Ẑ``, the context of ``G_{≤T}`` aged with empty graphs
  (no sampled edge fed back);
* ``one-step, latent score only`` / ``context term only``: the one-step forecast's two parts,
  ``s(z_u, z_v)`` and the context term, each alone (what the latent adds to counting).

The gap ``rollout → true latent`` is what the transition's drift costs, ``rollout → true context``
what the sampled context costs. Metrics as the protocol's (AUC random / historical negatives, MRR).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from results_links import unweighted

from dyngraphvae.data import load_dataset
from dyngraphvae.experiments.links import (
    _historical_pairs,
    _link_scores,
    _target_pairs,
    link_protocol_origins,
)
from dyngraphvae.experiments.runs import train_forecaster
from dyngraphvae.models import ForecasterConfig, engine
from dyngraphvae.models.context import DecoderContext, EdgeContext
from dyngraphvae.models.forecast import sample_edge_coords
from dyngraphvae.training.fit import build_model

MODES = ("rollout", "true latent", "true context", "one-step", "frozen context",
         "one-step, latent score only", "one-step, context term only")


def _feed(model, ctx: DecoderContext, z: torch.Tensor, sample: bool,
          gen: torch.Generator) -> DecoderContext:
    c = model.config
    S = z.size(0)
    coords = (sample_edge_coords(model.edge_scorer(ctx), z, c.directed, c.deterministic, gen)
              if sample else torch.zeros(3, 0, dtype=torch.long))
    e = EdgeContext.from_edges(coords, c.num_nodes, c.directed, S, ctx.edges, c.context_decay)
    return DecoderContext(edges=e, x=None)


def decompose(model, g, origins, H, S, seed, gen) -> dict[str, list[list[tuple]]]:
    t_max = max(origins) + H - 1
    states = engine.filtered_states(model, g, t_max, S, gen)
    contexts = model.decoder_contexts(g, t_max)
    rows = {m: [[] for _ in range(H)] for m in MODES}
    for t in origins:
        prior = engine.latent_path(model, states[t], H, gen)
        ctx_s = {"rollout": contexts[t], "true latent": contexts[t], "frozen context": contexts[t]}
        for k in range(H):
            tp = _target_pairs(g, t + k, seed, 100, 2000)
            if tp is None:
                continue
            req = torch.cat([tp.all_pairs(), _historical_pairs(g, t, t + k, tp.pos.size(1), seed)],
                            1)
            use = {"rollout": (prior[k], ctx_s["rollout"]),
                   "true latent": (states[t + k], ctx_s["true latent"]),
                   "true context": (prior[k], contexts[t + k]),
                   "one-step": (states[t + k], contexts[t + k]),
                   "frozen context": (prior[k], ctx_s["frozen context"])}
            for m, (z, ctx) in use.items():
                p = torch.sigmoid(model.edge_scorer(ctx).logits(z, req)).mean(0)
                rows[m][k].append(_link_scores(p, tp, 100))
            z, ctx = use["one-step"]
            parts = {"one-step, latent score only": model.edge_decoder.logits(z, req),
                     "one-step, context term only": model.edge_context.pair_logits(ctx.edges,
                                                                                   req)}
            for m, logit in parts.items():
                rows[m][k].append(_link_scores(torch.sigmoid(logit).mean(0), tp, 100))
            if k < H - 1:
                ctx_s["rollout"] = _feed(model, ctx_s["rollout"], prior[k], True, gen)
                ctx_s["true latent"] = _feed(model, ctx_s["true latent"], states[t + k], True, gen)
                ctx_s["frozen context"] = _feed(model, ctx_s["frozen context"], prior[k], False,
                                                gen)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="uci_collegemsg")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--horizon", type=int, default=5)
    ap.add_argument("--num-origins", type=int, default=20)
    ap.add_argument("--num-val", type=int, default=10)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--save", default=None, help="write the trained weights here")
    ap.add_argument("--load", default=None, help="skip training: read these weights")
    ap.add_argument("--out", default=None, help="write the table as JSON here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = unweighted(load_dataset(args.dataset, args.data_root))[args.start:]
    H = args.horizon
    _, T0, origins = link_protocol_origins(g, H, num_origins=args.num_origins,
                                           num_val=args.num_val)
    cfg = ForecasterConfig.for_graph(g, latent_dim=16, hidden_dim=32, adjacency="sparse",
                                     num_negatives=20000, decoder_context="pair_history",
                                     history_decay=0.9)
    if args.load:
        model = build_model(cfg)
        model.load_state_dict(torch.load(args.load, weights_only=True))
        model.eval()
    else:
        tk = dict(epochs=100, replicas=1, lr=0.01, patience=20, val_samples=4, window=2)
        model, info = train_forecaster(cfg, g[:T0], seed=args.seed, val_snapshots=args.num_val,
                                       **tk)
        print({k: round(v, 1) if isinstance(v, float) else v for k, v in info.items()})
        if args.save:
            torch.save(model.state_dict(), args.save)
    gen = torch.Generator().manual_seed(30_000 + args.seed)
    with torch.no_grad():
        rows = decompose(model, g, origins, H, args.samples, args.seed, gen)
    print(f"{args.dataset}: validation origins {origins[0]}..{origins[-1]}, seed {args.seed}\n")
    print("| forecast | metric | " + " | ".join(f"h={k + 1}" for k in range(H)) + " |")
    print("|---" * (H + 2) + "|")
    table = {}
    for label, i in (("AUC", 0), ("AUC, hist. neg.", 3), ("MRR", 2)):
        for m in MODES:
            cells = [sum(r[i] for r in v) / len(v) for v in rows[m]]
            table[f"{m} | {label}"] = cells
            print(f"| {m} | {label} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    if args.out:
        Path(args.out).write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
