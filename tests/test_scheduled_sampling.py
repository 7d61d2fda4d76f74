"""Scheduled-sampling decays against the formulas of Bengio et al. (2015)."""

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dyngraphvae.scheduled_sampling import TeacherForcingSchedule, teacher_forcing_probability


def test_linear_formula_and_floor():
    assert teacher_forcing_probability(0, "linear", k=1.0, c=0.01) == 1.0
    assert teacher_forcing_probability(30, "linear", k=1.0, c=0.01) == pytest.approx(0.7)
    # reaches the floor and stays there
    assert teacher_forcing_probability(95, "linear", k=1.0, c=0.01, floor=0.1) == pytest.approx(0.1)
    assert teacher_forcing_probability(10**6, "linear", k=1.0, c=0.01, floor=0.1) == 0.1
    # an offset k > 1 delays the decay but the probability is clipped to 1
    assert teacher_forcing_probability(10, "linear", k=1.5, c=0.01) == 1.0
    assert teacher_forcing_probability(70, "linear", k=1.5, c=0.01) == pytest.approx(0.8)


def test_exponential_formula():
    assert teacher_forcing_probability(0, "exponential", k=0.9) == 1.0
    assert teacher_forcing_probability(7, "exponential", k=0.9) == pytest.approx(0.9**7)


def test_inverse_sigmoid_formula_and_no_overflow():
    k = 20.0
    for i in (0, 5, 50, 200):
        assert teacher_forcing_probability(i, "inverse_sigmoid", k=k) == pytest.approx(
            k / (k + math.exp(i / k))
        )
    assert teacher_forcing_probability(10**7, "inverse_sigmoid", k=1.0) == 0.0


@given(
    kind=st.sampled_from(["linear", "exponential", "inverse_sigmoid"]),
    i=st.integers(0, 10**5),
    di=st.integers(1, 1000),
)
def test_in_unit_interval_and_non_increasing(kind, i, di):
    a = teacher_forcing_probability(i, kind)
    b = teacher_forcing_probability(i + di, kind)
    assert 0.0 <= b <= a <= 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(kind="exponential", k=1.0),
        dict(kind="exponential", k=0.0),
        dict(kind="inverse_sigmoid", k=0.5),
        dict(kind="linear", floor=1.0),
        dict(kind="linear", c=-1.0),
        dict(kind="cosine"),
    ],
)
def test_bad_parameters_raise(kwargs):
    with pytest.raises(ValueError):
        teacher_forcing_probability(3, **kwargs)
    with pytest.raises(ValueError):
        TeacherForcingSchedule(**kwargs)


def test_negative_step_raises():
    with pytest.raises(ValueError, match="step"):
        teacher_forcing_probability(-1)


def test_schedule_object_round_trips_and_matches_function():
    s = TeacherForcingSchedule("inverse_sigmoid", k=30.0)
    s2 = TeacherForcingSchedule.from_dict(json.loads(json.dumps(s.to_dict())))
    assert s2 == s
    assert s2(40) == teacher_forcing_probability(40, "inverse_sigmoid", k=30.0)
