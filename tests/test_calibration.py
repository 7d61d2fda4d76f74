"""Expected calibration error and the reliability diagram against closed forms: a constant
forecast's ECE is |p − base rate|; Bernoulli(p) outcomes give ECE → 0 (known truth); integer
weights equal repeated rows (property test); the stratified pair weights recover the ECE of the
full population from a sample of its non-edges."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dyngraphvae.evaluation import (
    expected_calibration_error,
    pair_weights,
    reliability_diagram,
)


def test_constant_forecast_ece_is_the_gap_to_the_base_rate():
    y = torch.tensor([1, 0, 0, 1, 0, 0, 0, 0, 1, 0], dtype=torch.bool)  # rate 0.3
    for p in (0.0, 0.3, 0.7, 1.0):
        probs = torch.full((10,), p, dtype=torch.float64)
        assert expected_calibration_error(probs, y) == pytest.approx(abs(p - 0.3), abs=1e-12)


def test_two_bins_by_hand():
    probs = torch.tensor([0.1, 0.1, 0.9, 0.9, 0.9])
    y = torch.tensor([0, 1, 1, 1, 0])
    d = reliability_diagram(probs, y, num_bins=2)
    # bin 0: π̄ 0.1, ȳ 0.5, share 2/5; bin 1: π̄ 0.9, ȳ 2/3, share 3/5
    assert d.ece == pytest.approx(2 / 5 * 0.4 + 3 / 5 * (0.9 - 2 / 3), abs=1e-6)
    torch.testing.assert_close(d.frequency, torch.tensor([0.5, 2 / 3], dtype=torch.float64))
    torch.testing.assert_close(d.weight, torch.tensor([0.4, 0.6], dtype=torch.float64))


def test_calibrated_bernoulli_outcomes_have_small_ece():
    g = torch.Generator().manual_seed(0)
    p = torch.rand(200_000, generator=g, dtype=torch.float64)
    y = torch.rand(200_000, generator=g, dtype=torch.float64) < p
    ece = expected_calibration_error(p, y, num_bins=10)
    # per bin the frequency error has std sqrt(p(1-p)/20000) <= 0.0036
    assert ece < 0.01
    # an over-confident forecast p' = p² / (p² + (1-p)²) is detected
    q = p * p / (p * p + (1 - p) ** 2)
    assert expected_calibration_error(q, y, num_bins=10) > 0.05


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans(), st.integers(1, 4)), min_size=1,
                max_size=30), st.integers(1, 12))
def test_integer_weights_equal_repeated_rows(rows, bins):
    p = torch.tensor([r[0] for r in rows], dtype=torch.float64)
    y = torch.tensor([r[1] for r in rows])
    w = torch.tensor([r[2] for r in rows], dtype=torch.float64)
    rep = w.long()
    a = expected_calibration_error(p, y, num_bins=bins, weights=w)
    b = expected_calibration_error(p.repeat_interleave(rep), y.repeat_interleave(rep),
                                   num_bins=bins)
    assert a == pytest.approx(b, abs=1e-12)
    assert 0.0 <= a <= 1.0


def test_pair_weights_recover_the_population_ece():
    g = torch.Generator().manual_seed(1)
    n_pos, n_neg = 300, 30_000
    p_pos = torch.rand(n_pos, generator=g, dtype=torch.float64) * 0.5 + 0.3
    p_neg = torch.rand(n_neg, generator=g, dtype=torch.float64) * 0.05
    probs = torch.cat([p_pos, p_neg])
    y = torch.cat([torch.ones(n_pos), torch.zeros(n_neg)]).bool()
    full = expected_calibration_error(probs, y)
    pick = torch.randperm(n_neg, generator=g)[:3000]
    sample = torch.cat([p_pos, p_neg[pick]])
    ys = torch.cat([torch.ones(n_pos), torch.zeros(3000)]).bool()
    est = expected_calibration_error(sample, ys, weights=pair_weights(n_pos, 3000, n_neg))
    assert est == pytest.approx(full, abs=0.004)
    unweighted = expected_calibration_error(sample, ys)
    assert abs(unweighted - full) > 0.02  # the balanced set answers another question
    assert math.isfinite(est)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="lie in"):
        expected_calibration_error(torch.tensor([1.2]), torch.tensor([1]))
    with pytest.raises(ValueError, match="weights"):
        expected_calibration_error(torch.tensor([0.2]), torch.tensor([1]),
                                   weights=torch.tensor([-1.0]))
    with pytest.raises(ValueError, match="num_bins"):
        reliability_diagram(torch.tensor([0.2]), torch.tensor([1]), num_bins=0)
    with pytest.raises(ValueError, match="num_negative"):
        pair_weights(3, 0, 10)
