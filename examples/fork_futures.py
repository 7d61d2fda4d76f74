"""Sample many futures on the fork process and count how many follow each of the two modes.

The fork process (:func:`dyngraphvae.fork`): every sequence shares a history that carries no
information on its future, then follows one of two equally likely futures (mode 0: features move
to ``+shift`` and node group 0 becomes a dense community; mode 1: ``-shift`` and group 1). The
best forecast is the 50/50 mixture of the two; a forecaster that averages them produces futures
that follow neither.

The model and its training are ``dyngraphvae.recipes.fork_recipe``: a graph-level mixture
transition with two components (one component for all nodes, so all nodes switch together),
KL warm-up, cosine learning rate, thousands of training sequences (each seen
about twice). It forecasts held-out sequences from their history. Each sampled future is
classified by :meth:`ForkData.mode_of` on its features on the steps ``h >= 2`` only: the first
future snapshot is decoded from ``Z_T``, which has seen only the shared history, so ``h = 1`` is
a blur by construction (docs/model.md, "The first step after a surprise is a blur"). The script
prints the fractions as measured, whatever they are. ``--deterministic`` trains the
deterministic ablation (Problem 4.3) with the same settings: it predicts the blur.

Writes ``OUT/fork_futures.png`` (sampled futures beside the truth, and the histogram of the
per-sequence fraction of mode 0), ``OUT/mode_fractions.png``, ``OUT/fork.json`` and ``OUT/model/``.

    python examples/fork_futures.py                 # ~2-3 min on an idle core
    python examples/fork_futures.py --deterministic # the ablation
    python examples/fork_futures.py --quick         # smoke run (not a result)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import dyngraphvae as dgv
from dyngraphvae.evaluation.multimodality import fork_multimodality
from dyngraphvae.evaluation.plots import plot_mode_fractions
from dyngraphvae.recipes import fork_recipe


def configs(train: dgv.ForkData, args: argparse.Namespace):
    """(ForecasterConfig, TrainConfig) of ``recipes.fork_recipe`` for this training set."""
    rec = fork_recipe(train.graphs[0], len(train.graphs), seed=args.seed, steps=args.steps)
    model = rec.model
    if args.deterministic:
        model = dgv.ForecasterConfig.from_dict({**model.to_dict(), "deterministic": True})
    train_cfg = dgv.TrainConfig.from_dict({**rec.train.to_dict(), "progress_bar": False,
                                           "tensorboard": False})
    return model, train_cfg, "dyngraphvae.recipes.fork_recipe" + (
        " + deterministic=True" if args.deterministic else "")


def draw(data, fc_adj: torch.Tensor | None, fc_x: torch.Tensor | None, labels: torch.Tensor,
         per_sequence: list[float], path: Path, seq: int) -> None:
    """Truth and 4 sampled futures of sequence ``seq`` (the adjacency, nodes in group order, when
    the model decodes edges; else the node features, nodes x features, red = +shift, blue =
    -shift) and the histogram of the per-sequence fraction of mode 0."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    H, n_s = data.horizon, min(4, (fc_x if fc_adj is None else fc_adj).size(0))
    order = torch.argsort(data.groups, stable=True)
    truth = data.graphs[seq].adjacency_stack()[data.history:] if fc_adj is not None else None
    fig, axes = plt.subplots(1 + n_s, H + 1, figsize=(2.2 * (H + 1) + 1, 2.2 * (1 + n_s)),
                             squeeze=False)
    rows = [(f"truth (mode {int(data.modes[seq])})", truth,
             data.graphs[seq].x[data.history:] if data.num_features else None)]
    names = {0: "mode 0", 1: "mode 1", -1: "neither"}
    for s in range(n_s):
        rows.append((f"sample {s + 1}: {names[int(labels[s])]}",
                     None if fc_adj is None else fc_adj[s], None if fc_x is None else fc_x[s]))
    for r, (title, adj, x) in enumerate(rows):
        for k in range(H):
            ax = axes[r][k]
            if adj is not None:
                ax.imshow(adj[k].float()[order][:, order].numpy(), cmap="Greys", vmin=0, vmax=1,
                          interpolation="nearest")
            else:
                ax.imshow(x[k].numpy(), cmap="coolwarm", vmin=-2 * data.shift,
                          vmax=2 * data.shift, interpolation="nearest", aspect="auto")
            sub = f"h={k + 1}"
            if x is not None:
                sub += f", x̄/shift={float(x[k].mean()) / data.shift:+.2f}"
            ax.set_title(sub, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(title, fontsize=8)
        axes[r][H].axis("off")
    ax = fig.add_subplot(1, H + 1, H + 1)
    ax.hist(per_sequence, bins=torch.linspace(0, 1, 11).tolist(), color="tab:blue")
    ax.axvline(0.5, color="grey", lw=0.8)
    ax.set_xlabel("fraction of mode 0 (h >= 2)")
    ax.set_ylabel("held-out sequences")
    ax.set_title("per-sequence mode fraction", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/fork_futures")
    ap.add_argument("--quick", action="store_true", help="tiny data, few steps (smoke run)")
    ap.add_argument("--steps", type=int, default=None, help="optimiser steps (default 800)")
    ap.add_argument("--train-sequences", type=int, default=None, help="default 3200 (quick: 16)")
    ap.add_argument("--samples", type=int, default=None, help="default 25 (quick: 8)")
    ap.add_argument("--deterministic", action="store_true",
                    help="train the deterministic ablation instead (Problem 4.3)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.steps is None:
        args.steps = 4 if args.quick else 800
    n_train = args.train_sequences or (16 if args.quick else 3200)
    n_test = 4 if args.quick else 16
    samples = args.samples or (8 if args.quick else 25)
    kw = dict(num_nodes=12, history=2, horizon=4)

    train = dgv.fork(num_sequences=n_train, seed=args.seed, **kw)
    test = dgv.fork(num_sequences=n_test, seed=1000 + args.seed, **kw)
    oracle = dgv.fork(num_sequences=100, seed=2000 + args.seed, **kw)
    print(f"fork: {n_train} training and {n_test} held-out sequences like {train.graphs[0]}; "
          f"history {train.history}, horizon {train.horizon}")
    model_config, train_config, source = configs(train, args)
    print(f"settings: {source}; transition_components={model_config.transition_components}, "
          f"transition_mixture={model_config.transition_mixture!r}, {args.steps} steps of "
          f"{train_config.batch_size} sequences")
    t0 = time.perf_counter()
    result = dgv.fit(model_config, train_config, train.graphs, out / "model")
    train_s = time.perf_counter() - t0
    model = result.model
    print(f"trained {result.epochs_completed} epochs in {train_s:.0f} s")

    res = fork_multimodality(model, test, num_samples=samples, seed=args.seed,
                             oracle_samples=oracle, first_step=2)
    # per-step view: which mode does each step's feature mean point to?
    gen = torch.Generator().manual_seed(args.seed)
    seq = 0
    fc = model.forecast(test.graphs[seq][: test.history], test.horizon, samples, generator=gen)
    adj = fc.sample_adjacency(generator=gen) if fc.edge_decoder is not None else None
    x = fc.x if test.num_features else None
    labels = test.mode_of(x=None if x is None else x[:, 1:],
                          adjacency=None if adj is None else adj[:, 1:])
    draw(test, adj, x, labels, res["per_sequence_fraction_0"], out / "fork_futures.png", seq)
    plot_mode_fractions({"h >= 2": res, "all steps (h = 1 included)":
                         {"pooled": res["pooled_all_steps"]}}, out / "mode_fractions.png")

    p, pa = res["pooled"], res["pooled_all_steps"]
    print(f"\n{res['num_sequences']} held-out sequences x {samples} sampled futures, classified "
          f"by {' and '.join(res['cues'])} on steps h >= 2:")
    print(f"  mode 0: {p['fraction_0']:.1%}   mode 1: {p['fraction_1']:.1%}   "
          f"neither: {p['fraction_neither']:.1%}   (ideal: 50% / 50% / 0%)")
    if p["count_0"] + p["count_1"] > 0:
        print(f"  among modal futures, mode 0: {p['fraction_0_among_modal']:.1%} (binomial test "
              f"against 1/2: p = {p['binomial_p_value']:.3g})")
    print(f"  sequences with both modes among their samples: {res['both_modes_fraction']:.0%}")
    print(f"  all steps including h = 1 (a blur by construction): mode 0 {pa['fraction_0']:.1%}, "
          f"mode 1 {pa['fraction_1']:.1%}, neither {pa['fraction_neither']:.1%}")
    if x is not None:
        score = x.mean(dim=(-2, -1)) / test.shift  # (S, H): about +1 mode 0, -1 mode 1
        print("  feature mean / shift per step, sequence 0 (mean +- std over samples; modes at "
              "+1 and -1):")
        for k in range(test.horizon):
            print(f"    h={k + 1}: {float(score[:, k].mean()):+.2f} +- "
                  f"{float(score[:, k].std()):.2f}")
    if res["energy_score"] is not None:
        print(f"  feature energy score {res['energy_score']:.3f} (samples of the true mixture: "
              f"{res['oracle_energy_score']:.3f}; lower is better)")
    if p["fraction_neither"] > 0.5:
        print("  -> most sampled futures follow neither mode: this model blurs the fork.")
    if args.quick:
        print("(--quick: a few steps on 16 sequences, not a result; run without --quick)")
    report = {"settings": source, "model_config": model_config.to_dict(),
              "train_config": train_config.to_dict(), "epochs_completed":
              result.epochs_completed, "train_seconds": train_s, "multimodality": res}
    (out / "fork.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    print(f"\nwrote {out / 'fork_futures.png'}, {out / 'mode_fractions.png'}, "
          f"{out / 'fork.json'}, {out / 'model'}/")


if __name__ == "__main__":
    main()
