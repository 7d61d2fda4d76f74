"""Smoke test of ``benchmarks/speed.py``: the script runs end to end in its tiny mode, and its
helpers (random graphs, log-log fit, tables) are right, so the benchmark cannot rot silently."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "speed.py"


def _load_speed():
    spec = importlib.util.spec_from_file_location("_bench_speed", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


speed = _load_speed()


def test_loglog_fit_recovers_a_power_law_exactly():
    sizes = [1e3, 1e4, 1e5]
    b, a = speed.loglog_fit(sizes, [3e-5 * n**1.13 for n in sizes])
    assert b == pytest.approx(1.13, abs=1e-12)
    assert a == pytest.approx(math.log10(3e-5), abs=1e-12)
    # least squares over all points: on a symmetric design a raised middle point keeps the slope
    # and lifts the intercept by a third of its offset (0.3 / 3 in log10 units)
    b2, a2 = speed.loglog_fit(sizes, [1.0, 10.0 * 10**0.3, 100.0])
    assert b2 == pytest.approx(1.0, abs=1e-12)
    assert a2 == pytest.approx(-3.0 + 0.1, abs=1e-12)
    with pytest.raises(ValueError, match="two distinct sizes"):
        speed.loglog_fit([10, 10], [1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        speed.loglog_fit([10, 100], [0.0, 2.0])


def test_random_temporal_graph_has_the_stated_size_and_degree():
    g = speed.random_temporal_graph(500, 3, 10, num_features=2, seed=1)
    assert (g.num_nodes, len(g), g.num_features, g.directed) == (500, 3, 2, False)
    for t in range(3):
        e = g.edges(t)
        assert e.size(1) == 2500  # round(N k / 2) distinct undirected edges: average degree k
        assert bool((e[0] < e[1]).all())
        assert torch.unique(e[0] * 500 + e[1]).numel() == 2500
    assert not torch.equal(g.edges(0), g.edges(1))  # snapshots are drawn independently
    same = speed.random_temporal_graph(500, 3, 10, num_features=2, seed=1)
    assert all(torch.equal(g.edges(t), same.edges(t)) for t in range(3))
    with pytest.raises(ValueError, match="impossible"):
        speed.random_temporal_graph(5, 1, 10)


def test_ratio_and_scaling_tables_use_matching_cases():
    def res(label, method, n, wall, mem):
        case = speed.Case(label=label, kind="random", method=method, num_nodes=n)
        return speed.Result(case=case, num_nodes=n, wall=[wall], cpu=[wall], peak_bytes=mem)

    rs = [res("a", "dense", 100, 4.0, 800), res("a", "sparse", 100, 2.0, 100),
          res("b", "sparse", 1000, 20.0, 1000)]
    table = speed.ratio_table(rs)
    assert "| a | 100 | 2 | 2 | 8 |" in table and "| b |" not in table
    text, fits = speed.scaling_report(rs)
    assert fits["F=0"]["wall"] == pytest.approx(1.0)
    assert "slope target <= 1.05: met" in text


def test_speed_script_quick_mode_runs(tmp_path):
    out = tmp_path / "speed.json"
    env = dict(os.environ)
    shared = REPO.parent / "shared" / "datasets"
    if "DYNGRAPHVAE_DATA" not in env and shared.is_dir():
        env["DYNGRAPHVAE_DATA"] = str(shared)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=300, env=env, cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| case | N | T | edges/step |" in proc.stdout
    assert "dense/sparse time (wall)" in proc.stdout
    report = json.loads(out.read_text())
    results = report["results"]
    assert results and all(r["error"] is None for r in results)
    for r in results:
        assert r["wall_median"] > 0 and r["cpu_median"] > 0
        assert math.isfinite(r["final_elbo"])
        assert r["peak_bytes"] is not None and r["peak_bytes"] >= 0
    randoms = {(r["case"]["num_nodes"], r["case"]["num_features"], r["case"]["method"])
               for r in results if r["case"]["kind"] == "random"}
    assert randoms == {(n, f, m) for n in (100, 200, 400) for f in (0, 4)
                       for m in ("dense", "sparse")}
    assert set(report["fits"]) == {"F=0", "F=4"}
    assert all(math.isfinite(v) for fit in report["fits"].values() for v in fit.values())
    if (Path(env.get("DYNGRAPHVAE_DATA", "")) / "vgrnn_enron10" / "data.npz").is_file():
        enron = [r for r in results if r["case"]["dataset"] == "vgrnn_enron10"]
        assert {r["case"]["method"] for r in enron} == {"dense", "sparse"}
        assert all(r["num_nodes"] == 184 and r["num_snapshots"] == 11 for r in enron)
