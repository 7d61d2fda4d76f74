"""Divergences against closed forms, numerical integration, Monte Carlo and torch.distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats
from torch.distributions import (
    Categorical,
    Independent,
    LowRankMultivariateNormal,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
)
from torch.distributions import kl_divergence as torch_kl

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

D = torch.float64
means = st.floats(-5.0, 5.0, allow_nan=False)
scales = st.floats(0.05, 5.0, allow_nan=False)


def n1(m: float, s: float) -> Normal:
    return Normal(torch.tensor(m, dtype=D), torch.tensor(s, dtype=D))


def cs_1d_formula(m1, s1, m2, s2):
    v = s1**2 + s2**2
    return 0.5 * math.log(v / (2 * s1 * s2)) + (m1 - m2) ** 2 / (2 * v)


def kl_1d_formula(m1, s1, m2, s2):
    return math.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


def rand_spd(d: int, gen: torch.Generator) -> torch.Tensor:
    a = torch.randn(d, d, generator=gen, dtype=D)
    return a @ a.T + 0.3 * torch.eye(d, dtype=D)


# ---------------------------------------------------------------------------------- anchors, 1-D
def test_anchor_value_1d():
    assert cs_divergence(n1(1.0, 0.5), n1(-0.3, 2.0)).item() == pytest.approx(
        0.5757094306, abs=1e-10
    )


@settings(max_examples=2000, deadline=None)
@given(means, scales, means, scales)
def test_product_identity_closed_form(m1, s1, m2, s2):
    """log ∫N(x;m1,s1²)N(x;m2,s2²)dx = log N(m1; m2, s1²+s2²)."""
    got = log_gaussian_overlap(n1(m1, s1), n1(m2, s2)).item()
    want = stats.norm.logpdf(m1, loc=m2, scale=math.sqrt(s1**2 + s2**2))
    assert got == pytest.approx(want, rel=1e-10, abs=1e-10)


@settings(max_examples=60, deadline=None)
@given(means, st.floats(0.2, 3.0), means, st.floats(0.2, 3.0))
def test_product_identity_quadrature(m1, s1, m2, s2):
    val, _ = integrate.quad(
        lambda x: stats.norm.pdf(x, m1, s1) * stats.norm.pdf(x, m2, s2),
        -60,
        60,
        points=[m1, m2, (m1 * s2**2 + m2 * s1**2) / (s1**2 + s2**2)],
        limit=200,
        epsabs=0,
        epsrel=1e-11,
    )
    got = log_gaussian_overlap(n1(m1, s1), n1(m2, s2)).exp().item()
    assert got == pytest.approx(val, rel=1e-6, abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(means, st.floats(0.2, 3.0), means, st.floats(0.2, 3.0))
def test_cs_1d_against_quadrature(m1, s1, m2, s2):
    mbar = (m1 * s2**2 + m2 * s1**2) / (s1**2 + s2**2)  # peak of the product

    # breakpoints rounded and deduplicated: nearly equal ones (means of 1e-282) make QUADPACK
    # split on empty intervals and miss the peak (hypothesis found m1 = m2 = 1.3e-282)
    pts = sorted({round(v, 9) for v in (m1, m2, mbar)})

    def q(f):
        return integrate.quad(f, -60, 60, points=pts, limit=200, epsabs=0, epsrel=1e-11)[0]

    pq = q(lambda x: stats.norm.pdf(x, m1, s1) * stats.norm.pdf(x, m2, s2))
    pp = q(lambda x: stats.norm.pdf(x, m1, s1) ** 2)
    qq = q(lambda x: stats.norm.pdf(x, m2, s2) ** 2)
    if pq < 1e-250:  # the log of the quadrature would underflow; closed form still checked below
        return
    want = -math.log(pq / math.sqrt(pp * qq))
    assert cs_divergence(n1(m1, s1), n1(m2, s2)).item() == pytest.approx(want, rel=1e-6, abs=1e-9)


@settings(max_examples=2000, deadline=None)
@given(means, scales, means, scales)
def test_cs_properties_1d(m1, s1, m2, s2):
    p, q = n1(m1, s1), n1(m2, s2)
    cs_pq, cs_qp = cs_divergence(p, q).item(), cs_divergence(q, p).item()
    assert cs_pq == pytest.approx(cs_1d_formula(m1, s1, m2, s2), rel=1e-10, abs=1e-12)
    assert cs_pq >= 0.0
    assert cs_pq == pytest.approx(cs_qp, rel=1e-12, abs=1e-14)  # symmetric
    assert cs_divergence(p, p).item() == pytest.approx(0.0, abs=1e-12)
    if abs(m1 - m2) > 1e-3 or abs(s1 - s2) > 1e-3:
        assert cs_pq > 0.0  # zero only if equal
    # Problem 2.1: D_CS <= min(KL(p||q), KL(q||p))
    kl_pq, kl_qp = kl_divergence(p, q).item(), kl_divergence(q, p).item()
    assert cs_pq <= min(kl_pq, kl_qp) + 1e-10


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.tuples(means, scales, means, scales), min_size=1, max_size=6))
def test_cs_diagonal_is_sum_and_below_kl(params):
    a = torch.tensor(params, dtype=D)
    p = Independent(Normal(a[:, 0], a[:, 1]), 1)
    q = Independent(Normal(a[:, 2], a[:, 3]), 1)
    want = sum(cs_1d_formula(*row) for row in params)
    got = cs_divergence(p, q).item()
    assert got == pytest.approx(want, rel=1e-10, abs=1e-12)
    assert got <= min(kl_divergence(p, q).item(), kl_divergence(q, p).item()) + 1e-10


def test_kl_1d_against_quadrature():
    for m1, s1, m2, s2 in [(0.0, 1.0, 1.0, 2.0), (1.0, 0.5, -0.3, 2.0), (2.0, 3.0, 0.0, 0.7)]:
        want = integrate.quad(
            lambda x, m1=m1, s1=s1, m2=m2, s2=s2: (
                stats.norm.pdf(x, m1, s1)
                * (stats.norm.logpdf(x, m1, s1) - stats.norm.logpdf(x, m2, s2))
            ),
            -80,
            80,
            limit=200,
        )[0]
        assert kl_divergence(n1(m1, s1), n1(m2, s2)).item() == pytest.approx(want, rel=1e-7)
        assert want == pytest.approx(kl_1d_formula(m1, s1, m2, s2), rel=1e-7)


# ---------------------------------------------------------------------------- multivariate, full
def cs_mvn_reference(m1, s1, m2, s2):
    """Reference-sheet form with numpy/scipy."""
    d = len(m1)
    return (
        0.5 * np.linalg.slogdet(s1 + s2)[1]
        - 0.25 * np.linalg.slogdet(s1)[1]
        - 0.25 * np.linalg.slogdet(s2)[1]
        - 0.5 * d * math.log(2)
        + 0.5 * (m1 - m2) @ np.linalg.solve(s1 + s2, m1 - m2)
    )


def test_cs_full_covariance_against_scipy_overlap_and_reference_form():
    gen = torch.Generator().manual_seed(3)
    for d in (1, 2, 3, 5):
        m1, m2 = torch.randn(d, generator=gen, dtype=D), torch.randn(d, generator=gen, dtype=D)
        s1, s2 = rand_spd(d, gen), rand_spd(d, gen)
        p, q = MultivariateNormal(m1, s1), MultivariateNormal(m2, s2)
        # overlap identity through scipy densities
        want = stats.multivariate_normal.logpdf(m1.numpy(), m2.numpy(), (s1 + s2).numpy())
        assert log_gaussian_overlap(p, q).item() == pytest.approx(want, rel=1e-10)
        ov = (
            stats.multivariate_normal.logpdf(m1.numpy(), m2.numpy(), (s1 + s2).numpy())
            - 0.5 * stats.multivariate_normal.logpdf(m1.numpy(), m1.numpy(), 2 * s1.numpy())
            - 0.5 * stats.multivariate_normal.logpdf(m2.numpy(), m2.numpy(), 2 * s2.numpy())
        )
        ref = cs_mvn_reference(m1.numpy(), s1.numpy(), m2.numpy(), s2.numpy())
        got = cs_divergence(p, q).item()
        assert got == pytest.approx(-ov, rel=1e-9)
        assert got == pytest.approx(ref, rel=1e-9)
        assert cs_divergence(q, p).item() == pytest.approx(got, rel=1e-12)


def test_cs_2d_against_numerical_integration():
    m1, m2 = np.array([0.3, -0.5]), np.array([-0.4, 0.6])
    s1 = np.array([[1.0, 0.4], [0.4, 0.8]])
    s2 = np.array([[0.6, -0.2], [-0.2, 1.5]])
    f1, f2 = stats.multivariate_normal(m1, s1), stats.multivariate_normal(m2, s2)

    def dbl(fn):
        return integrate.dblquad(lambda y, x: fn(np.array([x, y])), -9, 9, -9, 9, epsabs=1e-11)[0]

    pq, pp, qq = (
        dbl(lambda v: f1.pdf(v) * f2.pdf(v)),
        dbl(lambda v: f1.pdf(v) ** 2),
        dbl(lambda v: f2.pdf(v) ** 2),
    )
    want = -math.log(pq / math.sqrt(pp * qq))
    p = MultivariateNormal(torch.tensor(m1), torch.tensor(s1))
    q = MultivariateNormal(torch.tensor(m2), torch.tensor(s2))
    assert cs_divergence(p, q).item() == pytest.approx(want, rel=1e-6)


def test_log_overlap_against_monte_carlo_5d():
    """∫pq = E_p[q(x)]; 200k seeded samples, tolerance 4 standard errors."""
    gen = torch.Generator().manual_seed(11)
    d = 5
    p = MultivariateNormal(torch.randn(d, generator=gen, dtype=D) * 0.3, rand_spd(d, gen))
    q = MultivariateNormal(torch.randn(d, generator=gen, dtype=D) * 0.3, rand_spd(d, gen))
    x = sample(p, 200_000, generator=gen)
    vals = q.log_prob(x).exp()
    mc, se = vals.mean().item(), vals.std().item() / math.sqrt(len(vals))
    exact = log_gaussian_overlap(p, q).exp().item()
    assert abs(mc - exact) < 4 * se
    assert se / exact < 0.02  # the check is informative


def test_diagonal_equals_full_and_lowrank_equals_dense():
    gen = torch.Generator().manual_seed(0)
    loc1, loc2 = (
        torch.randn(4, 3, generator=gen, dtype=D),
        torch.randn(4, 3, generator=gen, dtype=D),
    )
    v1, v2 = (
        torch.rand(4, 3, generator=gen, dtype=D) + 0.1,
        torch.rand(4, 3, generator=gen, dtype=D) + 0.1,
    )
    pd, qd = Independent(Normal(loc1, v1.sqrt()), 1), Independent(Normal(loc2, v2.sqrt()), 1)
    pf = MultivariateNormal(loc1, torch.diag_embed(v1))
    qf = MultivariateNormal(loc2, torch.diag_embed(v2))
    cs = cs_divergence(pd, qd)
    for a, b in [(pf, qf), (pd, qf), (pf, qd)]:
        torch.testing.assert_close(cs_divergence(a, b), cs, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(kl_divergence(a, b), torch_kl(pf, qf), rtol=1e-10, atol=1e-12)
    w = torch.randn(4, 3, 2, generator=gen, dtype=D)
    lr = LowRankMultivariateNormal(loc1, w, v1)
    dense = MultivariateNormal(loc1, lr.covariance_matrix)
    torch.testing.assert_close(cs_divergence(lr, qd), cs_divergence(dense, qd), rtol=1e-10, atol=0)
    torch.testing.assert_close(kl_divergence(lr, qf), torch_kl(dense, qf), rtol=1e-8, atol=1e-12)
    torch.testing.assert_close(kl_divergence(qd, lr), torch_kl(qf, dense), rtol=1e-8, atol=1e-12)


def test_kl_agrees_with_torch_where_both_exist():
    gen = torch.Generator().manual_seed(1)
    p = Normal(torch.randn(5, generator=gen, dtype=D), torch.rand(5, generator=gen, dtype=D) + 0.2)
    q = Normal(torch.randn(5, generator=gen, dtype=D), torch.rand(5, generator=gen, dtype=D) + 0.2)
    torch.testing.assert_close(kl_divergence(p, q), torch_kl(p, q))
    torch.testing.assert_close(
        kl_divergence(Independent(p, 1), Independent(q, 1)), torch_kl(p, q).sum()
    )
    mp = MultivariateNormal(torch.zeros(3, dtype=D), rand_spd(3, gen))
    mq = MultivariateNormal(torch.ones(3, dtype=D), rand_spd(3, gen))
    torch.testing.assert_close(kl_divergence(mp, mq), torch_kl(mp, mq))


# ---------------------------------------------------------------------------------------- mixtures
def mix1d(w, m, s):
    return MixtureSameFamily(
        Categorical(probs=torch.tensor(w, dtype=D)),
        Normal(torch.tensor(m, dtype=D), torch.tensor(s, dtype=D)),
    )


def mix_pdf(w, m, s):
    return lambda x: sum(wi * stats.norm.pdf(x, mi, si) for wi, mi, si in zip(w, m, s, strict=True))


MIX_P = ([0.3, 0.7], [-1.0, 2.0], [0.5, 1.2])
MIX_Q = ([0.2, 0.5, 0.3], [0.0, 1.5, -2.5], [1.0, 0.4, 0.8])


def test_mixture_cs_against_quadrature():
    fp, fq = mix_pdf(*MIX_P), mix_pdf(*MIX_Q)

    def q(f):
        return integrate.quad(f, -40, 40, limit=400, epsabs=1e-13)[0]

    want = -math.log(
        q(lambda x: fp(x) * fq(x)) / math.sqrt(q(lambda x: fp(x) ** 2) * q(lambda x: fq(x) ** 2))
    )
    got = cs_divergence(mix1d(*MIX_P), mix1d(*MIX_Q)).item()
    assert got == pytest.approx(want, rel=1e-7)
    # mixture vs single Gaussian, both argument orders
    want2 = -math.log(
        q(lambda x: fp(x) * stats.norm.pdf(x, 0.5, 1.3))
        / math.sqrt(q(lambda x: fp(x) ** 2) * q(lambda x: stats.norm.pdf(x, 0.5, 1.3) ** 2))
    )
    assert cs_divergence(mix1d(*MIX_P), n1(0.5, 1.3)).item() == pytest.approx(want2, rel=1e-7)
    assert cs_divergence(n1(0.5, 1.3), mix1d(*MIX_P)).item() == pytest.approx(want2, rel=1e-7)


def test_mixture_cs_multivariate_component_families_agree():
    gen = torch.Generator().manual_seed(5)
    logits = torch.randn(2, 3, generator=gen, dtype=D)
    loc = torch.randn(2, 3, 4, generator=gen, dtype=D)
    lv = torch.randn(2, 3, 4, generator=gen, dtype=D) * 0.5
    diag = gaussian_mixture(logits, loc, lv)
    full = MixtureSameFamily(
        Categorical(logits=logits), MultivariateNormal(loc, torch.diag_embed(lv.exp()))
    )
    other = MultivariateNormal(torch.zeros(4, dtype=D), rand_spd(4, gen))
    torch.testing.assert_close(
        cs_divergence(diag, other), cs_divergence(full, other), rtol=1e-10, atol=0
    )
    torch.testing.assert_close(
        cs_divergence(diag, full), torch.zeros(2, dtype=D), rtol=0, atol=1e-10
    )
    # K=1 mixture equals the single-Gaussian closed form
    one = MixtureSameFamily(
        Categorical(logits=torch.zeros(1, dtype=D)),
        MultivariateNormal(loc[0, :1], other.covariance_matrix),
    )
    single = MultivariateNormal(loc[0, 0], other.covariance_matrix)
    g2 = Independent(Normal(loc[1, 1], (0.5 * lv[1, 1]).exp()), 1)
    torch.testing.assert_close(
        cs_divergence(one, g2), cs_divergence(single, g2), rtol=1e-10, atol=0
    )


def test_mixture_cs_2d_against_monte_carlo():
    """∫pq = E_p[q(x)] for 2-D full-covariance mixtures (seeded, 4 standard errors)."""
    gen = torch.Generator().manual_seed(9)
    covs = torch.stack([rand_spd(2, gen) for _ in range(6)]).reshape(2, 3, 2, 2)
    p = MixtureSameFamily(
        Categorical(logits=torch.randn(3, generator=gen, dtype=D)),
        MultivariateNormal(torch.randn(3, 2, generator=gen, dtype=D), covs[0]),
    )
    q = MixtureSameFamily(
        Categorical(logits=torch.randn(3, generator=gen, dtype=D)),
        MultivariateNormal(torch.randn(3, 2, generator=gen, dtype=D), covs[1]),
    )
    x = sample(p, 200_000, generator=gen)
    vals = q.log_prob(x).exp()
    mc, se = vals.mean().item(), vals.std().item() / math.sqrt(len(vals))
    assert abs(mc - log_gaussian_overlap(p, q).exp().item()) < 4 * se


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.05, 1.0), means, scales), min_size=1, max_size=4),
    st.lists(st.tuples(st.floats(0.05, 1.0), means, scales), min_size=1, max_size=4),
)
def test_mixture_cs_properties(cp, cq):
    p = mix1d(*[list(c) for c in zip(*cp, strict=True)])
    q = mix1d(*[list(c) for c in zip(*cq, strict=True)])
    cs = cs_divergence(p, q).item()
    assert math.isfinite(cs) and cs >= 0.0
    assert cs == pytest.approx(cs_divergence(q, p).item(), rel=1e-9, abs=1e-11)
    assert cs_divergence(p, p).item() == pytest.approx(0.0, abs=1e-9)


def test_mixture_far_apart_is_finite_with_gradients():
    loc = torch.tensor([[-1000.0], [1000.0]], dtype=D, requires_grad=True)
    p = gaussian_mixture(torch.zeros(2, dtype=D), loc, torch.full((2, 1), -10.0, dtype=D))
    q = Independent(Normal(torch.tensor([5000.0], dtype=D), torch.tensor([1e-3], dtype=D)), 1)
    cs = cs_divergence(p, q)
    cs.backward()
    assert torch.isfinite(cs) and cs.item() > 1e6
    assert torch.isfinite(loc.grad).all()


def test_mixture_kl_requires_mc_and_mc_converges():
    p, q = mix1d(*MIX_P), mix1d(*MIX_Q)
    with pytest.raises(ValueError, match="no closed form"):
        kl_divergence(p, q)
    fp, fq = mix_pdf(*MIX_P), mix_pdf(*MIX_Q)
    exact = integrate.quad(
        lambda x: fp(x) * (math.log(fp(x)) - math.log(fq(x))), -30, 30, limit=400
    )[0]
    errs = []
    for n in (1_000, 100_000):
        est = monte_carlo_kl(p, q, n, generator=torch.Generator().manual_seed(0))
        assert abs(est.mean.item() - exact) < 4 * est.stderr.item()
        errs.append(est.stderr.item())
    assert errs[1] < errs[0] / 5  # 1/sqrt(S) shrinkage
    est = kl_divergence(p, q, mc_samples=100_000, generator=torch.Generator().manual_seed(0))
    assert est.item() == pytest.approx(exact, abs=0.02)
    # mixture vs Gaussian: a K=1 mixture estimate converges to the closed form
    one = mix1d([1.0], [0.3], [0.8])
    est = monte_carlo_kl(one, n1(-0.2, 1.5), 100_000, generator=torch.Generator().manual_seed(1))
    assert abs(est.mean.item() - kl_1d_formula(0.3, 0.8, -0.2, 1.5)) < 4 * est.stderr.item()


# ----------------------------------------------------------------------------- shapes, dispatch
def test_batch_broadcasting_all_families():
    """Batch (3,1) vs (4,) gives (3,4), each entry equal to the unbatched computation."""
    gen = torch.Generator().manual_seed(2)
    m1, m2 = torch.randn(3, 1, 2, generator=gen, dtype=D), torch.randn(4, 2, generator=gen, dtype=D)
    s1 = torch.rand(3, 1, 2, generator=gen, dtype=D) + 0.3
    s2 = torch.rand(4, 2, generator=gen, dtype=D) + 0.3

    def make(kind, m, s):
        if kind == "normal":
            return Normal(m[..., 0], s[..., 0])
        if kind == "diag":
            return Independent(Normal(m, s), 1)
        if kind == "full":
            return MultivariateNormal(m, torch.diag_embed(s**2))
        logits = torch.zeros(m.shape[:-1] + (2,), dtype=D)
        return gaussian_mixture(logits, torch.stack([m, -m], -2), 2 * torch.stack([s, s], -2).log())

    for kind in ("normal", "diag", "full", "mixture"):
        p, q = make(kind, m1, s1), make(kind, m2, s2)
        out = cs_divergence(p, q)
        assert out.shape == (3, 4)
        assert log_gaussian_overlap(p, q).shape == (3, 4)
        if kind != "mixture":
            assert kl_divergence(p, q).shape == (3, 4)
        for i in range(3):
            for j in range(4):
                one = cs_divergence(make(kind, m1[i, 0], s1[i, 0]), make(kind, m2[j], s2[j]))
                assert out[i, j].item() == pytest.approx(one.item(), rel=1e-10)


def test_dispatch_mro_and_registration():
    class MyNormal(Normal):
        pass

    p, q = MyNormal(torch.tensor(1.0, dtype=D), torch.tensor(0.5, dtype=D)), n1(-0.3, 2.0)
    assert cs_divergence(p, q).item() == pytest.approx(0.5757094306, abs=1e-10)  # inherits Normal's

    @register_cs(MyNormal, Normal)
    def _custom(a, b):
        return torch.tensor(42.0, dtype=D)

    assert cs_divergence(p, q).item() == 42.0  # more specific wins
    assert cs_divergence(q, p).item() == pytest.approx(0.5757094306, abs=1e-10)
    with pytest.raises(TypeError, match="no Cauchy"):
        cs_divergence(torch.distributions.Exponential(torch.tensor(1.0)), q)
    with pytest.raises(TypeError):
        register_cs(int, Normal)


def test_event_mismatch_and_non_gaussian_errors():
    a = Independent(Normal(torch.zeros(3), torch.ones(3)), 1)
    b = Independent(Normal(torch.zeros(2), torch.ones(2)), 1)
    with pytest.raises(ValueError, match="event shapes differ"):
        cs_divergence(a, b)
    with pytest.raises(ValueError, match="event shapes differ"):
        kl_divergence(a, b)
    lap = Independent(torch.distributions.Laplace(torch.zeros(3), torch.ones(3)), 1)
    with pytest.raises(TypeError, match="not a Gaussian"):
        cs_divergence(lap, a)


def test_constructors_clamp_and_shapes():
    loc = torch.zeros(2, 5)
    d = diagonal_normal(loc, torch.tensor([-100.0, 0.0, 100.0, 1.0, -1.0]).expand(2, 5))
    assert d.batch_shape == (2,) and d.event_shape == (5,)
    torch.testing.assert_close(
        d.base_dist.scale[0, :3], torch.tensor([math.exp(-9.0), 1.0, math.exp(9.0)])
    )
    n = normal_from_log_var(torch.zeros(3), torch.tensor([-50.0, 0.0, 2.0]), min_log_var=-4.0)
    torch.testing.assert_close(n.scale, torch.tensor([math.exp(-2.0), 1.0, math.e]))
    with pytest.raises(ValueError):
        diagonal_normal(torch.tensor(0.0), torch.tensor(0.0))
    with pytest.raises(ValueError, match="disagree on K"):
        gaussian_mixture(torch.zeros(3), torch.zeros(2, 4), torch.zeros(2, 4))


def test_sample_seeded_and_moments():
    p = mix1d(*MIX_P)
    a = sample(p, 10, generator=torch.Generator().manual_seed(4))
    b = sample(p, 10, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(a, b)
    x = sample(p, 200_000, generator=torch.Generator().manual_seed(4))
    w, m, s = (np.array(v) for v in MIX_P)
    mean = (w * m).sum()
    var = (w * (s**2 + m**2)).sum() - mean**2
    assert x.mean().item() == pytest.approx(mean, abs=4 * math.sqrt(var / 2e5))
    assert x.var().item() == pytest.approx(var, rel=0.02)
    gen = torch.Generator().manual_seed(6)
    lr = LowRankMultivariateNormal(
        torch.zeros(3, dtype=D),
        torch.randn(3, 2, generator=gen, dtype=D),
        torch.rand(3, generator=gen, dtype=D) + 0.1,
    )
    xs = sample(lr, 200_000, generator=gen)
    torch.testing.assert_close(torch.cov(xs.T), lr.covariance_matrix, atol=0.05, rtol=0.03)
    mvn = MultivariateNormal(torch.ones(2, 3, dtype=D), rand_spd(3, gen))
    assert sample(mvn, 7, generator=gen).shape == (7, 2, 3)
