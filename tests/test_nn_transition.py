"""GRU transition prior p(Z_{t+1} | Z_t): shapes, mixture density, Markov rollouts, numerics."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Independent, MixtureSameFamily, Normal

from dyngraphvae.nn import GRUTransition


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("lead", [(), (4,), (2, 3)])
def test_transition_shapes(k, lead):
    torch.manual_seed(0)
    n, d = 6, 3
    trans = GRUTransition(d, 8, num_components=k)
    z = torch.randn(*lead, n, d)
    p = trans(z)
    assert isinstance(p, Independent if k == 1 else MixtureSameFamily)
    assert p.batch_shape == (*lead, n) and p.event_shape == (d,)
    sample = p.sample()
    assert sample.shape == (*lead, n, d)
    assert p.log_prob(sample).shape == (*lead, n)
    assert p.mean.shape == (*lead, n, d)


@pytest.mark.parametrize("k", [1, 2])
def test_transition_broadcast_matches_loop(k):
    torch.manual_seed(1)
    trans = GRUTransition(3, 8, num_components=k)
    z = torch.randn(5, 7, 3)
    x = torch.randn(5, 7, 3)
    batched = trans(z).log_prob(x)
    loop = torch.stack([trans(z[s]).log_prob(x[s]) for s in range(5)])
    torch.testing.assert_close(batched, loop)


def test_mixture_log_prob_matches_manual_logsumexp():
    torch.manual_seed(2)
    n, d, k = 5, 3, 4
    trans = GRUTransition(d, 8, num_components=k).double()
    z = torch.randn(n, d, dtype=torch.float64)
    x = torch.randn(n, d, dtype=torch.float64)
    p = trans(z)
    loc, scale = p.component_distribution.base_dist.loc, p.component_distribution.base_dist.scale
    logw = torch.log_softmax(p.mixture_distribution.logits, -1)
    assert loc.shape == scale.shape == (n, k, d)
    comp = (
        -0.5 * ((x[:, None, :] - loc) / scale) ** 2 - torch.log(scale) - 0.5 * math.log(2 * math.pi)
    ).sum(-1)
    want = torch.logsumexp(logw + comp, dim=-1)
    torch.testing.assert_close(p.log_prob(x), want)
    # The components differ and the weights depend on Z_t.
    assert (loc[:, 0] - loc[:, 1]).abs().max() > 1e-3
    other = trans(z + 1.0).mixture_distribution.probs
    assert (other - p.mixture_distribution.probs).abs().max() > 1e-4


def test_single_component_starts_as_gru_update():
    torch.manual_seed(3)
    trans = GRUTransition(4, 8)
    z = torch.randn(6, 4)
    p = trans(z)
    h = trans.cell(torch.relu(trans.phi(z)), z)
    torch.testing.assert_close(p.base_dist.loc, h)  # W_o = I, b_o = 0 at initialisation
    assert isinstance(p.base_dist, Normal)


def test_transition_is_markov_and_rollout_is_finite():
    """No hidden state beyond Z: the law of Z_{t+1} is a function of Z_t only."""
    torch.manual_seed(4)
    trans = GRUTransition(3, 8, num_components=2)
    z = torch.randn(10, 20, 3)
    first = trans(z)
    for _ in range(200):  # long vectorised rollout (10 chains x 20 nodes)
        z = trans(z).sample()
        assert torch.isfinite(z).all()
    again = trans(z)
    torch.testing.assert_close(trans(z).log_prob(z), again.log_prob(z))
    assert torch.isfinite(first.log_prob(z)).all()


def test_rsample_gradients_flow():
    trans = GRUTransition(3, 8)
    z = torch.randn(4, 3, requires_grad=True)
    trans(z).rsample().pow(2).sum().backward()
    assert z.grad.abs().sum() > 0
    assert all(p.grad is not None for p in trans.parameters())


@pytest.mark.parametrize("k", [1, 3])
def test_extreme_inputs_stay_finite_and_scale_is_floored(k):
    trans = GRUTransition(2, 8, num_components=k, min_scale=1e-3)
    with torch.no_grad():
        trans.scale.bias.fill_(-1e4)
    z = torch.tensor([[1e4, -1e4], [0.0, 0.0], [1e-8, 3.0]])
    p = trans(z)
    base = p.base_dist if k == 1 else p.component_distribution.base_dist
    assert (base.scale >= 1e-3).all() and torch.isfinite(base.loc).all()
    assert torch.isfinite(p.log_prob(torch.zeros(3, 2))).all()


def test_transition_bad_arguments():
    with pytest.raises(ValueError, match="num_components"):
        GRUTransition(2, 8, num_components=0)
    with pytest.raises(ValueError, match="min_scale"):
        GRUTransition(2, 8, min_scale=0.0)
    with pytest.raises(ValueError, match=r"z: expected shape \(\.\.\., N, 2\)"):
        GRUTransition(2, 8)(torch.randn(4, 3))


def test_tied_scale_shares_one_scale_and_keeps_the_mixture_density():
    torch.manual_seed(4)
    n, d, k = 5, 3, 3
    tied = GRUTransition(d, 8, num_components=k, tied_scale=True).double()
    free = GRUTransition(d, 8, num_components=k).double()
    # one scale head of width d instead of k*d: the components cannot differ in scale
    assert tied.scale.out_features == d and free.scale.out_features == k * d
    z = torch.randn(2, n, d, dtype=torch.float64)
    p = tied(z)
    base = p.component_distribution.base_dist
    assert base.scale.shape == (2, n, k, d)
    for j in range(1, k):
        torch.testing.assert_close(base.scale[..., j, :], base.scale[..., 0, :])
    assert (base.loc[..., 0, :] - base.loc[..., 1, :]).abs().max() > 1e-3
    # density = logsumexp over components of log w_k + log N(x; mu_k, sigma^2) with the shared sigma
    x = torch.randn(2, n, d, dtype=torch.float64)
    logw = torch.log_softmax(p.mixture_distribution.logits, -1)
    comp = Normal(base.loc, base.scale[..., :1, :]).log_prob(x[..., None, :]).sum(-1)
    torch.testing.assert_close(p.log_prob(x), torch.logsumexp(logw + comp, -1))
    # K = 1: nothing to tie, the plain Normal transition
    assert not GRUTransition(d, 8, num_components=1, tied_scale=True).tied_scale
    assert "tied_scale=True" in repr(tied)


def test_tied_scale_config_needs_a_mixture():
    from dyngraphvae.models import ForecasterConfig

    with pytest.raises(ValueError, match="transition_tied_scale=True needs"):
        ForecasterConfig(num_nodes=4, num_features=0, transition_tied_scale=True)
    cfg = ForecasterConfig(num_nodes=4, num_features=0, transition_components=2,
                           transition_tied_scale=True)
    assert ForecasterConfig.from_dict(cfg.to_dict()) == cfg
