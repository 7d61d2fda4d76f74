"""The standard error of a refit step's gain, and the greedy choice that keeps a step only where
its gain exceeds it (``step_margin``).

``gain_standard_error`` is checked against closed forms: the textbook ``s / sqrt(n)`` where each
origin has one score, the cluster formula computed independently with numpy where origins have
several (also unequal numbers), its invariance to a constant shift of the gain, and its limits
(one row: ``inf``; horizons that move together are one cluster, not independent draws).
``greedy_refit_choice`` is run on scripted score rows with known gains and spreads.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dyngraphvae.evaluation.forecast_choice import gain_standard_error, greedy_refit_choice

finite = st.floats(-50, 50, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=12))
def test_one_score_per_origin_is_the_textbook_standard_error(pairs):
    base = [[a] for a, _ in pairs]
    new = [[b] for _, b in pairs]
    d = np.array([b - a for a, b in pairs])
    want = d.std(ddof=1) / math.sqrt(len(d))
    assert gain_standard_error(base, new) == pytest.approx(want, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(finite, finite), min_size=1, max_size=5), min_size=2,
                max_size=8), finite)
def test_several_horizons_per_origin_are_clustered(origins, shift):
    base = [[a for a, _ in o] for o in origins]
    new = [[b for _, b in o] for o in origins]
    d = [np.array([b - a for a, b in o]) for o in origins]
    n, m = sum(len(o) for o in origins), len(origins)
    mean = np.concatenate(d).mean()
    resid = np.array([(x - mean).sum() for x in d])  # per-origin sums of residuals
    want = math.sqrt(m / (m - 1) * (resid ** 2).sum()) / n
    got = gain_standard_error(base, new)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9)
    shifted = [[v + shift for v in row] for row in new]  # a constant gain has no spread
    assert gain_standard_error(base, shifted) == pytest.approx(got, rel=1e-6, abs=1e-6)


def test_missing_targets_and_the_limits():
    # None (a target without edges) is skipped on both sides
    base = [[0.0, None], [0.0, 0.0], [0.0, 0.0]]
    new = [[1.0, None], [2.0, 2.0], [3.0, 5.0]]
    resid = np.array([1.0 - 2.6, 4.0 - 2 * 2.6, 8.0 - 2 * 2.6])  # mean gain 13 / 5
    want = math.sqrt(3 / 2 * (resid ** 2).sum()) / 5
    assert gain_standard_error(base, new) == pytest.approx(want)
    # one origin: its horizons are the clusters; one row: no spread to estimate
    assert gain_standard_error([[0.0, 0.0, 0.0]], [[1.0, 2.0, 3.0]]) == pytest.approx(
        np.std([1, 2, 3], ddof=1) / math.sqrt(3))
    assert gain_standard_error([[0.0]], [[1.0]]) == math.inf
    # horizons that move together: two origins with gains (1, 1, 1) and (3, 3, 3) are two
    # draws, not six, so the error is the two-draw one, larger than the six-row one
    base, new = [[0.0] * 3, [0.0] * 3], [[1.0] * 3, [3.0] * 3]
    rows_only = np.std([1, 1, 1, 3, 3, 3], ddof=1) / math.sqrt(6)
    assert gain_standard_error(base, new) == pytest.approx(1.0)
    assert gain_standard_error(base, new) > rows_only


def _rows(level: float, spread: float, m: int = 6) -> list[list[float]]:
    """``m`` origins, two horizons each, mean ``level``, alternating ``±spread`` per origin."""
    return [[level + spread * (-1) ** o] * 2 for o in range(m)]


def test_a_step_is_kept_only_where_its_gain_exceeds_the_margin():
    table = {0: _rows(-3.0, 0.0), 8: _rows(-2.0, 0.0)}
    visited: list = []

    def rows(w):
        visited.append(w)
        return table[w]

    # "8+pc" gains 0.05 over "8" with a spread of 0.5 per origin: SE = 0.5 * sqrt(6/5) / 6 ≈ 0.09
    table["8+pc"] = _rows(-1.95, 0.5)
    se = gain_standard_error(table[8], table["8+pc"])
    assert se == pytest.approx(math.sqrt(6 / 5 * 6 * 1.0 ** 2) / 12)
    best, scores = greedy_refit_choice(rows, (0, 8), ("+pc",))
    assert best == "8+pc"  # plain greedy: any gain
    best, scores = greedy_refit_choice(rows, (0, 8), ("+pc",), step_margin=1.0)
    assert best == 8 and set(scores) == {0, 8, "8+pc"}  # scored, not kept
    table["8+pc"] = _rows(-1.5, 0.5)  # gain 0.5 > SE
    assert greedy_refit_choice(rows, (0, 8), ("+pc",), step_margin=1.0)[0] == "8+pc"
    assert greedy_refit_choice(rows, (0, 8), ("+pc",), step_margin=10.0)[0] == 8
    # the base candidates are chosen as before, by the larger mean, whatever the spread
    table[8] = _rows(-2.99, 3.0)
    assert greedy_refit_choice(rows, (0, 8), (), step_margin=1.0)[0] == 8


def test_the_margin_compares_with_the_best_so_far_and_needs_a_spread():
    # "~0.3" on the best refit "8" where W = 0 is best: judged against W = 0's rows
    table = {0: _rows(-1.0, 0.0), 8: _rows(-2.0, 0.0), "8~0.3": _rows(-0.98, 0.2)}
    assert greedy_refit_choice(table.__getitem__, (0, 8), ("~0.3",))[0] == "8~0.3"
    assert greedy_refit_choice(table.__getitem__, (0, 8), ("~0.3",), step_margin=1.0)[0] == 0
    # one validation row leaves no spread to measure: no step is kept with a margin
    one = {0: [[-1.0]], 8: [[-2.0]], "8~0.3": [[5.0]]}
    assert greedy_refit_choice(one.__getitem__, (0, 8), ("~0.3",))[0] == "8~0.3"
    assert greedy_refit_choice(one.__getitem__, (0, 8), ("~0.3",), step_margin=1.0)[0] == 0
