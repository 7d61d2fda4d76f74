"""RegularisedObjective and the IWAE bound at their edges (written against surviving mutants of
``mutmut``, docs/benchmarks.md): the named constructors' weights and kinds, the divergence passed
in or computed (with the Monte Carlo settings passed through), every field of the terms, and every
invalid argument named."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Independent, Normal

from dyngraphvae.distributions import gaussian_mixture, monte_carlo_kl
from dyngraphvae.objectives import RegularisedObjective, divergence, importance_weighted_bound


def _qp():
    q = Independent(Normal(torch.tensor([[0.5, -0.2]]), torch.tensor([[0.8, 1.3]])), 1)
    p = Independent(Normal(torch.zeros(1, 2), torch.ones(1, 2)), 1)
    return q, p


def test_named_constructors():
    e = RegularisedObjective.elbo()
    assert (e.kind, e.weight, e.is_lower_bound) == ("kl", 1.0, True)
    c = RegularisedObjective.cauchy_schwarz()
    assert (c.kind, c.weight, c.is_lower_bound) == ("cs", 1.0, False)
    assert RegularisedObjective.cauchy_schwarz(0.5).weight == 0.5
    assert RegularisedObjective("KL", 2.0).kind == "kl"
    assert not RegularisedObjective("kl", 0.5).is_lower_bound
    assert RegularisedObjective("kl", 0.0).weight == 0.0  # zero is a valid weight


def test_terms_with_a_computed_or_a_given_divergence():
    q, p = _qp()
    rec = torch.tensor([-3.0])
    t = RegularisedObjective("kl", 0.5)(rec, q, p)
    kl = divergence(q, p, "kl")
    torch.testing.assert_close(t.divergence, kl)
    torch.testing.assert_close(t.objective, rec - 0.5 * kl)
    torch.testing.assert_close(t.reconstruction, rec)
    assert (t.kind, t.weight, t.is_lower_bound) == ("kl", 0.5, False)
    given = torch.tensor([7.0])
    t2 = RegularisedObjective("cs", 2.0)(rec, divergence=given)
    torch.testing.assert_close(t2.objective, rec - 2.0 * given)
    torch.testing.assert_close(t2.divergence, given)
    with pytest.raises(ValueError, match="pass q and p, or divergence="):
        RegularisedObjective()(rec, q)
    with pytest.raises(ValueError, match="pass q and p, or divergence="):
        RegularisedObjective()(rec, None, p)


def test_monte_carlo_settings_reach_the_divergence():
    q = gaussian_mixture(torch.zeros(2), torch.tensor([[-1.0], [1.0]]), torch.zeros(2, 1))
    p = Independent(Normal(torch.zeros(1), 2.0), 1)
    obj = RegularisedObjective("kl", 1.0, mc_samples=30)
    got = obj(torch.tensor(0.0), q, p, generator=torch.Generator().manual_seed(4))
    want = monte_carlo_kl(q, p, 30, generator=torch.Generator().manual_seed(4)).mean
    torch.testing.assert_close(got.divergence, want)
    torch.testing.assert_close(divergence(q, p, mc_samples=30,
                                          generator=torch.Generator().manual_seed(4)), want)


def test_invalid_settings_are_named():
    with pytest.raises(ValueError, match="weight must be finite and >= 0, got -1"):
        RegularisedObjective("kl", -1.0)
    with pytest.raises(ValueError, match="weight must be finite and >= 0, got inf"):
        RegularisedObjective("kl", math.inf)
    with pytest.raises(ValueError, match="divergence kind must be one of"):
        RegularisedObjective("js")


def test_importance_weighted_bound_edges():
    lw = torch.tensor([[0.0, math.log(3.0)], [-math.inf, 0.0]])
    torch.testing.assert_close(importance_weighted_bound(lw, 1),
                               torch.tensor([math.log(2.0), math.log(0.5)]))
    with pytest.raises(ValueError, match="log_weights must have at least one dimension"):
        importance_weighted_bound(torch.tensor(0.0))
    with pytest.raises(ValueError, match="dimension 0 of log_weights is empty"):
        importance_weighted_bound(torch.zeros(0, 3))
