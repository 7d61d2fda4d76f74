"""Protocol runners on tiny graphs: rolling forecasts, series graphs, stacking, VGRNN, PyG
Temporal, multi-horizon links, fork mode coverage and rollout statistics."""

from __future__ import annotations

import math

import pytest
import torch

from dyngraphvae.data.synthetic import dynamic_sbm, fork
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.evaluation.forecast_choice import refit_settings
from dyngraphvae.experiments import (
    HistoryStackedLinks,
    link_forecast_protocol,
    pygt_node_protocol,
    series_graph,
    vgrnn_link_protocol,
)
from dyngraphvae.models.config import ForecasterConfig
from dyngraphvae.models.forecaster import TemporalGraphVAE
from dyngraphvae.models.rolling import rolling_forecast

torch.set_num_threads(1)
TINY = dict(latent_dim=3, hidden_dim=8, node_embedding_dim=4)
FAST = dict(epochs=2, patience=None)


def _model(graph, **kw):
    torch.manual_seed(0)
    return TemporalGraphVAE(ForecasterConfig.for_graph(graph, **TINY, **kw)).eval()


def test_rolling_forecast_equals_filter_then_forecast_for_deterministic_model():
    g = dynamic_sbm(num_nodes=15, num_snapshots=8, num_communities=2, num_features=2, seed=0)
    model = _model(g, deterministic=True)
    rf = rolling_forecast(model, g, [0, 3, 8, 3], 2, num_samples=2)
    for i, o in enumerate([0, 3, 8, 3]):
        with torch.no_grad():
            state = model.initial_state(1) if o == 0 else model.filter(g[:o], 1)
            fc = model.forecast(state, 2, 1)
        torch.testing.assert_close(rf.z[0, i], fc.z[0])
        torch.testing.assert_close(rf.feature_mean[1, i], fc.feature_mean[0])
    with pytest.raises(ValueError, match="origins"):
        rolling_forecast(model, g, [9], 1)


@pytest.mark.parametrize("context", ["previous", "history"])
def test_rolling_forecast_autoregressive_decoder_equals_filter_then_forecast(context):
    """Autoregressive decoder: step 0 reads the observed A_T (H_T, x_T), later steps the sampled
    past; deterministic model, so rolling == filter + forecast bit for bit, and the context
    terms really enter the scores."""
    g = dynamic_sbm(num_nodes=15, num_snapshots=8, num_communities=2, num_features=2, seed=0)
    model = _model(g, deterministic=True, decoder_context=context)
    with torch.no_grad():
        model.edge_context.previous_weight.fill_(2.0)
        if model.edge_context.history_weight is not None:
            model.edge_context.history_weight.fill_(1.0)
        model.feature_context.weight.fill_(0.5)
    pairs = torch.combinations(torch.arange(15)).T
    origins = [0, 3, 8, 3]
    rf = rolling_forecast(model, g, origins, 2, num_samples=2)
    for i, o in enumerate(origins):
        with torch.no_grad():
            state = model.initial_state(1) if o == 0 else model.filter(g[:o], 1)
            fc = model.forecast(state, 2, 1)
            torch.testing.assert_close(rf.z[0, i], fc.z[0])
            torch.testing.assert_close(rf.feature_mean[1, i], fc.feature_mean[0])
            for k in range(2):
                torch.testing.assert_close(rf.edge_logits(i, k, pairs)[0],
                                           fc.edge_logits(pairs)[0, k])
    with torch.no_grad():
        plain = model.edge_decoder.logits(rf.z[:, 2, 0], pairs)
    assert g.num_edges(7) > 0  # origin 8: A_T = snapshot 7's edges get + α = 2 at least
    assert (rf.edge_logits(2, 0, pairs) - plain).abs().max() > 1.99


def test_rolling_forecast_stochastic_matches_filter_law_in_mean():
    """Stochastic model: the rolling z at origin T has the law of filter(graph[:T]).z (MC)."""
    g = dynamic_sbm(num_nodes=6, num_snapshots=5, num_communities=2, num_features=0, seed=1)
    model = _model(g)
    gen = torch.Generator().manual_seed(0)
    rf = rolling_forecast(model, g, [4], 1, num_samples=4000, generator=gen)
    with torch.no_grad():
        st = model.filter(g[:4], 4000, generator=torch.Generator().manual_seed(1))
    a, b = rf.z[:, 0, 0], st.z
    se = (a.var(0) / 4000 + b.var(0) / 4000).sqrt()
    assert ((a.mean(0) - b.mean(0)).abs() < 5 * se + 1e-6).all()


def test_series_graph_inverts_lag_windows():
    T, N, L = 12, 3, 4
    s = torch.randn(T + L, N)
    x = torch.stack([s[i:i + L].T for i in range(T)])  # (T, N, L)
    y = s[L:]
    ei = torch.tensor([[0, 1], [1, 2]])
    sig = TemporalGraph([ei] * T, N, directed=True, x=x, y=y)
    ser = series_graph(sig)
    assert len(ser) == T + L
    torch.testing.assert_close(ser.x[:, :, 0], s)
    bad = TemporalGraph([ei] * T, N, directed=True, x=x, y=y + 1)
    with pytest.raises(ValueError, match="lag-window"):
        series_graph(bad)


def test_history_stacking_recovers_logistic_weights():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(20000, 4, generator=g, dtype=torch.float64)
    w = torch.tensor([-0.5, 1.0, 2.0, -1.0, 0.5], dtype=torch.float64)
    y = (torch.rand(20000, generator=g, dtype=torch.float64) < torch.sigmoid(X @ w[1:] + w[0]))
    fit = HistoryStackedLinks(ridge=0.0).fit([X], [y.double()])
    assert torch.allclose(fit.weights, w, atol=0.1)
    torch.testing.assert_close(fit.score(X[:3]), X[:3] @ fit.weights[1:] + fit.weights[0])


def test_vgrnn_protocol_on_a_tiny_graph_matches_direct_baselines():
    from dyngraphvae.data.splits import link_prediction_split
    from dyngraphvae.evaluation.baselines import EdgeBankLinks, EdgeFrequencyLinks
    from dyngraphvae.evaluation.links import link_metrics

    g = dynamic_sbm(num_nodes=20, num_snapshots=7, num_communities=2, num_features=0, seed=0)
    cfg = ForecasterConfig.for_graph(g, **TINY)
    res = vgrnn_link_protocol(g, cfg, seeds=[0], num_samples=4, train_kwargs=FAST,
                              vgae_epochs=5)
    assert set(res["summary"]) == {"model", "model+history", "persistence", "frequency", "vgae",
                                   "edgebank", "edgebank_tw", "pair_history", "pair_history_ml"}
    split = link_prediction_split(g, seed=0)
    aucs, eb, eb_hist = [], [], []
    for ev in split.test:
        pairs, lab = ev.pairs_and_labels()
        hist = split.history(ev.step)
        s = EdgeFrequencyLinks().score_pairs(hist, pairs)
        p = int(lab.sum())
        aucs.append(100 * link_metrics(s[:p], s[p:]).auc)
        e = EdgeBankLinks().score_pairs(hist, pairs)
        eb.append(100 * link_metrics(e[:p], e[p:]).auc)
        # historical negatives: EdgeBank scores each 1, so its AUC is half its recall
        seen = EdgeBankLinks().score_pairs(hist, g.edges(ev.step)).mean()
        eb_hist.append(50 * float(seen))
    assert res["summary"]["frequency"]["link_auc"]["mean"] == pytest.approx(sum(aucs) / 3)
    assert res["summary"]["edgebank"]["link_auc"]["mean"] == pytest.approx(sum(eb) / 3)
    assert res["summary"]["edgebank"]["hist_link_auc"]["mean"] == pytest.approx(sum(eb_hist) / 3)
    alone = vgrnn_link_protocol(g, None, seeds=[0], vgae_epochs=5)
    assert set(alone["summary"]) == set(res["summary"]) - {"model", "model+history"}
    for name in alone["summary"]:
        assert alone["summary"][name] == res["summary"][name]
    for d in res["summary"].values():
        assert all(0 <= v["mean"] <= 100 for v in d.values())


def test_pygt_protocol_on_a_tiny_signal():
    from dyngraphvae.data.splits import temporal_signal_split
    from dyngraphvae.evaluation.baselines import LinearLagRegression

    T, N, L = 30, 4, 4
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(T + L, N, generator=gen).cumsum(0) * 0.1
    x = torch.stack([s[i:i + L].T for i in range(T)])
    ei = torch.tensor([[0, 1, 2], [1, 2, 3]])
    sig = TemporalGraph([ei] * T, N, directed=True, x=x, y=s[L:])
    cfg = ForecasterConfig(num_nodes=N, num_features=1, directed=True, decode_edges=False,
                           node_input="both", **TINY)
    res = pygt_node_protocol(sig, cfg, train_ratio=0.6, seeds=[0], num_samples=8,
                             train_kwargs=FAST)
    tr, te = temporal_signal_split(sig, 0.6)
    lin = LinearLagRegression(lags=L).predict_targets(tr, te)
    assert res["baselines_mse"]["linear_lags"] == pytest.approx(float((lin - te.y).pow(2).mean()),
                                                                rel=1e-5)
    assert res["num_test"] == len(te)
    r = res["per_seed"][0]
    assert r["mse"] > 0 and r["crps"] > 0 and 0 <= r["coverage"] <= 1
    # spread recalibration chosen on validation: never worse there than c = 1 (on the grid)
    assert 0.5 - 1e-9 <= r["spread_factor"] <= 8.0 + 1e-9
    assert r["val_crps_calibrated"] <= r["val_crps"] + 1e-12
    assert r["crps_calibrated"] > 0 and 0 <= r["coverage_calibrated"] <= 1


def test_link_forecast_protocol_on_a_tiny_directed_graph():
    gen = torch.Generator().manual_seed(0)
    edges = [torch.randint(0, 15, (2, 30), generator=gen) for _ in range(12)]
    edges = [e[:, e[0] != e[1]] for e in edges]
    g = TemporalGraph(edges, 15, directed=True, duplicates="merge")
    cfg = ForecasterConfig.for_graph(g, **TINY)
    res = link_forecast_protocol(g, cfg, horizon=3, num_val=2, seeds=[0], num_samples=4,
                                 num_mrr_negatives=10, train_kwargs=FAST)
    assert res["origin"] == 9
    for name in ("model", "persistence", "frequency", "edgebank", "edgebank_tw", "pair_history",
                 "pair_history_ml"):
        for key in ("auc", "ap", "mrr", "auc_hist", "ap_hist"):
            vals = [v["mean"] for v in res["summary"][name][key]]
            assert len(vals) == 3 and all(0 <= v <= 100 for v in vals)
    # the baselines alone, without training: the same pairs, the same rows
    from dyngraphvae.experiments import link_baselines_protocol

    base = link_baselines_protocol(g, res["origins"], horizon=3, seeds=[0], num_mrr_negatives=10)
    assert set(base["summary"]) == {"persistence", "frequency", "edgebank", "edgebank_tw",
                                    "pair_history", "pair_history_ml"}
    for name in base["summary"]:
        assert base["summary"][name] == res["summary"][name]


def test_fork_multimodality_and_rollout_statistics_run_on_tiny_models():
    from dyngraphvae.evaluation.multimodality import fork_multimodality
    from dyngraphvae.evaluation.stationarity import rollout_statistics

    data = fork(num_sequences=3, num_nodes=8, history=3, horizon=2, num_features=2, seed=0)
    model = _model(data.graphs[0])
    out = fork_multimodality(model, data, num_samples=6, oracle_samples=data)
    p = out["pooled"]
    assert p["num_samples"] == 18
    assert p["fraction_0"] + p["fraction_1"] + p["fraction_neither"] == pytest.approx(1.0)
    assert out["energy_score"] > 0 and out["cues"] == ["features", "adjacency"]
    # first_step = 1 classifies on every step: the same labels as the all-steps summary
    assert out["first_step"] == 1
    for key in ("count_0", "count_1", "count_neither"):
        assert out["pooled_all_steps"][key] == p[key]
    late = fork_multimodality(model, data, num_samples=6, first_step=2)
    assert late["pooled"]["num_samples"] == 18 and late["first_step"] == 2
    with pytest.raises(ValueError, match="first_step"):
        fork_multimodality(model, data, num_samples=2, first_step=3)
    st = rollout_statistics(model, data.graphs[0], 20, num_samples=2, num_windows=4)
    assert st.density.shape == (2, 2, 20) and st.coupling_distance.shape == (2, 20)
    assert len(st.ks_consecutive) == 3 and st.lipschitz.num_states > 0


def test_gaussian_lag_baseline_on_a_known_ar_process():
    """y = 0.6 s_{t-1} − 0.2 s_{t-2} + 0.1 + ε, σ = 0.3: the fit recovers σ, its CRPS is the
    Gaussian closed form E CRPS = σ / √π, and 90 % intervals cover 90 %."""
    import math

    from dyngraphvae.data.splits import temporal_signal_split
    from dyngraphvae.experiments.nodes import gaussian_lag_baseline

    g = torch.Generator().manual_seed(0)
    T, N, L, sigma = 3000, 8, 2, 0.3
    s = torch.zeros(T + L, N, dtype=torch.float64)
    for t in range(L, T + L):
        s[t] = 0.6 * s[t - 1] - 0.2 * s[t - 2] + 0.1 + sigma * torch.randn(N, generator=g,
                                                                            dtype=torch.float64)
    x = torch.stack([s[i:i + L].T for i in range(T)])
    sig = TemporalGraph([torch.tensor([[0], [1]])] * T, N, directed=True, x=x, y=s[L:])
    train, test = temporal_signal_split(sig, 0.5)
    out = gaussian_lag_baseline(train, test, L)
    assert out["sigma"] == pytest.approx(sigma, rel=0.02)
    assert out["mse"] == pytest.approx(sigma ** 2, rel=0.04)
    assert out["crps"] == pytest.approx(sigma / math.sqrt(math.pi), rel=0.03)
    assert out["coverage"] == pytest.approx(0.9, abs=0.01)


def test_vgrnn_protocol_chooses_the_refit_on_the_validation_snapshot():
    """With refit candidates the protocol scores each on the validation snapshot, keeps the best
    (ties: the earlier) and forecasts the test snapshots with it: the same numbers as a run with
    that refit fixed in the config."""
    import dataclasses

    g = dynamic_sbm(num_nodes=20, num_snapshots=9, num_communities=2, num_features=0, seed=1)
    cfg = ForecasterConfig.for_graph(g, decoder_context="pair_history", **TINY)
    res = vgrnn_link_protocol(g, cfg, seeds=[0], num_samples=4, train_kwargs=FAST,
                              baselines=False, refit_windows=(0, 3, "3+rates+cn"))
    info = res["training"][0]
    scores = info["refit_scores"]
    assert set(scores) == {"0", "3", "3+rates+cn"}
    assert all(math.isfinite(v) for v in scores.values())
    best = max(scores, key=lambda k: (scores[k], -list(scores).index(k)))
    assert str(info["context_refit"]) == best
    fixed = dataclasses.replace(cfg, **refit_settings(info["context_refit"]))
    again = vgrnn_link_protocol(g, fixed, seeds=[0], num_samples=4, train_kwargs=FAST,
                                baselines=False)
    assert again["summary"]["model"] == res["summary"]["model"]
