"""Synthetic generators: their laws hold (Monte Carlo, seeded) and the fork has two real modes."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from dyngraphvae.data import ForkData, LinearGaussianData, dynamic_sbm, fork, linear_gaussian
from dyngraphvae.data.synthetic import sbm_label_step, sbm_same_community_prob


# --------------------------------------------------------------------------- dynamic SBM
def test_dynamic_sbm_is_seeded_and_shaped():
    g, c = dynamic_sbm(num_nodes=40, num_snapshots=6, seed=5, return_communities=True)
    assert g == dynamic_sbm(num_nodes=40, num_snapshots=6, seed=5)
    assert g != dynamic_sbm(num_nodes=40, num_snapshots=6, seed=6)
    assert c.shape == (6, 40) and g.x.shape == (6, 40, 8) and not g.directed
    assert int(c.min()) >= 0 and int(c.max()) < 4


def test_dynamic_sbm_edges_and_features_follow_the_communities():
    p_in, p_out, noise = 0.3, 0.02, 0.5
    g, c = dynamic_sbm(
        num_nodes=80,
        num_snapshots=20,
        p_in=p_in,
        p_out=p_out,
        feature_noise=noise,
        seed=1,
        return_communities=True,
    )
    adj = g.adjacency_stack()
    iu = torch.triu_indices(80, 80, 1)
    same = (c[:, :, None] == c[:, None, :])[:, iu[0], iu[1]]
    a = adj[:, iu[0], iu[1]]
    for mask, p in ((same, p_in), (~same, p_out)):
        n = int(mask.sum())
        freq = float(a[mask].mean())
        assert abs(freq - p) < 4 * math.sqrt(p * (1 - p) / n)
    # features: X_t[v] - mean of its community = noise; residual variance = noise^2
    resid = []
    for k in range(4):
        m = c == k
        if m.sum() > 1:
            xs = g.x[m]
            resid.append(xs - xs.mean(0))
    r = torch.cat(resid)
    assert abs(float(r.var()) - noise**2) < 0.05


def test_dynamic_sbm_communities_drift_merge_and_split():
    _, c = dynamic_sbm(
        num_nodes=60,
        num_snapshots=40,
        event_prob=1.0,
        switch_prob=0.05,
        seed=2,
        return_communities=True,
    )
    counts = [int(torch.unique(ci).numel()) for ci in c]
    assert any(b < a for a, b in zip(counts, counts[1:], strict=False))  # merges
    assert any(b > a for a, b in zip(counts, counts[1:], strict=False))  # splits
    moved = (c[1:] != c[:-1]).float().mean()
    assert 0 < float(moved) < 0.6
    _, still = dynamic_sbm(
        num_nodes=60, num_snapshots=10, event_prob=0.0, switch_prob=0.0, return_communities=True
    )
    assert (still == still[0]).all()


@pytest.mark.parametrize("s", [0.05, 0.2])
def test_sbm_h_step_law_matches_the_two_community_closed_form(s):
    """With two communities, no events and no community ever emptied, each node flips with
    probability s per step, so a pair's relative label flips with q = 2s(1-s) and
    P(same at h | same at 0) = (1 + (1-2q)^h) / 2 and P(same at h | apart at 0) =
    (1 - (1-2q)^h) / 2."""
    c0 = torch.arange(200) % 2
    runs = 1500
    p = sbm_same_community_prob(c0, 4, num_communities=2, switch_prob=s, event_prob=0.0,
                                runs=runs, seed=1)
    same0 = (c0[:, None] == c0[None, :]) & ~torch.eye(200, dtype=torch.bool)
    apart0 = c0[:, None] != c0[None, :]
    q = 2 * s * (1 - s)
    for k in range(4):
        r = (1 - 2 * q) ** (k + 1)
        assert float(p[k][same0].mean()) == pytest.approx((1 + r) / 2, abs=0.01)
        assert float(p[k][apart0].mean()) == pytest.approx((1 - r) / 2, abs=0.01)
        # every pair within 5 Monte Carlo standard errors of its law
        assert float((p[k][same0] - (1 + r) / 2).abs().max()) < 5 * 0.5 / math.sqrt(runs)
    assert torch.equal(torch.diagonal(p, dim1=1, dim2=2), torch.ones(4, 200, dtype=p.dtype))


def test_sbm_h_step_law_follows_a_merge_then_a_split():
    """With events every step and no drift, two communities merge at step 1 (no empty label to
    split into), and the single community then splits in random halves: a pair stays together
    with probability (N/2 - 1)/(N - 1)."""
    n = 10
    c0 = torch.arange(n) % 2
    p = sbm_same_community_prob(c0, 2, num_communities=2, switch_prob=0.0, event_prob=1.0,
                                runs=4000, seed=3)
    off = ~torch.eye(n, dtype=torch.bool)
    assert torch.equal(p[0], torch.ones(n, n, dtype=p.dtype))
    assert float(p[1][off].mean()) == pytest.approx((n / 2 - 1) / (n - 1), abs=0.01)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(sbm_label_step(torch.zeros(n, dtype=torch.long), 2, 0.0, 0.0, g),
                       torch.zeros(n, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        sbm_same_community_prob(torch.tensor([0, 2]), 1, num_communities=2)


# --------------------------------------------------------------------------- fork
@pytest.fixture(scope="module")
def fork_data() -> ForkData:
    return fork(seed=0)


def test_fork_has_two_equally_likely_modes(fork_data):
    modes = fork_data.modes
    assert set(modes.tolist()) == {0, 1} and len(fork_data.graphs) == 200
    k = int(modes.sum())
    assert binomtest(k, modes.numel(), 0.5).pvalue > 0.01
    other = fork(num_sequences=300, num_nodes=8, seed=11)
    assert binomtest(int(other.modes.sum()), 300, 0.5).pvalue > 0.01
    g = fork_data.graphs[0]
    assert len(g) == fork_data.history + fork_data.horizon == 10 and g.x.shape == (10, 20, 4)


def test_fork_futures_are_clearly_different_and_history_is_shared(fork_data):
    x, adj = fork_data.futures()
    m = fork_data.modes
    mean0, mean1 = float(x[m == 0].mean()), float(x[m == 1].mean())
    assert abs(mean0 - 1.5) < 0.05 and abs(mean1 + 1.5) < 0.05
    hist_x = torch.stack([g.x[: fork_data.history] for g in fork_data.graphs])
    hist_a = torch.stack([g.adjacency_stack()[: fork_data.history] for g in fork_data.graphs])
    # same history law: per-sequence means do not separate by mode (two-sample z-test)
    for stat in (hist_x.mean(dim=(1, 2, 3)), hist_a.mean(dim=(1, 2, 3))):
        a, b = stat[m == 0], stat[m == 1]
        z = (a.mean() - b.mean()) / torch.sqrt(a.var() / a.numel() + b.var() / b.numel())
        assert abs(float(z)) < 3.5
    # future scores are tightly concentrated at +-1
    for score in (fork_data.feature_score(x), fork_data.adjacency_score(adj)):
        for mode, target in ((0, 1.0), (1, -1.0)):
            s = score[m == mode]
            assert abs(float(s.mean()) - target) < 0.05 and float(s.std()) < 0.1


def test_mode_of_classifies_generating_and_fresh_futures(fork_data):
    x, adj = fork_data.futures()
    m = fork_data.modes
    assert torch.equal(fork_data.mode_of(x), m)
    assert torch.equal(fork_data.mode_of(adjacency=adj), m)
    assert torch.equal(fork_data.mode_of(x, adj), m)
    fresh = fork(num_sequences=60, seed=123)
    fx, fa = fresh.futures()
    assert torch.equal(fork_data.mode_of(fx, fa), fresh.modes)
    # batch dims are kept: (S, 2, H, N, F)
    both = torch.stack([x, x.flip(0)], dim=1)
    assert fork_data.mode_of(both).shape == (200, 2)


def test_mode_of_rejects_blurred_and_mixed_futures(fork_data):
    x, adj = fork_data.futures()
    m = fork_data.modes
    blurred_x = 0.5 * (x[m == 0][:10] + x[m == 1][:10])  # the average of the two futures
    assert (fork_data.mode_of(blurred_x) == -1).all()
    blurred_a = torch.full_like(adj[:5], 0.5 * (fork_data.p_high + fork_data.p_low))
    assert (fork_data.mode_of(adjacency=blurred_a) == -1).all()
    # features of one mode with edges of the other: no consistent mode
    i0, i1 = (m == 0).nonzero()[0, 0], (m == 1).nonzero()[0, 0]
    assert int(fork_data.mode_of(x[i0], adj[i1])) == -1
    hist = torch.stack([g.x[:4] for g in fork_data.graphs])
    assert (fork_data.mode_of(hist) == -1).all()
    with pytest.raises(ValueError, match="needs x, adjacency or both"):
        fork_data.mode_of()


# --------------------------------------------------------------------------- linear Gaussian
@pytest.fixture(scope="module")
def lg() -> LinearGaussianData:
    return linear_gaussian(seed=0)


def test_linear_gaussian_shapes_and_stability(lg):
    assert lg.latents.shape == (41, 30, 2) and lg.graph.x.shape == (40, 30, 3)
    assert torch.allclose(torch.linalg.eigvals(lg.A).abs(), torch.tensor(0.9), atol=1e-5)
    assert torch.equal(lg.latents, linear_gaussian(seed=0).latents)


def test_linear_gaussian_samples_follow_the_stated_model(lg):
    z, x = lg.latents.double(), lg.graph.x.double()
    A, Q, C, R = (m.double() for m in (lg.A, lg.Q, lg.C, lg.R))
    w = (z[1:] - z[:-1] @ A.T).reshape(-1, 2)  # process noise, 1200 draws
    e = (x - z[:-1] @ C.T).reshape(-1, 3)  # snapshot s generated by latents[s]
    for resid, cov in ((w, Q), (e, R)):
        n = resid.size(0)
        emp = resid.T @ resid / n
        se = torch.sqrt((torch.diag(cov)[:, None] * torch.diag(cov)[None] + cov**2) / n)
        assert (emp - cov).abs().le(4.5 * se).all()
        assert resid.mean(0).abs().le(4.5 * torch.sqrt(torch.diag(cov) / n)).all()
    prob = lg.edge_probability(lg.latents[:-1])
    iu = torch.triu_indices(30, 30, 1)
    p = prob[:, iu[0], iu[1]].double()
    observed = sum(lg.graph.num_edges())
    assert abs(observed - float(p.sum())) < 4 * float(torch.sqrt((p * (1 - p)).sum()))


@pytest.mark.parametrize("h", [1, 2, 5])
def test_predictive_agrees_with_monte_carlo(lg, h):
    gen = torch.Generator().manual_seed(h)
    M = 4000
    A, Q, C, R = (m.double() for m in (lg.A, lg.Q, lg.C, lg.R))
    z0 = lg.latents[-1].double()  # (N, d)
    z = z0.expand(M, *z0.shape).clone()
    LQ, LR = torch.linalg.cholesky(Q), torch.linalg.cholesky(R)
    for _ in range(h - 1):
        z = z @ A.T + torch.randn(z.shape, generator=gen, dtype=torch.float64) @ LQ.T
    x = z @ C.T + torch.randn(M, 30, 3, generator=gen, dtype=torch.float64) @ LR.T
    law = lg.predictive(lg.latents[-1], h)
    assert law.batch_shape == (30,) and law.event_shape == (3,)
    cov = law.covariance_matrix[0].double()
    sd = torch.sqrt(torch.diag(cov))
    mean_err = (x.mean(0) - law.mean.double()).abs()
    assert mean_err.le(4.5 * sd / math.sqrt(M)).all()
    r = (x - law.mean.double()).reshape(-1, 3)  # covariance shared by the 30 nodes
    n = r.size(0)
    emp = r.T @ r / n
    se = torch.sqrt((sd[:, None] ** 2 * sd[None] ** 2 + cov**2) / n)
    assert (emp - cov).abs().le(4.5 * se).all()


def test_predictive_closed_form(lg):
    z = lg.latents[-1]
    one = lg.predictive(z, 1)
    assert torch.allclose(one.mean, z @ lg.C.T, atol=1e-5)
    assert torch.allclose(one.covariance_matrix[0], lg.R, atol=1e-6)
    three = lg.predictive(z, 3)
    A, Q, C = lg.A, lg.Q, lg.C
    sig2 = Q + A @ Q @ A.T
    assert torch.allclose(three.mean, z @ (C @ A @ A).T, atol=1e-5)
    assert torch.allclose(three.covariance_matrix[0], C @ sig2 @ C.T + lg.R, atol=1e-5)
    assert lg.predictive(torch.zeros(7, 30, 2), 2).batch_shape == (7, 30)
    lat = lg.latent_predictive(z, 2)
    assert torch.allclose(lat.mean, z @ (A @ A).T, atol=1e-5)
    with pytest.raises(ValueError, match="h must be an integer >= 1"):
        lg.predictive(z, 0)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.floats(0.0, 0.95), st.integers(1, 6))
def test_predictive_covariance_recursion(seed, d, rho, h):
    data = linear_gaussian(
        num_nodes=3, num_snapshots=2, latent_dim=d, num_features=2, seed=seed, spectral_radius=rho
    )
    A, Q, C, R = (m.double() for m in (data.A, data.Q, data.C, data.R))
    sig = torch.zeros(d, d, dtype=torch.float64)
    for _ in range(h - 1):  # Sigma_{k+1} = A Sigma_k A^T + Q
        sig = A @ sig @ A.T + Q
    expected = C @ sig @ C.T + R
    got = data.predictive(torch.zeros(3, d), h).covariance_matrix[0].double()
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-5)
