"""Node-feature forecasting from the command line: a PyG Temporal lag-window dataset becomes the
series behind it, a fixed graph is taken as given (features only, the AR mean with neighbour
lags), and ``evaluate`` puts the Gaussian lag models next to the model, at one origin and as
means over every held-out origin (the drift evaluation)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from dyngraphvae.cli import main
from dyngraphvae.cli_io import static_edges
from dyngraphvae.data import TemporalGraph
from dyngraphvae.data.interop import is_lag_window_signal, series_graph
from dyngraphvae.evaluation.baselines import gaussian_lag_paths
from dyngraphvae.evaluation.drift import drift_curve
from dyngraphvae.evaluation.scores import crps_ensemble
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE

torch.set_num_threads(1)


def _data_root() -> Path | None:
    env = os.environ.get("DYNGRAPHVAE_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"
    return root if (root / "pygt" / "pedalme_london.json").is_file() else None


def _signal(T=12, N=5, L=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(T + L, N, generator=g)
    x = torch.stack([s[i:i + L].t() for i in range(T)])
    ring = torch.stack([torch.arange(N), (torch.arange(N) + 1) % N])
    return TemporalGraph([ring] * T, N, x=x, y=s[L:L + T]), s


def test_lag_window_signals_are_recognised_and_unrolled():
    sig, s = _signal()
    assert is_lag_window_signal(sig)
    series = series_graph(sig)
    torch.testing.assert_close(series.x[..., 0], s)
    assert not is_lag_window_signal(series)
    shuffled = TemporalGraph([sig.edges(0)] * len(sig), sig.num_nodes, x=sig.x.flip(0), y=sig.y)
    assert not is_lag_window_signal(shuffled)


def test_static_edges():
    sig, _ = _signal()
    assert static_edges(sig)
    moved = [sig.edges(0)] * (len(sig) - 1) + [sig.edges(0)[:, :-1]]
    assert not static_edges(TemporalGraph(moved, sig.num_nodes))
    reordered = [sig.edges(0)] * (len(sig) - 1) + [sig.edges(0).flip(1)]
    assert static_edges(TemporalGraph(reordered, sig.num_nodes))


def test_drift_scores_the_lag_baselines_at_every_origin():
    series = series_graph(_signal(T=20)[0])
    cfg = ForecasterConfig.for_graph(series, latent_dim=2, hidden_dim=8, decode_edges=False,
                                     decoder_context="previous")
    model = TemporalGraphVAE(cfg).eval()
    res = drift_curve(model, series, [14, 17], 3, num_samples=6, seed=2)
    for key in ("linear_lags_crps", "linear_lags_mse", "spatial_lags_crps", "spatial_lags_mse"):
        assert res.values[f"feature/{key}"].shape == (2, 3)
    gen = torch.Generator().manual_seed(2 + 17)  # the origin's stream: own lags, then spatial
    gaussian_lag_paths(series[:17], 3, 6, lags=4, generator=gen)
    point, paths = gaussian_lag_paths(series[:17], 3, 6, lags=4, neighbours=True, generator=gen)
    y = series.features(17 + 1).double()
    assert float(res.values["feature/spatial_lags_mse"][1, 1]) == pytest.approx(
        float((point[1].double() - y).pow(2).mean()))
    assert float(res.values["feature/spatial_lags_crps"][1, 1]) == pytest.approx(
        float(crps_ensemble(y, paths[:, 1].double(), dim=0, estimator="fair").mean()))


@pytest.mark.skipif(_data_root() is None, reason="no data root with pygt/pedalme_london.json")
def test_train_and_evaluate_a_pygt_dataset_forecast_its_series(tmp_path, capsys):
    out = tmp_path / "pedalme"
    rc = main(["train", "--dataset", "pedalme_london", "--data-root", str(_data_root()),
               "--out", str(out), "--epochs", "3", "--no-progress", "--threads", "1"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "only the node features are forecast" in text
    cfg = json.loads((out / "config.json").read_text())
    assert (cfg["num_features"], cfg["decode_edges"], cfg["decoder_context"]) == (1, False,
                                                                                   "previous")
    assert cfg["feature_neighbours"] and cfg["feature_lags"] == 4
    rc = main(["evaluate", "--model", str(out), "--horizon", "2", "--samples", "8"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "spatial_lags" in text and "held-out origins" in text
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    assert len(metrics["drift"]["mean"]["feature/linear_lags_crps"]) == 2


@pytest.mark.skipif(_data_root() is None, reason="no data root with pygt/pedalme_london.json")
def test_a_model_with_another_feature_count_is_a_one_line_error(tmp_path, capsys):
    """A model folder trained on the lag windows themselves (4 features, as before 2026-12-06)."""
    from dyngraphvae.data import load_dataset
    from dyngraphvae.training import TrainConfig, fit

    raw = load_dataset("pedalme_london", _data_root())
    out = tmp_path / "pm"
    fit(ForecasterConfig.for_graph(raw, latent_dim=2, hidden_dim=8), TrainConfig(
        epochs=1, progress_bar=False), raw[:30], out,
        metadata={"dataset": "pedalme_london", "data_root": str(_data_root()), "data_seed": 0,
                  "history_snapshots": 30, "test_snapshots": 1, "weights": "auto"})
    capsys.readouterr()
    assert main(["evaluate", "--model", str(out), "--no-drift"]) == 2
    err = capsys.readouterr().err
    assert "1 node features per snapshot but the model" in err and "built for 4" in err
