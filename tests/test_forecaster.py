"""TemporalGraphVAE: index convention, ELBO terms, bounds, evaluators, masks, forecasting API.

Fast unit tests on small synthetic graphs (untrained models); learning claims (oracle gap,
multimodal futures) are in ``test_forecaster_learning.py``.
"""

from __future__ import annotations

import json
import math

import networkx as nx
import pytest
import torch
from torch_geometric.data import Data

from dyngraphvae.data.synthetic import dynamic_sbm, linear_gaussian
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.distributions import cs_divergence, kl_divergence
from dyngraphvae.models import (
    ELBOOutput,
    FilterState,
    ForecasterConfig,
    TemporalGraphVAE,
    forecast_to_data,
    forecast_to_networkx,
    forecast_to_temporal_graph,
)
from dyngraphvae.nn.adjacency import adjacency_log_likelihood


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def lg():
    return linear_gaussian(num_nodes=12, num_snapshots=6, latent_dim=2, num_features=3, seed=3)


def _model(graph: TemporalGraph, seed: int = 0, **kw) -> TemporalGraphVAE:
    torch.manual_seed(seed)
    kw.setdefault("latent_dim", 3)
    kw.setdefault("hidden_dim", 16)
    return TemporalGraphVAE(ForecasterConfig.for_graph(graph, **kw))


# ------------------------------------------------------------------------------------------ config
def test_config_round_trips_json_and_file(tmp_path):
    cfg = ForecasterConfig(num_nodes=7, num_features=2, latent_dim=5, transition_components=3,
                           transition_mixture="graph", adjacency="sparse", num_negatives=11)
    assert ForecasterConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    cfg.save(tmp_path / "c.json")
    assert ForecasterConfig.load(tmp_path / "c.json") == cfg
    assert cfg.decode_features is True  # resolved from num_features > 0
    assert ForecasterConfig(num_nodes=3).decode_features is False


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(encoder="cheb"), "encoder"),
        (dict(num_nodes=0), "num_nodes"),
        (dict(node_input="features"), "num_features"),
        (dict(transition_mixture="graph"), "transition_components"),
        (dict(divergence="js"), "divergence"),
        (dict(decode_edges=False), "no likelihood"),
        (dict(deterministic=True, divergence="cs"), "deterministic"),
    ],
)
def test_config_rejects_bad_values(kw, match):
    base = dict(num_nodes=4)
    base.update(kw)
    with pytest.raises(ValueError, match=match):
        ForecasterConfig(**base)


def test_config_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown keys"):
        ForecasterConfig.from_dict({"num_nodes": 3, "latnt_dim": 2})


def test_model_rejects_mismatched_graph(lg):
    m = _model(lg.graph)
    g2 = TemporalGraph([torch.tensor([[0], [1]])], 5)
    with pytest.raises(ValueError, match="nodes"):
        m.elbo(g2)
    featureless = TemporalGraph([lg.graph.edges(0)], lg.graph.num_nodes)
    with pytest.raises(ValueError, match="num_features"):
        m.elbo(featureless)


# --------------------------------------------------------------------------- index convention
def test_snapshot_zero_is_decoded_from_z0(lg):
    """Snapshot 0 (= G_1) is scored under p(G_1 | Z_0) with the fixed Z_0, for every sample."""
    g = lg.graph
    m = _model(g)
    with torch.no_grad():
        m.z0.copy_(torch.randn_like(m.z0))
        out = m.elbo(g, num_samples=5, generator=_gen())
        want_f = m.decode_features(m.z0).log_prob(g.features(0)).sum()
        want_e = adjacency_log_likelihood(m.edge_decoder, m.z0, g.edges(0), g.num_nodes, False,
                                          method="dense")
    torch.testing.assert_close(out.feature_ll[0], want_f)
    torch.testing.assert_close(out.edge_ll[0], want_e)


def test_first_kl_is_posterior_given_z0_against_transition_of_z0(lg):
    """KL_0 = KL(q(Z_1 | Z_0, G_1) || p(Z_1 | Z_0)) in closed form (and CS for divergence='cs')."""
    g = lg.graph
    for kind, fn in (("kl", kl_divergence), ("cs", cs_divergence)):
        m = _model(g, divergence=kind)
        with torch.no_grad():
            out = m.elbo(g, num_samples=2, generator=_gen())
            h = m.summarise(g)
            q, p = m.posterior(h[0], m.z0), m.prior(m.z0)
            want = fn(q.base_dist, p.base_dist).sum()
        torch.testing.assert_close(out.kl[0], want)
        assert out.is_bound == (kind == "kl")


def test_posterior_and_scores_are_causal(lg):
    """Perturbing snapshot s changes neither the posterior of Z_1..Z_s nor the scores of
    snapshots < s (Z_t reads G_{1:t}; snapshot t is decoded from Z_t)."""
    g = lg.graph
    s = 3
    x = g.x.clone()
    x[s] += 5.0
    g2 = TemporalGraph([g.edges(t) for t in range(len(g))], g.num_nodes, x=x)
    m = _model(g)
    with torch.no_grad():
        a = m.elbo(g, num_samples=3, generator=_gen(1))
        b = m.elbo(g2, num_samples=3, generator=_gen(1))
    torch.testing.assert_close(a.posterior_loc[:s], b.posterior_loc[:s])
    torch.testing.assert_close(a.feature_ll[: s], b.feature_ll[: s])
    torch.testing.assert_close(a.kl[:s], b.kl[:s])
    assert not torch.allclose(a.posterior_loc[s], b.posterior_loc[s])
    assert not torch.allclose(a.feature_ll[s], b.feature_ll[s])


def test_forecast_starts_from_filtered_state_and_shapes(lg):
    g = lg.graph
    m = _model(g)
    T = 4
    state = m.filter(g[:T], 6, generator=_gen(2))
    assert isinstance(state, FilterState) and state.num_snapshots == T
    assert state.z.shape == (6, g.num_nodes, 3)
    assert tuple(state.posterior.batch_shape) == (6, g.num_nodes)
    assert tuple(state.marginal().batch_shape) == (g.num_nodes,)
    fc = m.forecast(g[:T], horizon=2, num_samples=6, generator=_gen(2))
    torch.testing.assert_close(fc.z[:, 0], state.z)  # Ẑ_T generates snapshot T
    assert fc.start == T and fc.horizon == 2 and fc.num_samples == 6
    assert fc.x.shape == fc.feature_mean.shape == fc.feature_var.shape == (6, 2, g.num_nodes, 3)
    assert (fc.feature_var > 0).all()
    assert not fc.z.requires_grad
    # the first forecast step is scored by predictive_log_likelihood with the same sample path
    m0 = m.forecast(m.initial_state(4), 1)
    torch.testing.assert_close(m0.z[:, 0], m.z0.expand(4, -1, -1))


# ------------------------------------------------------------------------------- ELBO terms
def test_elbo_output_fields_and_reductions(lg):
    g = lg.graph
    m = _model(g)
    T, N = len(g), g.num_nodes
    out = m.elbo(g, num_samples=2, generator=_gen())
    assert isinstance(out, ELBOOutput)
    for name in ("feature_ll", "edge_ll", "kl", "per_step_elbo"):
        assert getattr(out, name).shape == (T,)
    assert out.kl_per_dim.shape == (3,)
    assert out.posterior_loc.shape == out.posterior_scale.shape == (T, N, 3)
    torch.testing.assert_close(out.per_step_elbo, out.feature_ll + out.edge_ll - out.kl)
    torch.testing.assert_close(out.loss, -out.elbo)
    # kl_per_dim is the per-node per-step mean: d * mean * N * T = Σ_t KL_t
    torch.testing.assert_close(out.kl_per_dim.sum() * N * T, out.kl.sum())
    mn = m.elbo(g, num_samples=2, generator=_gen(), reduction="mean_node")
    torch.testing.assert_close(mn.loss, -out.elbo / (N * T))
    me = m.elbo(g, num_samples=2, generator=_gen(), reduction="mean_edge")
    pairs = T * N * (N - 1) / 2
    want = -(out.edge_ll.sum() / pairs + (out.feature_ll.sum() - out.kl.sum()) / (N * T))
    torch.testing.assert_close(me.loss, want)
    assert me.num_observed_pairs == pairs and me.num_observed_nodes == N * T
    with pytest.raises(ValueError, match="reduction"):
        m.elbo(g, reduction="mean")


def test_kl_weight_and_free_bits(lg):
    g = lg.graph
    m = _model(g)
    T, N = len(g), g.num_nodes
    base = m.elbo(g, generator=_gen())
    half = m.elbo(g, generator=_gen(), kl_weight=0.5)
    torch.testing.assert_close(half.elbo, base.elbo)  # the reported ELBO is never reweighted
    torch.testing.assert_close(half.loss, -(base.feature_ll.sum() + base.edge_ll.sum()
                                            - 0.5 * base.kl.sum()))
    # λ above every dimension: R = T N d λ and no KL gradient
    lam = float(base.kl_per_dim.detach().max()) + 1.0
    fb = m.elbo(g, generator=_gen(), free_bits=lam)
    torch.testing.assert_close(fb.regulariser, torch.tensor(T * N * 3 * lam))
    m.zero_grad()
    fb.loss.backward()
    grads_fb = m.posterior_head.loc.weight.grad.clone()
    m.zero_grad()
    rec = m.elbo(g, generator=_gen())
    (-(rec.feature_ll.sum() + rec.edge_ll.sum())).backward()
    torch.testing.assert_close(grads_fb, m.posterior_head.loc.weight.grad)
    # a custom transform receives the element-wise terms (S, T, N, d)
    seen = {}

    def transform(kl):
        seen["shape"] = tuple(kl.shape)
        return kl.sum() / kl.size(0)

    ct = m.elbo(g, num_samples=2, generator=_gen(), kl_transform=transform)
    assert seen["shape"] == (2, T, N, 3)
    torch.testing.assert_close(ct.regulariser, ct.kl.sum())


def test_free_bits_refused_for_mixture_prior(lg):
    m = _model(lg.graph, transition_components=2)
    with pytest.raises(ValueError, match="factorised"):
        m.elbo(lg.graph, free_bits=0.1)
    out = m.elbo(lg.graph, generator=_gen())
    assert out.kl_per_dim is None


def test_elbo_equals_mean_log_weight_for_mixture_prior(lg):
    """With a mixture prior the KL is the one-sample estimate log q − log p, so the per-sample
    ELBO is exactly the importance log-weight of the same trajectory."""
    g = lg.graph
    for mix in ("node", "graph"):
        m = _model(g, transition_components=2, transition_mixture=mix)
        with torch.no_grad():
            out = m.elbo(g, num_samples=7, generator=_gen(4))
            lw = m.log_weights(g, 7, generator=_gen(4))
        torch.testing.assert_close(out.elbo, lw.mean())


def test_elbo_is_expected_log_weight_closed_form_kl(lg):
    """E_q[log w] = ELBO: closed-form-KL ELBO vs the mean of 2000 whole-trajectory log-weights."""
    g = lg.graph
    m = _model(g)
    with torch.no_grad():
        out = m.elbo(g, num_samples=2000, generator=_gen(5))
        lw = m.log_weights(g, 2000, generator=_gen(6))
    se = lw.std() / math.sqrt(2000)
    assert abs(float(lw.mean() - out.elbo)) < 4 * float(se) + 1e-3 * abs(float(out.elbo))


def test_elbo_below_iw_bound_non_decreasing_in_k(lg):
    """E[L_1] = ELBO <= E[L_5] <= E[L_50] (Burda et al. 2016): R = 40 independent L_K from one
    vectorised draw of R·K whole-trajectory log-weights per K."""
    g = lg.graph
    m = _model(g)
    reps = 40
    with torch.no_grad():
        elbo = m.elbo(g, num_samples=reps, generator=_gen(1)).elbo
        bounds = {}
        for k in (1, 5, 50):
            lw = m.log_weights(g, reps * k, adjacency="dense", generator=_gen(100 + k))
            bounds[k] = torch.logsumexp(lw.reshape(reps, k), 1) - math.log(k)
        # iw_bound is the same estimator on the same draws
        lw = m.log_weights(g, 12, adjacency="dense", generator=_gen(9))
        iw = m.iw_bound(g, 12, generator=_gen(9))
        iw_chunked = m.iw_bound(g, 12, batch_size=12, generator=_gen(9))
    torch.testing.assert_close(iw, torch.logsumexp(lw, 0) - math.log(12))
    torch.testing.assert_close(iw, iw_chunked)
    means = {k: float(v.mean()) for k, v in bounds.items()}
    se = {k: float(v.std()) / math.sqrt(reps) for k, v in bounds.items()}
    # L_1 is an unbiased estimate of the (closed-form-KL) ELBO
    assert abs(means[1] - float(elbo)) < 4 * se[1] + 1e-3 * abs(float(elbo))
    assert means[5] > means[1] + 2 * math.hypot(se[5], se[1])
    assert means[50] > means[5] + 2 * math.hypot(se[50], se[5])


# ---------------------------------------------------------------------------- evaluators
def test_sparse_and_dense_evaluators_agree_in_expectation_through_the_model(lg):
    """The deterministic ablation removes the latent noise, so the only randomness left is the
    sparse estimator's negatives: its mean over 100 seeds matches the exact dense ELBO terms."""
    g = lg.graph[:3]
    m = _model(g, deterministic=True)
    reps = 100
    with torch.no_grad():
        dense = m.elbo(g, adjacency="dense")
        sp = torch.stack([m.elbo(g, adjacency="sparse", generator=_gen(r)).edge_ll
                          for r in range(reps)])  # (R, T)
        torch.testing.assert_close(dense.feature_ll, m.elbo(g, adjacency="sparse").feature_ll)
    se = sp.std(0) / reps**0.5
    assert (se > 0).all()  # the estimator is random ...
    assert ((sp.mean(0) - dense.edge_ll).abs() < 4 * se + 1e-4).all()  # ... and unbiased
    # the stochastic model's step likelihood on fixed latents (S = 3 samples at once)
    ms = _model(g)
    z = torch.randn(3, g.num_nodes, 3)
    with torch.no_grad():
        _, d_ll = ms.step_log_likelihood(z, g, 2, adjacency="dense")
        s_ll = torch.stack([ms.step_log_likelihood(z, g, 2, adjacency="sparse",
                                                   generator=_gen(r))[1] for r in range(reps)])
    assert ((s_ll.mean(0) - d_ll).abs() < 4 * s_ll.std(0) / reps**0.5 + 1e-4).all()


# ---------------------------------------------------------------------------------- masks
def _masked_graph(lg):
    g = lg.graph
    T, N = len(g), g.num_nodes
    mask = torch.ones(T, N, dtype=torch.bool)
    mask[1, :3] = False
    mask[4, 5] = False
    edges = []
    for t in range(T):
        e = g.edges(t)
        keep = mask[t][e].all(0)
        edges.append(e[:, keep])
    return TemporalGraph(edges, N, x=g.x, node_mask=mask), mask


def test_node_masks_are_excluded_from_the_likelihood(lg):
    gm, mask = _masked_graph(lg)
    m = _model(gm)
    with torch.no_grad():
        m.z0.copy_(torch.randn_like(m.z0))
        z = torch.randn(2, gm.num_nodes, 3)
        fl, el = m.step_log_likelihood(z, gm, 1)
        per_node = m.decode_features(z).log_prob(gm.features(1))
        torch.testing.assert_close(fl, per_node[:, mask[1]].sum(-1))
        keep = mask[1].nonzero().squeeze(-1)
        relabel = torch.full((gm.num_nodes,), -1)
        relabel[keep] = torch.arange(keep.numel())
        want = adjacency_log_likelihood(m.edge_decoder, z[:, keep], relabel[gm.edges(1)],
                                        keep.numel(), False, method="dense")
        torch.testing.assert_close(el, want)
        # features of absent nodes do not matter anywhere in the ELBO
        x2 = gm.x.clone()
        x2[~mask] = 1e3
        g2 = TemporalGraph([gm.edges(t) for t in range(len(gm))], gm.num_nodes, x=x2,
                           node_mask=mask)
        a = m.elbo(gm, num_samples=2, generator=_gen())
        b = m.elbo(g2, num_samples=2, generator=_gen())
    torch.testing.assert_close(a.elbo, b.elbo)
    assert a.num_observed_nodes == int(mask.sum())
    n_t = mask.sum(-1).double()
    assert a.num_observed_pairs == int((n_t * (n_t - 1) / 2).sum())
    mn = m.elbo(gm, num_samples=2, generator=_gen(), reduction="mean_node")
    torch.testing.assert_close(mn.loss, -a.elbo / int(mask.sum()))
    p = m.predictive_log_likelihood(gm, 1, 1, 8, generator=_gen())
    assert int(p.num_observed_nodes[0]) == int(mask[1].sum())


# --------------------------------------------------------------------- scheduled sampling
def test_teacher_forcing_changes_only_the_transition_input(lg):
    """Deterministic model (no sampling noise): with ε = 0 the reconstruction terms are unchanged
    and KL_t = ½‖μ_q(t) − mean p(·|Z̃_t)‖² with Z̃ the prior-mean rollout from Z_0."""
    g = lg.graph
    m = _model(g, deterministic=True)
    with torch.no_grad():
        tf = m.elbo(g, teacher_forcing=1.0, generator=_gen())
        ar = m.elbo(g, teacher_forcing=0.0, generator=_gen())
        torch.testing.assert_close(tf.feature_ll, ar.feature_ll)
        torch.testing.assert_close(tf.edge_ll, ar.edge_ll)
        h = m.summarise(g)
        z, zt, kls = m.z0, m.z0, []
        for s in range(len(g)):
            if s > 0:
                zt = m.prior(zt).mean
            zq = m.posterior(h[s], z).mean
            kls.append(0.5 * (zq - m.prior(zt if s > 0 else z).mean).pow(2).sum())
            z = zq
        torch.testing.assert_close(ar.kl, torch.stack(kls))
        assert not torch.allclose(ar.kl[1:], tf.kl[1:])
        torch.testing.assert_close(tf.kl[0], ar.kl[0])  # step 0 always uses the fixed Z_0
    assert ar.is_bound is False and tf.is_bound is False  # deterministic: never a bound


def test_teacher_forcing_one_is_the_plain_elbo_and_fraction_is_a_training_objective(lg):
    g = lg.graph
    m = _model(g)
    a = m.elbo(g, num_samples=3, generator=_gen(7))
    b = m.elbo(g, num_samples=3, generator=_gen(7), teacher_forcing=1.0)
    torch.testing.assert_close(a.elbo, b.elbo)
    c = m.elbo(g, num_samples=3, generator=_gen(7), teacher_forcing=0.3)
    assert c.is_bound is False and a.is_bound is True
    assert torch.isfinite(c.loss)
    with pytest.raises(ValueError, match="teacher_forcing"):
        m.elbo(g, teacher_forcing=1.5)


# -------------------------------------------------------------------------------- forecasting
def test_forecast_edges_dense_sparse_pairs_consistent(lg):
    g = lg.graph
    m = _model(g)
    fc = m.forecast(g, 3, 4, generator=_gen())
    p = fc.edge_prob()
    assert p.shape == (4, 3, g.num_nodes, g.num_nodes)
    pairs = torch.tensor([[0, 2, 5], [1, 7, 9]])
    torch.testing.assert_close(fc.edge_prob(pairs), p[..., pairs[0], pairs[1]])
    a = fc.sample_adjacency(generator=_gen(3))
    assert a.dtype == torch.bool and torch.equal(a, a.transpose(-1, -2))
    assert not a.diagonal(dim1=-2, dim2=-1).any()
    s = fc.sample_adjacency(generator=_gen(3), sparse=True)
    assert s.is_sparse and torch.equal(s.to_dense(), a)
    # sampled edge frequencies match the probabilities (binomial tolerance)
    big = m.forecast(m.filter(g, 1, generator=_gen()), 1, 3000, generator=_gen())
    freq = big.sample_adjacency(generator=_gen(1)).float().mean(0)[0]
    prob = big.edge_prob()[0, 0]
    iu = torch.triu_indices(g.num_nodes, g.num_nodes, 1)
    err = (freq - prob)[iu[0], iu[1]].abs()
    assert (err < 5 * (prob * (1 - prob) / 3000).sqrt()[iu[0], iu[1]] + 1e-3).all()


def test_forecast_is_vectorised_and_seeded(lg):
    g = lg.graph
    m = _model(g, transition_components=2)
    a = m.forecast(g, 2, 5, generator=_gen(11))
    b = m.forecast(g, 2, 5, generator=_gen(11))
    torch.testing.assert_close(a.z, b.z)
    assert not torch.allclose(a.z[0], a.z[1])  # samples differ
    state = m.filter(g, 1, generator=_gen())
    c = m.forecast(state, 2, 5, generator=_gen())
    assert c.z.shape[0] == 5
    with pytest.raises(ValueError, match="samples"):
        m.forecast(m.filter(g, 3), 2, 5)


def test_deterministic_ablation_forecasts_are_identical_across_samples(lg):
    g = lg.graph
    m = _model(g, deterministic=True)
    fc = m.forecast(g, 3, 4, generator=_gen())
    assert (fc.z == fc.z[:1]).all() and (fc.x == fc.x[:1]).all()
    assert (fc.feature_var == 0).all()
    a = fc.sample_adjacency(generator=_gen(1))
    assert (a == a[:1]).all()
    torch.testing.assert_close(a.float(), (fc.edge_prob() > 0.5).float()
                               * (1 - torch.eye(g.num_nodes)))
    with pytest.raises(ValueError, match="density"):
        m.iw_bound(g, 3)
    # the Σ→0 decoder alone keeps a stochastic latent path
    md = _model(g, deterministic_decoder=True)
    fd = md.forecast(g, 2, 4, generator=_gen())
    torch.testing.assert_close(fd.x, fd.feature_mean)
    assert not torch.allclose(fd.z[0], fd.z[1])


def test_conversion_helpers(lg):
    g = lg.graph
    m = _model(g)
    fc = m.forecast(g, 2, 3, generator=_gen())
    d = forecast_to_data(fc, sample=1, step=1, generator=_gen(5))
    assert isinstance(d, Data) and d.num_nodes == g.num_nodes and d.t == len(g) + 1
    torch.testing.assert_close(d.x, fc.x[1, 1])
    ei = fc.sample_edge_index(1, 1, generator=_gen(5))
    assert d.edge_index.size(1) == 2 * ei.size(1)
    nxg = forecast_to_networkx(fc, sample=1, step=1, generator=_gen(5))
    assert isinstance(nxg, nx.Graph) and nxg.number_of_edges() == ei.size(1)
    assert len(nxg.nodes[0]["x"]) == 3
    tg = forecast_to_temporal_graph(fc, sample=2, generator=_gen())
    assert len(tg) == 2 and tg.num_nodes == g.num_nodes
    torch.testing.assert_close(tg.x, fc.x[2])


def test_predictive_log_likelihood_shapes_and_start_zero(lg):
    g = lg.graph
    m = _model(g)
    p = m.predictive_log_likelihood(g, 3, horizon=2, num_samples=16, generator=_gen())
    assert p.feature.shape == p.edge.shape == p.joint.shape == p.feature_marginal.shape == (2,)
    # (the exact identities linking feature and feature_marginal: tests/test_value_checks.py)
    assert torch.isfinite(p.feature_marginal).all() and torch.isfinite(p.joint).all()
    # from Z_0, one sample suffices: the fixed Z_0 gives the exact log p(G_1 | Z_0)
    p0 = m.predictive_log_likelihood(g, 0, horizon=1, num_samples=1)
    out = m.elbo(g)
    torch.testing.assert_close(p0.feature[0], out.feature_ll[0])
    torch.testing.assert_close(p0.edge[0], out.edge_ll[0])
    with pytest.raises(Exception, match="snapshots"):
        m.predictive_log_likelihood(g, len(g), 1)


def test_featureless_directed_graph_works():
    torch.manual_seed(0)
    edges = [torch.randint(0, 9, (2, 20)) for _ in range(4)]
    edges = [e[:, e[0] != e[1]] for e in edges]
    g = TemporalGraph(edges, 9, directed=True, duplicates="merge")
    m = _model(g, edge_decoder="bilinear")
    out = m.elbo(g, num_samples=2, generator=_gen())
    assert torch.all(out.feature_ll == 0) and torch.isfinite(out.elbo)
    fc = m.forecast(g, 2, 3, generator=_gen())
    assert fc.x is None and fc.feature_mean is None
    a = fc.sample_adjacency(generator=_gen())
    assert not a.diagonal(dim1=-2, dim2=-1).any()
    assert isinstance(forecast_to_networkx(fc), nx.DiGraph)
    assert out.num_observed_pairs == 4 * 9 * 8


def test_gradients_reach_every_component(lg):
    g = lg.graph
    m = _model(g, transition_components=2, transition_mixture="graph")
    m.elbo(g, num_samples=2, generator=_gen(), teacher_forcing=0.5).loss.backward()
    for name in ("encoder", "summary", "posterior_head", "transition", "feature_decoder",
                 "edge_decoder"):
        grads = [p.grad for p in getattr(m, name).parameters()]
        assert any(gr is not None and gr.abs().sum() > 0 for gr in grads), name
    assert m.z0.grad is not None


# ------------------------------------------------------------- autoregressive decoder context
def _ar_model(graph: TemporalGraph, context: str = "previous", alpha: float = 1.5,
              gamma: float = 0.7, seed: int = 0, **kw) -> TemporalGraphVAE:
    """A model whose decoder reads the previous graph, with non-zero context weights (one
    feature lag unless ``feature_lags`` is given)."""
    kw.setdefault("feature_lags", 1)
    kw.setdefault("feature_neighbours", False)  # own lags only (tests/test_feature_neighbours.py)
    m = _model(graph, seed=seed, decoder_context=context, **kw)
    with torch.no_grad():
        if m.edge_context is not None:
            m.edge_context.previous_weight.fill_(alpha)
            if m.edge_context.history_weight is not None:
                m.edge_context.history_weight.fill_(gamma)
        if m.feature_context is not None:
            m.feature_context.weight.copy_(torch.randn_like(m.feature_context.weight))
    return m


def _replace_snapshot(g: TemporalGraph, s: int, edges: torch.Tensor, x_shift: float = 0.0):
    ed = [g.edges(t) for t in range(len(g))]
    ed[s] = edges
    x = None
    if g.x is not None:
        x = g.x.clone()
        x[s] += x_shift
    return TemporalGraph(ed, g.num_nodes, directed=g.directed, x=x)


def test_config_decoder_context_fields_round_trip_and_validate():
    cfg = ForecasterConfig(num_nodes=5, num_features=2, decoder_context="history",
                           history_decay=0.3, decoder_input_dropout=0.25)
    assert ForecasterConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert ForecasterConfig(num_nodes=3).decoder_context == "none"
    for kw, match in ((dict(decoder_context="last"), "decoder_context"),
                      (dict(decoder_context="history", history_decay=1.0), "history_decay"),
                      (dict(decoder_input_dropout=0.5), "needs a decoder context"),
                      (dict(decoder_context="previous", decoder_input_dropout=1.5), "dropout")):
        with pytest.raises(ValueError, match=match):
            ForecasterConfig(num_nodes=4, **kw)


@pytest.mark.parametrize("directed", [False, True])
def test_edge_context_lookup_matches_dense_for_batched_random_contexts(directed):
    """Sorted-key searchsorted lookups equal indexing the dense (B, N, N) context, including the
    decayed history merge H_t = A_t + λ H_{t-1} computed against a dense recursion."""
    from dyngraphvae.models.forecaster import EdgeContext

    torch.manual_seed(0)
    n, b, lam = 9, 4, 0.6
    dense_a = [(torch.rand(b, n, n) < 0.3) for _ in range(3)]
    ctx, h = None, torch.zeros(b, n, n)
    for a in dense_a:
        if not directed:
            a = torch.triu(a, 1)
            a = a | a.transpose(1, 2)
        a = a & ~torch.eye(n, dtype=torch.bool)
        coords = a.nonzero().T  # (3, E) b, u, v (undirected: both orientations, deduplicated)
        ctx = EdgeContext.from_edges(coords, n, directed, b, ctx, lam)
        h = a.float() + lam * h
        prev_d, hist_d = ctx.dense()
        torch.testing.assert_close(prev_d, a.float())
        torch.testing.assert_close(hist_d, h)
        assert bool((ctx.keys[1:] > ctx.keys[:-1]).all())  # sorted, unique
    pairs = torch.randint(0, n, (2, 50))
    prev, hist = ctx.lookup(pairs)
    torch.testing.assert_close(prev, prev_d[:, pairs[0], pairs[1]])
    torch.testing.assert_close(hist, hist_d[:, pairs[0], pairs[1]])


@pytest.mark.parametrize("context", ["none", "previous", "history"])
def test_decoder_context_enters_the_decoder_only_when_enabled(lg, context):
    """With fixed latents, the step-s likelihood depends on G_s (snapshot s−1) iff the decoder
    reads it; the logits equal s(z_u, z_v) + α A_s + γ H_s and the feature mean μ(z) + W x_s,
    with H_s the decayed count of past occurrences computed densely; G_{s−1} matters only for
    the history context."""
    g = lg.graph
    s = 3
    m = _ar_model(g, context)
    z = torch.randn(2, g.num_nodes, 3)
    n = g.num_nodes
    other = torch.triu_indices(n, n, 1)[:, ::5]
    with torch.no_grad():
        base = m.step_log_likelihood(z, g, s)
        prev_changed = m.step_log_likelihood(z, _replace_snapshot(g, s - 1, other, 1.0), s)
        older_changed = m.step_log_likelihood(z, _replace_snapshot(g, s - 2, other, 1.0), s)
    changes = [not torch.allclose(a, b) for a, b in zip(base, prev_changed, strict=True)]
    changes_old = [not torch.allclose(a, b) for a, b in zip(base, older_changed, strict=True)]
    assert changes == ([False, False] if context == "none" else [True, True])
    assert changes_old == [False, context == "history"]
    if context == "none":
        assert m.edge_context is None and m.feature_context is None
        return
    with torch.no_grad():
        ctx = m.decoder_context(g, s)
        adj = g.adjacency_stack().float()
        want = m.edge_decoder.dense_logits(z) + 1.5 * adj[s - 1]
        if context == "history":
            hist = sum(0.5 ** j * adj[s - 1 - j] for j in range(s))  # λ = history_decay = 0.5
            want = want + 0.7 * hist
        torch.testing.assert_close(m.edge_scorer(ctx).dense_logits(z), want)
        pairs = torch.tensor([[0, 3, 7], [5, 1, 11]])
        torch.testing.assert_close(m.edge_scorer(ctx).logits(z, pairs),
                                   want[..., pairs[0], pairs[1]])
        mean = m.decode_features(z, ctx).mean
        torch.testing.assert_close(mean, m.feature_decoder(z).mean
                                   + g.features(s - 1) @ m.feature_context.weight.T)
        # snapshot 0 has no previous graph: the context-free decoder
        zero_ctx = m.decoder_context(g, 0)
        torch.testing.assert_close(m.edge_scorer(zero_ctx).dense_logits(z),
                                   m.edge_decoder.dense_logits(z))
    with pytest.raises(ValueError, match="DecoderContext"):
        m.decode_features(z)


def test_sparse_and_dense_agree_in_expectation_with_the_context(lg):
    """Deterministic latents (no noise): the sparse estimator with the previous/history context
    looked up per sampled pair averages to the exact dense edge term over 100 seeds."""
    g = lg.graph[:4]
    m = _ar_model(g, "history", alpha=2.0, gamma=-1.0, deterministic=True)
    reps = 100
    with torch.no_grad():
        dense = m.elbo(g, adjacency="dense")
        sp = torch.stack([m.elbo(g, adjacency="sparse", generator=_gen(r)).edge_ll
                          for r in range(reps)])
    se = sp.std(0) / reps**0.5
    assert (se[1:] > 0).all()
    assert ((sp.mean(0) - dense.edge_ll).abs() < 4 * se + 1e-4).all()
    # the context moved the dense term (it is not the context-free value)
    m0 = _model(g, deterministic=True)
    with torch.no_grad():
        assert not torch.allclose(m0.elbo(g, adjacency="dense").edge_ll[1:], dense.edge_ll[1:])


def test_decoder_input_dropout_only_acts_in_training(lg):
    """Eval mode: the dropout model equals the same model without dropout. Train mode: the context
    is blanked (rate 1 gives exactly the context-free decoder, i.e. the 'none' model built from the
    same seed) and the result is flagged as not a bound."""
    g = lg.graph
    kw = dict(deterministic=True, feature_lags=1, feature_neighbours=False)
    m = _ar_model(g, "history", **kw)
    md = _model(g, decoder_context="history", decoder_input_dropout=1.0, **kw)
    mh = _model(g, decoder_context="history", decoder_input_dropout=0.5, **kw)
    md.load_state_dict(m.state_dict())
    mh.load_state_dict(m.state_dict())
    none = _model(g, **kw)  # same seed: identical parameters except the context weights
    with torch.no_grad():
        for mod in (m, md, mh):
            mod.eval()
        ref = m.elbo(g)
        torch.testing.assert_close(md.elbo(g).elbo, ref.elbo)
        md.train()
        mh.train()
        dropped = md.elbo(g, generator=_gen())
        half = mh.elbo(g, generator=_gen())
        torch.testing.assert_close(dropped.edge_ll, none.elbo(g).edge_ll)
        torch.testing.assert_close(dropped.feature_ll, none.elbo(g).feature_ll)
        assert not torch.allclose(half.edge_ll[1:], ref.edge_ll[1:])
        assert not torch.allclose(half.edge_ll[1:], dropped.edge_ll[1:])
        # forecasts never drop: train-mode and eval-mode forecasts coincide
        fa = md.forecast(g, 2, 3, generator=_gen(4))
        md.eval()
        fb = md.forecast(g, 2, 3, generator=_gen(4))
    torch.testing.assert_close(fa.edge_prob(), fb.edge_prob())
    ms = _model(g, decoder_context="previous", decoder_input_dropout=0.5)
    assert ms.elbo(g, generator=_gen()).is_bound is False
    assert ms.eval().elbo(g, generator=_gen()).is_bound is True


def test_decoder_input_dropout_keeps_a_binomial_share_of_every_nodes_pairs():
    """Rate 0.5 drops each stored previous-graph pair independently: about half of all pairs
    survive, touching many source nodes (a key bug once kept only node 0's pairs)."""
    g = dynamic_sbm(num_nodes=80, num_snapshots=3, seed=0)
    m = _model(g, decoder_context="previous", decoder_input_dropout=0.5)
    full = m.decoder_contexts(g)[2].edges
    kept = m.decoder_contexts(g, dropout=0.5, generator=_gen(0))[2].edges
    k, n = full.keys.numel(), kept.keys.numel()
    assert k > 100
    assert abs(n - k / 2) < 4 * (k / 4) ** 0.5  # binomial(k, 1/2) within 4 std
    assert torch.isin(kept.keys, full.keys).all()
    sources_full = full.coords()[1].unique().numel()
    assert kept.coords()[1].unique().numel() > sources_full // 2


def test_autoregressive_forecast_feeds_back_its_own_sampled_graphs(lg):
    """α = −40 with an offset of +20 makes A_{t+1} ≈ complement of A_t: a true autoregressive
    rollout alternates (step 2 ≈ the observed A_T, step 1 ≈ its complement); a decoder fed the
    observed graph at every step would repeat step 1. Vectorised: one batched rollout of S
    samples, each with its own context rows."""
    g = lg.graph
    n = g.num_nodes
    m = _ar_model(g, "previous", alpha=-40.0)
    with torch.no_grad():
        m.edge_decoder.bias.fill_(20.0)
        fc = m.forecast(g, 3, 4, generator=_gen(1))
    assert fc.autoregressive and len(fc.contexts) == 3
    assert fc.contexts[0].edges.batch_size == 1 and fc.contexts[1].edges.batch_size == 4
    a = fc.sample_adjacency()
    assert a.shape == (4, 3, n, n) and torch.equal(a, fc.sample_adjacency(generator=_gen(9)))
    last = g.dense_adjacency(len(g) - 1).bool()
    off = ~torch.eye(n, dtype=torch.bool)
    assert torch.equal(a[:, 0], (~last & off).expand(4, n, n))
    assert torch.equal(a[:, 1], last.expand(4, n, n))
    assert torch.equal(a[:, 2], (~last & off).expand(4, n, n))
    # the edge probabilities at step k are those given the sampled graph of step k − 1
    with torch.no_grad():
        want = m.edge_decoder.dense_logits(fc.z[:, 1]) - 40.0 * a[:, 0].float()
    torch.testing.assert_close(fc.edge_logits()[:, 1], want)
    # conversion helpers return the rollout's own graphs
    ei = fc.sample_edge_index(2, 1)
    assert torch.equal(forecast_to_temporal_graph(fc, 2).dense_adjacency(1).bool(), a[2, 1])
    assert ei.size(1) == int(a[2, 1].sum()) // 2


def test_autoregressive_forecast_is_vectorised_seeded_and_scored(lg):
    g = lg.graph
    m = _ar_model(g, "history", alpha=3.0, gamma=1.0)
    fa = m.forecast(g, 3, 6, generator=_gen(2))
    fb = m.forecast(g, 3, 6, generator=_gen(2))
    torch.testing.assert_close(fa.x, fb.x)
    assert torch.equal(fa.sample_adjacency(), fb.sample_adjacency())
    a = fa.sample_adjacency()
    assert not torch.equal(a[0], a[1])  # the samples' graphs differ
    assert fa.contexts[1].x.shape == (6, g.num_nodes, 3)
    torch.testing.assert_close(fa.contexts[1].x, fa.x[:, 0])  # sampled features fed back
    # the feature mean of step 1 is μ(Ẑ) + W X̂_{T+1} per sample
    with torch.no_grad():
        want = m.feature_decoder(fa.z[:, 1]).mean + fa.x[:, 0] @ m.feature_context.weight.T
    torch.testing.assert_close(fa.feature_mean[:, 1], want)
    sp = fa.sample_adjacency(sparse=True)
    assert sp.is_sparse and torch.equal(sp.to_dense(), a)
    p = m.predictive_log_likelihood(g, 3, horizon=2, num_samples=8, generator=_gen())
    assert torch.isfinite(p.joint).all() and p.edge.shape == (2,)
    p0 = m.predictive_log_likelihood(g, 0, horizon=1, num_samples=1)
    out = m.elbo(g)
    torch.testing.assert_close(p0.edge[0], out.edge_ll[0])
    torch.testing.assert_close(p0.feature[0], out.feature_ll[0])
    state = m.filter(g, 1)
    bare = FilterState(z=state.z, posterior=None, summary=None, num_snapshots=len(g))
    with pytest.raises(ValueError, match="decoder context"):
        m.forecast(bare, 2, 1)


def test_autoregressive_directed_featureless_and_gradients():
    torch.manual_seed(0)
    edges = [torch.randint(0, 9, (2, 20)) for _ in range(4)]
    edges = [e[:, e[0] != e[1]] for e in edges]
    g = TemporalGraph(edges, 9, directed=True, duplicates="merge")
    m = _model(g, decoder_context="history", edge_decoder="bilinear")
    assert m.feature_context is None
    out = m.elbo(g, num_samples=2, generator=_gen(), adjacency="sparse")
    out.loss.backward()
    assert m.edge_context.previous_weight.grad.abs() > 0
    assert m.edge_context.history_weight.grad.abs() > 0
    fc = m.forecast(g, 2, 3, generator=_gen())
    a = fc.sample_adjacency()
    assert not a.diagonal(dim1=-2, dim2=-1).any()
    assert isinstance(forecast_to_networkx(fc, 1, 1), nx.DiGraph)


# ------------------------------------------------------------------------- amortization gap
@pytest.fixture(scope="module")
def small_lg():
    return linear_gaussian(num_nodes=10, num_snapshots=5, latent_dim=2, num_features=3, seed=3)


def test_amortization_gap_starts_at_the_encoder_and_refinement_gains(small_lg):
    """Residual family: λ = 0 is the amortised posterior (its ELBO matches model.elbo within Monte
    Carlo error; zero steps gives a gain of exactly 0); on an untrained model the refinement gains
    many standard errors; the mean-field family starts at the encoder's marginals."""
    from dyngraphvae.amortization import amortization_gap

    g = small_lg.graph
    m = _model(g)
    with torch.no_grad():
        lw = m.log_weights(g, 2000, generator=_gen(1))  # E[log w] = ELBO
    se_lw = float(lw.std()) / math.sqrt(2000)
    none = amortization_gap(m, g, steps=0, eval_samples=500, generator=_gen(2))
    torch.testing.assert_close(none.amortization_gap, torch.tensor(0.0))
    # the closed-form-KL local ELBO varies less than log w: its SE is below 2·se_lw at 500 draws
    assert abs(float(none.elbo_encoder - lw.mean())) < 4 * math.sqrt(5) * se_lw
    r = amortization_gap(m, g, steps=60, lr=5e-2, generator=_gen(3))
    assert float(r.amortization_gap) > 5 * float(r.standard_error) + 1.0
    assert float(r.history[-1]) > float(r.history[0])
    assert r.loc.shape == r.log_scale.shape == (len(g), g.num_nodes, 3)
    assert m.posterior_head.loc.weight.grad is None  # the model's parameters are untouched
    mf = amortization_gap(m, g, family="mean_field", steps=60, generator=_gen(3))
    assert float(mf.elbo_refined) > float(mf.elbo_initial)
    with pytest.raises(ValueError, match="family"):
        amortization_gap(m, g, family="full")
    with pytest.raises(ValueError, match="deterministic"):
        amortization_gap(_model(g, deterministic=True), g)


def test_amortization_gap_is_zero_when_the_encoder_is_optimal():
    """Constructed optimum: the decoder ignores Z (bilinear weight 0, feature trunk output 0) and
    the posterior head equals the state-independent transition N(b, s²), so q_φ = p and
    KL = 0: the ELBO is log p(G) exactly (checked against the closed form), the gradient in λ
    is 0 and refinement gains nothing, in both families."""
    from dyngraphvae.amortization import amortization_gap

    data = linear_gaussian(num_nodes=8, num_snapshots=4, latent_dim=2, num_features=2, seed=1)
    g = data.graph
    m = _model(g, edge_decoder="bilinear")
    b = torch.tensor([0.3, -0.2, 0.5])
    with torch.no_grad():
        m.edge_decoder.weight.zero_()
        m.edge_decoder.bias.fill_(-1.2)
        m.feature_decoder.trunk[2].weight.zero_()
        for lin in (m.transition.loc, m.transition.scale, m.posterior_head.loc,
                    m.posterior_head.scale):
            lin.weight.zero_()
        m.transition.loc.bias.copy_(b)
        m.posterior_head.loc.bias.copy_(b)
        m.transition.scale.bias.fill_(-0.4)
        m.posterior_head.scale.bias.fill_(-0.4)
        x = g.x
        dist = m.decode_features(torch.zeros(1, g.num_nodes, 3))
        feat = dist.log_prob(x).sum()
        adj = g.adjacency_stack()
        iu = torch.triu_indices(g.num_nodes, g.num_nodes, 1)
        a = adj[:, iu[0], iu[1]].float()
        edges = (a * torch.nn.functional.logsigmoid(torch.tensor(-1.2))
                 + (1 - a) * torch.nn.functional.logsigmoid(torch.tensor(1.2))).sum()
    exact = feat + edges
    for fam in ("residual", "mean_field"):
        r = amortization_gap(m, g, family=fam, steps=30, lr=5e-2, eval_samples=16,
                             generator=_gen(5))
        torch.testing.assert_close(r.elbo_encoder, exact, rtol=1e-5, atol=1e-3)
        torch.testing.assert_close(r.elbo_refined, exact, rtol=1e-5, atol=1e-3)
        # float32 gradients at the optimum are rounding noise (~1e-6), which Adam turns into
        # lr-sized steps: a second-order loss of ~1e-3 nats, not a gain
        assert abs(float(r.amortization_gap)) < 1e-2


@pytest.mark.slow
def test_amortization_gap_nonnegative_on_a_trained_model(small_lg):
    """After training the encoder jointly with the model, the refined residual posterior is still
    at least as good as the encoder up to Monte Carlo noise (paired difference, 3 SE), and the
    remaining gap is smaller than at initialisation."""
    from dyngraphvae.amortization import amortization_gap

    g = small_lg.graph
    m = _model(g)
    before = amortization_gap(m, g, steps=60, generator=_gen(3))
    opt = torch.optim.Adam(m.parameters(), lr=2e-2)
    for i in range(300):
        opt.zero_grad()
        m.elbo(g, num_samples=4, generator=_gen(100 + i)).loss.backward()
        opt.step()
    m.zero_grad(set_to_none=True)
    after = amortization_gap(m, g, steps=60, eval_samples=512, generator=_gen(3))
    assert float(after.amortization_gap) > -3 * float(after.standard_error)
    assert float(after.elbo_encoder) > float(before.elbo_encoder)
    assert float(after.amortization_gap) < float(before.amortization_gap)


def test_summaries_read_per_step_give_the_same_loss_and_gradients_as_indexing_a_stack(
        monkeypatch):
    """The chain reads a list of per-step summaries (linear backward in T); indexing the stacked
    (T, N, H) tensor, as before, gives bit-identical loss and gradients."""
    g = dynamic_sbm(num_nodes=15, num_snapshots=6, num_features=3, seed=4)
    torch.manual_seed(0)
    model = TemporalGraphVAE(ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8))

    def run():
        model.zero_grad()
        out = model.elbo(g, generator=torch.Generator().manual_seed(1))
        out.loss.backward()
        return out.loss.detach(), [p.grad.clone() for p in model.parameters()
                                   if p.grad is not None]

    loss_new, grads_new = run()
    per_step = TemporalGraphVAE._summaries

    def indexed(self, graph):
        stacked = torch.stack(per_step(self, graph))
        return [stacked[s] for s in range(stacked.size(0))]

    monkeypatch.setattr(TemporalGraphVAE, "_summaries", indexed)
    loss_old, grads_old = run()
    assert torch.equal(loss_new, loss_old)
    assert len(grads_new) == len(grads_old) > 0
    for a, b in zip(grads_new, grads_old, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert torch.equal(model.summarise(g), torch.stack(per_step(model, g)))


def test_feature_lags_give_an_ar_l_mean_in_training_and_in_rollouts(lg):
    """``feature_lags = L``: the mean is μ(z) + Σ_l W_l x_{s-l} with the observed lags (zero
    before snapshot 0); in a rollout the window shifts in the sampled features, sample by
    sample; ``L = 1`` is the previous-feature decoder; bad values are named."""
    g = lg.graph
    L, f = 3, g.num_features
    m = _ar_model(g, "previous", feature_lags=L)
    assert m.feature_context.weight.shape == (f, L * f)
    W = m.feature_context.weight.detach()
    z = torch.randn(2, g.num_nodes, 3)
    with torch.no_grad():
        for s in (1, 2, 4):
            ctx = m.decoder_context(g, s)
            want = m.feature_decoder(z).mean
            for lag in range(1, L + 1):
                if s - lag >= 0:
                    want = want + g.features(s - lag) @ W[:, (lag - 1) * f:lag * f].T
            torch.testing.assert_close(m.decode_features(z, ctx).mean, want)
        fc = m.forecast(g, 3, 5, generator=_gen(3))
        T = len(g)
        # step 2 reads [X̂_{T+2}, X̂_{T+1}, x_T] per sample
        lags = torch.cat([fc.x[:, 1], fc.x[:, 0], g.features(T - 1).expand(5, -1, -1)], -1)
        torch.testing.assert_close(fc.contexts[2].x, lags)
        torch.testing.assert_close(fc.feature_mean[:, 2],
                                   m.feature_decoder(fc.z[:, 2]).mean + lags @ W.T)
    one = _ar_model(g, "previous", feature_lags=1)
    assert one.feature_context.weight.shape == (f, f)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="feature_lags"):
            ForecasterConfig(num_nodes=4, num_features=2, decoder_context="previous",
                             feature_lags=bad)
    with pytest.raises(ValueError, match="needs a decoder context"):
        ForecasterConfig(num_nodes=4, num_features=2, feature_lags=2)


def test_full_lags_drop_the_feature_terms_whose_lags_reach_before_snapshot_0(lg):
    """``feature_full_lags``: the feature log-likelihood of snapshot ``s < L`` is 0 and the
    others are unchanged, in whole-sequence chains and in windows started from a filter state
    (the count of observed snapshots is absolute); the warm start is least squares on the rows
    ``s ≥ L`` only."""
    from dyngraphvae.models import engine
    from dyngraphvae.models.engine import posterior_chain
    from dyngraphvae.training.warm_start import warm_start_features

    g, L = lg.graph, 3
    plain = _ar_model(g, "previous", feature_lags=L)
    full = _ar_model(g, "previous", feature_lags=L, feature_full_lags=True)
    with torch.no_grad():
        a, b = (posterior_chain(m, g, 2, generator=_gen(4)).feature_ll for m in (plain, full))
        assert bool((a[:, :L] != 0).all()) and bool((b[:, :L] == 0).all())
        torch.testing.assert_close(b[:, L:], a[:, L:])
        start = full.filter_states(g, [2], 2, generator=_gen(5))[2]  # a window from s = 2
        inputs = engine.window_inputs(full, g[2:], start, 2, 0.0, None)
        assert [c.observed for c in inputs["contexts"]] == list(range(2, len(g)))
        win = posterior_chain(full, g[2:], 2, generator=_gen(4), **inputs).feature_ll
        assert bool((win[:, :L - 2] == 0).all()) and bool((win[:, L - 2:] != 0).all())
    info = warm_start_features(full, g)
    f = g.num_features
    X = torch.cat([torch.cat([g.features(s - l) for l in range(1, L + 1)], -1)
                   for s in range(L, len(g))]).double()
    Y = torch.cat([g.features(s) for s in range(L, len(g))]).double()
    ref = torch.linalg.lstsq(torch.cat([X, torch.ones_like(X[:, :1])], 1), Y).solution
    torch.testing.assert_close(torch.tensor(info["weights"], dtype=torch.float64), ref[:-1].T)
    assert full.feature_context.weight.shape == (f, L * f)


def test_for_graph_gives_the_recipe_lags_with_a_context_and_features(lg):
    from dyngraphvae.models.config import RECIPE_FEATURE_LAGS

    g = lg.graph
    assert ForecasterConfig.for_graph(g, decoder_context="pair_history").feature_lags \
        == RECIPE_FEATURE_LAGS
    assert ForecasterConfig.for_graph(g).feature_lags == 1  # no context: no lags
    assert ForecasterConfig.for_graph(g, decoder_context="previous",
                                      feature_lags=2).feature_lags == 2
    assert ForecasterConfig.for_graph(g, decoder_context="previous",
                                      decode_features=False).feature_lags == 1
