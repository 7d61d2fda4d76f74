"""Amortization gap on a linear-Gaussian CVAE whose true posterior lies in the diagonal family."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Independent, Normal

from dyngraphvae.amortization import cvae_amortization_gap, refine_posterior
from dyngraphvae.distributions import kl_divergence
from dyngraphvae.models.cvae import LinearGaussianCVAE

DT = torch.float64


@pytest.fixture(scope="module")
def setup():
    """B has orthogonal columns, so the posterior covariance (I + BᵀB/σ²)⁻¹ is diagonal: the
    approximation gap of the diagonal family is 0 and log p(x|y) − ELBO(q_enc) is all
    amortization."""
    g = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(4, 2, generator=g, dtype=DT))
    B = Q * torch.tensor([1.5, 0.7], dtype=DT)
    W, D = torch.randn(2, 3, generator=g, dtype=DT), torch.randn(4, 3, generator=g, dtype=DT)
    exact = LinearGaussianCVAE(W, B, D, 0.5)
    y = torch.randn(16, 3, generator=g, dtype=DT)
    x = exact.generate(y, 1, generator=g).x[0]
    enc = LinearGaussianCVAE(
        W, B, D, 0.5, exact=False, full_covariance=False, perturbation=0.2, generator=g
    )
    with torch.no_grad():
        post = exact.true_posterior(x, y)
        assert torch.allclose(post.covariance_matrix[0], torch.diag_embed(post.variance[0]))
    return exact, enc, x, y


def test_refinement_recovers_true_posterior_elbo(setup):
    exact, m, x, y = setup
    with torch.no_grad():
        q = m.posterior(x, y)
        post = exact.true_posterior(x, y)
        lp = exact.exact_log_likelihood(x, y)
        kl_enc = kl_divergence(q, post)

    def elbo_fn(mu, ls):  # analytic ELBO: deterministic, so before/after are exact
        return m.analytic_elbo(Independent(Normal(mu, ls.exp()), 1), x, y)

    res = refine_posterior(q.base_dist.loc, q.base_dist.scale.log(), elbo_fn, steps=300, lr=0.05)
    with torch.no_grad():
        kl_ref = kl_divergence(Independent(Normal(res.loc, res.log_scale.exp()), 1), post)
    assert kl_enc.mean() > 1.0 and (kl_enc > 0.05).all()  # a real amortization gap to close
    torch.testing.assert_close(res.elbo_after, lp, rtol=0, atol=1e-6)  # = log p(x|y)
    torch.testing.assert_close(res.gain, kl_enc - kl_ref, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(res.loc, post.mean, rtol=0, atol=1e-5)
    assert res.history.shape == (301,) and res.history[-1] > res.history[0]
    assert all(p.grad is None for p in m.parameters())  # model gradients untouched


def test_refine_posterior_validation():
    with pytest.raises(ValueError, match="differ"):
        refine_posterior(torch.zeros(3, 2), torch.zeros(3, 1), lambda a, b: a.sum(-1))
    with pytest.raises(ValueError, match="must return shape"):
        refine_posterior(torch.zeros(3, 2), torch.zeros(3, 2), lambda a, b: a.sum())
    with pytest.raises(ValueError):
        refine_posterior(torch.zeros(3, 2), torch.zeros(3, 2), lambda a, b: a.sum(-1), lr=0.0)


def test_cvae_amortization_gap_monte_carlo(setup):
    """Monte Carlo version (64 fixed noise draws, 300 steps, 4000 evaluation draws, seeded):
    the dataset-mean amortization gap matches the analytic KL(q_enc||post) − KL(q*||post) within
    3 %, q* is within 0.1 nats of the posterior, and the approximation gap is ~0."""
    exact, m, x, y = setup
    a = cvae_amortization_gap(
        m,
        x,
        y,
        steps=300,
        lr=0.05,
        num_samples=64,
        eval_samples=4000,
        iw_samples=1000,
        generator=torch.Generator().manual_seed(1),
    )
    with torch.no_grad():
        post = exact.true_posterior(x, y)
        kl_enc = kl_divergence(m.posterior(x, y), post)
        r = a.refinement
        kl_ref = kl_divergence(Independent(Normal(r.loc, r.log_scale.exp()), 1), post)
        lp = exact.exact_log_likelihood(x, y)
    want = (kl_enc - kl_ref).mean().item()
    assert a.amortization_gap.mean().item() == pytest.approx(want, rel=0.03)
    assert kl_ref.max().item() < 0.1
    assert abs(a.approximation_gap.mean().item()) < 0.05
    assert (a.log_likelihood - lp).abs().max().item() < 0.02
    assert all(p.grad is None for p in m.parameters())


def test_cvae_amortization_gap_requires_diagonal_encoder(setup):
    exact, _, x, y = setup  # the exact encoder has a full covariance
    with pytest.raises(TypeError, match="diagonal"):
        cvae_amortization_gap(exact, x, y, steps=1)
