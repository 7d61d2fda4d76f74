"""CVAE against the exactly solvable linear-Gaussian CVAE (log p(x|y), posterior in closed form)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from scipy import integrate, stats

from dyngraphvae.distributions import cs_divergence, kl_divergence
from dyngraphvae.models.cvae import CVAE, CVAEConfig, LinearGaussianCVAE

D = torch.float64


def make_linear(latent=2, x_dim=3, y_dim=2, sigma=0.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(latent, y_dim, generator=g, dtype=D)
    B = torch.randn(x_dim, latent, generator=g, dtype=D)
    Dm = torch.randn(x_dim, y_dim, generator=g, dtype=D)
    return W, B, Dm, sigma


def data(model: LinearGaussianCVAE, n: int, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(n, model.prior.W.shape[1], generator=g, dtype=D)
    x = model.generate(y, 1, generator=g).x[0]
    return x, y


@pytest.fixture(scope="module")
def lin():
    params = make_linear()
    exact = LinearGaussianCVAE(*params)
    x, y = data(exact, 16)
    return params, exact, x, y


# ------------------------------------------------------------------ ground truth of the test model
def test_linear_model_closed_forms_against_quadrature_and_bayes():
    W, B, Dm, s = make_linear(latent=1, x_dim=2, y_dim=2)
    m = LinearGaussianCVAE(W, B, Dm, s)
    x, y = data(m, 3)
    with torch.no_grad():
        lp = m.exact_log_likelihood(x, y)
        for i in range(3):
            mu_z = (W @ y[i]).item()

            def integrand(z, i=i, mu_z=mu_z):
                mean = (B[:, 0] * z + Dm @ y[i]).numpy()
                return stats.norm.pdf(z, mu_z, 1.0) * stats.multivariate_normal.pdf(
                    x[i].numpy(), mean, s**2 * torch.eye(2, dtype=D).numpy()
                )

            val = integrate.quad(integrand, mu_z - 40, mu_z + 40, limit=400, epsabs=0)[0]
            assert lp[i].item() == pytest.approx(math.log(val), rel=1e-8)
        # Bayes: log p(z|x,y) = log p(x|y,z) + log p(z|y) − log p(x|y) at random z
        z = torch.randn(5, 3, 1, generator=torch.Generator().manual_seed(2), dtype=D)
        post = m.true_posterior(x, y).log_prob(z)
        bayes = m.likelihood(z, y).log_prob(x) + m.conditional_prior(y).log_prob(z) - lp
        torch.testing.assert_close(post, bayes, rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------------------- ELBO identities
@pytest.mark.parametrize("full", [True, False])
def test_elbo_gap_equals_kl_to_true_posterior(lin, full):
    """Problem 1.5: log p(x|y) − ELBO(q) = KL(q || p(z|x,y)), with the analytic expected log-lik."""
    params, exact, x, y = lin
    m = LinearGaussianCVAE(
        *params,
        exact=False,
        full_covariance=full,
        perturbation=0.2,
        generator=torch.Generator().manual_seed(3),
    )
    with torch.no_grad():
        q = m.posterior(x, y)
        gap = m.exact_log_likelihood(x, y) - m.analytic_elbo(q, x, y)
        kl = kl_divergence(q, m.true_posterior(x, y))
        torch.testing.assert_close(gap, kl, rtol=1e-9, atol=1e-10)
        assert (kl > 0.1).all()  # the encoder really is imperfect
        # the model's Monte Carlo ELBO converges to the analytic one (20k draws, 4 std. errors)
        out = m.elbo(x, y, num_samples=20_000, generator=torch.Generator().manual_seed(4))
        z = out.z
        ll = m.likelihood(z, y).log_prob(x)
        se = ll.std(0) / math.sqrt(z.shape[0])
        assert ((out.elbo - m.analytic_elbo(q, x, y)).abs() < 4 * se).all()


def test_exact_posterior_makes_bound_tight(lin):
    _, exact, x, y = lin
    with torch.no_grad():
        lp = exact.exact_log_likelihood(x, y)
        q = exact.posterior(x, y)
        torch.testing.assert_close(exact.analytic_elbo(q, x, y), lp, rtol=1e-10, atol=1e-10)
        # every importance weight equals p(x|y): single-sample ELBO and any-K IW estimate are exact
        out = exact.elbo(x, y, 1, analytic_kl=False, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(out.elbo, lp, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(
            exact.log_likelihood(x, y, 3, generator=torch.Generator().manual_seed(0)),
            lp,
            rtol=1e-10,
            atol=1e-10,
        )


# ------------------------------------------------------------------------ importance weighting
def test_iw_estimate_converges_at_k1000(lin):
    """Stated example: make_linear(seed=0), 16 datapoints, mildly imperfect full-covariance encoder
    (perturbation 0.03, KL(q||posterior) ≈ 0.04 nats on average). Seeds 0..4: the dataset average
    of log p̂(x|y) at K=1000 is within 0.01 nats of the truth; every datapoint within 0.05."""
    params, exact, x, y = lin
    m = LinearGaussianCVAE(
        *params, exact=False, perturbation=0.03, generator=torch.Generator().manual_seed(1)
    )
    with torch.no_grad():
        lp = exact.exact_log_likelihood(x, y)
        for seed in range(5):
            est = m.log_likelihood(
                x, y, 1000, chunk_size=256, generator=torch.Generator().manual_seed(seed)
            )
            assert abs((est - lp).mean().item()) < 0.01
            assert (est - lp).abs().max().item() < 0.05
        elbo_gap = (lp - m.analytic_elbo(m.posterior(x, y), x, y)).mean().item()
        assert elbo_gap > 0.02  # the ELBO alone is not within 0.01


def test_iw_bounds_monotone_in_k(lin):
    """E[L_1] ≤ E[L_10] ≤ E[L_100] ≤ E[L_1000] ≤ log p(x|y): 200 seeded repeats, averaged over 8
    datapoints, each inequality checked with a 3-standard-error allowance."""
    params, exact, x, y = lin
    m = LinearGaussianCVAE(
        *params,
        exact=False,
        full_covariance=False,
        perturbation=0.2,
        generator=torch.Generator().manual_seed(1),
    )
    R = 200
    x, y = x[:8], y[:8]
    means, ses = [], []
    with torch.no_grad():
        lp = exact.exact_log_likelihood(x, y).mean().item()
        for K in (1, 10, 100, 1000):
            lw = m.log_weights(x, y, R * K, generator=torch.Generator().manual_seed(K)).reshape(
                R, K, -1
            )
            lk = (torch.logsumexp(lw, 1) - math.log(K)).mean(1)  # (R,) dataset averages
            means.append(lk.mean().item())
            ses.append(lk.std().item() / math.sqrt(R))
        elbo = m.analytic_elbo(m.posterior(x, y), x, y).mean().item()
    assert abs(means[0] - elbo) < 4 * ses[0]  # E[L_1] = ELBO
    for a in range(3):
        assert means[a] < means[a + 1] + 3 * math.hypot(ses[a], ses[a + 1])
    assert means[0] < means[1] - 1.0 and means[1] < means[2]  # strictly tighter where detectable
    assert means[3] <= lp + 3 * ses[3]
    assert lp - means[3] < 0.02


def test_log_likelihood_chunking_is_exact(lin):
    """Chunks of 7 over K=100 draw the same normals as one block: identical estimate."""
    params, _, x, y = lin
    m = LinearGaussianCVAE(*params, exact=False, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a = m.log_likelihood(x, y, 100, generator=torch.Generator().manual_seed(5))
        b = m.log_likelihood(x, y, 100, chunk_size=7, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        m.log_likelihood(x, y, 0)
    with pytest.raises(ValueError):
        m.log_likelihood(x, y, 10, chunk_size=0)


def test_cs_objective_terms(lin):
    params, exact, x, y = lin
    with torch.no_grad():
        out = exact.elbo(
            x, y, 4, kl_weight=0.5, divergence="cs", generator=torch.Generator().manual_seed(0)
        )
        q, p = exact.posterior(x, y), exact.conditional_prior(y)
        torch.testing.assert_close(out.divergence, cs_divergence(q, p))
        torch.testing.assert_close(out.objective, out.reconstruction - 0.5 * out.divergence)
        torch.testing.assert_close(out.elbo, out.reconstruction - kl_divergence(q, p))
        assert not out.is_lower_bound and out.divergence_kind == "cs"
        kl_out = exact.elbo(x, y, 4, generator=torch.Generator().manual_seed(0))
        assert kl_out.is_lower_bound
        torch.testing.assert_close(kl_out.objective, kl_out.elbo)


# ------------------------------------------------------------------------------ default MLP CVAE
def test_config_round_trip(tmp_path):
    c = CVAEConfig(x_dim=5, y_dim=3, latent_dim=4, likelihood="bernoulli", conditional_prior=False)
    assert CVAEConfig.from_dict(c.to_dict()) == c
    assert CVAEConfig.from_json(c.to_json()) == c
    json.loads(c.to_json())
    c.save(tmp_path / "c.json")
    assert CVAEConfig.load(tmp_path / "c.json") == c
    with pytest.raises(ValueError, match="unknown keys"):
        CVAEConfig.from_dict({**c.to_dict(), "bogus": 1})
    with pytest.raises(ValueError, match="likelihood"):
        CVAEConfig(x_dim=2, y_dim=1, likelihood="poisson")


def test_mlp_cvae_shapes_and_errors():
    torch.manual_seed(0)
    for cfg in (
        CVAEConfig(x_dim=5, y_dim=3, latent_dim=4),
        CVAEConfig(x_dim=5, y_dim=3, latent_dim=4, conditional_prior=False, likelihood="bernoulli"),
    ):
        model = CVAE.from_config(cfg)
        y = torch.randn(6, 3)
        x = (torch.rand(6, 5) < 0.5).float() if cfg.likelihood == "bernoulli" else torch.randn(6, 5)
        out = model.elbo(x, y, num_samples=3)
        assert out.objective.shape == (6,) and out.z.shape == (3, 6, 4) and out.loss.dim() == 0
        assert torch.isfinite(out.loss)
        assert model.log_likelihood(x, y, 20, chunk_size=6).shape == (6,)
        assert model.iw_bound(x, y, 5).shape == (6,)
        gen = model.generate(y, 7)
        assert gen.z.shape == (7, 6, 4) and gen.x.shape == (7, 6, 5)
        if cfg.likelihood == "bernoulli":
            assert set(gen.x.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="batch size"):
        model.elbo(torch.randn(4, 5), torch.randn(6, 3))
    with pytest.raises(ValueError, match="shape"):
        model.elbo(torch.randn(5), torch.randn(1, 3))


def test_mlp_cvae_learns_conditional_generation():
    """x | y ~ N(A y, 0.1² I): after training, samples for a new y centre on A y and the IW
    log-likelihood (K=200) is at least the ELBO."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    A = torch.tensor([[1.0, -2.0], [0.5, 1.0], [0.0, 1.5]])
    y = torch.randn(256, 2, generator=g)
    x = y @ A.T + 0.1 * torch.randn(256, 3, generator=g)
    model = CVAE.from_config(CVAEConfig(x_dim=3, y_dim=2, latent_dim=2, hidden_dim=32))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        opt.zero_grad()
        loss = model.elbo(x, y).loss
        loss.backward()
        opt.step()
    y_new = torch.tensor([[0.5, -1.0], [-1.0, 0.3]])
    with torch.no_grad():
        gen = model.generate(y_new, 1000, generator=g)
        err = (gen.x.mean(0) - y_new @ A.T).abs().max().item()
        assert err < 0.15
        ll = model.log_likelihood(x[:64], y[:64], 200, generator=g).mean()
        elbo = model.elbo(x[:64], y[:64], 200, generator=g).elbo.mean()
    assert ll >= elbo - 1e-3
    assert ll.item() > 0.0  # the 0.1-noise data has positive log-density per point when fitted


def test_mixture_prior_needs_sample_kl():
    """KL(q || mixture prior) has no closed form: analytic_kl=True raises, analytic_kl=False uses
    E_q[log q − log p]; the CS objective stays closed-form (and elbo is then None)."""
    from dyngraphvae.distributions import gaussian_mixture

    class MixPrior(torch.nn.Module):
        def forward(self, y):
            b = y.shape[0]
            loc = torch.tensor([[-2.0, 0.0], [2.0, 0.0]]).expand(b, 2, 2)
            return gaussian_mixture(torch.zeros(b, 2), loc, torch.zeros(b, 2, 2))

    torch.manual_seed(0)
    cfg = CVAEConfig(x_dim=3, y_dim=2, latent_dim=2, conditional_prior=False)
    base = CVAE.from_config(cfg)
    model = CVAE(base.encoder, base.decoder, MixPrior())
    x, y = torch.randn(5, 3), torch.randn(5, 2)
    with pytest.raises(ValueError, match="analytic_kl=False"):
        model.elbo(x, y)
    out = model.elbo(x, y, 3, analytic_kl=False)
    q, p = out.posterior, out.prior
    torch.testing.assert_close(out.divergence, (q.log_prob(out.z) - p.log_prob(out.z)).mean(0))
    cs = model.elbo(x, y, 3, divergence="cs")
    assert cs.elbo is None and torch.isfinite(cs.objective).all()
    torch.testing.assert_close(cs.divergence, cs_divergence(q, p))
