"""The snapshot effect (``ForecasterConfig.snapshot_effect``): a random intercept per snapshot.

Known truth: the fit recovers the scale of per-snapshot offsets drawn from ``N(0, τ²)`` (and finds
none when there are none); the Laplace/random-effects fit picks the ``τ`` that maximises the
exact marginal likelihood computed by numerical integration; forecasts add one draw per sample
and step to every logit, visible in ``Forecast.edge_logits`` and in the spread of the sampled edge
counts; the pair-only predictive averages over the draws; ``fit`` sets the scale.
"""

from __future__ import annotations

import math

import pytest
import torch

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE
from dyngraphvae.models.context import ContextScorer
from dyngraphvae.models.rolling import predictive_pair_probs
from dyngraphvae.training.snapshot_effect import offset_estimates, random_effect_fit

torch.set_num_threads(1)


def _snapshots(tau: float, num: int, pairs: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    logits = [torch.randn(pairs, generator=g, dtype=torch.float64) - 3.0 for _ in range(num)]
    delta = tau * torch.randn(num, generator=g, dtype=torch.float64)
    labels = [(torch.rand(pairs, generator=g, dtype=torch.float64)
               < torch.sigmoid(lg + d)).double() for lg, d in zip(logits, delta, strict=True)]
    weights = [torch.ones(pairs, dtype=torch.float64) for _ in range(num)]
    return logits, labels, weights


@pytest.mark.parametrize("tau", [0.0, 0.5])
def test_the_fit_recovers_the_scale_of_snapshot_offsets(tau):
    logits, labels, weights = _snapshots(tau, 60, 20000, seed=1)
    d_hat, curv = offset_estimates(logits, labels, weights)
    b, t = random_effect_fit(d_hat, 1.0 / curv)
    # 60 snapshots: the standard errors of τ and b are about τ / 11 and τ / 8
    assert abs(t - tau) < 0.12, t
    assert abs(b) < 0.2, b


def test_the_fit_maximises_the_exact_marginal_likelihood():
    logits, labels, weights = _snapshots(0.7, 12, 400, seed=2)
    d_hat, curv = offset_estimates(logits, labels, weights)
    b, tau = random_effect_fit(d_hat, 1.0 / curv)
    grid = torch.linspace(-6.0, 6.0, 4001, dtype=torch.float64)

    def exact(b: float, t: float) -> float:
        total = 0.0
        for lg, y in zip(logits, labels, strict=True):
            x = lg.unsqueeze(0) + grid.unsqueeze(1)  # offsets on the grid
            ll = (y * x - torch.nn.functional.softplus(x)).sum(1)
            dens = -0.5 * ((grid - b) / t) ** 2 - math.log(t * math.sqrt(2 * math.pi))
            total += float(torch.logsumexp(ll + dens, 0) + math.log(float(grid[1] - grid[0])))
        return total

    best = max((exact(bb, tt), bb, tt) for tt in (tau - 0.15, tau, tau + 0.15)
                for bb in (b - 0.15, b, b + 0.15))
    assert (best[1], best[2]) == (b, tau)


def _graph(n=12, t=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    snaps = []
    for _ in range(t):
        a = torch.rand(n, n, generator=g) < 0.2
        a.fill_diagonal_(False)
        snaps.append(a.nonzero().t())
    return TemporalGraph(snaps, n, directed=True)


def _model(graph, scale: float):
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(graph, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history", snapshot_effect=True)
    model = TemporalGraphVAE(cfg).eval()
    with torch.no_grad():
        model.snapshot_scale.fill_(scale)
        model.edge_decoder.bias.fill_(-3.0)  # a sparse graph: σ(ℓ) far from ½ without the effect
    return model


def test_config_needs_an_edge_context():
    with pytest.raises(ValueError, match="snapshot_effect needs an edge context"):
        ForecasterConfig.for_graph(_graph(), snapshot_effect=True)


def test_forecasts_add_one_draw_per_sample_and_step():
    g = _graph()
    model = _model(g, 1.5)
    fc = model.forecast(g, 3, 5, generator=torch.Generator().manual_seed(0))
    assert fc.edge_offsets.shape == (5, 3) and float(fc.edge_offsets.std()) > 0.3
    pairs = torch.tensor([[0, 1, 2, 5], [3, 0, 7, 9]])
    for k in range(3):
        plain = ContextScorer(model.edge_decoder, model.edge_context, fc.contexts[k].edges)
        want = plain.logits(fc.z[:, k], pairs) + fc.edge_offsets[:, k, None]
        torch.testing.assert_close(fc.edge_logits(pairs)[:, k], want)
    assert _model(g, 0.0).forecast(g, 2, 3).edge_offsets.abs().max() == 0


def test_the_effect_spreads_the_sampled_edge_counts():
    g = _graph(n=20)
    spread = []
    for scale in (0.0, 2.0):
        fc = _model(g, scale).forecast(g, 1, 200, generator=torch.Generator().manual_seed(3))
        counts = torch.bincount(fc.sampled_edges[0], minlength=200).double()
        spread.append(float(counts.std()))
    assert spread[1] > 2 * spread[0], spread


def test_the_pair_predictive_averages_over_the_draws():
    g = _graph()
    pairs = torch.tensor([[0, 1, 2, 5, 4], [3, 0, 7, 9, 8]])
    reqs = [[pairs]]
    gen = torch.Generator().manual_seed(4)
    # E σ(ℓ + δ) with ℓ ≈ −3 and τ = 30: near ½ (Φ(ℓ / sqrt(τ² + π²/3)) ≈ 0.46)
    wide = predictive_pair_probs(_model(g, 30.0), g, [6], 1, 800, reqs, gen)[0][0]
    assert 0.35 < float(wide.mean()) < 0.6, wide
    without = predictive_pair_probs(_model(g, 0.0), g, [6], 1, 800, reqs, gen)[0][0]
    assert float(without.max()) < 0.15, without


def test_fit_sets_the_scale_from_the_training_snapshots(tmp_path):
    from dyngraphvae.training import TrainConfig, fit

    g = torch.Generator().manual_seed(5)
    n, snaps, scales = 40, [], {}
    for name, tau in (("swinging", 1.2), ("steady", 0.0)):
        snaps = []
        for _ in range(24):
            p = torch.sigmoid(torch.tensor(-2.5 + tau * float(torch.randn(1, generator=g))))
            a = torch.rand(n, n, generator=g) < p
            a.fill_diagonal_(False)
            snaps.append(a.nonzero().t())
        graph = TemporalGraph(snaps, n, directed=True)
        cfg = ForecasterConfig.for_graph(graph, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                         decoder_context="pair_history", snapshot_effect=True)
        tc = TrainConfig(epochs=3, window=2, val_snapshots=3, progress_bar=False,
                         tensorboard=False, save_checkpoints=False, patience=None)
        scales[name] = float(fit(cfg, tc, graph, tmp_path / name).model.snapshot_scale)
    assert scales["swinging"] > 0.6 and scales["steady"] < 0.3, scales


@pytest.mark.parametrize("scale", [0.0, 0.3, 2.0])
def test_expected_sigmoid_is_the_gaussian_integral(scale):
    from dyngraphvae.models.context import expected_sigmoid

    logits = torch.tensor([-6.0, -2.0, 0.0, 1.5], dtype=torch.float64)
    got = expected_sigmoid(logits, scale)
    if scale == 0.0:
        torch.testing.assert_close(got, torch.sigmoid(logits))
        return
    d = torch.linspace(-12 * scale, 12 * scale, 200001, dtype=torch.float64)
    dens = torch.exp(-0.5 * (d / scale) ** 2) / (scale * math.sqrt(2 * math.pi))
    want = torch.trapezoid(torch.sigmoid(logits.unsqueeze(1) + d) * dens, d, dim=1)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)  # 20-node quadrature


def test_rolling_predictive_integrates_the_step_draw():
    from dyngraphvae.models.context import expected_sigmoid
    from dyngraphvae.models.rolling import rolling_forecast

    g = _graph()
    model = _model(g, 1.0)
    fc = rolling_forecast(model, g, [5, 6], 2, 4, generator=torch.Generator().manual_seed(6))
    pairs = torch.tensor([[0, 1, 2], [3, 0, 7]])
    for i in range(2):
        for k in range(2):
            sc = fc.edge_scorers[i][k]
            base = sc.scorer.logits(fc.z[:, i, k], pairs)
            torch.testing.assert_close(fc.edge_prob(i, k, pairs),
                                       expected_sigmoid(base, 1.0).mean(0))
            # the drawn offsets are the ones the sampled graphs used
            torch.testing.assert_close(sc.logits(fc.z[:, i, k], pairs),
                                       base + sc.offsets.unsqueeze(-1))
