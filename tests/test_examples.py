"""Every script in examples/ runs in its --quick mode and writes the files it promises.

Each example runs in a subprocess (a fresh interpreter, as a user would start it) in a temporary
folder. Examples that read the real datasets skip with a reason when the data root
(``$DYNGRAPHVAE_DATA``, else ``../shared/datasets``) is missing; an example file that does not
exist skips. Besides the exit status and the files, each test checks content that a broken
example would get wrong (the dataset table, exact round trips, the deterministic baseline scores of
the VGRNN split, the drift table's shape, the mode counts).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def data_root() -> Path | None:
    env = os.environ.get("DYNGRAPHVAE_DATA")
    root = Path(env) if env else REPO.parent / "shared" / "datasets"
    return root if (root / "vgrnn_enron10" / "data.npz").is_file() else None


needs_data = pytest.mark.skipif(
    data_root() is None, reason="data root ../shared/datasets (or $DYNGRAPHVAE_DATA) not found"
)


def run(script: str, tmp_path: Path, *args: str, timeout: int = 300) -> str:
    path = EXAMPLES / script
    if not path.is_file():
        pytest.skip(f"examples/{script} does not exist")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, str(path), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@needs_data
def test_load_datasets(tmp_path):
    out = tmp_path / "out"
    stdout = run("load_datasets.py", tmp_path, "--quick", "--data-root", str(data_root()),
                 "--out", str(out))
    report = json.loads((out / "datasets.json").read_text())
    rows = {r["name"]: r for r in report["datasets"]}
    assert set(rows) == {"bitcoin_alpha", "chickenpox", "dysat_enron", "pedalme_london",
                         "uci_collegemsg", "vgrnn_colab", "vgrnn_enron10"}
    # the figures of the data root's README
    assert (rows["vgrnn_enron10"]["N"], rows["vgrnn_enron10"]["T"]) == (184, 11)
    assert rows["vgrnn_enron10"]["edges_mean"] == 217.5 and not rows["vgrnn_enron10"]["directed"]
    assert (rows["uci_collegemsg"]["N"], rows["uci_collegemsg"]["directed"]) == (1899, True)
    assert rows["chickenpox"]["features"] == 4
    assert report["interop_roundtrips_equal"] == {"pyg": True, "networkx": True}
    assert "dynamic_sbm" in stdout and "linear_gaussian" in stdout


@needs_data
def test_train_enron(tmp_path):
    import torch

    import dyngraphvae as dgv

    out = tmp_path / "out"
    run("train_enron.py", tmp_path, "--quick", "--data-root", str(data_root()), "--out", str(out))
    assert (out / "training_curves.png").stat().st_size > 0
    res = json.loads((out / "results.json").read_text())
    assert res["epochs_completed"] == 3 and list(res["test"]) == ["8", "9", "10"]
    m = res["test_mean"]
    assert all(math.isfinite(v) and 0 <= v <= 100 for v in m.values())
    # the baselines do not depend on training: persistence and edge frequency of the seed-0
    # VGRNN pairs (docs/results.md: 76.40 +- 0.05 and 93.85 +- 0.15 over seeds 0-2)
    assert m["persistence/link_auc"] == pytest.approx(76.34, abs=0.01)
    assert m["edge frequency/link_auc"] == pytest.approx(93.63, abs=0.01)
    # the model folder loads and forecasts
    model = dgv.load_model(out / "model")
    assert isinstance(model, dgv.TemporalGraphVAE) and model.config.num_nodes == 184
    manifest = json.loads((out / "model" / "manifest.json").read_text())
    assert manifest["metadata"]["history_snapshots"] == 8
    fc = model.forecast(dgv.load_dataset("vgrnn_enron10", data_root())[:8], 1, 2)
    assert torch.isfinite(fc.z).all()


@needs_data
def test_drift_uci(tmp_path):
    out = tmp_path / "out"
    stdout = run("drift_uci.py", tmp_path, "--quick", "--data-root", str(data_root()),
                 "--out", str(out))
    assert "first 20 of 89 snapshots" in stdout
    assert (out / "drift.png").stat().st_size > 0 and (out / "model" / "model.pt").is_file()
    d = json.loads((out / "drift.json").read_text())
    assert d["origins"] == [14, 15, 16, 17] and d["horizon"] == 3
    for name in ("link/auc", "link/persistence_auc", "link/frequency_auc"):
        assert d["count"][name] == [4, 4, 4]
        assert all(0 <= v <= 1 for v in d["mean"][name])


def test_fork_futures(tmp_path):
    out = tmp_path / "out"
    stdout = run("fork_futures.py", tmp_path, "--quick", "--out", str(out))
    for f in ("fork_futures.png", "mode_fractions.png", "model/model.pt"):
        assert (out / f).is_file()
    res = json.loads((out / "fork.json").read_text())
    mm = res["multimodality"]
    assert res["model_config"]["transition_mixture"] == "graph"
    assert mm["first_step"] == 2 and mm["num_sequences"] == 4
    p = mm["pooled"]
    assert p["num_samples"] == 4 * 8
    assert p["count_0"] + p["count_1"] + p["count_neither"] == 32
    assert f"mode 0: {p['fraction_0']:.1%}" in stdout  # the printed fractions are the measured


def test_collapse_demo(tmp_path):
    stdout = run("collapse_demo.py", tmp_path, "--quick")
    assert "AU" in stdout and "test ELBO" in stdout


def test_collapse_temporal(tmp_path):
    run("collapse_temporal.py", tmp_path, "--quick")


@pytest.mark.slow  # its --quick mode alone takes about 75 s on 2 shared cores
def test_graph_cvae_generation(tmp_path):
    stdout = run("graph_cvae_generation.py", tmp_path, "--quick", timeout=600)
    assert "| graph CVAE |" in stdout and "GraphCVAE.forecast_next" in stdout
