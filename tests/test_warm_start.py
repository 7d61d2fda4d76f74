"""Warm start of the pair-history context: the fit reaches the maximum-likelihood logistic
regression of the training snapshots on the context's features (checked against Newton's method
on the full design of every pair), leaves other models alone, and fit() applies it to the
training snapshots only."""

from __future__ import annotations

import pytest
import torch

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE
from dyngraphvae.training import TrainConfig, fit
from dyngraphvae.training.warm_start import warm_start_context

torch.set_num_threads(1)


def _graph(n=14, t=8, seed=0) -> TemporalGraph:
    """Edges that persist and spread: a pair seen before comes back with probability 0.6."""
    g = torch.Generator().manual_seed(seed)
    a = (torch.rand(n, n, generator=g) < 0.08).float()
    snaps = []
    for _ in range(t):
        keep = (torch.rand(n, n, generator=g) < 0.6).float() * a
        new = (torch.rand(n, n, generator=g) < 0.03).float()
        a = ((keep + new) > 0).float()
        a.fill_diagonal_(0)
        snaps.append(a.nonzero().t())
    return TemporalGraph(snaps, n, directed=True)


def _model(g, context="pair_history"):
    torch.manual_seed(0)
    return TemporalGraphVAE(ForecasterConfig.for_graph(
        g, latent_dim=3, hidden_dim=8, node_embedding_dim=4, decoder_context=context,
        history_rates=(0.5, 0.9)))


def _full_design(model, g):
    n = g.num_nodes
    pairs = (~torch.eye(n, dtype=torch.bool)).nonzero().t()
    contexts = model.decoder_contexts(g)
    xs, ys = [], []
    for s in range(1, len(g)):
        a = torch.zeros(n, n)
        e = g.edges(s)
        a[e[0], e[1]] = 1
        with torch.no_grad():
            xs.append(model.edge_context.pair_features(contexts[s].edges, pairs)[0].double())
        ys.append(a[pairs[0], pairs[1]].double())
    x = torch.cat(xs)
    return torch.cat([x, torch.ones(x.size(0), 1, dtype=x.dtype)], 1), torch.cat(ys)


def _nll(x, y, theta):
    return torch.nn.functional.binary_cross_entropy_with_logits(x @ theta, y, reduction="sum")


def test_warm_start_reaches_the_maximum_likelihood_regression():
    g = _graph()
    model = _model(g)
    info = warm_start_context(model, g, negatives=20000, ridge=0.0)
    x, y = _full_design(model, g)
    theta = torch.zeros(x.size(1), dtype=torch.float64)
    for _ in range(50):  # Newton's method on the exact likelihood (small ridge for the solve)
        p = torch.sigmoid(x @ theta)
        grad = x.t() @ (p - y)
        hess = x.t() @ (x * (p * (1 - p)).unsqueeze(1)) + 1e-8 * torch.eye(x.size(1))
        theta = theta - torch.linalg.solve(hess, grad)
    ours = torch.cat([model.edge_context.weight_vector().detach().double(),
                      model.edge_decoder.bias.detach().double().reshape(1)])
    best, got = float(_nll(x, y, theta)), float(_nll(x, y, ours))
    assert got >= best - 1e-6
    assert got <= best * 1.01  # within 1 % of the optimum, from sampled negatives
    assert abs(info["bias"] - float(model.edge_decoder.bias)) < 1e-6
    # the fitted term predicts: pairs seen before score higher than the rest
    assert float(ours[0]) > 0


def test_other_models_are_left_alone():
    g = _graph()
    model = _model(g, context="history")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert warm_start_context(model, g) is None
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_fit_warm_starts_on_the_training_snapshots_only(tmp_path, monkeypatch):
    import dyngraphvae.training.warm_start as ws

    g = _graph(t=10)
    seen = {}
    real = ws.warm_start_context

    def spy(model, graph, **kw):
        seen["T"] = len(graph)
        return real(model, graph, **kw)

    monkeypatch.setattr(ws, "warm_start_context", spy)
    cfg = ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history")
    tc = TrainConfig(epochs=1, val_snapshots=3, progress_bar=False, tensorboard=False,
                     save_checkpoints=False)
    fit(cfg, tc, g, tmp_path / "a")
    assert seen["T"] == 7  # 10 snapshots, 3 validate
    seen.clear()
    fit(cfg, TrainConfig(**{**tc.to_dict(), "warm_start": False}), g, tmp_path / "b")
    assert seen == {}


def test_feature_warm_start_is_the_least_squares_ar_l():
    """On an AR(2) series the warm start sets the lag weights and the mean offset to the pooled
    least-squares fit (checked against numpy's lstsq on the same rows) and recovers the truth."""
    import numpy as np

    from dyngraphvae.training.warm_start import warm_start_features

    g = torch.Generator().manual_seed(0)
    T, N = 400, 6
    x = torch.zeros(T, N, 1)
    for t in range(2, T):
        x[t] = 0.5 * x[t - 1] - 0.3 * x[t - 2] + 0.2 + 0.1 * torch.randn(N, 1, generator=g)
    graph = TemporalGraph([torch.tensor([[0, 1], [1, 2]])] * T, N, x=x)
    cfg = ForecasterConfig.for_graph(graph, latent_dim=2, hidden_dim=8, decode_edges=False,
                                     decoder_context="previous", feature_lags=2,
                                     feature_neighbours=False)
    model = TemporalGraphVAE(cfg)
    info = warm_start_features(model, graph)
    lag1 = x[:-1].reshape(-1).numpy()
    lag2 = torch.cat([torch.zeros(1, N, 1), x[:-2]]).reshape(-1).numpy()
    design = np.stack([lag1, lag2, np.ones_like(lag1)], 1)
    want = np.linalg.lstsq(design, x[1:].reshape(-1).numpy(), rcond=None)[0]
    w = model.feature_context.weight.detach().reshape(-1)
    np.testing.assert_allclose(w.numpy(), want[:2], rtol=1e-4, atol=1e-5)
    assert float(model.feature_decoder.mean.bias) == pytest.approx(float(want[2]), abs=1e-5)
    np.testing.assert_allclose(want, [0.5, -0.3, 0.2], atol=0.03)
    assert info["mse"] == pytest.approx(0.01, rel=0.15)
    assert warm_start_features(TemporalGraphVAE(ForecasterConfig.for_graph(graph)), graph) is None
