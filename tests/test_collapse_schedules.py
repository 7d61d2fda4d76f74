"""KL schedules against their formulas and a direct re-derivation of the reference loops."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dyngraphvae.collapse import (
    ConstantSchedule,
    CyclicalSchedule,
    LinearSchedule,
    LogisticSchedule,
    monotonic_schedule,
    schedule_from_dict,
)


def reference_frange_cycle(n_iter, start=0.0, stop=1.0, n_cycle=4, ratio=0.5, shape="linear"):
    """Re-derivation of Fu et al.'s ``frange_cycle_{linear,sigmoid,cosine}`` as documented: the
    array
    starts at `stop`; in each cycle v rises from `start` by (stop-start)/(period*ratio) per
    iteration
    while v <= stop, written at index int(i + c*period)."""
    out = np.ones(n_iter) * stop
    period = n_iter / n_cycle
    step = (stop - start) / (period * ratio)
    for c in range(n_cycle):
        v, i = start, 0
        while v <= stop and int(i + c * period) < n_iter:
            if shape == "linear":
                val = v
            elif shape == "sigmoid":
                val = 1.0 / (1.0 + np.exp(-(v * 12.0 - 6.0)))
            else:
                val = 0.5 - 0.5 * math.cos(v * math.pi)
            out[int(i + c * period)] = val
            i += 1
            v = start + i * step
    return out


@pytest.mark.parametrize("shape", ["linear", "sigmoid", "cosine"])
@pytest.mark.parametrize(
    "n_iter,n_cycle,ratio",
    [(100, 4, 0.5), (1000, 4, 0.5), (90, 3, 0.25), (50, 1, 1.0), (37, 5, 0.7)],
)
def test_cyclical_matches_reference_loop(shape, n_iter, n_cycle, ratio):
    sched = CyclicalSchedule(n_iter, num_cycles=n_cycle, ratio=ratio, shape=shape)
    ref = reference_frange_cycle(n_iter, n_cycle=n_cycle, ratio=ratio, shape=shape)
    ours = np.array(sched.values(n_iter))
    np.testing.assert_allclose(ours, ref, atol=1e-9)


def test_cyclical_paper_formula_and_defaults():
    # T=400, M=4, R=0.5: beta = tau/R for tau <= R else 1, tau = mod(t, 100)/100
    s = CyclicalSchedule(400)
    assert (s.num_cycles, s.ratio) == (4, 0.5)
    for t in range(400):
        tau = (t % 100) / 100
        assert s(t) == pytest.approx(min(1.0, tau / 0.5), abs=1e-12)
    assert s(0) == 0.0 and s(100) == 0.0 and s(75) == 1.0
    assert s(400) == 1.0 and s(10_000) == 1.0  # beyond T: stays at stop


def test_monotonic_is_single_cycle():
    m = monotonic_schedule(200, ratio=0.5)
    assert m.num_cycles == 1
    assert m(0) == 0.0 and m(50) == pytest.approx(0.5) and m(100) == 1.0 and m(199) == 1.0


def test_linear_and_logistic_formulas():
    lin = LinearSchedule(num_steps=1000, start=0.1)
    assert lin(0) == pytest.approx(0.1)
    assert lin(500) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lin(1000) == 1.0 and lin(5000) == 1.0
    # He et al.: kl_weight += (1 - kl_start) / (warm_up * N / B) per iteration, capped at 1
    w, inc = 0.1, 0.9 / 1000
    for step in range(1, 1200):
        w = min(1.0, w + inc)
        assert lin(step) == pytest.approx(w, abs=1e-9)
    log = LogisticSchedule()
    assert (log.k, log.x0) == (0.0025, 2500.0)
    for step in [0, 100, 2500, 4000, 10**6]:
        assert log(step) == pytest.approx(1 / (1 + math.exp(-0.0025 * (step - 2500))), rel=1e-12)
    assert log(2500) == 0.5
    assert ConstantSchedule(0.3)(123) == 0.3


@settings(max_examples=60, deadline=None)
@given(
    total=st.integers(1, 500),
    cycles=st.integers(1, 8),
    ratio=st.floats(0.05, 1.0),
    shape=st.sampled_from(["linear", "sigmoid", "cosine"]),
)
def test_cyclical_properties(total, cycles, ratio, shape):
    cycles = min(cycles, total)
    s = CyclicalSchedule(total, num_cycles=cycles, ratio=ratio, shape=shape)
    vals = np.array(s.values(total))
    assert np.all((vals >= 0) & (vals <= 1))
    np.testing.assert_allclose(
        vals, reference_frange_cycle(total, n_cycle=cycles, ratio=ratio, shape=shape), atol=1e-9
    )


@pytest.mark.parametrize(
    "sched",
    [
        ConstantSchedule(0.5),
        LinearSchedule(10, 0.2, 0.9),
        LogisticSchedule(0.01, 30.0),
        CyclicalSchedule(100, 3, 0.4, "cosine"),
    ],
)
def test_round_trip_json(sched):
    d = json.loads(json.dumps(sched.to_dict()))
    again = schedule_from_dict(d)
    assert again == sched
    assert again.values(50) == sched.values(50)


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="num_steps"):
        LinearSchedule(0)
    with pytest.raises(ValueError, match="ratio"):
        CyclicalSchedule(10, ratio=0.0)
    with pytest.raises(ValueError, match="shape"):
        CyclicalSchedule(10, shape="step")
    with pytest.raises(ValueError, match="num_cycles"):
        CyclicalSchedule(3, num_cycles=4)
    with pytest.raises(ValueError, match="step"):
        ConstantSchedule()(-1)
    with pytest.raises(ValueError, match="unknown schedule kind"):
        schedule_from_dict({"kind": "exp"})
    with pytest.raises(ValueError, match="unknown field"):
        schedule_from_dict({"kind": "constant", "vlaue": 1.0})
