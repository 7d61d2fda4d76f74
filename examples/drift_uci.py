"""Forecast drift against the horizon on UC Irvine CollegeMsg (1899 nodes, directed, sparse path).

Trains the forecaster with the sparse edge likelihood (``adjacency="sparse"``: the unbiased
O(E + K) estimator, no N x N matrix) on the first snapshots, then uses every later snapshot of the
window as a forecast origin ``T``, samples futures of ``H`` steps from ``G_{1..T}`` and scores each
horizon ``h`` against the true ``G_{T+h}``
(:func:`dyngraphvae.evaluation.drift.drift_curve`): link AUC/AP of the Monte Carlo predictive edge
probability next to persistence (``A_T``), edge frequency and EdgeBank, mean +- std over origins,
and a linear-vs-exponential fit of the loss curve ``1 - AUC``.

For speed the script uses only the **first 45 of the 89 weekly snapshots** (``--quick``: the
first 20) and says so. Weeks 28-32 of the data are nearly empty (8-27 messages), so the model
trains on weeks 0-31 (the last 3 validate) and the origins are weeks 32-40 with ``H = 5``: every
horizon is scored on the same 9 origins.

Writes ``OUT/drift.png`` (dyngraphvae.evaluation.plots.plot_drift), ``OUT/drift.json``
(:meth:`DriftResult.to_dict`) and ``OUT/model/``.

    python examples/drift_uci.py --data-root ../shared/datasets    # ~3-5 min on 2 cores
    python examples/drift_uci.py --quick                           # smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from _data_root import find_data_root  # examples/_data_root.py

import dyngraphvae as dgv
from dyngraphvae.evaluation.drift import drift_curve
from dyngraphvae.evaluation.plots import plot_drift


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default="runs/drift_uci")
    ap.add_argument("--quick", action="store_true", help="20 snapshots, 2 epochs (smoke run)")
    ap.add_argument("--epochs", type=int, default=None, help="default 20 (quick: 2)")
    ap.add_argument("--samples", type=int, default=None, help="default 10 (quick: 3)")
    ap.add_argument("--decoder-context", default="none", choices=["none", "previous", "history"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    root = find_data_root(args.data_root, "uci_collegemsg/data.npz")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.quick:
        window, n_train, n_val, horizon, origins = 20, 14, 2, 3, list(range(14, 18))
    else:
        window, n_train, n_val, horizon, origins = 45, 32, 3, 5, list(range(32, 41))
    epochs = args.epochs if args.epochs is not None else (2 if args.quick else 20)
    samples = args.samples if args.samples is not None else (3 if args.quick else 10)

    full = dgv.load_dataset("uci_collegemsg", root)
    graph = full[:window]
    print(f"{full}\nusing the first {window} of {len(full)} snapshots (for speed); train on "
          f"0..{n_train - 1} (last {n_val} validate), origins {origins[0]}..{origins[-1]}, "
          f"horizon {horizon}")
    model_config = dgv.ForecasterConfig.for_graph(
        graph, latent_dim=16, hidden_dim=32, adjacency="sparse",
        decoder_context=args.decoder_context,
    )
    train_config = dgv.TrainConfig(
        epochs=epochs, lr=0.02, replicas=1 if args.quick else 5, val_snapshots=n_val,
        patience=10, seed=args.seed, progress_bar=False, tensorboard=False,
    )
    t0 = time.perf_counter()
    result = dgv.fit(model_config, train_config, graph[:n_train], out / "model",
                     metadata={"dataset": "uci_collegemsg", "data_root": str(root.resolve()),
                               "window": window, "history_snapshots": n_train})
    train_s = time.perf_counter() - t0
    print(f"trained {result.epochs_completed} epochs x {train_config.replicas} steps in "
          f"{train_s:.0f} s; best validation ELBO per snapshot {result.best_score:.1f}")

    t0 = time.perf_counter()
    res = drift_curve(result.model, graph, origins, horizon, num_samples=samples, seed=args.seed,
                      label="TemporalGraphVAE")
    eval_s = time.perf_counter() - t0
    print(f"\nlink AUC by horizon, mean +- std over {len(origins)} origins ({samples} samples, "
          f"{eval_s:.0f} s)")
    print(f"{'h':>2} {'model':>14} {'persistence':>14} {'edge freq.':>14} {'EdgeBank':>14} "
          f"{'EdgeBank_tw':>14} {'n':>3}")
    names = ("link/auc", "link/persistence_auc", "link/frequency_auc", "link/edgebank_auc",
             "link/edgebank_tw_auc")
    for k in range(horizon):
        cells = [f"{float(res.mean(m)[k]):.3f} +- {float(res.std(m)[k]):.3f}" for m in names]
        print(f"{k + 1:>2} " + " ".join(f"{c:>14}" for c in cells)
              + f" {int(res.count('link/auc')[k]):>3}")
    fit = res.fits.get("link/auc")
    if fit is not None:
        lin = fit.linear
        print(f"growth of 1 - AUC: linear a + b h with b = {lin['b']:+.4f} per step "
              f"(R^2 {lin['r2']:.2f}); better fit: {fit.best}")
    plot_drift({"TemporalGraphVAE": res}, out / "drift.png", metrics=["link/auc", "link/ap"])
    report = res.to_dict()
    report.update(window=window, num_snapshots_total=len(full), train_seconds=train_s,
                  eval_seconds=eval_s, epochs_completed=result.epochs_completed)
    (out / "drift.json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
    if args.quick:
        print("(--quick: a few epochs on 20 snapshots, not a result; run without --quick)")
    print(f"\nwrote {out / 'drift.png'}, {out / 'drift.json'}, {out / 'model'}/")


if __name__ == "__main__":
    main()
