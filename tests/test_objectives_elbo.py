"""TemporalELBO on a hand-made trajectory: every reduction, free bits, a custom regulariser, the
posterior moments and the bound flag against formulas written out here, and every invalid
argument refused with its name."""

from __future__ import annotations

import math

import pytest
import torch

from dyngraphvae.objectives import TemporalELBO, Trajectory, free_bits

S, T, N, D = 3, 4, 5, 2


def _trajectory(seed: int = 0, kl_shape=(S, T, N, D)) -> Trajectory:
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    return Trajectory(
        feature_ll=r(S, T), edge_ll=r(S, T), kl=r(*kl_shape).abs(), log_prior=None,
        log_posterior=None, loc=r(S, T, N, D), scale=r(S, T, N, D).abs() + 0.1,
        z_last=r(S, N, D), q_last=None, summary_last=None,
    )


def test_sum_reduction_is_minus_the_regularised_bound():
    tr = _trajectory()
    out = TemporalELBO(kl_weight=0.3)(tr, num_nodes=N, directed=False)
    F, E = tr.feature_ll.mean(0), tr.edge_ll.mean(0)
    KL = tr.kl.sum((-1, -2)).mean(0)
    torch.testing.assert_close(out.elbo, (F + E - KL).sum())
    torch.testing.assert_close(out.per_step_elbo, F + E - KL)
    torch.testing.assert_close(out.loss, -(F.sum() + E.sum() - 0.3 * KL.sum()))
    torch.testing.assert_close(out.regulariser, KL.sum())
    torch.testing.assert_close(out.kl, KL)
    torch.testing.assert_close(out.kl_per_dim, tr.kl.mean((0, 1, 2)))
    assert out.num_samples == S and out.reduction == "sum"


@pytest.mark.parametrize("directed", [False, True])
def test_mean_reductions_count_observed_nodes_and_pairs(directed):
    tr = _trajectory(1)
    mask = torch.ones(T, N, dtype=torch.bool)
    mask[1, :2] = False
    mask[3, 4] = False
    n_t = mask.sum(-1).double()
    m_nodes = int(n_t.sum())
    pairs = n_t * (n_t - 1) * (1.0 if directed else 0.5)
    m_pairs = int(pairs.sum())
    F, E = tr.feature_ll.mean(0).sum(), tr.edge_ll.mean(0).sum()
    KL = tr.kl.sum((-1, -2)).mean(0).sum()
    node = TemporalELBO(kl_weight=0.7, reduction="mean_node")(
        tr, num_nodes=N, directed=directed, node_mask=mask)
    torch.testing.assert_close(node.loss, -(F + E - 0.7 * KL) / m_nodes)
    edge = TemporalELBO(kl_weight=0.7, reduction="mean_edge")(
        tr, num_nodes=N, directed=directed, node_mask=mask)
    torch.testing.assert_close(edge.loss, -(E / m_pairs + (F - 0.7 * KL) / m_nodes))
    assert (edge.num_observed_nodes, edge.num_observed_pairs) == (m_nodes, m_pairs)


def test_free_bits_floor_each_dimension_of_the_mean_kl():
    tr = _trajectory(2)
    tr.kl[..., 1] += 1.0
    lam = float(tr.kl.mean((0, 1, 2))[0]) + 0.05  # dimension 0 under the floor, 1 above it
    assert float(tr.kl.mean((0, 1, 2))[1]) > lam
    out = TemporalELBO(free_bits=lam)(tr, num_nodes=N, directed=False)
    per_dim = tr.kl.mean((0, 1, 2))
    want = T * N * (torch.clamp(per_dim, min=lam)).sum()
    torch.testing.assert_close(out.regulariser, want)
    torch.testing.assert_close(out.regulariser, free_bits(
        tr.kl, lam, "dimension", reduce_over=(0, 1, 2), reduction="mean") * (T * N))
    # the ELBO itself is unchanged by free bits
    torch.testing.assert_close(out.elbo, TemporalELBO()(tr, num_nodes=N, directed=False).elbo)


def test_custom_regulariser_replaces_free_bits_and_must_be_a_scalar():
    tr = _trajectory(3)
    seen = {}

    def reg(kl):
        seen["shape"] = tuple(kl.shape)
        return 2.0 * kl.sum()

    out = TemporalELBO(kl_weight=0.5, free_bits=10.0, kl_transform=reg)(
        tr, num_nodes=N, directed=False)
    assert seen["shape"] == (S, T, N, D)
    torch.testing.assert_close(out.regulariser, 2.0 * tr.kl.sum())
    with pytest.raises(ValueError, match="kl_transform must return a scalar tensor"):
        TemporalELBO(kl_transform=lambda kl: kl.sum(-1))(tr, num_nodes=N, directed=False)
    with pytest.raises(ValueError, match="kl_transform must return a scalar tensor"):
        TemporalELBO(kl_transform=lambda kl: 1.0)(tr, num_nodes=N, directed=False)


def test_posterior_moments_and_mixture_terms():
    tr = _trajectory(4)
    out = TemporalELBO()(tr, num_nodes=N, directed=False)
    torch.testing.assert_close(out.posterior_loc, tr.loc.mean(0))
    var = tr.scale.pow(2).mean(0) + tr.loc.var(0, unbiased=False)
    torch.testing.assert_close(out.posterior_scale, var.sqrt())
    node_mix = TemporalELBO()(_trajectory(4, kl_shape=(S, T, N, 1)), num_nodes=N,
                              directed=False)
    graph_mix = TemporalELBO()(_trajectory(4, kl_shape=(S, T, 1, 1)), num_nodes=N,
                               directed=False)
    assert node_mix.kl_per_dim is None and graph_mix.kl_per_dim is None


def test_bound_flag():
    tr = _trajectory(5)
    elbo = TemporalELBO()
    assert elbo(tr, num_nodes=N, directed=False).is_bound
    assert not elbo(tr, num_nodes=N, directed=False, teacher_forcing=0.9).is_bound
    assert not elbo(tr, num_nodes=N, directed=False, exact=False).is_bound
    assert elbo(tr, num_nodes=N, directed=False, teacher_forcing=0.9).teacher_forcing == 0.9


@pytest.mark.parametrize("kwargs, message", [
    (dict(reduction="mean"), "reduction must be one of"),
    (dict(kl_weight=-0.1), "kl_weight must be finite and >= 0"),
    (dict(kl_weight=math.inf), "kl_weight must be finite and >= 0"),
    (dict(free_bits=-1.0), "free_bits must be finite and >= 0"),
    (dict(free_bits=math.nan), "free_bits must be finite and >= 0"),
])
def test_invalid_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TemporalELBO(**kwargs)


def test_zero_weight_and_zero_free_bits_are_valid():
    tr = _trajectory(6)
    out = TemporalELBO(kl_weight=0.0, free_bits=0.0)(tr, num_nodes=N, directed=False)
    torch.testing.assert_close(out.loss, -(tr.feature_ll.mean(0).sum() + tr.edge_ll.mean(0).sum()))


def test_log_weights_sum_the_four_terms():
    tr = _trajectory(7)
    g = torch.Generator().manual_seed(1)
    tr.log_prior = torch.randn(S, T, generator=g, dtype=torch.float64)
    tr.log_posterior = torch.randn(S, T, generator=g, dtype=torch.float64)
    want = (tr.feature_ll + tr.edge_ll + tr.log_prior - tr.log_posterior).sum(1)
    torch.testing.assert_close(tr.log_weights, want)
    tr.log_prior = None
    with pytest.raises(ValueError, match="needs the likelihood and the densities"):
        _ = tr.log_weights
