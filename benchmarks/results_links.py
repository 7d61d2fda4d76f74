"""Multi-horizon link forecasting (AUC / AP / MRR at h = 1..5, many origins) on uci_collegemsg
and bitcoin_alpha next to persistence and edge frequency (section 3 of docs/results.md).

    export DYNGRAPHVAE_DATA=../shared/datasets
    python benchmarks/results_links.py --dataset uci_collegemsg
    python benchmarks/results_links.py --dataset bitcoin_alpha

Protocol (``link_forecast_protocol``): the last ``--num-origins`` origins T (every h = 1..H scored
from every origin; origin T conditions on snapshots 0..T-1), the model trained on the snapshots
before the first test origin with the last ``--num-val`` as validation (early stopping), the
validation origins (targets inside the validation block) scored the same way for model selection.
Persistence and edge frequency see the same history as the model at each origin. ``--start S``
drops the snapshots before ``S`` for everyone (bitcoin_alpha: one training step over all 137
snapshots of N = 3783 nodes costs about 7 s of CPU, ``docs/benchmarks.md``).

The graphs are used **unweighted** (edge existence only): bitcoin_alpha's weights are signed ratings
in [-10, 10], which the GCN normalisation cannot take, and the forecast target is the existence of
an edge in both data sets. Writes benchmarks/results/links_<dataset>[_<tag>].json and prints
markdown tables (``--show validation`` prints the validation origins only, for choosing settings).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from dyngraphvae.data import load_dataset
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.experiments import link_forecast_protocol
from dyngraphvae.models.config import ForecasterConfig

NAMES = {"model": "TemporalGraphVAE", "persistence": "persistence A_T",
         "frequency": "edge frequency"}


def unweighted(g: TemporalGraph) -> TemporalGraph:
    """The same snapshots without edge weights (existence only)."""
    return TemporalGraph([g.edges(t) for t in range(len(g))], g.num_nodes, directed=g.directed,
                         name=g.name)


def add_refit_refinements(ap: argparse.ArgumentParser) -> None:
    """``--refit-refinements``, shared by the protocol scripts (default: none, as their stored
    runs were made)."""
    from dyngraphvae.selection import REFIT_REFINEMENTS, REFIT_STEP_MARGIN

    ap.add_argument("--refit-refinements", nargs="*", default=[],
                    help="with --context-refit auto: greedy steps after the candidates, '+x' "
                         "(a suffix appended), '@V' (the window replaced) or '~σ' (the prior "
                         "scale of the best refit; forecast_choice.refined); dyngraphvae train "
                         f"takes {' '.join(REFIT_REFINEMENTS)}")
    ap.add_argument("--refit-step-margin", type=float, default=0.0,
                    help="keep a step only where it gains more than this many standard errors "
                         "(origins as clusters; forecast_choice.gain_standard_error; dyngraphvae "
                         f"train takes {REFIT_STEP_MARGIN:g})")


def refit_candidates(values: list[str]) -> tuple[int | str, ...]:
    """Command-line refit candidates: ``"10"`` → ``10``, ``"10+degrees"``, ``"10+rates"`` as given
    (:func:`~dyngraphvae.evaluation.forecast_choice.refit_settings`)."""
    return tuple(int(w) if w.isdigit() else w for w in values)


def markdown(block: dict, label: str) -> str:
    """One table per metric: rows = methods, columns = h = 1..H and the mean over h."""
    H = len(next(iter(block["summary"].values()))["auc"])
    out = []
    for m in ("auc", "ap", "mrr", "auc_hist", "ece", "count_cover", "count_ratio", "mmd_degree"):
        if m not in next(iter(block["summary"].values())):
            continue  # a file written before the metric existed
        head = f"| {label} {m.upper()} | " + " | ".join(f"h={k + 1}" for k in range(H))
        out += [head + " | mean over h |", "|---" * (H + 2) + "|"]
        for name, d in block["summary"].items():
            cells = ["–" if c is None else f"{c['mean']:.2f} ± {c['std']:.2f}" for c in d[m]]
            o = block["summary_mean_over_h"][name][m]
            cells.append("–" if o is None else f"{o['mean']:.2f} ± {o['std']:.2f}")
            out.append(f"| {NAMES.get(name, name)} | " + " | ".join(cells) + " |")
        out.append("")
    out.append(f"origins {block['origins'][0]}..{block['origins'][-1]} "
               f"({len(block['origins'])}), scored per h: {block['num_scored']}, "
               f"skipped (origin, h) with an empty target: {block['num_skipped']}")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="uci_collegemsg")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--horizon", type=int, default=5)
    ap.add_argument("--num-origins", type=int, default=20, help="test origins (the last ones)")
    ap.add_argument("--num-val", type=int, default=10,
                    help="validation snapshots before the first test origin")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--replicas", type=int, default=3, help="optimizer steps per epoch")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--patience", type=int, default=10, help="epochs without val improvement")
    ap.add_argument("--free-bits", type=float, default=0.0,
                    help="free bits (nats per latent dimension per node-step); 0 = plain ELBO")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--latent-dim", type=int, default=16)
    ap.add_argument("--negatives", type=int, default=20000,
                    help="sparse edge likelihood: uniformly sampled non-edges per snapshot")
    ap.add_argument("--decoder-context", default="history",
                    choices=["none", "previous", "history", "pair_history"],
                    help="autoregressive decoder (ForecasterConfig.decoder_context)")
    ap.add_argument("--history-decay", type=float, default=0.5,
                    help="lambda of the history context H_t = A_t + lambda H_{t-1}")
    ap.add_argument("--history-rates", type=float, nargs="+", default=None,
                    help="ForecasterConfig.history_rates of the pair_history context")
    ap.add_argument("--val-samples", type=int, default=4,
                    help="Monte Carlo samples of the validation ELBO (early stopping)")
    ap.add_argument("--start", type=int, default=0,
                    help="drop the snapshots before this one (model and baselines alike see "
                         "snapshots start..T-1 only); bounds the cost of one training step")
    ap.add_argument("--window", type=int, default=None,
                    help="TrainConfig.window: truncated back-propagation over windows of this "
                         "many snapshots (default: whole sequence)")
    ap.add_argument("--context-leads", type=int, default=1,
                    help="ForecasterConfig.context_leads (the direct multi-horizon decoder)")
    ap.add_argument("--overshooting", type=float, default=1.0,
                    help="TrainConfig.overshooting (weight of the lead terms' training)")
    ap.add_argument("--snapshot-effect", action="store_true",
                    help="ForecasterConfig.snapshot_effect (a random intercept per snapshot)")
    ap.add_argument("--context-refit", default="0",
                    help="ForecasterConfig.context_refit (W: refit the context term at every "
                         "origin on the last W snapshots; 0: off; 'auto': choose among "
                         "--refit-candidates per seed on the validation origins by the pairwise "
                         "log score)")
    ap.add_argument("--refit-candidates", nargs="+", default=["0", "10"],
                    help="with --context-refit auto: the candidates (W, 'W+degrees' or "
                         "'W+rates', each optionally ending in '+cn', then '+pc')")
    add_refit_refinements(ap)
    ap.add_argument("--refit-prior", type=float, default=1.0,
                    help="ForecasterConfig.context_refit_prior (the prior scale; with "
                         "--context-refit auto each candidate sets its own, '~σ', default 1)")
    ap.add_argument("--refit-degrees", action="store_true",
                    help="ForecasterConfig.context_refit_degrees (degree columns)")
    ap.add_argument("--refit-degree-form", default="cumulative", choices=["cumulative", "rate"],
                    help="ForecasterConfig.context_refit_degree_form (log(1 + d), or less log T)")
    ap.add_argument("--refit-neighbours", action="store_true",
                    help="ForecasterConfig.context_refit_neighbours (common-neighbour column)")
    ap.add_argument("--refit-counts", action="store_true",
                    help="ForecasterConfig.context_refit_counts (undecayed pair-count columns)")
    ap.add_argument("--no-refit-effect", dest="refit_effect", action="store_false",
                    help="ForecasterConfig.context_refit_effect=False (the refit without its "
                         "snapshot effect per lead)")
    ap.add_argument("--overshooting-shared", action="store_true",
                    help="TrainConfig.overshooting_shared")
    ap.add_argument("--tag", default="", help="suffix of the output file")
    ap.add_argument("--show", default="both", choices=["both", "validation", "test"])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"),
                    help="output folder (default: benchmarks/results, wherever it is run from)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = unweighted(load_dataset(args.dataset, args.data_root))
    if args.start:
        g = g[args.start:]
    cfg = ForecasterConfig.for_graph(g, latent_dim=args.latent_dim, hidden_dim=32,
                                     adjacency="sparse", num_negatives=args.negatives,
                                     decoder_context=args.decoder_context,
                                     history_decay=args.history_decay,
                                     **({"history_rates": tuple(args.history_rates)}
                                        if args.history_rates else {}),
                                     context_leads=args.context_leads,
                                     snapshot_effect=args.snapshot_effect,
                                     context_refit=(0 if args.context_refit == "auto"
                                                    else int(args.context_refit)),
                                     context_refit_prior=args.refit_prior,
                                     context_refit_effect=args.refit_effect,
                                     context_refit_degrees=args.refit_degrees,
                                     context_refit_degree_form=args.refit_degree_form,
                                     context_refit_neighbours=args.refit_neighbours,
                                     context_refit_counts=args.refit_counts)
    tk = dict(epochs=args.epochs, replicas=args.replicas, lr=args.lr, patience=args.patience,
              free_bits=args.free_bits, val_samples=args.val_samples, window=args.window,
              overshooting=args.overshooting, overshooting_shared=args.overshooting_shared)
    t0 = time.perf_counter()
    res = link_forecast_protocol(g, cfg, horizon=args.horizon, seeds=args.seeds,
                                 num_samples=args.samples, num_origins=args.num_origins,
                                 num_val=args.num_val, train_kwargs=tk,
                                 refit_windows=(refit_candidates(args.refit_candidates)
                                                if args.context_refit == "auto" else None),
                                 refit_refinements=tuple(args.refit_refinements),
                                 refit_step_margin=args.refit_step_margin)
    res["wall_seconds"] = time.perf_counter() - t0
    res["dataset"] = args.dataset
    res["edge_weights"] = "dropped (unweighted graph)"
    res["snapshots_used"] = f"{args.start}..{args.start + len(g) - 1} (origins count from the "\
        f"first snapshot used)"
    res["args"] = vars(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = f"_{args.tag}" if args.tag else ""
    (out / f"links_{args.dataset}{suffix}.json").write_text(json.dumps(res, indent=1))
    if args.show in ("both", "validation") and res["validation"] is not None:
        print(markdown(res["validation"], "validation"))
    if args.show in ("both", "test"):
        print(markdown(res, "test"))
    for info in res["training"]:
        print({k: (round(v, 1) if isinstance(v, float) else v) for k, v in info.items()})
    print(f"wall {res['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
