"""The ``dyngraphvae`` command line: demo --quick, train / forecast / evaluate end to end, and
error messages that say what to do."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dyngraphvae.cli import main

torch.set_num_threads(1)


def test_demo_quick_writes_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--no-progress", "--threads", "1"]) == 0
    report = json.loads((out / "metrics.json").read_text())
    for png in ("training_curves.png", "forecast_vs_horizon.png", "sampled_graphs.png"):
        data = (out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, png
    fc = report["forecast"]
    assert fc["horizon"] == [1, 2, 3]
    for key in ("links/model_auc", "links/persistence_auc", "links/model_ap",
                "features/model_crps", "features/persistence_crps",
                "predictive/log_likelihood_per_node"):
        assert len(fc[key]) == 3 and all(v is None or np.isfinite(v) for v in fc[key]), key
    assert all(0.0 <= v <= 1.0 for v in fc["links/model_auc"] if v is not None)
    assert report["training"]["epochs_completed"] >= 1
    # the model folder inside the report is usable by the other commands
    assert (out / "model" / "model.pt").is_file()
    printed = capsys.readouterr().out
    # the demo's table shows every link baseline beside the model, and the feature CRPS
    for row in ("AUC      model", "persistence", "frequency", "edgebank", "edgebank_tw",
                "MRR", "CRPS     model"):
        assert row in printed, row
    for name in ("frequency", "edgebank", "edgebank_tw"):
        assert len(fc[f"links/{name}_auc"]) == 3
    # both SBM oracles (the target's labels; the law's forecast from the origin's labels) and
    # the sampled graphs' block densities of the model and of the state oracle
    for key in ("links/oracle_auc", "links/oracle_state_auc", "graphs/density_ratio_between",
                "graphs/oracle_state_density_ratio_between"):
        assert len(fc[key]) == 3 and all(v is None or np.isfinite(v) for v in fc[key]), key
    assert "oracle_state" in printed and "between  model" in printed


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "model"
    rc = main([
        "train", "--dataset", "dynamic_sbm_small", "--epochs", "3", "--out", str(out),
        "--test-snapshots", "3", "--val-snapshots", "2", "--latent-dim", "4",
        "--hidden-dim", "8", "--no-progress",
    ])
    assert rc == 0
    return out


def test_train_writes_a_model_folder(trained):
    manifest = json.loads((trained / "manifest.json").read_text())
    meta = manifest["metadata"]
    assert meta["dataset"] == "dynamic_sbm_small"
    assert meta["history_snapshots"] == 9 and meta["test_snapshots"] == 3
    assert json.loads((trained / "config.json").read_text())["latent_dim"] == 4
    assert json.loads((trained / "train_config.json").read_text())["epochs"] == 3
    assert (trained / "logs").is_dir() and (trained / "checkpoints" / "last.ckpt").is_file()


def test_forecast_writes_npz_without_pickles(trained, tmp_path):
    out = tmp_path / "fc"
    rc = main(["forecast", "--model", str(trained), "--horizon", "2", "--samples", "4",
               "--out", str(out)])
    assert rc == 0
    with np.load(out / "forecast.npz", allow_pickle=False) as z:
        assert z["z"].shape == (4, 2, 24, 4)
        assert z["x"].shape == (4, 2, 24, 3)
        assert z["edge_prob_mean"].shape == (2, 24, 24)
        edges = z["sampled_edges"]
        assert edges.shape[0] == 4 and edges.dtype == np.int64
        assert set(np.unique(edges[0])) <= set(range(4)) and set(np.unique(edges[1])) <= {0, 1}
        assert (edges[2] < edges[3]).all()  # undirected: u < v once
        assert int(z["start"]) == 12  # default: condition on every snapshot (true future)
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["sampled_edges_mean"]) == 2
    # the sample mean of the edge count agrees with the expected count sum_uv pi_uv
    # (4 samples: loose tolerance, just a consistency check of the two summaries)
    for m, e in zip(summary["sampled_edges_mean"], summary["expected_edges"], strict=True):
        assert abs(m - e) < 0.5 * e + 10


def test_evaluate_writes_metrics(trained, tmp_path):
    out = tmp_path / "ev"
    rc = main(["evaluate", "--model", str(trained), "--horizon", "3", "--samples", "8",
               "--out", str(out)])
    assert rc == 0
    report = json.loads((out / "metrics.json").read_text())
    fc = report["forecast"]
    assert fc["horizon"] == [1, 2, 3] and fc["start"] == 9
    assert len(fc["links/model_auc"]) == 3 and len(fc["features/model_crps"]) == 3
    # drift vs horizon over every held-out origin, with its plot
    drift = report["drift"]
    assert drift["origins"] == [9, 10, 11]
    assert (out / "drift" / "drift.png").stat().st_size > 0


def test_bad_arguments_say_what_to_do(trained, tmp_path, capsys):
    assert main(["train", "--dataset", "no_such_data", "--data-root", str(tmp_path),
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "no_such_data" in err and "dynamic_sbm" in err and "vgrnn_enron10" in err
    assert str(tmp_path.resolve()) in err and "--data-root" in err
    assert main(["evaluate", "--model", str(trained), "--horizon", "0", "--out",
                 str(tmp_path)]) == 2
    assert "--horizon must be a positive integer" in capsys.readouterr().err
    assert main(["evaluate", "--model", str(trained), "--horizon", "7", "--out",
                 str(tmp_path)]) == 2
    assert "use --horizon <= 3" in capsys.readouterr().err
    assert main(["forecast", "--model", str(tmp_path / "missing"), "--horizon", "2", "--out",
                 str(tmp_path)]) == 2
    assert "dyngraphvae train --dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["frobnicate"])


def test_train_bptt_window_makes_one_step_per_window(tmp_path):
    out = tmp_path / "win"
    rc = main([
        "train", "--dataset", "dynamic_sbm_small", "--epochs", "2", "--out", str(out),
        "--test-snapshots", "3", "--val-snapshots", "2", "--latent-dim", "4",
        "--hidden-dim", "8", "--no-progress", "--decoder-context", "none",
        "--bptt-window", "3",
    ])
    assert rc == 0
    assert json.loads((out / "train_config.json").read_text())["window"] == 3
    # 7 training snapshots in windows of 3: (0, 3), (3, 6), (6, 7) -> 3 steps per epoch
    import torch

    ckpt = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 6
