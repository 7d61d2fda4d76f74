"""Train the forecaster on Enron-10 with the VGRNN link split and compare it with two baselines.

The VGRNN protocol (Hajiramezanali et al., NeurIPS 2019) with a validation snapshot added
(:func:`dyngraphvae.link_prediction_split`): the last 3 snapshots are the test set, the one before
them validates (early stopping and the best epoch are chosen on its ELBO, never on the test
snapshots), the rest train. Each evaluation snapshot ``s`` is forecast one step ahead from the
true history ``G_{1..s}`` and scored on its edges plus as many uniform non-edges (link) and on the
edges absent at ``s - 1`` (new link), with the Monte Carlo predictive edge probability, next to
persistence (``A_s``), the edge-frequency heuristic and EdgeBank (Poursafaei et al. 2022).

Writes ``OUT/model/`` (a model folder: ``dyngraphvae.load_model`` and the ``dyngraphvae forecast``
/ ``evaluate`` commands read it), ``OUT/training_curves.png`` and ``OUT/results.json``.

    python examples/train_enron.py --data-root ../shared/datasets     # ~2-4 min on 2 cores
    python examples/train_enron.py --quick                            # 3 epochs, smoke run
    python examples/train_enron.py --decoder-context none             # the plain decoder

The default decoder reads the observed edge history (``decoder_context="history"``,
docs/model.md); with ``none`` the plain model can collapse on this dataset (docs/results.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from _data_root import find_data_root  # examples/_data_root.py

import dyngraphvae as dgv
from dyngraphvae.evaluation import EdgeBankLinks, EdgeFrequencyLinks, PersistenceLinks, link_metrics
from dyngraphvae.report import plot_training_curves


def score_snapshot(model, split, ev, num_samples: int, gen: torch.Generator) -> dict:
    """Link and new-link AUC/AP (%) of the model and the baselines on one evaluation snapshot."""
    hist = split.history(ev.step)  # G_1..G_s: what VGRNN conditions on
    fc = model.forecast(hist, horizon=1, num_samples=num_samples, generator=gen)
    out: dict[str, float] = {}
    for task, new in (("link", False), ("new_link", True)):
        pairs, labels = ev.pairs_and_labels(new_links=new)
        npos = int(labels.sum())
        scores = {
            "model": fc.edge_prob(pairs).mean(0)[0].double(),  # (S, 1, P) -> (P,)
            "persistence": PersistenceLinks().score_pairs(hist, pairs).double(),
            "edge frequency": EdgeFrequencyLinks().score_pairs(hist, pairs).double(),
            "EdgeBank": EdgeBankLinks().score_pairs(hist, pairs).double(),
        }
        for name, s in scores.items():
            m = link_metrics(s[:npos], s[npos:])
            out[f"{name}/{task}_auc"] = 100 * m.auc
            out[f"{name}/{task}_ap"] = 100 * m.ap
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default="runs/train_enron")
    ap.add_argument("--quick", action="store_true", help="3 epochs, 5 samples (a smoke run)")
    ap.add_argument("--epochs", type=int, default=None, help="default 100 (quick: 3)")
    ap.add_argument("--decoder-context", default="history", choices=["none", "previous", "history"])
    ap.add_argument("--samples", type=int, default=None, help="Monte Carlo samples (default 50)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    root = find_data_root(args.data_root, "vgrnn_enron10/data.npz")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    epochs = args.epochs if args.epochs is not None else (3 if args.quick else 100)
    samples = args.samples if args.samples is not None else (5 if args.quick else 50)

    graph = dgv.load_dataset("vgrnn_enron10", root)
    split = dgv.link_prediction_split(graph, num_test=3, num_val=1, seed=args.seed)
    first_test = split.test_steps[0]
    print(f"{graph}\ntrain snapshots {split.train_steps[0]}..{split.train_steps[-1]}, validation "
          f"{split.val_steps}, test {split.test_steps}")

    model_config = dgv.ForecasterConfig.for_graph(
        graph, node_input="identity", latent_dim=16, hidden_dim=32,
        decoder_context=args.decoder_context,
    )
    train_config = dgv.TrainConfig(
        epochs=epochs, lr=0.02, replicas=1 if args.quick else 10, patience=15,
        val_snapshots=len(split.val_steps), seed=args.seed, progress_bar=False, tensorboard=False,
    )
    # the same metadata as `dyngraphvae train`, so `dyngraphvae evaluate --model OUT/model` works
    meta = {"dataset": "vgrnn_enron10", "data_root": str(root.resolve()), "data_seed": 0,
            "num_snapshots": len(graph), "history_snapshots": first_test,
            "test_snapshots": len(split.test_steps)}
    t0 = time.perf_counter()
    # the test snapshots are held out here: fit sees G_1..G_{first_test} only
    result = dgv.fit(model_config, train_config, graph[:first_test], out / "model", metadata=meta)
    train_s = time.perf_counter() - t0
    model = result.model
    print(f"trained {result.epochs_completed} epochs x {train_config.replicas} steps in "
          f"{train_s:.0f} s (stopped early: {result.stopped_early}); best validation ELBO per "
          f"snapshot {result.best_score:.1f}")
    plot_training_curves(result.history, out / "training_curves.png")

    gen = torch.Generator().manual_seed(10_000 + args.seed)
    val = [score_snapshot(model, split, ev, samples, gen) for ev in split.val]
    test = [score_snapshot(model, split, ev, samples, gen) for ev in split.test]
    mean = {k: sum(r[k] for r in test) / len(test) for k in test[0]}

    print(f"\ntest snapshots {split.test_steps}, one step ahead, mean over snapshots "
          f"({samples} samples; %)")
    print(f"{'method':<16} {'link AUC':>9} {'link AP':>8} {'new AUC':>8} {'new AP':>7}")
    for name in ("model", "persistence", "edge frequency", "EdgeBank"):
        cells = [mean[f"{name}/{k}"] for k in ("link_auc", "link_ap", "new_link_auc",
                                               "new_link_ap")]
        print(f"{name:<16} {cells[0]:>9.2f} {cells[1]:>8.2f} {cells[2]:>8.2f} {cells[3]:>7.2f}")
    print(f"(validation snapshot {split.val_steps}: model link AUC {val[0]['model/link_auc']:.2f}; "
          "reported only, model selection used its ELBO)")
    if args.quick:
        print("(--quick: a few epochs, the model is not trained; run without --quick)")

    report = {"dataset": "vgrnn_enron10", "seed": args.seed, "num_samples": samples,
              "epochs_completed": result.epochs_completed, "stopped_early": result.stopped_early,
              "best_val_elbo_per_step": result.best_score, "train_seconds": train_s,
              "model_config": model_config.to_dict(), "train_config": train_config.to_dict(),
              "validation": dict(zip(map(str, split.val_steps), val, strict=True)),
              "test": dict(zip(map(str, split.test_steps), test, strict=True)),
              "test_mean": mean}
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out / 'model'}/, {out / 'training_curves.png'}, {out / 'results.json'}")
    print(f"next: dyngraphvae evaluate --model {out / 'model'} --horizon 3 --out {out / 'eval'}")


if __name__ == "__main__":
    main()
