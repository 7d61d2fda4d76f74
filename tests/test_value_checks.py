"""Value tests for behaviours that a review found unguarded: each recomputes a quantity by hand
(law of total variance, a hand-built MixtureSameFamily, the fair CRPS and the mixture log score of
the drift curves, one teacher-forcing coin per sample, self-loop invariance of the sparse edge
estimator, the exact identities of the predictive log-likelihood) and would fail if the
implementation dropped a term, shared a coin, squared a probability or counted the diagonal."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from dyngraphvae.data.synthetic import dynamic_sbm, linear_gaussian
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE
from dyngraphvae.nn.adjacency import adjacency_log_likelihood

torch.set_num_threads(1)


def _model(graph, **kw) -> TemporalGraphVAE:
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(graph, latent_dim=3, hidden_dim=8, node_embedding_dim=4, **kw)
    return TemporalGraphVAE(cfg)


# ---------------------------------------------------------------------------- posterior scale
def test_posterior_scale_is_the_law_of_total_variance(monkeypatch):
    """Var[Z] = E_s[σ_s²] + Var_s[μ_s]: dropping the between-sample term would fail."""
    g = dynamic_sbm(num_nodes=12, num_snapshots=5, num_features=2, seed=1)
    model = _model(g)
    seen = {}
    from dyngraphvae.models import engine

    real = engine.posterior_chain

    def spy(*a, **k):
        seen["tr"] = real(*a, **k)
        return seen["tr"]

    monkeypatch.setattr(engine, "posterior_chain", spy)
    out = model.elbo(g, num_samples=16, generator=torch.Generator().manual_seed(3))
    loc, scale = seen["tr"].loc.double(), seen["tr"].scale.double()  # (S, T, N, d)
    within = scale.pow(2).mean(0)
    between = loc.var(0, unbiased=False)
    assert float(between.mean()) > 1e-3 * float(within.mean())  # the term matters here
    torch.testing.assert_close(out.posterior_scale.double(), (within + between).sqrt(),
                               rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(out.posterior_loc.double(), loc.mean(0), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------- graph mixture
def test_graph_mixture_is_the_hand_built_mixture_of_node_products():
    """One component for the whole graph, weights softmax(mean_v logits_v) (not the sum)."""
    g = dynamic_sbm(num_nodes=7, num_snapshots=3, num_features=2, seed=2)
    model = _model(g, transition_components=3, transition_mixture="graph")
    z = torch.randn(4, 7, 3, generator=torch.Generator().manual_seed(0))
    p = model.prior(z)
    node = model.transition.node_mixture(z)  # per-node mixture, batch (4, N), K components
    logits = node.mixture_distribution.logits  # (4, N, K)
    base = node.component_distribution.base_dist  # loc (4, N, K, d)
    hand = MixtureSameFamily(
        Categorical(logits=logits.mean(-2)),
        Independent(Normal(base.loc.transpose(-3, -2), base.scale.transpose(-3, -2)), 2))
    x = torch.randn(5, 4, 7, 3, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(p.log_prob(x), hand.log_prob(x), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(p.mixture_distribution.probs, torch.softmax(logits.mean(-2), -1))
    # the sum over nodes would sharpen the weights N-fold in logit space: a different law
    assert not torch.allclose(torch.softmax(logits.sum(-2), -1), p.mixture_distribution.probs,
                              atol=1e-3)


# ---------------------------------------------------------------------------- drift scores
def test_drift_crps_and_log_score_recomputed_by_hand():
    from dyngraphvae.evaluation.drift import drift_curve
    from dyngraphvae.models.rolling import rolling_forecast

    data = linear_gaussian(num_nodes=9, num_snapshots=8, seed=4)
    g = data.graph
    model = _model(g).eval()
    S, origins, H = 6, [4, 5], 2
    res = drift_curve(model, g, origins, H, num_samples=S, seed=11, baselines=False)
    with torch.no_grad():
        fc = rolling_forecast(model, g, origins, H, S, generator=torch.Generator().manual_seed(11))
    for i, o in enumerate(origins):
        for k in range(H):
            y = g.features(o + k).double()  # (N, F)
            x = fc.x[:, i, k].double()  # (S, N, F)
            spread = (x.unsqueeze(0) - x.unsqueeze(1)).abs().sum((0, 1))
            fair = (x - y).abs().mean(0) - spread / (2 * S * (S - 1))  # Ferro 2014, unbiased
            assert res.values["feature/crps"][i, k].item() == pytest.approx(
                float(fair.mean()), rel=1e-9, abs=1e-12)
            mu, var = fc.feature_mean[:, i, k].double(), fc.feature_var[:, i, k].double()
            dens = torch.exp(-0.5 * (y - mu).pow(2) / var) / torch.sqrt(2 * math.pi * var)
            log_score = -torch.log(dens.mean(0))  # -log (1/S) Σ_s N(y; μ_s, σ_s²)
            assert res.values["feature/log_score"][i, k].item() == pytest.approx(
                float(log_score.mean()), rel=1e-7)


# ---------------------------------------------------------------------------- teacher forcing
def test_teacher_forcing_draws_one_coin_per_sample_with_probability_epsilon(monkeypatch):
    """Scheduled sampling: the transition reads the posterior sample with probability ε, decided
    independently for each sample and step (a shared coin gives 0 or 1, ε² gives 0.09)."""
    g = dynamic_sbm(num_nodes=5, num_snapshots=4, num_features=2, seed=0)
    model = _model(g)
    eps, S = 0.3, 4000
    prior_in, post_in = [], []
    real_prior, real_post = model.prior, model.posterior
    monkeypatch.setattr(model, "prior", lambda z: prior_in.append(z) or real_prior(z))
    monkeypatch.setattr(model, "posterior",
                        lambda h, z: post_in.append(z) or real_post(h, z))
    with torch.no_grad():
        model.elbo(g, num_samples=S, teacher_forcing=eps,
                   generator=torch.Generator().manual_seed(0))
    assert len(prior_in) == len(post_in) == len(g)
    sd = math.sqrt(eps * (1 - eps) / S)
    for s in range(1, len(g)):
        same = (prior_in[s] == post_in[s]).flatten(1).all(1).double()  # (S,)
        assert abs(float(same.mean()) - eps) < 5 * sd, (s, float(same.mean()))
    # step 0 has no prediction to use: always the posterior sample
    assert bool((prior_in[0] == post_in[0]).all())


# ---------------------------------------------------------------------------- sparse estimator
@pytest.mark.parametrize("num_negatives", [None, 50])
def test_sparse_edge_estimator_ignores_self_loops(num_negatives):
    """The diagonal is not modelled: the same snapshot with self-loops gives the same estimate
    (same generator), both for a fixed K and for the default K = max(E, N)."""
    from dyngraphvae.nn.decoders import EdgeDecoder

    torch.manual_seed(0)
    n = 30
    dec = EdgeDecoder(4, kind="inner", directed=True)
    z = torch.randn(2, n, 4)
    ei = torch.randint(0, n, (2, 45), generator=torch.Generator().manual_seed(1))
    ei = torch.unique(ei[:, ei[0] != ei[1]], dim=1)
    loops = torch.arange(0, n, 2).repeat(2, 1)
    kw = dict(num_nodes=n, directed=True, method="sparse", num_negatives=num_negatives)
    a = adjacency_log_likelihood(dec, z, ei, generator=torch.Generator().manual_seed(2), **kw)
    b = adjacency_log_likelihood(dec, z, torch.cat([ei, loops], 1),
                                 generator=torch.Generator().manual_seed(2), **kw)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


# ---------------------------------------------------------------------------- predictive LL
def test_predictive_log_likelihood_identities(monkeypatch):
    """feature = logsumexp_s Σ_v ℓ_sv − log S and feature_marginal = Σ_v (logsumexp_s ℓ_sv −
    log S), on the same draws (the old test's 'marginal >= joint' is not a theorem: two perfectly
    correlated nodes with S = 2 break it)."""
    data = linear_gaussian(num_nodes=8, num_snapshots=7, seed=3)
    g = data.graph
    model = _model(g)
    per_node = []
    real = TemporalGraphVAE._feature_ll

    def spy(self, *a, **k):
        out = real(self, *a, **k)
        if k.get("per_node"):
            per_node.append(out.double())
        return out

    monkeypatch.setattr(TemporalGraphVAE, "_feature_ll", spy)
    S = 12
    p = model.predictive_log_likelihood(g, 4, horizon=2, num_samples=S,
                                        generator=torch.Generator().manual_seed(0))
    assert len(per_node) == 2
    for k, fn in enumerate(per_node):  # (S, N)
        assert fn.shape == (S, g.num_nodes)
        marginal = (torch.logsumexp(fn, 0) - math.log(S)).sum()
        joint = torch.logsumexp(fn.sum(1), 0) - math.log(S)
        assert float(p.feature_marginal[k]) == pytest.approx(float(marginal), rel=1e-6)
        assert float(p.feature[k]) == pytest.approx(float(joint), rel=1e-5)
