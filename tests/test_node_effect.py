"""Node (sender / receiver) effects (``ForecasterConfig.node_effect``).

Known truth: the rows' sums that the fit keeps equal the exact sums over pairs; the marginal
likelihood equals numerical integration; the centre keeps the expected edge count; the fit
recovers the scale of row intercepts drawn from ``N(b, τ²)`` and finds none where there are none;
forecasts add the drawn intercepts to every logit (visible in ``Forecast.edge_logits``), widen the
sampled degrees, and the pair predictive integrates them out; ``fit`` sets the scales.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE
from dyngraphvae.models.context import ContextScorer, expected_sigmoid, marginal_logit
from dyngraphvae.models.random_effect import (
    RowStatistics,
    node_centre,
    node_effect_fit,
    node_log_likelihood,
    row_statistics,
)

torch.set_num_threads(1)


def _rows(tau: float, rows: int, cols: int, seed: int, loc: float = -7.0):
    g = torch.Generator().manual_seed(seed)
    lg = loc + 2.0 * torch.randn(rows, cols, generator=g, dtype=torch.float64)
    if rows == cols:
        lg.fill_diagonal_(-math.inf)
    a = tau * torch.randn(rows, 1, generator=g, dtype=torch.float64) - tau ** 2 / 2
    y = (torch.rand(rows, cols, generator=g, dtype=torch.float64)
         < torch.sigmoid(lg + a)).double()
    return lg, y


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), a=st.floats(-3.0, 3.0), loc=st.floats(-12.0, 0.0))
def test_row_sums_equal_the_exact_sums_over_pairs(seed, a, loc):
    lg, y = _rows(0.0, 30, 40, seed, loc)
    s = row_statistics(lg, y)
    exact = torch.nn.functional.softplus(lg + a).sum(1)
    from dyngraphvae.models.random_effect import _interp

    at = torch.tensor([a], dtype=torch.float64)
    got = s.rare * math.exp(a) + _interp(s.common, at, s.slope)[:, 0]
    # the rare pairs by e^x: relative error below e^(RARE_LOGIT + 3) / 2 = 0.12 %
    torch.testing.assert_close(got, exact, rtol=1.3e-3, atol=1e-12)
    count = float(s.rare.sum()) * math.exp(a) + float(_interp(s.slope.sum(0), at))
    assert count == pytest.approx(float(torch.sigmoid(lg + a).sum()), rel=2e-3)
    torch.testing.assert_close(s.degree, y.sum(1))


def test_the_marginal_likelihood_is_the_integral():
    lg, y = _rows(0.8, 25, 60, seed=1, loc=-4.0)
    s = row_statistics(lg, y)
    grid = torch.linspace(-10.0, 8.0, 6001, dtype=torch.float64)
    for b, t in ((-0.3, 0.8), (0.2, 1.5)):
        x = lg.unsqueeze(-1) + grid  # (R, N, G)
        ll = (y.unsqueeze(-1) * grid - torch.nn.functional.softplus(x)).sum(1)  # y·ℓ left out
        dens = -0.5 * ((grid - b) / t) ** 2 - math.log(t * math.sqrt(2 * math.pi))
        want = float((torch.logsumexp(ll + dens, 1) + math.log(float(grid[1] - grid[0]))).sum())
        assert node_log_likelihood(s, b, t) == pytest.approx(want, abs=5e-3)


@pytest.mark.parametrize("scale", [0.0, 1.0, 2.0])
def test_the_centre_keeps_the_expected_edge_count(scale):
    lg, y = _rows(0.0, 40, 40, seed=2, loc=-5.0)
    s = row_statistics(lg, y)
    b = node_centre(s, scale)
    a = torch.linspace(-12, 12, 20001, dtype=torch.float64)
    dens = torch.exp(-0.5 * (a / max(scale, 1e-9)) ** 2)
    if scale == 0:
        count = float(torch.sigmoid(lg + b).sum())
    else:
        dens = dens / torch.trapezoid(dens, a)
        per_a = torch.stack([torch.sigmoid(lg + b + v).sum() for v in a[::20]])
        count = float(torch.trapezoid(per_a * dens[::20], a[::20]))
    assert count == pytest.approx(float(y.sum()), rel=1e-2)
    if scale > 0:  # rare edges: the centre sits about τ²/2 below the effect-free one
        assert b < node_centre(s, 0.0) - 0.3 * scale ** 2


@pytest.mark.parametrize("tau", [0.0, 0.7, 1.4])
def test_the_fit_recovers_the_scale_of_row_intercepts(tau):
    parts = [row_statistics(*_rows(tau, 400, 400, seed=10 + i)) for i in range(4)]
    b, t = node_effect_fit(RowStatistics.cat(parts))
    assert abs(t - tau) <= 0.2, (t, tau)


def _graph(n=30, t=10, seed=0, bursty=False):
    g = torch.Generator().manual_seed(seed)
    snaps = []
    for _ in range(t):
        a = torch.full((n, n), -3.0)
        if bursty:  # a few senders very active on a snapshot
            a = a + 2.0 * torch.randn(n, 1, generator=g) - 2.0
        e = torch.rand(n, n, generator=g) < torch.sigmoid(a)
        e.fill_diagonal_(False)
        snaps.append(e.nonzero().t())
    return TemporalGraph(snaps, n, directed=True)


def _model(graph, scales=(0.0, 0.0), **kw):
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(graph, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history", node_effect=True, **kw)
    model = TemporalGraphVAE(cfg).eval()
    with torch.no_grad():
        model.node_scale.copy_(torch.tensor(scales))
        model.edge_decoder.bias.fill_(-3.0)
    return model


def test_config_needs_an_edge_context():
    with pytest.raises(ValueError, match="node_effect needs an edge context"):
        ForecasterConfig.for_graph(_graph(), node_effect=True)


@pytest.mark.parametrize("directed", [True, False])
def test_forecasts_add_the_drawn_intercepts_to_every_logit(directed):
    g = _graph()
    if not directed:
        g = TemporalGraph([g.edges(s) for s in range(len(g))], g.num_nodes, directed=False)
    model = _model(g, (1.2, 0.7))
    fc = model.forecast(g, 3, 5, generator=torch.Generator().manual_seed(0))
    var = 1.2 ** 2 + 0.7 ** 2 if directed else 2 * 1.2 ** 2
    assert fc.node_offsets.shape == (2, 5, 3, g.num_nodes)
    assert fc.node_var == pytest.approx(var)
    if directed:
        assert float(fc.node_offsets[0].std()) == pytest.approx(1.2, rel=0.2)
        assert float(fc.node_offsets[1].std()) == pytest.approx(0.7, rel=0.2)
    else:  # one intercept per node, on both ends
        torch.testing.assert_close(fc.node_offsets[0], fc.node_offsets[1])
    pairs = torch.tensor([[0, 1, 2, 5], [3, 0, 7, 9]])
    for k in range(3):
        plain = ContextScorer(model.edge_decoder, model.edge_context, fc.contexts[k].edges)
        want = (marginal_logit(plain.logits(fc.z[:, k], pairs), var)
                + fc.node_offsets[0, :, k][:, pairs[0]] + fc.node_offsets[1, :, k][:, pairs[1]])
        torch.testing.assert_close(fc.edge_logits(pairs)[:, k], want)
        if directed:
            full = fc.edge_logits()[:, k]
            torch.testing.assert_close(full[:, pairs[0], pairs[1]], want)


def _log_mean_sigmoid(x: torch.Tensor, var: float) -> torch.Tensor:
    """``log E σ(x + ε)``, ``ε ~ N(0, var)``, by the trapezoid rule on a fine grid."""
    if var == 0:
        return torch.nn.functional.logsigmoid(x)
    s = math.sqrt(var)
    e = torch.linspace(-10 * s, 10 * s, 20001, dtype=torch.float64)
    dens = torch.exp(-0.5 * (e / s) ** 2)
    dens = dens / torch.trapezoid(dens, e)
    return torch.log(torch.trapezoid(torch.sigmoid(x[:, None] + e) * dens, e, dim=1))


@settings(max_examples=30, deadline=None)
@given(var=st.floats(0.01, 8.0), lo=st.floats(-40.0, 10.0),
       given_var=st.one_of(st.just(0.0), st.floats(0.01, 4.0)))
def test_the_marginal_logit_keeps_each_pair_probability(var, lo, given_var):
    # E σ(m(ℓ) + ε + η) = E σ(ℓ + η): node effects ε beside a snapshot effect η (or none)
    logits = torch.linspace(lo, lo + 5.0, 7, dtype=torch.float64)
    m = marginal_logit(logits, var, given_var)
    got = _log_mean_sigmoid(m, var + given_var)
    torch.testing.assert_close(got, _log_mean_sigmoid(logits, given_var), atol=1e-4, rtol=0)
    assert bool((m.diff() > 0).all())  # monotone: the ranking of pairs is kept
    assert torch.equal(marginal_logit(logits, 0.0, given_var), logits)


def test_the_effect_widens_the_sampled_degrees():
    g = _graph(n=40)
    var = []
    for scales in ((0.0, 0.0), (1.5, 0.0)):
        fc = _model(g, scales).forecast(g, 1, 100, generator=torch.Generator().manual_seed(3))
        e = fc.sampled_edges
        deg = torch.stack([torch.bincount(e[2][e[0] == s], minlength=40) for s in range(100)])
        var.append(float(deg.double().var(1).mean()))
    assert var[1] > 2 * var[0], var


def test_the_pair_predictive_integrates_the_intercepts():
    from dyngraphvae.models.rolling import predictive_pair_probs, rolling_forecast

    g = _graph()
    model = _model(g, (1.0, 0.5))
    fc = rolling_forecast(model, g, [6, 7], 2, 4, generator=torch.Generator().manual_seed(6))
    pairs = torch.tensor([[0, 1, 2], [3, 0, 7]])
    for i in range(2):
        for k in range(2):
            sc = fc.edge_scorers[i][k]
            base = sc.scorer.logits(fc.z[:, i, k], pairs)
            got = fc.edge_prob(i, k, pairs)
            torch.testing.assert_close(
                got, expected_sigmoid(marginal_logit(base, 1.25), math.sqrt(1.25)).mean(0))
            # node effects alone keep every pair's probability: the plain model's
            torch.testing.assert_close(got, torch.sigmoid(base).mean(0), atol=1e-5, rtol=1e-4)
    # the pair-only path too: at h = 1 the same probabilities as without node effects
    plain = TemporalGraphVAE(dataclasses.replace(model.config, node_effect=False)).eval()
    plain.load_state_dict({k: v for k, v in model.state_dict().items()
                           if k not in ("node_scale", "node_corr")})
    got, want = (predictive_pair_probs(m, g, [6, 7], 1, 8, [[pairs], [pairs]],
                                       torch.Generator().manual_seed(1)) for m in (model, plain))
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a[0], b[0], atol=1e-6, rtol=1e-5)


def test_without_the_effect_nothing_is_drawn():
    g = _graph()
    cfg = ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history", node_effect=False)
    model = TemporalGraphVAE(cfg).eval()
    assert not hasattr(model, "node_scale")
    assert model.forecast(g, 2, 3).node_offsets is None


def test_fit_sets_the_scales_from_the_training_snapshots(tmp_path):
    from dyngraphvae.training import TrainConfig, fit

    scales = {}
    for name, bursty in (("bursty", True), ("steady", False)):
        graph = _graph(n=60, t=16, seed=5, bursty=bursty)
        cfg = ForecasterConfig.for_graph(graph, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                         decoder_context="pair_history", node_effect=True)
        tc = TrainConfig(epochs=3, window=2, val_snapshots=3, progress_bar=False,
                         tensorboard=False, save_checkpoints=False, patience=None)
        model = fit(cfg, tc, graph, tmp_path / name).model
        scales[name] = [float(v) for v in model.node_scale]
        assert math.isfinite(float(model.node_corr))
    assert scales["bursty"][0] > 1.2 and scales["steady"][0] < 0.5, scales
    assert scales["bursty"][1] < 0.6, scales  # the bursts are the senders', not the receivers'


def test_the_correlation_fit_recovers_a_known_correlation():
    from dyngraphvae.models.random_effect import node_correlation_fit

    g = torch.Generator().manual_seed(7)
    n, tau, rho_true = 300, 1.2, 0.7
    rows, cols = [], []
    for _ in range(4):
        lg = -6.0 + torch.randn(n, n, generator=g, dtype=torch.float64)
        lg.fill_diagonal_(-math.inf)
        z1, z2 = torch.randn(2, n, generator=g, dtype=torch.float64)
        a = tau * z1 - tau ** 2 / 2
        c = tau * (rho_true * z1 + math.sqrt(1 - rho_true ** 2) * z2) - tau ** 2 / 2
        y = (torch.rand(n, n, generator=g, dtype=torch.float64)
             < torch.sigmoid(lg + a[:, None] + c[None, :])).double()
        rows.append(row_statistics(lg, y))
        cols.append(row_statistics(lg.T, y.T))
    r, c = RowStatistics.cat(rows), RowStatistics.cat(cols)
    out, into = node_effect_fit(r), node_effect_fit(c)
    assert abs(out[1] - tau) < 0.25 and abs(into[1] - tau) < 0.25, (out, into)
    rho = node_correlation_fit(r, c, out, into)
    assert abs(rho - rho_true) <= 0.2, rho
    # independent intercepts: no correlation found
    perm = torch.randperm(c.degree.numel(), generator=g)
    shuffled = RowStatistics(c.degree[perm], c.rare[perm], c.common[perm], c.slope[perm])
    assert abs(node_correlation_fit(r, shuffled, out, into)) <= 0.2


def test_forecasts_draw_correlated_sender_and_receiver_intercepts():
    g = _graph()
    model = _model(g, (1.0, 2.0))
    with torch.no_grad():
        model.node_corr.fill_(0.8)
    fc = model.forecast(g, 1, 400, generator=torch.Generator().manual_seed(2))
    a, c = fc.node_offsets[0, :, 0].flatten(), fc.node_offsets[1, :, 0].flatten()
    assert float(torch.corrcoef(torch.stack([a, c]))[0, 1]) == pytest.approx(0.8, abs=0.05)
    assert float(c.std()) == pytest.approx(2.0, rel=0.05)


def test_the_forecast_predictive_integrates_the_intercepts():
    g = _graph()
    model = _model(g, (1.3, 0.8))
    fc = model.forecast(g, 2, 3, generator=torch.Generator().manual_seed(8))
    pairs = torch.tensor([[0, 1, 2, 5], [3, 0, 7, 9]])
    got = fc.predictive_edge_prob(pairs)
    for k in range(2):
        plain = ContextScorer(model.edge_decoder, model.edge_context, fc.contexts[k].edges)
        torch.testing.assert_close(got[:, k], torch.sigmoid(plain.logits(fc.z[:, k], pairs)),
                                   atol=1e-5, rtol=1e-4)
    dense = fc.predictive_edge_prob()
    torch.testing.assert_close(dense[:, :, pairs[0], pairs[1]], got)
    # without intercepts it is the plain probability
    cfg = ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history", node_effect=False)
    fc0 = TemporalGraphVAE(cfg).eval().forecast(g, 2, 3)
    assert fc0.edge_offsets is None
    torch.testing.assert_close(fc0.predictive_edge_prob(pairs), fc0.edge_prob(pairs))


def test_for_graph_leaves_node_effects_off():
    # rule J failed on bitcoin_alpha (docs/results.md, 3p): not a config default; train turns
    # them on only for direct forecasts (rule K, 3q; the tests below)
    assert not ForecasterConfig.for_graph(_graph(), decoder_context="pair_history").node_effect


def _trained(tmp_path, name, **kw):
    from dyngraphvae.training import TrainConfig, fit

    graph = _graph(n=60, t=16, seed=5, bursty=True)
    cfg = ForecasterConfig.for_graph(graph, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history", **kw)
    tc = TrainConfig(epochs=2, window=2, val_snapshots=3, progress_bar=False, tensorboard=False,
                     save_checkpoints=False, patience=None)
    return graph, tc, fit(cfg, tc, graph, tmp_path / name).model


def test_train_turns_node_effects_on_for_direct_forecasts_only(tmp_path):
    import copy
    import json

    from dyngraphvae.models.rolling import predictive_pair_probs
    from dyngraphvae.selection import choose_forecasts, select_node_effect
    from dyngraphvae.training.io import load_saved

    graph, tc, model = _trained(tmp_path, "refit", context_refit=4)
    assert model.config.direct_forecasts
    before = copy.deepcopy(model)
    lines = choose_forecasts(model, graph, tc, tmp_path / "refit", refit=False)
    assert len(lines) == 1 and lines[0].startswith("node effects on"), lines
    # fitted on the 13 training snapshots (val block of 3 excluded); the bursty senders found
    assert model.config.node_effect and float(model.node_scale[0]) > 1.2
    record = json.loads((tmp_path / "refit" / "manifest.json").read_text())["metadata"]
    assert record["node_effect"]["num_snapshots"] == 12  # snapshots 1..12 score on filters
    saved = load_saved(tmp_path / "refit").model.eval()
    assert saved.config.node_effect
    torch.testing.assert_close(saved.node_scale, model.node_scale)
    # the sampled graphs now carry the drawn intercepts; every pair's forecast is the model's own
    assert before.forecast(graph[:10], 3, 4).node_offsets is None
    assert saved.forecast(graph[:10], 3, 4).node_offsets is not None
    pairs = [[torch.tensor([[0, 1, 2, 5], [3, 0, 7, 9]])] * 3]
    for origin in (9, 10):  # one origin a call: the node draws use the generator after it
        got, want = (predictive_pair_probs(m, graph, [origin], 3, 8, pairs,
                                           torch.Generator().manual_seed(1))[0]
                     for m in (saved, before))
        for k in range(3):
            torch.testing.assert_close(got[k], want[k], atol=1e-5, rtol=1e-4)
    assert select_node_effect(saved, graph, tc, tmp_path / "refit") is None  # already on

    # forecasts that read their own samples back (W = 0): nothing changes (rule J, 3p)
    graph, tc, plain = _trained(tmp_path, "feedback")
    assert not plain.config.direct_forecasts
    assert choose_forecasts(plain, graph, tc, tmp_path / "feedback", refit=False) == []
    assert not hasattr(plain, "node_scale")
    assert not load_saved(tmp_path / "feedback").model.config.node_effect
    assert dataclasses.replace(plain.config, context_leads=2).direct_forecasts


def test_the_direct_multi_horizon_decoder_gets_node_effects_too(tmp_path):
    import copy

    from dyngraphvae.models.rolling import predictive_pair_probs
    from dyngraphvae.selection import choose_forecasts

    graph, tc, model = _trained(tmp_path, "leads", context_leads=3)
    before = copy.deepcopy(model)
    lines = choose_forecasts(model, graph, tc, tmp_path / "leads", refit=False)
    assert lines and lines[0].startswith("node effects on")
    fc = model.forecast(graph[:10], 3, 4, generator=torch.Generator().manual_seed(2))
    assert fc.node_offsets.shape == (2, 4, 3, graph.num_nodes)
    pairs = [[torch.tensor([[0, 1, 2, 5], [3, 0, 7, 9]])] * 3]
    got, want = (predictive_pair_probs(m, graph, [10], 3, 8, pairs,
                                       torch.Generator().manual_seed(1))[0]
                 for m in (model, before))
    for k in range(3):  # leads 2, 3 read their own terms: the pairs keep their probability
        torch.testing.assert_close(got[k], want[k], atol=1e-5, rtol=1e-4)


def test_train_skips_node_effects_on_graphs_too_large_for_the_dense_fit(tmp_path, monkeypatch):
    import json

    from dyngraphvae import selection

    graph, tc, model = _trained(tmp_path, "big", context_refit=4)
    monkeypatch.setattr(selection, "NODE_EFFECT_MAX_NODES", graph.num_nodes - 1)
    lines = selection.choose_forecasts(model, graph, tc, tmp_path / "big", refit=False)
    assert lines == [f"node effects off: {graph.num_nodes} nodes > NODE_EFFECT_MAX_NODES = "
                     f"{graph.num_nodes - 1} (the fit is dense in N²)"]
    assert not model.config.node_effect and not hasattr(model, "node_scale")
    meta = json.loads((tmp_path / "big" / "manifest.json").read_text())["metadata"]
    assert "skipped" in meta["node_effect"]
