"""Distributions at their edges, written against surviving mutants of ``mutmut``
(docs/benchmarks.md, "Mutation score"): the exact reparameterisation of every family with a given
generator, mixture sampling with batch dimensions, log-variance clamps passed through, mixture
overlaps with batch dimensions against a loop, the Monte Carlo KL fallback of unregistered pairs,
and the cross-family Gaussian KLs dispatched through ``register_kl``."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import (
    Categorical,
    Independent,
    Laplace,
    LowRankMultivariateNormal,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
    StudentT,
)

from dyngraphvae.distributions import (
    cs_divergence,
    diagonal_normal,
    gaussian_mixture,
    kl_divergence,
    log_gaussian_overlap,
    monte_carlo_kl,
    normal_from_log_var,
    register_cs,
    sample,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_gaussian_samples_are_loc_plus_scale_times_the_generators_noise():
    loc, scale = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 3.0])
    want = loc + scale * torch.randn((4, 2), generator=_gen(1))
    torch.testing.assert_close(sample(Normal(loc, scale), 4, generator=_gen(1)), want)
    torch.testing.assert_close(sample(Independent(Normal(loc, scale), 1), 4, generator=_gen(1)),
                               want)
    tril = torch.tensor([[1.0, 0.0], [0.5, 2.0]])
    eps = torch.randn((3, 2), generator=_gen(2))
    torch.testing.assert_close(sample(MultivariateNormal(loc, scale_tril=tril), 3,
                                      generator=_gen(2)), loc + eps @ tril.t())
    w, diag = torch.tensor([[1.0], [2.0]]), torch.tensor([0.25, 4.0])
    g = _gen(3)
    e_w = torch.randn((5, 1), generator=g)
    e_d = torch.randn((5, 2), generator=g)
    low_rank = LowRankMultivariateNormal(loc, w, diag)
    torch.testing.assert_close(sample(low_rank, 5, generator=_gen(3)),
                               loc + e_w @ w.t() + diag.sqrt() * e_d)


def test_mixture_samples_with_batch_dimensions_pick_each_elements_component():
    # batch (3,), K = 2 components far apart; element b puts all its weight on component b % 2
    probs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    loc = torch.tensor([[[-100.0], [100.0]]]).expand(3, 2, 1)
    mix = MixtureSameFamily(Categorical(probs=probs), Independent(Normal(loc, 1e-3), 1))
    x = sample(mix, 6, generator=_gen(0))  # (6, 3, 1)
    assert x.shape == (6, 3, 1)
    torch.testing.assert_close(x.sign()[..., 0], torch.tensor([-1.0, 1.0, -1.0]).expand(6, 3))


def test_log_variance_clamps_are_passed_through():
    lv = torch.tensor([-50.0, 0.0, 50.0])
    torch.testing.assert_close(normal_from_log_var(torch.zeros(3), lv, min_log_var=-2.0,
                                                   max_log_var=2.0).scale,
                               torch.tensor([-2.0, 0.0, 2.0]).mul(0.5).exp())
    d = diagonal_normal(torch.zeros(3), lv, min_log_var=-1.0, max_log_var=1.0)
    torch.testing.assert_close(d.base_dist.scale, torch.tensor([-1.0, 0.0, 1.0]).mul(0.5).exp())
    assert d.event_shape == (3,) and d.batch_shape == ()  # a 1-D loc is one event
    m = gaussian_mixture(torch.zeros(2), torch.zeros(2, 3), lv.expand(2, 3), min_log_var=-3.0,
                         max_log_var=3.0)
    torch.testing.assert_close(m.component_distribution.base_dist.scale[0],
                               torch.tensor([-3.0, 0.0, 3.0]).mul(0.5).exp())
    with pytest.raises(ValueError, match="must be < max_log_var"):
        normal_from_log_var(torch.zeros(1), torch.zeros(1), min_log_var=1.0, max_log_var=1.0)
    with pytest.raises(ValueError, match="at least one dimension"):
        diagonal_normal(torch.tensor(0.0), torch.tensor(0.0))


def test_mixture_overlap_with_batch_dimensions_equals_an_elementwise_loop():
    g = _gen(4)
    logits, loc = torch.randn(2, 3, generator=g), torch.randn(2, 3, 2, generator=g)
    lv = torch.randn(2, 3, 2, generator=g) * 0.3
    p = gaussian_mixture(logits, loc, lv)
    q = gaussian_mixture(torch.randn(2, 4, generator=g), torch.randn(2, 4, 2, generator=g),
                         torch.zeros(2, 4, 2))
    both = log_gaussian_overlap(p, q)
    for b in range(2):
        pb = gaussian_mixture(logits[b], loc[b], lv[b])
        qb = MixtureSameFamily(Categorical(logits=q.mixture_distribution.logits[b]),
                               Independent(Normal(q.component_distribution.base_dist.loc[b],
                                                  q.component_distribution.base_dist.scale[b]),
                                           1))
        torch.testing.assert_close(both[b], log_gaussian_overlap(pb, qb))
        torch.testing.assert_close(cs_divergence(p, q)[b], cs_divergence(pb, qb))


def test_scalar_and_vector_events_do_not_mix():
    with pytest.raises(ValueError, match="event shapes differ"):
        log_gaussian_overlap(Normal(0.0, 1.0), Independent(Normal(torch.zeros(2), 1.0), 1))
    torch.testing.assert_close(  # a scalar event and a 1-vector event are the same size
        cs_divergence(Normal(torch.tensor(0.0), 1.0), Independent(Normal(torch.ones(1), 1.0), 1)),
        cs_divergence(Normal(torch.tensor(0.0), 1.0), Normal(torch.tensor(1.0), 1.0)))


def test_register_cs_refuses_non_distribution_types():
    with pytest.raises(TypeError, match="type_p must be a Distribution subclass"):
        register_cs(int, Normal)
    with pytest.raises(TypeError, match="type_q must be a Distribution subclass"):
        register_cs(Normal, int)


def test_monte_carlo_kl_is_seeded_and_needs_two_draws():
    p, q = Normal(0.0, 1.0), Normal(1.0, 2.0)
    a = monte_carlo_kl(p, q, 2, generator=_gen(5))
    x = sample(p, 2, generator=_gen(5))
    d = p.log_prob(x) - q.log_prob(x)
    torch.testing.assert_close(a.mean, d.mean(0))
    torch.testing.assert_close(a.stderr, d.std(0) / math.sqrt(2))
    with pytest.raises(ValueError, match="num_samples must be >= 2"):
        monte_carlo_kl(p, q, 1)


def test_unregistered_pairs_fall_back_to_monte_carlo_only_when_asked():
    p, q = Normal(0.0, 1.0), StudentT(3.0)
    with pytest.raises(TypeError, match="no closed form for \\(Normal, StudentT\\)"):
        kl_divergence(p, q)
    got = kl_divergence(p, q, mc_samples=50, generator=_gen(6))
    torch.testing.assert_close(got, monte_carlo_kl(p, q, 50, generator=_gen(6)).mean)
    mix = gaussian_mixture(torch.zeros(2), torch.zeros(2, 1), torch.zeros(2, 1))
    one = Independent(Normal(torch.zeros(1), 1.0), 1)
    torch.testing.assert_close(kl_divergence(mix, one, mc_samples=40, generator=_gen(7)),
                               monte_carlo_kl(mix, one, 40, generator=_gen(7)).mean)


def test_cross_family_gaussian_kl_is_registered_and_non_gaussians_are_not_taken():
    loc, var = torch.tensor([0.5, -1.0]), torch.tensor([0.5, 2.0])
    diag = Independent(Normal(loc, var.sqrt()), 1)
    full = MultivariateNormal(torch.zeros(2), torch.tensor([[2.0, 0.3], [0.3, 1.0]]))
    as_full = MultivariateNormal(loc, torch.diag(var))
    torch.testing.assert_close(torch.distributions.kl_divergence(diag, full),
                               torch.distributions.kl_divergence(as_full, full))
    torch.testing.assert_close(kl_divergence(full, diag), kl_divergence(full, as_full))
    lap = Independent(Laplace(loc, var), 1)
    with pytest.raises(TypeError, match="no closed form for \\(Independent, MultivariateNormal\\)"):
        kl_divergence(lap, full)
