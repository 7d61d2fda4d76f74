"""Graph CVAE: bounds, generation shapes, community estimator on true SBMs, conditioning works."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import roc_auc_score

from dyngraphvae.data.graph_conditions import (
    estimate_num_communities,
    sbm_condition_dataset,
    sbm_probabilities,
    transition_pairs,
)
from dyngraphvae.data.synthetic import dynamic_sbm
from dyngraphvae.models.graph_cvae import (
    GraphCVAE,
    GraphCVAEConfig,
    batched_kmeans,
)
from dyngraphvae.training import fit_graph_cvae

N = 60
SBM_CFG = dict(num_nodes=N, condition_center=[3.5, 0.18], condition_scale=[1.2, 0.04])


def dense(graph_data, n):
    a = torch.zeros(n, n, dtype=torch.bool)
    a[graph_data.edge_index[0], graph_data.edge_index[1]] = True
    return a | a.T


def test_config_round_trip(tmp_path):
    cfg = GraphCVAEConfig(**SBM_CFG)
    cfg.save(tmp_path / "c.json")
    assert GraphCVAEConfig.load(tmp_path / "c.json") == cfg
    with pytest.raises(ValueError, match="condition"):
        GraphCVAEConfig(num_nodes=5, condition="bogus")
    with pytest.raises(ValueError, match="unknown keys"):
        GraphCVAEConfig.from_dict({"num_nodes": 5, "nope": 1})


def test_sbm_probabilities_give_requested_density():
    data = sbm_condition_dataset(200, N, seed=3)
    a = torch.stack([dense(g, N) for g in data.graphs]).double()
    rho = a.sum((-1, -2)) / (N * (N - 1))
    err = (rho - data.condition[:, 1].double()).abs() / data.condition[:, 1].double()
    # binomial sd of the density at rho=0.12, M=1770 pairs: ~6%; mean relative error is far below
    assert float(err.mean()) < 0.05
    with pytest.raises(ValueError, match="infeasible"):
        sbm_probabilities(5, 0.5, N)


def test_community_estimator_on_true_sbms():
    """Validation on known truth: k in 1..5 (k=1: Erdos-Renyi), densities 0.12 and 0.24."""
    correct, total = 0, 0
    for k in (2, 3, 4, 5):
        data = sbm_condition_dataset(20, 80, communities=(k,), seed=k)
        a = torch.stack([dense(g, 80) for g in data.graphs])
        correct += int((estimate_num_communities(a) == k).sum())
        total += 20
    g = torch.Generator().manual_seed(0)
    for rho in (0.12, 0.24):
        er = (torch.rand(20, 80, 80, generator=g) < rho).triu(1)
        er = er | er.transpose(-1, -2)
        correct += int((estimate_num_communities(er) == 1).sum())
        total += 20
    assert correct / total >= 0.95


def test_batched_kmeans_recovers_blocks_per_graph():
    g = torch.Generator().manual_seed(0)
    centres = 3.0 * torch.eye(4, 8)
    k = torch.tensor([2, 4])
    lab = torch.stack([torch.arange(40) % 2, torch.arange(40) % 4])
    pts = centres[lab] + 0.1 * torch.randn(2, 40, 8, generator=g)
    out = batched_kmeans(pts, k, 6)
    for b in range(2):
        # same partition up to a relabelling: co-membership matrices agree
        assert torch.equal(out[b][:, None] == out[b][None], lab[b][:, None] == lab[b][None])
        assert int(out[b].max()) < int(k[b])


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    return GraphCVAE(GraphCVAEConfig(**SBM_CFG))


def test_generation_shapes_symmetry(small_model):
    y = torch.tensor([[2.0, 0.15], [4.0, 0.2]])
    s = small_model.generate(y, 3, generator=torch.Generator().manual_seed(0))
    assert s.z.shape == (3, 2, N, 8)
    assert s.edge_prob.shape == s.adjacency.shape == (3, 2, N, N)
    assert s.adjacency.dtype == torch.bool
    assert torch.equal(s.adjacency, s.adjacency.transpose(-1, -2))
    assert not s.adjacency.diagonal(dim1=-2, dim2=-1).any()
    assert torch.allclose(s.edge_prob, s.edge_prob.transpose(-1, -2), atol=1e-6)
    with pytest.raises(ValueError, match="number of components"):
        small_model.generate(torch.tensor([[9.0, 0.2]]))


def test_prior_masks_components_beyond_k(small_model):
    p = small_model.conditional_prior(torch.tensor([[2.0, 0.2], [5.0, 0.2]]))
    probs = p.mixture_distribution.probs[:, 0]
    assert torch.allclose(probs[0, :2], torch.full((2,), 0.5))
    assert float(probs[0, 2:].sum()) == 0.0
    assert torch.allclose(probs[1, :5], torch.full((5,), 0.2))


def test_elbo_below_iw_bound_and_consistent(small_model):
    data = sbm_condition_dataset(3, N, seed=1)
    with torch.no_grad():
        elbo = small_model.elbo(data.graphs, data.condition, num_samples=64,
                                generator=torch.Generator().manual_seed(0))
        lw = small_model.log_weights(data.graphs, data.condition, 64,
                                     generator=torch.Generator().manual_seed(0))
        iw = small_model.log_likelihood(data.graphs, data.condition, 256, 64,
                                        generator=torch.Generator().manual_seed(1))
    # same draws: the MC-KL ELBO equals the mean importance log-weight
    assert torch.allclose(elbo.elbo, lw.mean(0), rtol=1e-4, atol=1e-2)
    assert bool((iw >= elbo.elbo).all())
    assert torch.isfinite(iw).all()
    cs = small_model.elbo(data.graphs, data.condition, divergence="cs")
    assert torch.isfinite(cs.objective).all() and bool((cs.divergence >= -1e-4).all())


def _train_sbm(steps: int, seed: int = 0):
    torch.manual_seed(seed)
    data = sbm_condition_dataset(300, N, seed=seed)
    model = GraphCVAE(GraphCVAEConfig(**SBM_CFG))
    fit_graph_cvae(model, data.graphs, data.condition, steps=steps, batch_size=16, lr=5e-3,
                   kl_warmup=steps // 3, seed=seed)
    return model


def _check_conditioning(model, min_fraction: float, density_tol: float):
    g = torch.Generator().manual_seed(5)
    dens = []
    for rho in (0.12, 0.18, 0.24):
        a = model.generate(torch.tensor([[3.0, rho]]), 20, generator=g).adjacency[:, 0]
        dens.append(float(a.double().sum((-1, -2)).mean()) / (N * (N - 1)))
    assert dens[0] < dens[1] < dens[2]
    for d, rho in zip(dens, (0.12, 0.18, 0.24), strict=True):
        assert abs(d - rho) / rho < density_tol
    for k in (2, 4):
        a = model.generate(torch.tensor([[float(k), 0.18]]), 20, generator=g).adjacency[:, 0]
        frac = float((estimate_num_communities(a) == k).double().mean())
        assert frac >= min_fraction, (k, frac)


def test_trained_model_follows_request_fast():
    """Short training (weaker thresholds); an untrained or unconditional model fails these."""
    _check_conditioning(_train_sbm(100), min_fraction=0.5, density_tol=0.25)


@pytest.mark.slow
def test_trained_model_follows_request():
    _check_conditioning(_train_sbm(300), min_fraction=0.8, density_tol=0.1)


def test_untrained_model_fails_the_check(small_model):
    with pytest.raises(AssertionError):
        _check_conditioning(small_model, min_fraction=0.5, density_tol=0.25)


def test_forecast_next_shapes():
    g = dynamic_sbm(num_nodes=20, num_snapshots=3, num_communities=2, num_features=0, seed=0)
    targets, conds = transition_pairs(g)
    assert len(targets) == len(conds) == 2 and targets[0].num_nodes == 20
    model = GraphCVAE(GraphCVAEConfig(num_nodes=20, condition="graph", node_input="identity"))
    out = model.elbo(targets, conds, num_samples=2)
    assert out.elbo.shape == (2,) and torch.isfinite(out.elbo).all()
    f = model.forecast_next(conds[0], 4, generator=torch.Generator().manual_seed(0))
    assert f.z.shape == (4, 20, 8) and f.adjacency.shape == f.edge_prob.shape == (4, 20, 20)
    assert torch.equal(f.adjacency, f.adjacency.transpose(-1, -2))


def _forecast_aucs(model, g, conds, steps):
    """AUC of the mean forecast edge probability (20 prior samples) and of the prior-mean scores
    on the transitions ``G_s -> G_{s+1}``, ``s in steps``; and KL(q || p) per node there."""
    n = g.num_nodes
    gen = torch.Generator().manual_seed(0)
    iu = torch.triu_indices(n, n, 1)
    auc, auc_mean, kl = [], [], []
    for s in steps:
        f = model.forecast_next(conds[s], 20, generator=gen)
        assert f.adjacency.shape == (20, n, n)
        truth = (g.dense_adjacency(s + 1) > 0)[iu[0], iu[1]].numpy()
        auc.append(roc_auc_score(truth, f.edge_prob.mean(0)[iu[0], iu[1]].numpy()))
        with torch.no_grad():
            zp = model.conditional_prior(conds[s]).base_dist.loc[0]
            auc_mean.append(roc_auc_score(truth, (zp @ zp.T)[iu[0], iu[1]].numpy()))
            kl.append(float(model.elbo(g[s + 1], conds[s], generator=gen).kl) / n)
    mean = lambda v: sum(v) / len(v)  # noqa: E731
    return mean(auc), mean(auc_mean), mean(kl)


def _train_forecaster(g, num_train, steps, seed=0, **cfg):
    targets, conds = transition_pairs(g)
    torch.manual_seed(seed)
    model = GraphCVAE(GraphCVAEConfig(num_nodes=g.num_nodes, condition="graph", **cfg))
    fit_graph_cvae(model, targets[:num_train], conds[:num_train], steps=steps, batch_size=8,
                   lr=1e-2, seed=seed)
    return model, conds


def test_forecast_next_beats_random_on_dynamic_sbm_fast():
    """Held-out transitions of a small dynamic SBM (persistent communities, 2 % drift a step).

    A random scorer has AUC 0.5 (sd ~0.02 for ~150 positives among 780 pairs, 5 transitions);
    measured: 0.73 (VGAELinks refit on each G_s: 0.71, docs/graph_cvae.md). The untrained model
    and the non-residual ablation stay at chance (asserted), so the AUC comes from training the
    prior path through the residual posterior."""
    g = dynamic_sbm(num_nodes=40, num_snapshots=26, num_communities=3, p_in=0.3, p_out=0.03,
                    num_features=0, event_prob=0.0, seed=0)
    held_out = range(20, 25)
    torch.manual_seed(0)
    untrained = GraphCVAE(GraphCVAEConfig(num_nodes=40, condition="graph"))
    _, conds = transition_pairs(g)
    assert abs(_forecast_aucs(untrained, g, conds, held_out)[0] - 0.5) < 0.1
    model, conds = _train_forecaster(g, 20, 100)
    auc, auc_prior_mean, _ = _forecast_aucs(model, g, conds, held_out)
    assert auc > 0.6 and auc_prior_mean > 0.6, (auc, auc_prior_mean)
    # ablation: without the residual posterior the same training stays at chance (measured 0.50)
    ablation, conds = _train_forecaster(g, 20, 100, residual_posterior=False)
    assert _forecast_aucs(ablation, g, conds, held_out)[0] < 0.6


@pytest.mark.slow
def test_forecast_next_beats_random_on_dynamic_sbm():
    """N = 60, 4 blocks with merge/split events; measured 0.74-0.75 over 3 seeds, VGAELinks
    0.79 on the same transitions; the non-residual posterior (ablation) stays at 0.50."""
    g = dynamic_sbm(num_nodes=N, num_snapshots=30, num_communities=4, p_in=0.3, p_out=0.02,
                    num_features=0, seed=0)
    model, conds = _train_forecaster(g, 20, 150)
    auc, auc_prior_mean, kl = _forecast_aucs(model, g, conds, range(20, 29))
    assert auc > 0.7 and auc_prior_mean > 0.7, (auc, auc_prior_mean)
    # the prior carries the forecast: the posterior, which also sees G_{s+1}, moves little from it
    assert kl < 1.0, kl
    ablation, conds = _train_forecaster(g, 20, 150, residual_posterior=False)
    assert _forecast_aucs(ablation, g, conds, range(20, 29))[0] < 0.6
