"""Neighbour-mean lags of the feature mean (``ForecasterConfig.feature_neighbours``, a STAR term)
and the spatial-lag regression baseline: the operator against networkx, the decoder's mean
against a hand computation in training contexts and in rollouts (the origin's graph kept), the
warm start and the baseline against numpy's least squares on a known-truth STAR series."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dyngraphvae.data.neighbours import neighbour_mean
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.evaluation.baselines import LinearLagRegression, SpatialLagRegression
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE
from dyngraphvae.models.context import lag_inputs
from dyngraphvae.training.warm_start import warm_start_features

torch.set_num_threads(1)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), m=st.integers(0, 30), seed=st.integers(0, 10_000),
       directed=st.booleans())
def test_neighbour_mean_is_the_mean_over_networkx_neighbours(n, m, seed, directed):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, m), generator=g)  # repeats and self-loops included
    x = torch.randn(n, 3, generator=g, dtype=torch.float64)
    got = torch.sparse.mm(neighbour_mean(ei, n).double(), x)
    ref = nx.Graph()
    ref.add_nodes_from(range(n))
    ref.add_edges_from((int(u), int(v)) for u, v in ei.t() if u != v)
    for v in range(n):
        nb = sorted(ref.neighbors(v))
        want = x[nb].mean(0) if nb else torch.zeros(3, dtype=torch.float64)
        torch.testing.assert_close(got[v], want)


def test_lag_inputs_apply_the_operator_to_every_leading_row():
    g = torch.Generator().manual_seed(0)
    ei = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])
    p = neighbour_mean(ei, 5)
    x = torch.randn(2, 3, 5, 4, generator=g)
    out = lag_inputs(x, p, True)
    assert out.shape == (2, 3, 5, 8)
    for a in range(2):
        for b in range(3):
            torch.testing.assert_close(out[a, b], torch.cat([x[a, b], p.to_dense() @ x[a, b]], -1))
    assert lag_inputs(x, p, False) is x
    torch.testing.assert_close(lag_inputs(x[0, 0], None, True)[:, 4:], torch.zeros(5, 4))


def _star(T=300, N=12, a=0.4, b=0.45, c=0.1, seed=0, noise=0.1):
    """``x_{t+1} = c + a x_t + b (P x)_t + ε`` on a ring with chords (a STAR(1) series)."""
    g = torch.Generator().manual_seed(seed)
    ring = torch.stack([torch.arange(N), (torch.arange(N) + 1) % N])
    chords = torch.stack([torch.arange(0, N, 3), (torch.arange(0, N, 3) + N // 2) % N])
    ei = torch.cat([ring, chords], 1)
    p = neighbour_mean(ei, N).to_dense()
    x = torch.zeros(T, N, 1)
    x[0] = torch.randn(N, 1, generator=g)
    for t in range(1, T):
        x[t] = c + a * x[t - 1] + b * (p @ x[t - 1]) + noise * torch.randn(N, 1, generator=g)
    return TemporalGraph([ei] * T, N, x=x), p


def _model(graph, **kw):
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(graph, latent_dim=2, hidden_dim=8, decode_edges=False,
                                     decoder_context="previous", **kw)
    return TemporalGraphVAE(cfg)


def test_decoder_mean_adds_the_neighbour_lags_in_contexts_and_rollouts():
    """mean = μ(z) + Σ_l W_l x_{s-l} + Σ_l V_l (P x)_{s-l} with P of the last observed graph;
    a rollout keeps the origin's P and shifts its own samples into the window."""
    graph, p = _star(T=8)
    L, f = 2, 1
    m = _model(graph, feature_lags=L, feature_neighbours=True)
    assert m.feature_context.weight.shape == (f, 2 * L * f)
    with torch.no_grad():
        m.feature_context.weight.copy_(torch.tensor([[0.7, -0.2, 0.5, 0.3]]))
    w = m.feature_context.weight.detach()[0]
    z = torch.randn(3, graph.num_nodes, 2)
    with torch.no_grad():
        for s in (1, 2, 5):
            ctx = m.decoder_context(graph, s)
            want = m.feature_decoder(z).mean
            for lag in (1, 2):
                if s - lag >= 0:
                    xl = graph.features(s - lag)
                    want = want + w[lag - 1] * xl + w[L + lag - 1] * (p @ xl)
            torch.testing.assert_close(m.decode_features(z, ctx).mean, want)
        fc = m.forecast(graph, 3, 4, generator=torch.Generator().manual_seed(1))
        lags = torch.cat([fc.x[:, 1], fc.x[:, 0]], -1)  # step 2 reads X̂_{T+2}, X̂_{T+1}
        spatial = torch.stack([p @ lags[i] for i in range(4)])
        torch.testing.assert_close(
            fc.feature_mean[:, 2],
            m.feature_decoder(fc.z[:, 2]).mean + lags @ w[:L, None] + spatial @ w[L:, None])


def test_warm_start_recovers_a_star_series_and_beats_own_lags():
    graph, _ = _star()
    m = _model(graph, feature_lags=1, feature_neighbours=True)
    info = warm_start_features(m, graph)
    w = m.feature_context.weight.detach().reshape(-1).numpy()
    np.testing.assert_allclose(w, [0.4, 0.45], atol=0.05)
    assert float(m.feature_decoder.mean.bias.detach()) == pytest.approx(0.1, abs=0.03)
    own = warm_start_features(_model(graph, feature_lags=1, feature_neighbours=False), graph)
    assert info["mse"] == pytest.approx(0.01, rel=0.15)
    assert own["mse"] > 1.2 * info["mse"]


def _windows(graph, L=2):
    """A lag-window signal (x[i] = lags, y[i] = next value) of a series graph."""
    s = graph.x[..., 0]
    x = torch.stack([s[i:i + L].t() for i in range(len(graph) - L)])
    y = torch.stack([s[i + L] for i in range(len(graph) - L)])
    return TemporalGraph([graph.edges(0)] * x.size(0), graph.num_nodes, x=x, y=y)


def test_spatial_lag_regression_is_least_squares_on_own_and_neighbour_lags():
    graph, p = _star(T=200)
    sig = _windows(graph)
    train, test = sig[:150], sig[150:]
    x, y = train.x.double(), train.y.double()
    px = torch.stack([p.double() @ x[t] for t in range(x.size(0))])
    design = torch.cat([x, px, torch.ones_like(x[..., :1])], -1).reshape(-1, 5).numpy()
    coef = np.linalg.lstsq(design, y.reshape(-1).numpy(), rcond=None)[0]
    W, b = SpatialLagRegression().fit_targets(train)
    np.testing.assert_allclose(np.r_[W.reshape(-1).numpy(), b.numpy()], coef, atol=1e-8)
    # the newest lag carries the truth (a, b), the older ones nothing: within 4 standard errors
    resid = design @ coef - y.reshape(-1).numpy()
    se = np.sqrt(np.diag(np.linalg.inv(design.T @ design)) * resid.var())
    assert np.all(np.abs(coef[:4] - [0.0, 0.4, 0.0, 0.45]) < 4 * se[:4])
    err = (SpatialLagRegression().predict_targets(train, test) - test.y).pow(2).mean()
    own = (LinearLagRegression(lags=2).predict_targets(train, test) - test.y).pow(2).mean()
    assert float(err) == pytest.approx(0.01, rel=0.3)
    assert float(own) > 1.1 * float(err)
    with pytest.raises(ValueError, match="no targets"):
        SpatialLagRegression().fit_targets(graph)


def test_for_graph_gives_neighbour_lags_with_a_context_and_features():
    graph, _ = _star(T=5)
    assert ForecasterConfig.for_graph(graph, decoder_context="previous").feature_neighbours
    assert not ForecasterConfig.for_graph(graph).feature_neighbours  # no context
    assert not ForecasterConfig.for_graph(graph, decoder_context="previous",
                                          decode_features=False).feature_neighbours
    assert not ForecasterConfig.for_graph(graph, decoder_context="previous",
                                          feature_neighbours=False).feature_neighbours


def test_feature_neighbours_config_is_validated_and_round_trips():
    cfg = ForecasterConfig(num_nodes=4, num_features=1, decoder_context="previous",
                           feature_neighbours=True)
    assert ForecasterConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="feature_neighbours needs a decoder context"):
        ForecasterConfig(num_nodes=4, num_features=1, feature_neighbours=True)
    with pytest.raises(ValueError, match="feature_neighbours: expected a bool"):
        ForecasterConfig(num_nodes=4, num_features=1, decoder_context="previous",
                         feature_neighbours=1)


def _lag_scores_by_hand(graph, num_val, lags, neighbours):
    """numpy least squares on the full design: fit rows L..T0-1, score rows T0..T-1."""
    x = graph.x[..., 0].double().numpy()
    T, n = x.shape
    t0 = T - num_val
    p = neighbour_mean(graph.edges(0), n).to_dense().double().numpy()

    def rows(s):
        own = np.stack([x[s - lag] for lag in range(1, lags + 1)], 1)
        cols = [own] + ([p @ own] if neighbours else []) + [np.ones((n, 1))]
        return np.concatenate(cols, 1), x[s]

    fit = [rows(s) for s in range(lags, t0)]
    coef = np.linalg.lstsq(np.concatenate([r[0] for r in fit]),
                           np.concatenate([r[1] for r in fit]), rcond=None)[0]
    val = [rows(s) for s in range(t0, T)]
    return float(np.mean(np.concatenate([d @ coef - y for d, y in val]) ** 2))


@pytest.mark.parametrize("neighbours", [False, True])
def test_lag_order_scores_are_least_squares_on_the_validation_block(neighbours):
    """feature_lag_scores equals a direct fit on complete-lag rows before the validation block,
    scored after it; on a series with a lag-3 dependence the choice finds an order >= 3, and
    orders with fewer fit snapshots than lags are left out."""
    from dyngraphvae.training.warm_start import feature_lag_scores, select_feature_lags

    g = torch.Generator().manual_seed(1)
    graph, p = _star(T=120, N=10)
    x = graph.x.clone()
    for t in range(3, x.size(0)):  # add a lag-3 echo of the own series
        x[t] = 0.3 * x[t - 1] + 0.5 * x[t - 3] + 0.1 * torch.randn(10, 1, generator=g)
    graph = TemporalGraph([graph.edges(0)] * x.size(0), 10, x=x)
    scores = feature_lag_scores(graph, 30, (1, 2, 4, 8, 64), neighbours)
    assert set(scores) == {1, 2, 4, 8}  # 64 > (120 - 30) / 2
    for lags in (1, 4):
        assert scores[lags] == pytest.approx(_lag_scores_by_hand(graph, 30, lags, neighbours),
                                             rel=1e-9)
    best, _ = select_feature_lags(graph, 30, (1, 2, 4, 8), neighbours)
    assert best >= 4 and scores[4] < 0.8 * scores[2]  # the noise floor is 0.01
    with pytest.raises(ValueError, match="no lag order"):
        feature_lag_scores(graph, 118, (4,), neighbours)


def test_gaussian_lag_paths_iterate_the_least_squares_map_and_spread_like_the_ar():
    """Own lags: the point forecast is LinearLagRegression's iterated forecast; the simulated
    paths of an AR(1) have the closed-form h-step mean and variance σ² Σ_{j<h} a^{2j}."""
    from dyngraphvae.evaluation.baselines import gaussian_lag_paths

    g = torch.Generator().manual_seed(0)
    T, N, a, sd = 400, 8, 0.7, 0.3
    x = torch.zeros(T, N, 1, dtype=torch.float64)
    for t in range(1, T):
        x[t] = a * x[t - 1] + sd * torch.randn(N, 1, generator=g, dtype=torch.float64)
    graph = TemporalGraph([torch.tensor([[0, 1], [1, 2]])] * T, N, x=x)
    point, paths = gaussian_lag_paths(graph, 3, 4000, lags=1,
                                      generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(point, LinearLagRegression(lags=1).predict(graph, 3))
    assert paths.shape == (4000, 3, N, 1)
    for h in range(3):
        var = sd**2 * sum(a ** (2 * j) for j in range(h + 1))
        got = paths[:, h].var(0)
        assert float((got / var).mean()) == pytest.approx(1.0, abs=0.08)
        assert float((paths[:, h].mean(0) - point[h]).abs().max()) < 5 * (var / 4000) ** 0.5


def test_gaussian_lag_paths_with_neighbours_iterate_the_star_fit():
    from dyngraphvae.evaluation.baselines import gaussian_lag_paths

    graph, p = _star(T=200)
    L = 2
    x = graph.x[..., 0].double().numpy()
    pd = p.double().numpy()
    rows = [np.concatenate([np.stack([x[s - 1], x[s - 2]], 1),
                            pd @ np.stack([x[s - 1], x[s - 2]], 1), np.ones((12, 1))], 1)
            for s in range(L, 200)]
    coef = np.linalg.lstsq(np.concatenate(rows), np.concatenate([x[s] for s in range(L, 200)]),
                           rcond=None)[0]
    window = [x[-1], x[-2]]
    want = []
    for _ in range(3):
        own = np.stack(window[:2], 1)
        nxt = np.concatenate([own, pd @ own, np.ones((12, 1))], 1) @ coef
        want.append(nxt)
        window = [nxt] + window
    point, _ = gaussian_lag_paths(graph, 3, 5, lags=L, neighbours=True)
    np.testing.assert_allclose(point[..., 0].double().numpy(), np.stack(want), atol=1e-5)


def test_evaluate_reports_the_feature_baselines_and_warns_when_the_model_is_worse():
    from dyngraphvae.report import evaluate_forecast, feature_table

    graph, _ = _star(T=30)
    model = _model(graph, feature_lags=2).eval()  # untrained: far worse than the baselines
    out = evaluate_forecast(model, graph, 24, 3, num_samples=10, metrics=["features"])
    for name in ("model", "persistence", "linear_lags", "spatial_lags"):
        assert len(out[f"features/{name}_crps"]) == 3 and len(out[f"features/{name}_mae"]) == 3
    table, warns = feature_table(out)
    assert "spatial_lags" in table and "linear_lags" in table
    assert any("worse than the best baseline on feature CRPS" in w for w in warns)
    short = evaluate_forecast(model, graph, 4, 2, num_samples=4, metrics=["features"])
    assert "features/linear_lags_crps" not in short  # too little history to fit the baselines
