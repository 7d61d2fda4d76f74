"""KL schedules at their edges (written against surviving mutants of ``mutmut``,
docs/benchmarks.md): the cyclical schedule against the reference ``frange_cycle_linear`` of Fu et
al. (2019) for periods that are not integers, start/stop/ratio passed through by
``monotonic_schedule``, the logistic branch at u = 0, and the boundary values each constructor
accepts or refuses."""

from __future__ import annotations

import math

import pytest

from dyngraphvae.objectives import (
    ConstantSchedule,
    CyclicalSchedule,
    LinearSchedule,
    LogisticSchedule,
    monotonic_schedule,
    schedule_from_dict,
)


def frange_cycle_linear(n_iter, start=0.0, stop=1.0, n_cycle=4, ratio=0.5):
    """The reference implementation (Fu et al. 2019, NAACL, released code), in plain Python."""
    out = [stop] * n_iter
    period = n_iter / n_cycle
    step = (stop - start) / (period * ratio)
    for c in range(n_cycle):
        v, i = start, 0
        while v <= stop and int(i + c * period) < n_iter:
            out[int(i + c * period)] = v
            v += step
            i += 1
    return out


@pytest.mark.parametrize("n_iter, n_cycle, ratio, start, stop", [
    (10, 3, 0.5, 0.0, 1.0), (17, 4, 0.7, 0.0, 1.0), (23, 5, 0.3, 0.2, 0.9),
    (100, 7, 0.5, 0.0, 1.0), (9, 9, 1.0, 0.0, 1.0), (50, 3, 0.25, 0.1, 0.6),
])
def test_cyclical_equals_the_reference_for_fractional_periods(n_iter, n_cycle, ratio, start,
                                                              stop):
    s = CyclicalSchedule(total_steps=n_iter, num_cycles=n_cycle, ratio=ratio, start=start,
                         stop=stop)
    ref = frange_cycle_linear(n_iter, start, stop, n_cycle, ratio)
    got = [s(t) for t in range(n_iter)]
    assert got == pytest.approx(ref, abs=1e-9)
    assert s(n_iter) == stop and s(n_iter + 5) == stop


def test_monotonic_passes_its_settings_through():
    m = monotonic_schedule(10)
    assert (m.num_cycles, m.ratio, m.shape, m.start, m.stop) == (1, 0.5, "linear", 0.0, 1.0)
    m2 = monotonic_schedule(10, ratio=0.8, shape="cosine", start=0.1, stop=0.7)
    assert (m2.ratio, m2.shape, m2.start, m2.stop) == (0.8, "cosine", 0.1, 0.7)
    assert m(2) == pytest.approx(0.4)  # 2 / (10 · 0.5)


def test_logistic_is_one_half_at_x0_on_both_branches():
    s = LogisticSchedule(k=0.5, x0=4.0)
    assert s(4) == 0.5
    assert s(6) == pytest.approx(1 / (1 + math.exp(-1.0)))
    assert s(2) == pytest.approx(1 / (1 + math.exp(1.0)))
    assert s(0.0 + 4.0 + 1e-12) == pytest.approx(0.5)


@pytest.mark.parametrize("make", [
    lambda: ConstantSchedule(0.0), lambda: LinearSchedule(num_steps=1),
    lambda: LinearSchedule(num_steps=3, start=0.0, stop=0.0),
    lambda: CyclicalSchedule(total_steps=1, num_cycles=1, ratio=1.0),
    lambda: CyclicalSchedule(total_steps=5, num_cycles=5, start=0.3, stop=0.3),
])
def test_boundary_values_are_accepted(make):
    s = make()
    assert math.isfinite(s(0))


@pytest.mark.parametrize("make, message", [
    (lambda: ConstantSchedule(-0.1), "value must be finite and >= 0"),
    (lambda: ConstantSchedule(math.inf), "value must be finite and >= 0"),
    (lambda: LinearSchedule(num_steps=0), "num_steps must be an integer >= 1"),
    (lambda: LinearSchedule(num_steps=2.5), "num_steps must be an integer >= 1"),
    (lambda: LinearSchedule(num_steps=3, start=-1.0), "start"),
    (lambda: LinearSchedule(num_steps=3, stop=math.nan), "stop"),
    (lambda: LogisticSchedule(k=0.0), "k must be"),
    (lambda: LogisticSchedule(k=math.inf), "k must be"),
    (lambda: CyclicalSchedule(total_steps=0), "total_steps must be an integer >= 1"),
    (lambda: CyclicalSchedule(total_steps=2.5), "total_steps must be an integer >= 1"),
    (lambda: CyclicalSchedule(total_steps=4, num_cycles=5),
     r"num_cycles must be an integer in \[1, total_steps\]"),
    (lambda: CyclicalSchedule(total_steps=4, ratio=1.5), r"ratio must be in \(0, 1\]"),
    (lambda: CyclicalSchedule(total_steps=4, start=0.5, stop=0.2),
     "needs finite 0 <= start <= stop"),
    (lambda: CyclicalSchedule(total_steps=4, start=math.nan), "needs finite 0 <= start <= stop"),
    (lambda: CyclicalSchedule(total_steps=4, stop=math.inf), "needs finite 0 <= start <= stop"),
    (lambda: schedule_from_dict({"value": 1.0}), "must be a dict with a 'kind' key"),
    (lambda: schedule_from_dict([("kind", "constant")]), "must be a dict with a 'kind' key"),
])
def test_invalid_settings_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()
