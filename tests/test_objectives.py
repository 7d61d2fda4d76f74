"""divergence dispatch, IWAE bound, regularised (KL / CS) objective."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.distributions import Independent, Normal

from dyngraphvae.distributions import cs_divergence, gaussian_mixture, kl_divergence
from dyngraphvae.models.cvae import LinearGaussianCVAE
from dyngraphvae.objectives import (
    RegularisedObjective,
    divergence,
    importance_weighted_bound,
)

DT = torch.float64


def diag(loc, scale):
    return Independent(Normal(torch.tensor(loc, dtype=DT), torch.tensor(scale, dtype=DT)), 1)


def test_divergence_dispatch_and_shapes():
    q = Independent(Normal(torch.randn(5, 3, dtype=DT), torch.rand(5, 3, dtype=DT) + 0.1), 1)
    p = Independent(Normal(torch.zeros(3, dtype=DT), torch.ones(3, dtype=DT)), 1)
    torch.testing.assert_close(divergence(q, p), kl_divergence(q, p))
    torch.testing.assert_close(divergence(q, p, "KL"), kl_divergence(q, p))
    torch.testing.assert_close(divergence(q, p, kind="cs"), cs_divergence(q, p))
    assert divergence(q, p).shape == (5,)
    with pytest.raises(ValueError, match="one of"):
        divergence(q, p, "js")
    mix = gaussian_mixture(
        torch.zeros(2, dtype=DT), torch.randn(2, 3, dtype=DT), torch.zeros(2, 3, dtype=DT)
    )
    assert divergence(q, mix, "cs").shape == (5,)
    with pytest.raises(ValueError, match="no closed form"):
        divergence(q, mix, "kl")
    est = divergence(q, mix, "kl", mc_samples=4000, generator=torch.Generator().manual_seed(0))
    assert est.shape == (5,) and torch.isfinite(est).all()


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.floats(-700, 700, allow_nan=False), min_size=1, max_size=20))
def test_iw_bound_is_log_mean_exp(lw):
    arr = np.array(lw)
    want = np.log(np.mean(np.exp(arr - arr.max()))) + arr.max()
    got = importance_weighted_bound(torch.tensor(lw, dtype=DT)).item()
    assert got == pytest.approx(want, rel=1e-12, abs=1e-9)
    assert got <= arr.max() + 1e-9 and got >= arr.mean() - 1e-9  # Jensen: mean ≤ L_K ≤ max


def test_iw_bound_dims_and_edge_cases():
    lw = torch.randn(7, 3, dtype=DT)
    torch.testing.assert_close(
        importance_weighted_bound(lw, dim=0), torch.logsumexp(lw, 0) - math.log(7)
    )
    torch.testing.assert_close(
        importance_weighted_bound(lw.T, dim=1), importance_weighted_bound(lw)
    )
    torch.testing.assert_close(importance_weighted_bound(lw[:1]), lw[0])  # K=1 is the ELBO term
    x = torch.tensor([0.0, -math.inf], dtype=DT)
    assert importance_weighted_bound(x).item() == pytest.approx(-math.log(2))
    with pytest.raises(ValueError):
        importance_weighted_bound(torch.tensor(1.0))
    with pytest.raises(ValueError):
        importance_weighted_bound(torch.zeros(0, 3))


def test_regularised_objective_terms_and_config():
    q, p = diag([0.5, -1.0], [0.3, 2.0]), diag([0.0, 0.0], [1.0, 1.0])
    rec = torch.tensor(-3.0, dtype=DT)
    t = RegularisedObjective.elbo()(rec, q, p)
    assert t.is_lower_bound and t.kind == "kl"
    torch.testing.assert_close(t.objective, rec - kl_divergence(q, p))
    t = RegularisedObjective.cauchy_schwarz(0.5)(rec, q, p)
    assert not t.is_lower_bound and t.kind == "cs"
    torch.testing.assert_close(t.objective, rec - 0.5 * cs_divergence(q, p))
    assert RegularisedObjective("kl", 2.0).is_lower_bound
    assert not RegularisedObjective("kl", 0.5).is_lower_bound
    o = RegularisedObjective("cs", 0.7)
    assert RegularisedObjective.from_dict(o.to_dict()) == o
    with pytest.raises(ValueError):
        RegularisedObjective("cs", -1.0)
    with pytest.raises(ValueError):
        RegularisedObjective("tv", 1.0)


def test_cs_objective_is_not_a_bound():
    """Problem 2.2: L_CS = log p − KL(q||post) + [KL(q||p) − λ D_CS(q||p)]. With 1-D latents,
    q = exact posterior and λ = 1, the bracket is > 0 (D_CS ≤ KL), so L_CS exceeds log p(x|y)."""
    g = torch.Generator().manual_seed(0)
    W, B, D = (
        torch.randn(1, 2, generator=g, dtype=DT),
        torch.randn(3, 1, generator=g, dtype=DT),
        torch.randn(3, 2, generator=g, dtype=DT),
    )
    m = LinearGaussianCVAE(W, B, D, 0.5)
    y = torch.randn(8, 2, generator=g, dtype=DT)
    x = m.generate(y, 1, generator=g).x[0]
    with torch.no_grad():
        q = m.posterior(x, y)
        q1 = Independent(Normal(q.mean, q.variance.sqrt()), 1)  # the same 1-D posterior
        p = m.conditional_prior(y)
        rec = m.analytic_expected_log_likelihood(q1, x, y)
        lp = m.exact_log_likelihood(x, y)
        cs_terms = RegularisedObjective.cauchy_schwarz(1.0)(rec, q1, p)
        elbo_terms = RegularisedObjective.elbo()(rec, q1, p)
    torch.testing.assert_close(elbo_terms.objective, lp, rtol=1e-10, atol=1e-10)
    excess = cs_terms.objective - lp
    torch.testing.assert_close(excess, kl_divergence(q1, p) - cs_divergence(q1, p))
    assert (excess > 0).all()
