"""Print the markdown tables of docs/results.md from the JSON files in benchmarks/results/.

    python benchmarks/results_tables.py            # every table whose JSON exists
    python benchmarks/results_tables.py vgrnn pygt  # some of them (vgrnn, pygt, links, drift, fork)
    python benchmarks/results_tables.py seeds links_uci_collegemsg_recipe  # one seed per file:
        # links_<...>.json, links_<...>_s1.json, ... merged (mean ± population std over files)
    python benchmarks/results_tables.py chosen refit_choice_uci_collegemsg.json \
        links_uci_collegemsg_recipe links_uci_collegemsg_refit10
        # the rows of the refit window chosen per seed (benchmarks/refit_choice.py)
    python benchmarks/results_tables.py compare links_uci_collegemsg_recipe \
        links_uci_collegemsg_rate1
        # the model rows of the validation origins of two link runs, and their difference

Means ± population std over seeds, exactly as stored; nothing is recomputed except the
per-seed averaging of the drift and fork summaries.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

OUT = Path("benchmarks/results")


def _ms(d: dict, scale: float = 1.0, fmt: str = ".2f") -> str:
    return f"{scale * d['mean']:{fmt}} ± {scale * d['std']:{fmt}}"


def _mean_std(values: list[float]) -> tuple[float, float]:
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return float("nan"), float("nan")
    m = sum(v) / len(v)
    return m, math.sqrt(sum((x - m) ** 2 for x in v) / len(v))


def vgrnn() -> None:
    from results_vgrnn import markdown

    for path in sorted(OUT.glob("vgrnn_*.json")):
        res = json.loads(path.read_text())
        ctx = res["model_config"].get("decoder_context", "none")
        print(f"### {path.name} (decoder_context={ctx}, wall {res['wall_seconds']:.0f} s)\n")
        print(markdown(res, res["dataset"]))
        ep = [i["epochs"] for i in res["training"]]
        sec = [round(i["train_seconds"]) for i in res["training"]]
        print(f"\nepochs per seed {ep}, training seconds {sec}\n")


def pygt() -> None:
    for path in sorted(OUT.glob("pygt_*.json")):
        res = json.loads(path.read_text())
        s = res["summary"]
        ctx = res["model_config"].get("decoder_context", "none")
        print(f"### {path.name} (decoder_context={ctx}, "
              f"feature_min_scale={res['model_config'].get('feature_min_scale')}, "
              f"wall {res['wall_seconds']:.0f} s)\n")
        print("| method | MSE | CRPS | 90% coverage |\n|---|---|---|---|")
        for k, v in res["baselines_mse"].items():
            print(f"| {k} | {v:.4f} | – | – |")
        print(f"| model | {_ms(s['mse'], fmt='.4f')} | {_ms(s['crps'], fmt='.4f')} | "
              f"{_ms(s['coverage'], fmt='.3f')} |")
        if "crps_calibrated" in s:
            print(f"| model, spread ×{_ms(s['spread_factor'])} (chosen on validation) | "
                  f"{_ms(s['mse'], fmt='.4f')} | {_ms(s['crps_calibrated'], fmt='.4f')} | "
                  f"{_ms(s['coverage_calibrated'], fmt='.3f')} |")
        ep = [i["epochs"] for i in res["training"]]
        sec = [round(i["train_seconds"]) for i in res["training"]]
        print(f"\nepochs per seed {ep}, training seconds {sec}\n")


def links() -> None:
    for path in sorted(OUT.glob("links_*.json")):
        res = json.loads(path.read_text())
        H = res["horizon"]
        print(f"### {path.name} (origin {res['origin']}, seeds {res['seeds']}, "
              f"wall {res['wall_seconds']:.0f} s)\n")
        for metric in ("auc", "ap", "mrr"):
            print(f"| {metric.upper()} | " + " | ".join(f"h={h + 1}" for h in range(H)) + " |")
            print("|---" * (H + 1) + "|")
            for name, d in res["summary"].items():
                print(f"| {name} | " + " | ".join(_ms(x) for x in d[metric]) + " |")
            print()
        ep = [i["epochs"] for i in res["training"]]
        sec = [round(i["train_seconds"]) for i in res["training"]]
        print(f"epochs per seed {ep}, training seconds {sec}\n")


SEED_METRICS = (("auc", "AUC"), ("auc_hist", "AUC, historical negatives"), ("mrr", "MRR"),
                ("ece", "ECE over all pairs × 10⁵"),
                ("count_cover", "edge-count 90 % coverage (%)"),
                ("count_ratio", "sampled / true edge count"), ("mmd_degree", "degree MMD × 10³"))


def seeds(stem: str) -> None:
    """Merge the one-seed files ``<stem>.json``, ``<stem>_s1.json``, … of ``results_links.py``:
    per metric and method, mean ± population std over the files of the per-seed means."""
    paths = [OUT / f"{stem}.json", *sorted(OUT.glob(f"{stem}_s[0-9]*.json"))]
    _merge(stem, [p for p in paths if p.is_file()])


def chosen(choice: str, *stems: str) -> None:
    """The rows of the refit candidate chosen per seed: ``choice`` is a ``refit_choice.py`` JSON
    (``runs[i]["chosen"]`` for seed ``i``), ``stems`` the one-seed files of each candidate in the
    order of its ``--windows`` (seed 0 ``<stem>.json``, seed ``i`` ``<stem>_s<i>.json``)."""
    rec = json.loads((OUT / choice).read_text())
    windows = list(rec["runs"][0]["scores"])  # the candidates, in the order they were scored
    paths = []
    for r in rec["runs"]:
        stem = stems[windows.index(str(r["chosen"]))]
        paths.append(OUT / (f"{stem}.json" if r["seed"] == 0 else f"{stem}_s{r['seed']}.json"))
    _merge(f"chosen per seed by {choice}: " + ", ".join(p.stem for p in paths), paths)


def _merge(title: str, paths: list[Path]) -> None:
    runs = [json.loads(p.read_text()) for p in paths]
    if not runs:
        raise SystemExit(f"no file for {title} in {OUT}")
    H = runs[0]["horizon"]
    print(f"### {title}: {len(runs)} seeds ({', '.join(p.name for p in paths)})\n")
    for metric, label in SEED_METRICS:
        scale = 1000.0 if metric in ("mmd_degree", "ece") else 1.0  # ece is stored in %
        print(f"| {label} | " + " | ".join(f"h={h + 1}" for h in range(H)) + " | mean over h |")
        print("|---" * (H + 2) + "|")
        for name in runs[0]["summary"]:
            if metric not in runs[0]["summary"][name]:
                continue
            cols = [[r["per_seed"][name][0][metric][k] for r in runs] for k in range(H)]
            if all(v is None for c in cols for v in c):
                continue
            over = [[r["per_seed"][name][0][metric][k] for k in range(H)] for r in runs]
            over = [sum(x for x in o if x is not None) / max(1, sum(x is not None for x in o))
                    for o in over]
            cells = ["{:.2f} ± {:.2f}".format(*(scale * v for v in _mean_std(c))) for c in cols]
            cells.append("{:.2f} ± {:.2f}".format(*(scale * v for v in _mean_std(over))))
            print(f"| {name} | " + " | ".join(cells) + " |")
        print()
    ep = [i["epochs"] for r in runs for i in r["training"]]
    sec = [round(i["train_seconds"]) for r in runs for i in r["training"]]
    wall = [round(r["wall_seconds"]) for r in runs]
    print(f"epochs per seed {ep}, training seconds {sec}, wall seconds {wall}\n")


def drift() -> None:
    for path in sorted(OUT.glob("drift*.json")):
        _drift(path)


def _drift(path: Path) -> None:
    res = json.loads(path.read_text())
    oracle = res["oracle"]
    names = list(res["variants"])
    H = len(next(iter(oracle["mean"].values())))
    metrics = ("feature/crps", "feature/mse", "feature/coverage", "feature/log_score", "link/auc")
    print(f"### {path.name} (seeds {res['args']['seeds']}, wall {res['wall_seconds']:.0f} s)\n")
    for metric in metrics:
        print(f"**{metric}** (model rows: mean ± std over seeds of the mean over origins)\n")
        print("| h | " + " | ".join(names) + " | Kalman oracle | state oracle | persistence |")
        print("|---" * (len(names) + 4) + "|")
        for k in range(H):
            cells = []
            for n in names:
                m, s = _mean_std([r["mean"][metric][k] for r in res["variants"][n]["seeds"]])
                cells.append(f"{m:.3f} ± {s:.3f}")
            base = metric.split("/", 1)[1]
            for key in (f"oracle_kalman/{base}", f"oracle_state/{base}"):
                v = oracle["mean"].get(key, [None] * H)[k]
                cells.append("–" if v is None else f"{v:.3f}")
            pkey = {"feature/crps": "feature/persistence_crps",
                    "feature/mse": "feature/persistence_mse",
                    "link/auc": "link/persistence_auc"}.get(metric)
            pv = res["variants"][names[0]]["seeds"][0]["mean"].get(pkey, [None] * H)[k] \
                if pkey else None
            cells.append("–" if pv is None else f"{pv:.3f}")
            print(f"| {k + 1} | " + " | ".join(cells) + " |")
        print()
    print("growth fits of the seed-0 mean curves (loss view):\n")
    print("| variant | metric | best | linear b (per step) | exp. growth factor e^r "
          "| R² lin / exp |")
    print("|---|---|---|---|---|---|")
    for n in names:
        for metric, f in res["variants"][n]["seeds"][0]["fits"].items():
            if metric not in metrics:
                continue
            e = f["exponential"]
            factor = "–" if e is None else "{:.4f}".format(math.exp(e["r"]))
            r2e = "–" if e is None else "{:.3f}".format(e["r2"])
            print(f"| {n} | {metric} | {f['best']} | {f['linear']['b']:.4f} | {factor} | "
                  f"{f['linear']['r2']:.3f} / {r2e} |")
    print()


def fork() -> None:
    path = OUT / "fork.json"
    if not path.exists():
        return
    res = json.loads(path.read_text())
    print(f"### fork (wall {res['wall_seconds']:.0f} s, classified on steps h >= "
          f"{res.get('first_step', 1)})\n")
    print("| variant | mode 0 | mode 1 | neither | neither (all steps) | both modes per sequence |"
          " energy score | oracle ES |")
    print("|---|---|---|---|---|---|---|---|")
    for name, runs in res["results"].items():
        cells = []
        for key in ("fraction_0", "fraction_1", "fraction_neither"):
            cells.append("{:.3f} ± {:.3f}".format(*_mean_std([r["pooled"][key] for r in runs])))
        cells.append("{:.3f} ± {:.3f}".format(*_mean_std(
            [r["pooled_all_steps"]["fraction_neither"] for r in runs])))
        cells.append("{:.2f} ± {:.2f}".format(*_mean_std([r["both_modes_fraction"] for r in runs])))
        cells.append("{:.3f} ± {:.3f}".format(*_mean_std([r["energy_score"] for r in runs])))
        cells.append(f"{runs[0]['oracle_energy_score']:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()


def compare(base: str, other: str) -> None:
    """Validation-origin model rows of two ``results_links.py`` files (B − A per h): a design
    choice is made here, never on the test origins."""
    blocks = [json.loads((OUT / f"{s}.json").read_text())["validation"] for s in (base, other)]
    H = len(blocks[0]["summary"]["model"]["auc"])
    print(f"validation origins {blocks[0]['origins']}; A = {base}, B = {other}\n")
    print("| metric | row | " + " | ".join(f"h={k + 1}" for k in range(H)) + " | mean |")
    print("|---" * (H + 3) + "|")
    for m in ("auc", "auc_hist", "mrr", "count_ratio", "count_cover"):
        rows = [[c["mean"] for c in b["summary"]["model"][m]] for b in blocks]
        rows.append([y - x for x, y in zip(*rows, strict=True)])
        ref = blocks[0]["summary"].get("pair_history", {}).get(m)
        named = list(zip(("A", "B", "B − A"), rows, strict=True))
        if ref is not None and None not in ref:
            named.append(("regression", [c["mean"] for c in ref]))
        for label, r in named:
            print(f"| {m} | {label} | " + " | ".join(f"{c:.2f}" for c in r)
                  + f" | {sum(r) / len(r):.2f} |")
    print()


def main() -> None:
    if sys.argv[1:2] == ["compare"]:
        compare(*sys.argv[2:4])
        return
    parts = {"vgrnn": vgrnn, "pygt": pygt, "links": links, "drift": drift, "fork": fork}
    if sys.argv[1:2] == ["chosen"]:
        chosen(*sys.argv[2:])
        return
    if sys.argv[1:2] == ["seeds"]:
        for stem in sys.argv[2:]:
            seeds(stem)
        return
    for name in sys.argv[1:] or list(parts):
        parts[name]()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
