"""Bring your own data through the CLI: an events CSV with string ids and arbitrary column names
trains, evaluates (EdgeBank beside the model, historical negatives) and forecasts (a CSV of
predicted edges in the original ids, a PNG of the edge-count distribution) from the model folder
alone; signed weights never crash; the console stays free of third-party advertisements."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from dyngraphvae.cli import CLIError, apply_weight_policy, main
from dyngraphvae.data.synthetic import dynamic_sbm

torch.set_num_threads(1)


def _events_csv(path: Path, signed: bool = False) -> Path:
    """A dynamic SBM's edges as raw events: string ids, ISO datetimes, one event per edge per
    day (two for every third edge), columns named as a user would."""
    g = dynamic_sbm(num_nodes=16, num_snapshots=10, num_communities=2, num_features=0, seed=3)
    rows = ["sender_name,recipient_name,sent_at,rating"]
    for t in range(len(g)):
        for j, (u, v) in enumerate(g.edges(t).t().tolist()):
            w = (-1) ** j * (j % 5 + 1) if signed else j % 5 + 1
            for r in range(1 + (j % 3 == 0)):
                rows.append(f"user_{u:02d},user_{v:02d},2023-05-{t + 1:02d}T{8 + r:02d}:00:00Z,{w}")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def events_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("events")
    data = _events_csv(root / "messages.csv")
    out = root / "model"
    rc = main(["train", "--events", str(data), "--src", "sender_name", "--dst", "recipient_name",
               "--time", "sent_at", "--weight", "rating", "--window", "1d", "--undirected",
               "--out", str(out), "--epochs", "3", "--test-snapshots", "3", "--latent-dim", "4",
               "--hidden-dim", "8", "--no-progress", "--threads", "1"])
    assert rc == 0
    return out, data


def test_train_records_the_events_and_node_ids(events_model):
    out, data = events_model
    meta = json.loads((out / "manifest.json").read_text())["metadata"]
    assert meta["events"]["path"] == str(data.resolve())
    opts = meta["events"]["options"]
    assert opts["src"] == "sender_name" and opts["window"] == "1d" and opts["directed"] is False
    ids = json.loads((out / "node_ids.json").read_text())
    assert ids == sorted(ids) and all(i.startswith("user_") for i in ids)
    assert meta["num_snapshots"] == 10 and meta["history_snapshots"] == 7


def test_evaluate_from_the_model_folder_alone(events_model, capsys):
    out, _ = events_model
    assert main(["evaluate", "--model", str(out), "--samples", "4",
                 "--negatives", "historical"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "evaluation" / "metrics.json").read_text())
    fc = report["forecast"]
    assert report["negatives"] == "historical" and fc["horizon"] == [1, 2, 3]
    for name in ("model", "persistence", "frequency", "edgebank", "edgebank_tw"):
        assert len(fc[f"links/{name}_auc"]) == 3
        assert f"{name:<13}" in printed
    assert "AUC" in printed and "MRR" in printed and "historical negatives" in printed
    # EdgeBank∞ scores every historical negative 1: AUC = half its recall of the target's edges
    from dyngraphvae.cli import load_event_data
    from dyngraphvae.evaluation.baselines import EdgeBankLinks

    meta = json.loads((out / "manifest.json").read_text())["metadata"]
    g = load_event_data(meta["events"]["path"], meta["events"]["options"])
    recall = float(EdgeBankLinks().score_pairs(g[:7], g.edges(7)).mean())
    assert fc["links/edgebank_auc"][0] == pytest.approx(0.5 * recall)
    assert (out / "evaluation" / "drift" / "drift.png").is_file()


def test_forecast_writes_edges_in_original_ids_and_the_count_plot(events_model, capsys):
    out, _ = events_model
    assert main(["forecast", "--model", str(out), "--samples", "4", "--top-k", "5"]) == 0
    fc_dir = out / "forecast"
    with open(fc_dir / "edges.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 5  # horizon defaults to the 3 test snapshots
    ids = set(json.loads((out / "node_ids.json").read_text()))
    for r in rows:
        assert r["src"] in ids and r["dst"] in ids and r["src"] < r["dst"]  # undirected
        assert 0.0 <= float(r["probability"]) <= 1.0
    # per step, the listed pairs are the most probable ones, in decreasing order
    with np.load(fc_dir / "forecast.npz", allow_pickle=False) as z:
        prob = z["edge_prob_mean"]
    order = sorted(ids)
    for h in (1, 2, 3):
        got = [float(r["probability"]) for r in rows if int(r["h"]) == h]
        iu = np.triu_indices(len(order), 1)
        best = np.sort(prob[h - 1][iu])[::-1][:5]
        assert got == pytest.approx(best.tolist(), rel=1e-4)
    png = (fc_dir / "edge_count.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_signed_weights_are_dropped_with_a_log_line_or_refused(tmp_path, capsys):
    data = _events_csv(tmp_path / "ratings.csv", signed=True)
    common = ["--events", str(data), "--src", "sender_name", "--dst", "recipient_name",
              "--time", "sent_at", "--weight", "rating", "--window", "1d", "--epochs", "1",
              "--latent-dim", "4", "--hidden-dim", "8", "--no-progress", "--threads", "1"]
    assert main(["train", *common, "--out", str(tmp_path / "auto")]) == 0
    err = capsys.readouterr().err
    assert "edge weights are signed" in err and "dropped" in err
    assert main(["train", *common, "--out", str(tmp_path / "use"), "--weights", "use"]) == 2
    assert "use --weights drop or --weights abs" in capsys.readouterr().err
    assert main(["train", *common, "--out", str(tmp_path / "abs"), "--weights", "abs"]) == 0


def test_weight_policies_on_a_graph():
    g = dynamic_sbm(num_nodes=8, num_snapshots=3, seed=0)
    w = [torch.linspace(-1, 1, g.num_edges(t)) for t in range(3)]
    signed = g.with_edge_weights(w)
    assert apply_weight_policy(signed, "auto").edge_weights is None
    assert apply_weight_policy(signed, "drop").edge_weights is None
    assert torch.equal(apply_weight_policy(signed, "abs").edge_weights[0], w[0].abs())
    pos = g.with_edge_weights([x.abs() + 1 for x in w])
    assert torch.equal(apply_weight_policy(pos, "auto").edge_weights[1], w[1].abs() + 1)
    with pytest.raises(CLIError, match="signed"):
        apply_weight_policy(signed, "use")


def test_events_errors_are_one_line(tmp_path, capsys):
    data = _events_csv(tmp_path / "m.csv")
    base = ["train", "--events", str(data), "--out", str(tmp_path / "o")]
    assert main([*base, "--src", "sender_name", "--dst", "recipient_name", "--time", "sent_at"]
                ) == 2
    assert "exactly one of --window" in capsys.readouterr().err
    assert main([*base, "--src", "from", "--dst", "recipient_name", "--time", "sent_at",
                 "--window", "1d"]) == 2
    err = capsys.readouterr().err
    assert "src column 'from' not found" in err and "sender_name" in err
    assert main([*base, "--src", "sender_name", "--dst", "recipient_name", "--time", "sent_at",
                 "--window", "fortnightly"]) == 2
    assert "cannot parse 'fortnightly'" in capsys.readouterr().err
    assert main([*base, "--src", "sender_name", "--dst", "recipient_name", "--time", "sent_at",
                 "--window", "1w"]) == 2
    assert "need at least 3" in capsys.readouterr().err
    assert main(["train", "--events", str(tmp_path / "none.csv"), "--src", "a", "--dst", "b",
                 "--time", "c", "--window", "1d", "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err


def test_no_third_party_advertisements_on_the_console(tmp_path, capfd):
    assert main(["train", "--dataset", "dynamic_sbm_small", "--epochs", "1", "--out",
                 str(tmp_path / "m"), "--latent-dim", "4", "--hidden-dim", "8",
                 "--no-progress"]) == 0
    captured = capfd.readouterr()
    text = captured.out + captured.err
    assert "Tip" not in text and "litlogger" not in text and "LeafSpec" not in text
    assert "GPU available" not in text
    assert not os.environ.get("DYNGRAPHVAE_VERBOSE")


def test_fit_saves_node_ids_and_a_changed_events_file_is_refused(events_model, tmp_path, capsys):
    from dyngraphvae.training import load_saved

    out, data = events_model
    saved = load_saved(out)
    assert saved.node_ids == json.loads((out / "node_ids.json").read_text())
    # the same folder against an events file whose ids changed: one line, exit 2
    copy = tmp_path / "model"
    import shutil

    shutil.copytree(out, copy)
    ids = json.loads((copy / "node_ids.json").read_text())
    (copy / "node_ids.json").write_text(json.dumps(ids[::-1]))
    assert main(["evaluate", "--model", str(copy), "--samples", "2", "--no-drift"]) == 2
    assert "the data changed since training" in capsys.readouterr().err


def test_bitcoin_alpha_signed_ratings_are_dropped_by_default():
    """The shared dataset that used to crash `train`: its ratings in [-10, 10] never reach the
    GCN normalisation under the default policy."""
    from dyngraphvae.cli import load_data
    from dyngraphvae.data.io import dataset_path

    root = os.environ.get("DYNGRAPHVAE_DATA") or str(Path(__file__).resolve().parents[2]
                                                     / "shared" / "datasets")
    if not dataset_path("bitcoin_alpha", root).is_file():
        pytest.skip("bitcoin_alpha not in the data root")
    g = load_data("bitcoin_alpha", root)
    assert g.edge_weights is None and g.num_nodes == 3783
    assert min(float(w.min()) for w in load_data("bitcoin_alpha", root, weights="abs")
               .edge_weights) >= 1
