"""Feature scores vs closed forms, properscoring, direct O(M^2) formulas and Monte Carlo."""

import math

import numpy as np
import properscoring as ps
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dyngraphvae.evaluation.scores import (
    crps_ensemble,
    crps_gaussian,
    energy_score,
    gaussian_log_score,
    interval_coverage,
    interval_coverage_gaussian,
    mae,
    mse,
)

D = torch.float64


def test_crps_gaussian_anchor_and_properscoring():
    val = crps_gaussian(torch.tensor(0.7, dtype=D), torch.tensor(0.0, dtype=D), torch.tensor(1.3))
    assert float(val) == pytest.approx(0.450643, abs=5e-7)
    rng = np.random.default_rng(0)
    y, mu, sig = rng.normal(size=50), rng.normal(size=50), rng.uniform(0.1, 3, 50)
    ours = crps_gaussian(*(torch.from_numpy(a) for a in (y, mu, sig))).numpy()
    np.testing.assert_allclose(ours, ps.crps_gaussian(y, mu, sig), rtol=1e-10, atol=1e-12)


def test_crps_gaussian_equals_numerical_integral():
    """CRPS = int (F(x) - 1{y <= x})^2 dx, by scipy quadrature."""
    mu, sig, y = 0.3, 0.8, -0.4
    from scipy.integrate import quad

    f = stats.norm(mu, sig).cdf
    val = quad(lambda x: f(x) ** 2, -np.inf, y)[0] + quad(lambda x: (1 - f(x)) ** 2, y, np.inf)[0]
    ours = crps_gaussian(torch.tensor(y, dtype=D), torch.tensor(mu, dtype=D), torch.tensor(sig))
    assert float(ours) == pytest.approx(val, rel=1e-7)


def _direct(y, x, fair):
    """O(M^2) energy-form CRPS, member axis last."""
    M = x.shape[-1]
    t1 = np.abs(x - y[..., None]).mean(-1)
    t2 = np.abs(x[..., :, None] - x[..., None, :]).sum((-1, -2))
    return t1 - t2 / (2 * M * (M - 1) if fair else 2 * M * M)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(0, 10_000), st.booleans())
def test_crps_ensemble_vs_properscoring_and_direct(m, seed, with_ties):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4, 3, m))
    if with_ties:
        x = np.round(x)
    y = rng.normal(size=(4, 3))
    xt = torch.from_numpy(x).movedim(-1, 0)  # members first (dim=0 default)
    ours = crps_ensemble(torch.from_numpy(y), xt).numpy()
    np.testing.assert_allclose(ours, ps.crps_ensemble(y, x), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours, _direct(y, x, fair=False), rtol=1e-9, atol=1e-12)
    if m >= 2:
        fair = crps_ensemble(torch.from_numpy(y), torch.from_numpy(x), dim=-1, estimator="fair")
        np.testing.assert_allclose(fair.numpy(), _direct(y, x, fair=True), rtol=1e-9, atol=1e-12)


def test_crps_fair_unbiased_nrg_biased():
    """Ensembles of M=10 from N(0, 1.3^2) at y=0.7: fair -> 0.4506; nrg adds sigma/(M sqrt(pi))."""
    g = torch.Generator().manual_seed(0)
    M, R = 10, 40_000
    x = 1.3 * torch.randn(M, R, generator=g, dtype=D)
    y = torch.full((R,), 0.7, dtype=D)
    fair = crps_ensemble(y, x, estimator="fair").mean()
    nrg = crps_ensemble(y, x, estimator="nrg").mean()
    truth = 0.450643
    se = crps_ensemble(y, x, estimator="fair").std() / math.sqrt(R)
    assert abs(float(fair) - truth) < 4 * float(se)
    # E[nrg - fair] = E|X - X'| / (2M) = sigma / (M sqrt(pi)) exactly for Gaussians
    assert float(nrg - fair) == pytest.approx(1.3 / (M * math.sqrt(math.pi)), rel=0.02)


def test_crps_errors():
    with pytest.raises(ValueError, match="estimator"):
        crps_ensemble(torch.zeros(2), torch.zeros(3, 2), estimator="pwm")
    with pytest.raises(ValueError, match="M=1"):
        crps_ensemble(torch.zeros(2), torch.zeros(1, 2), estimator="fair")
    with pytest.raises(ValueError, match="positive"):
        crps_gaussian(torch.zeros(1), torch.zeros(1), torch.zeros(1))


def _energy_direct(y, x, fair):
    """x (M, B, D), y (B, D)."""
    M = x.shape[0]
    t1 = np.linalg.norm(x - y[None], axis=-1).mean(0)
    t2 = np.linalg.norm(x[:, None] - x[None, :], axis=-1).sum((0, 1))
    return t1 - t2 / (2 * M * (M - 1) if fair else 2 * M * M)


@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_energy_score_vs_direct(estimator):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 5, 3)), rng.normal(size=(5, 3))
    ours = energy_score(torch.from_numpy(y), torch.from_numpy(x), estimator=estimator)
    np.testing.assert_allclose(ours.numpy(), _energy_direct(y, x, estimator == "fair"), rtol=1e-10)
    # other layouts: samples last, event first
    xs = torch.from_numpy(x).permute(2, 1, 0)  # (D, B, M)
    alt = energy_score(
        torch.from_numpy(y).T, xs, sample_dim=-1, event_dim=0, estimator=estimator
    )
    np.testing.assert_allclose(alt.numpy(), ours.numpy(), rtol=1e-12)


def test_energy_score_1d_equals_crps_and_is_proper():
    rng = np.random.default_rng(2)
    x, y = torch.from_numpy(rng.normal(size=(20, 7, 1))), torch.from_numpy(rng.normal(size=(7, 1)))
    np.testing.assert_allclose(
        energy_score(y, x).numpy(), crps_ensemble(y[:, 0], x[..., 0]).numpy(), rtol=1e-12
    )
    # propriety in expectation: samples from the true law score better than a shifted law
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(4000, 2, generator=g, dtype=D)
    good = torch.randn(30, 4000, 2, generator=g, dtype=D)
    bad = good + 0.5
    assert energy_score(obs, good).mean() < energy_score(obs, bad).mean()


def test_gaussian_log_score_vs_scipy():
    rng = np.random.default_rng(3)
    y, mu, sig = rng.normal(size=20), rng.normal(size=20), rng.uniform(0.2, 2, 20)
    ours = gaussian_log_score(*(torch.from_numpy(a) for a in (y, mu, sig)))
    np.testing.assert_allclose(ours.numpy(), -stats.norm.logpdf(y, mu, sig), rtol=1e-12)


def test_coverage_from_samples_and_gaussian():
    g = torch.Generator().manual_seed(0)
    R = 5_000
    obs = torch.randn(R, generator=g, dtype=D)
    samples = torch.randn(400, R, generator=g, dtype=D)
    for level in (0.5, 0.9):
        cov_s = interval_coverage(obs, samples, level).mean()
        cov_g = interval_coverage_gaussian(obs, torch.zeros(()), torch.ones(()), level).mean()
        sd = math.sqrt(level * (1 - level) / R)
        assert abs(float(cov_g) - level) < 4 * sd
        # binomial noise (4 sd) plus the small finite-ensemble quantile error
        assert abs(float(cov_s) - level) < 4 * sd + 0.01
    # exact small case: quantiles by linear interpolation (numpy default)
    s = torch.arange(11, dtype=D).unsqueeze(1)  # 0..10
    lo, hi = np.quantile(np.arange(11.0), [0.05, 0.95])
    hits = interval_coverage(torch.tensor([lo, hi, lo - 1e-9, hi + 1e-9]), s, 0.9)
    assert hits.tolist() == [1.0, 1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="level"):
        interval_coverage(obs, samples, 1.0)


def test_mse_mae():
    a, b = torch.tensor([[1.0, 2.0], [3.0, 5.0]]), torch.tensor([[0.0, 2.0], [3.0, 3.0]])
    assert float(mse(a, b)) == pytest.approx(1.25)
    assert float(mae(a, b)) == pytest.approx(0.75)
    assert mse(a, b, dim=1).tolist() == [0.5, 2.0]
    with pytest.raises(ValueError, match="differ"):
        mse(a, b[0])
