"""Nested validation of ``train``'s refit choice: plain greedy steps against steps kept only where
their gain exceeds ``k`` standard errors (``choose_context_refit(step_margin=k)``).

    export DYNGRAPHVAE_DATA=../shared/datasets
    python benchmarks/refit_step_margin.py --model <dyngraphvae train folder> \
        --dataset uci_collegemsg --margins 0 1 \
        --out benchmarks/results/refit_step_margin_uci_collegemsg_s0.json

The validation origins of the saved model (its manifest's ``refit_selection``) are split into an
early half A and a late half B. Each rule chooses among ``train``'s candidates and steps
(``selection.REFIT_WINDOWS``, ``REFIT_REFINEMENTS``) on A, and its pick is scored on B; then the
other way round. Every candidate visited is scored once on all validation origins
(:func:`~dyngraphvae.evaluation.forecast_choice.pair_log_scores`, the pairs seeded per target and
origin, so a subset's rows are those a choice on the subset alone would see, up to the Monte
Carlo stream), and the choices read the rows of their half. Also printed: each rule's pick on
all validation origins (what ``train`` would record). ``--ablate '~'`` also chooses without the
steps that start with ``~`` and prints what keeping them gains on the held-out half;
``--rows-from`` reuses a JSON this script wrote (``docs/results.md`` 3u):

    python benchmarks/refit_step_margin.py --margins 0 --ablate '~' \
        --rows-from benchmarks/results/refit_step_margin_uci_collegemsg_s0.json
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from score_timing import saved_choice

from dyngraphvae.evaluation.forecast_choice import (
    candidate_rows,
    greedy_refit_choice,
    mean_score,
)
from dyngraphvae.selection import REFIT_REFINEMENTS, REFIT_WINDOWS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="model folder of dyngraphvae train")
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--margins", nargs="+", type=float, default=[0.0, 1.0])
    ap.add_argument("--ablate", default=None,
                    help="also choose with the steps that start with this prefix left out "
                         "(e.g. '~') and print the held-out gain of keeping them")
    ap.add_argument("--rows-from", default=None,
                    help="a JSON this script wrote: reuse its scored rows (no model needed)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    memo: dict = {}
    seconds: dict = {}
    scorer: list = []  # the saved model's candidate_rows, built only where a row is missing

    def load() -> tuple[list[int], int]:
        saved, model, graph, sel = saved_choice(args.model, args.dataset, args.data_root)
        scorer.append(candidate_rows(model, graph, sel["origins"], int(sel["horizon"]),
                                     num_samples=20, seed=int(saved.train_config.seed)))
        return list(sel["origins"]), int(sel["horizon"])

    if args.rows_from:
        with open(args.rows_from) as f:
            stored = json.load(f)
        origins, horizon = list(stored["origins"]), int(stored["horizon"])
        args.model, args.dataset = stored["model"], stored["dataset"]
        memo.update({int(k) if k.isdigit() else k: v for k, v in stored["rows"].items()})
    else:
        origins, horizon = load()

    def rows(w):
        if w not in memo:
            if not scorer:
                load()
            t = time.perf_counter()
            memo[w] = scorer[0](w)
            seconds[str(w)] = time.perf_counter() - t
            print(f"  scored {w}: {mean_score(memo[w]):.6f} ({seconds[str(w)]:.0f} s)", flush=True)
        return memo[w]

    half = len(origins) // 2
    parts = {"A": list(range(half)), "B": list(range(half, len(origins))),
             "all": list(range(len(origins)))}
    out = {"model": args.model, "dataset": args.dataset, "origins": origins, "horizon": horizon,
           "halves": {k: [origins[i] for i in v] for k, v in parts.items()}, "cases": []}
    print(f"{len(origins)} validation origins {origins[0]}..{origins[-1]}, h = 1..{horizon}; "
          f"A = first {half}" + ("" if half else " (one origin: no split)"))
    splits = (("A", "B"), ("B", "A"), ("all", None)) if half else (("all", None),)
    for fit, held in splits:
        idx = parts[fit]
        sub = [origins[i] for i in idx]
        steps = {"": REFIT_REFINEMENTS}
        if args.ablate:
            steps["ablated"] = tuple(r for r in REFIT_REFINEMENTS if not r.startswith(args.ablate))
        for k in args.margins:
            case = {"chosen_on": fit, "margin": k}
            for tag, refinements in steps.items():
                pick, _ = greedy_refit_choice(lambda w, idx=idx: [rows(w)[i] for i in idx],
                                              REFIT_WINDOWS, refinements, origins=sub,
                                              horizon=horizon, step_margin=k)
                case["pick" + (tag and "_" + tag)] = str(pick)
                if held is not None:
                    case["held_out"] = held
                    case["held_out_score" + (tag and "_" + tag)] = mean_score(
                        [rows(pick)[i] for i in parts[held]])
            out["cases"].append(case)
    print("\n| chosen on | margin (SE) | pick | score on the other half |\n|---|---|---|---|")
    for case in out["cases"]:
        score = f"{case['held_out_score']:.5f}" if "held_out_score" in case else "–"
        print(f"| {case['chosen_on']} | {case['margin']:g} | `{case['pick']}` | {score} |")
    if args.ablate:
        print(f"\n| chosen on | margin (SE) | pick without '{args.ablate}' steps | its score on "
              "the other half | gain of the steps |\n|---|---|---|---|---|")
        for case in out["cases"]:
            if "held_out_score" in case:
                a = case["held_out_score_ablated"]
                print(f"| {case['chosen_on']} | {case['margin']:g} | `{case['pick_ablated']}` | "
                      f"{a:.5f} | {case['held_out_score'] - a:+.4f} |")
    out["rows"] = {str(w): r for w, r in memo.items()}
    out["seconds"] = seconds
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
