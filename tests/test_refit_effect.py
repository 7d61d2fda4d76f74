"""The refit's snapshot effect (``ForecasterConfig.context_refit_effect``).

Known truth: on snapshots whose level strays by ``δ_s ~ N(0, τ²)`` the effect's fit recovers
``τ`` (and finds none when there is none), and its intercept shift keeps the window's expected
edge count (checked by independent numerical integration; ``matched_centre`` also against the
closed form of equal logits); a snapshot with no edge is left out. A forecast adds one draw per
sample and step with the scale of that step's refitted lead to every logit, and only the
intercept differs from the refit without the effect. The pair-only predictive integrates the
effect out: its probabilities are ``E_δ σ(ℓ + b + δ)`` of the effect-free ones, one ``(b, τ)``
per step.
"""

from __future__ import annotations

import math

import pytest
import torch

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE
from dyngraphvae.models.context import aged
from dyngraphvae.models.random_effect import matched_centre
from dyngraphvae.models.refit import _level_effect, map_logistic
from dyngraphvae.models.rolling import predictive_pair_probs

torch.set_num_threads(1)


def _rows(tau: float, num: int, pairs: int, seed: int) -> tuple[list[tuple], torch.Tensor]:
    """Rows ``(x, y, w, o)`` of ``num`` snapshots: two features and an intercept column, a
    per-snapshot level ``δ_s ~ N(0, τ²)``."""
    g = torch.Generator().manual_seed(seed)
    theta = torch.tensor([0.8, -0.5, -3.0], dtype=torch.float64)
    delta = tau * torch.randn(num, generator=g, dtype=torch.float64)
    rows = []
    for d in delta:
        x = torch.cat([torch.randn(pairs, 2, generator=g, dtype=torch.float64),
                       torch.ones(pairs, 1, dtype=torch.float64)], 1)
        o = 0.3 * torch.randn(pairs, generator=g, dtype=torch.float64)
        y = (torch.rand(pairs, generator=g, dtype=torch.float64)
             < torch.sigmoid(o + x @ theta + d)).double()
        rows.append((x, y, torch.ones(pairs, dtype=torch.float64), o))
    return rows, delta


@pytest.mark.parametrize("tau", [0.0, 0.6])
def test_the_level_effect_recovers_the_scale_of_the_window_levels(tau):
    rows, _ = _rows(tau, 40, 5000, seed=3)
    x, y, w, o = (torch.cat([r[i] for r in rows]) for i in range(4))
    theta = map_logistic(x, y, w, o, torch.zeros(3, dtype=torch.float64), 1e6)
    shifted, got = _level_effect(theta, rows)
    assert abs(got - tau) < 0.15
    # only the intercept moves, to where the effect keeps the window's expected edge count
    torch.testing.assert_close(shifted[:-1], theta[:-1])
    lg = torch.cat([r[3] + r[0] @ shifted for r in rows])
    w, y = torch.cat([r[2] for r in rows]), torch.cat([r[1] for r in rows])
    assert _expected_count(lg, w, got) == pytest.approx(float((w * y).sum()), rel=1e-6)
    if tau > 0:  # where edges are rare the spread alone would raise the count (Jensen)
        assert _expected_count(lg - (shifted[-1] - theta[-1]), w, got) > 1.02 * float(
            (w * y).sum())
    # a snapshot with no edge (its own offset is -inf) is left out, not fitted
    empty = (rows[0][0], torch.zeros_like(rows[0][1]), rows[0][2], rows[0][3])
    again, tau_again = _level_effect(theta, rows + [empty])
    assert tau_again == got
    torch.testing.assert_close(again, shifted)
    assert _level_effect(theta, rows[:1]) == (theta, 0.0)


def _expected_count(logits, weights, scale) -> float:
    """``Σ w E σ(ℓ + δ)``, ``δ ~ N(0, scale²)``, by the trapezoid rule on ±8 scales (not the
    package's quadrature)."""
    if scale == 0:
        return float((weights * torch.sigmoid(logits)).sum())
    d = torch.linspace(-8 * scale, 8 * scale, 801, dtype=torch.float64)
    dens = torch.exp(-0.5 * (d / scale) ** 2) / (scale * (2 * torch.pi) ** 0.5)
    total = 0.0
    for lg, w in zip(logits.double().split(10000), weights.double().split(10000), strict=True):
        p = torch.trapezoid(torch.sigmoid(lg[:, None] + d) * dens, d, dim=1)
        total += float((w * p).sum())
    return total


@pytest.mark.parametrize("scale", [0.0, 0.4, 1.5])
def test_the_matched_centre_keeps_the_expected_count(scale):
    g = torch.Generator().manual_seed(0)
    lg = -4.0 + 1.2 * torch.randn(3000, generator=g, dtype=torch.float64)
    w = torch.rand(3000, generator=g, dtype=torch.float64) * 3
    y = (torch.rand(3000, generator=g, dtype=torch.float64) < 0.04).double()
    b = matched_centre(lg, y, w, scale)
    assert _expected_count(lg + b, w, scale) == pytest.approx(float((w * y).sum()), rel=1e-6)
    # equal logits and no spread: the closed form logit(Σ w y / Σ w) − ℓ
    flat = torch.full((50,), -2.0, dtype=torch.float64)
    yy = (torch.arange(50) < 7).double()
    assert matched_centre(flat, yy, torch.ones(50), 0.0) == pytest.approx(
        math.log(7 / 43) + 2.0, abs=1e-9)


def _swinging(n: int = 14, t: int = 12, seed: int = 0) -> TemporalGraph:
    """Snapshots whose density swings between 0.05 and 0.35: a level the features cannot
    predict."""
    g = torch.Generator().manual_seed(seed)
    snaps = []
    for s in range(t):
        a = torch.rand(n, n, generator=g) < (0.35 if s % 3 == 0 else 0.05)
        a.fill_diagonal_(False)
        snaps.append(a.nonzero().t())
    return TemporalGraph(snaps, n, directed=True)


def _model(graph: TemporalGraph, effect: bool, **kw) -> TemporalGraphVAE:
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(graph, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history", history_rates=(0.5, 0.9),
                                     history_decay=0.7, context_refit=8,
                                     context_refit_effect=effect, **kw)
    return TemporalGraphVAE(cfg).eval()


def test_a_forecast_draws_the_refitted_effect_of_each_step():
    g = _swinging()
    T, H, S = 11, 3, 200
    on = _model(g, True, context_refit_leads=2)
    off = _model(g, False, context_refit_leads=2)
    state = on.filter(g[:T], S, generator=torch.Generator().manual_seed(1))
    plain = off.filter(g[:T], S, generator=torch.Generator().manual_seed(1))
    scales = [t.snapshot_scale for t in state.lead_terms]
    assert all(s > 0.3 for s in scales)  # the swings are far beyond binomial noise
    assert all(t.snapshot_scale is None for t in plain.lead_terms)
    for a, b in zip(state.lead_terms, plain.lead_terms, strict=True):
        torch.testing.assert_close(a.weight_vector()[:-1], b.weight_vector()[:-1])
        assert float(a.weight_vector()[-1]) != float(b.weight_vector()[-1])
    fc = on.forecast(state, H, generator=torch.Generator().manual_seed(2))
    assert fc.snapshot_scale == (scales[0], scales[1], scales[1])
    assert off.forecast(plain, H).edge_offsets is None
    ctx = on.decoder_contexts(g, T)[T].edges
    pairs = torch.tensor([[0, 1, 2, 3, 4, 7], [1, 0, 5, 9, 2, 3]])
    for k in range(H):
        term = state.lead_terms[min(k, 1)]
        want = (on.edge_decoder.logits(fc.z[:, k], pairs) + term.pair_logits(ctx, pairs)[0]
                + fc.edge_offsets[:, k, None])
        torch.testing.assert_close(fc.edge_logits(pairs)[:, k], want)
        assert abs(float(fc.edge_offsets[:, k].std()) / fc.snapshot_scale[k] - 1) < 0.2
        ctx = aged(ctx, 0.7)


def test_the_pair_predictive_integrates_the_refitted_effect_out():
    g = _swinging(seed=1)
    H = 2
    pairs = torch.randint(0, 14, (2, 60), generator=torch.Generator().manual_seed(2))
    pairs = pairs[:, pairs[0] != pairs[1]]
    taus = torch.linspace(0.0, 3.0, 301, dtype=torch.float64)
    eps = torch.linspace(-8.0, 8.0, 201, dtype=torch.float64)
    phi = torch.exp(-eps**2 / 2)
    phi = phi / phi.sum()  # the trapezoid rule on N(0, 1) (its tails are negligible)

    def integral(logits, tau):  # E σ(ℓ + τ ε), ε ~ N(0, 1), by numerical integration
        return (torch.sigmoid(logits.unsqueeze(-1) + tau.unsqueeze(-1) * eps) * phi).sum(-1)

    for origin in (9, 11):  # one origin per call: the effect's draws move later origins' latents
        reqs = [[pairs for _ in range(H)]]
        # one latent sample: the effect-free probability is σ(ℓ) of one logit per pair
        p_on = predictive_pair_probs(_model(g, True), g, [origin], H, 1, reqs,
                                     torch.Generator().manual_seed(4))[0]
        p_off = predictive_pair_probs(_model(g, False), g, [origin], H, 1, reqs,
                                      torch.Generator().manual_seed(4))[0]
        for k in range(H):
            logit, want = torch.logit(p_off[k].double()), p_on[k].double()
            assert not torch.allclose(want, p_off[k].double())
            # every pair's probability is E σ(ℓ + b + δ), δ ~ N(0, τ²), with one (b, τ):
            # for each τ, b from the first pair by bisection; the other pairs must follow
            lo = torch.full_like(taus, -20.0)
            hi = torch.full_like(taus, 20.0)
            for _ in range(60):
                mid = (lo + hi) / 2
                below = integral(logit[0] + mid, taus) < want[0]
                lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
            fit = integral(logit[None, :] + lo[:, None], taus[:, None])
            err = (fit - want).abs().amax(1)
            assert float(err.min()) < 2e-3
            assert float(taus[err.argmin()]) > 0.3  # the swings: an effect, not a shift alone


# ---------------------------------------------------------------- a persistent level ("+ar")
def _ar_series(phi: float, tau: float, b: float, n: int, noise: float, seed: int):
    g = torch.Generator().manual_seed(seed)
    d = [b + tau * float(torch.randn(1, generator=g))]
    for _ in range(n - 1):
        d.append(b + phi * (d[-1] - b) + tau * math.sqrt(1 - phi ** 2)
                 * float(torch.randn(1, generator=g)))
    d = torch.tensor(d, dtype=torch.float64)
    v = torch.full((n,), noise, dtype=torch.float64)
    return d, d + v.sqrt() * torch.randn(n, generator=g, dtype=torch.float64), v


@pytest.mark.parametrize("phi", [0.0, 0.8])
def test_the_level_fit_recovers_a_known_ar1(phi):
    from dyngraphvae.models.random_effect import level_fit

    _, e, v = _ar_series(phi, 1.0, -0.5, 150, 0.05, seed=1)
    b, tau, got = level_fit(e, v, range(150))
    assert abs(got - phi) <= 0.1 and abs(tau - 1.0) < 0.25 and abs(b + 0.5) < 0.5


def test_the_level_fit_is_the_maximum_likelihood_and_nests_the_iid_fit():
    from dyngraphvae.models.random_effect import level_fit, random_effect_fit

    _, e, v = _ar_series(0.6, 0.8, 0.3, 12, 0.1, seed=4)
    steps = [0, 1, 2, 4, 5, 6, 7, 8, 10, 11, 12, 13]  # gaps: snapshots left out

    def loglik(b, tau, phi):
        st = torch.tensor(steps, dtype=torch.float64)
        cov = tau ** 2 * phi ** (st[:, None] - st[None, :]).abs() + torch.diag(v)
        return float(torch.distributions.MultivariateNormal(
            torch.full_like(e, b), covariance_matrix=cov).log_prob(e))

    b, tau, phi = level_fit(e, v, steps)
    best = loglik(b, tau, phi)
    g = torch.Generator().manual_seed(0)
    for _ in range(50):  # no other (b, τ, φ) does better
        bb, tt, pp = (float(x) for x in torch.rand(3, generator=g, dtype=torch.float64))
        assert loglik(2 * bb - 1 + b, 2 * tt, 0.95 * pp) <= best + 1e-9
    b0, t0 = random_effect_fit(e, v)
    b1, t1, p1 = level_fit(e, v, steps, max_corr=0.0)
    assert p1 == 0.0 and abs(t1 - t0) <= 0.01 and abs(b1 - b0) < 0.02


def test_the_level_forecast_is_the_gaussian_conditional():
    from dyngraphvae.models.random_effect import level_forecast

    _, e, v = _ar_series(0.7, 1.2, 0.0, 8, 0.2, seed=2)
    steps, b, tau, phi = list(range(8)), 0.1, 1.2, 0.7
    for target in (8, 9, 12):
        st = torch.tensor(steps + [target], dtype=torch.float64)
        joint = tau ** 2 * phi ** (st[:, None] - st[None, :]).abs()
        joint[:8, :8] += torch.diag(v)
        s11, s12, s22 = joint[:8, :8], joint[:8, 8], joint[8, 8]
        want_m = b + float(s12 @ torch.linalg.inv(s11) @ (e - b))
        want_s = math.sqrt(float(s22 - s12 @ torch.linalg.inv(s11) @ s12))
        m, s = level_forecast(e, v, steps, b, tau, phi, target)
        assert m == pytest.approx(want_m, abs=1e-9) and s == pytest.approx(want_s, abs=1e-9)
    assert level_forecast(e, v, steps, b, tau, 0.0, 8) == pytest.approx((b, tau))
    m, s = level_forecast(e, v, steps, b, tau, phi, 400)  # far ahead: the stationary law
    assert m == pytest.approx(b, abs=1e-6) and s == pytest.approx(tau, abs=1e-6)


def test_a_persistent_level_moves_the_refit_intercept_to_the_recent_snapshots():
    from dyngraphvae.evaluation.forecast_choice import refit_settings

    g = torch.Generator().manual_seed(5)
    theta = torch.tensor([0.8, -0.5, -3.0], dtype=torch.float64)
    levels = [0.6] * 5 + [-0.6] * 5  # activity falls half-way through the window
    rows = []
    for d in levels:
        x = torch.cat([torch.randn(4000, 2, generator=g, dtype=torch.float64),
                       torch.ones(4000, 1, dtype=torch.float64)], 1)
        o = torch.zeros(4000, dtype=torch.float64)
        y = (torch.rand(4000, generator=g, dtype=torch.float64)
             < torch.sigmoid(x @ theta + d)).double()
        rows.append((x, y, torch.ones(4000, dtype=torch.float64), o))
    x, y, w, o = (torch.cat([r[i] for r in rows]) for i in range(4))
    fitted = map_logistic(x, y, w, o, torch.zeros(3, dtype=torch.float64), 1e6)
    iid, tau = _level_effect(fitted, rows)
    ar, tau_next = _level_effect(fitted, rows, list(range(10)), 10)
    torch.testing.assert_close(ar[:-1], iid[:-1])
    # the next snapshot's level follows the recent ones (−0.6), not the window's centre (0)
    assert float(ar[-1] - iid[-1]) < -0.3
    assert tau_next < tau
    assert refit_settings("10+rates+cn+ar")["context_refit_level"] == "ar1"
    assert refit_settings("10")["context_refit_level"] == "iid"
    with pytest.raises(ValueError, match="ar"):
        refit_settings("0+ar")
