"""Scores at their edges: reductions over a dimension, sample-size rules of the energy score, its
1-D identity with the CRPS along any event axis, inclusive interval bounds, the Gaussian interval
against its closed form, and every validation message. Written against surviving mutants of
``mutmut`` (docs/benchmarks.md, "Mutation score")."""

from __future__ import annotations

import math

import pytest
import torch

from dyngraphvae.evaluation.scores import (
    crps_ensemble,
    energy_score,
    gaussian_log_score,
    interval_coverage,
    interval_coverage_gaussian,
    mae,
    mse,
)


def test_mse_and_mae_reduce_over_the_given_dimension():
    p = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]])
    t = torch.tensor([[1.0, 1.0, 0.0], [1.0, 3.0, 1.0]])
    torch.testing.assert_close(mse(p, t, dim=1), torch.tensor([5 / 3, 4 / 3]))
    torch.testing.assert_close(mae(p, t, dim=1), torch.tensor([1.0, 2 / 3]))
    torch.testing.assert_close(mae(p, t, dim=0), torch.tensor([0.5, 1.0, 1.0]))
    torch.testing.assert_close(mse(p, t), torch.tensor(1.5))
    torch.testing.assert_close(mae(p, t), torch.tensor(5 / 6))


def test_energy_score_member_rules():
    obs = torch.zeros(4, 2)
    one = torch.randn(1, 4, 2, generator=torch.Generator().manual_seed(0))
    assert energy_score(obs, one).shape == (4,)  # one member is a valid "nrg" forecast
    torch.testing.assert_close(energy_score(obs, one), one[0].norm(dim=-1))
    with pytest.raises(ValueError, match="needs more members, got M=1"):
        energy_score(obs, one, estimator="fair")
    two = torch.randn(2, 4, 2, generator=torch.Generator().manual_seed(1))
    assert torch.isfinite(energy_score(obs, two, estimator="fair")).all()
    with pytest.raises(ValueError, match="energy_score: samples contains NaN"):
        energy_score(obs, torch.full((3, 4, 2), math.nan))
    with pytest.raises(ValueError, match="energy_score: obs contains NaN"):
        energy_score(torch.full((4, 2), math.nan), two)


@pytest.mark.parametrize("estimator", ["nrg", "fair"])
def test_energy_score_in_one_dimension_is_the_crps_on_any_event_axis(estimator):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(7, 3, 5, generator=g)
    y = torch.randn(3, 5, generator=g)
    crps = crps_ensemble(y, x, estimator=estimator)  # (3, 5)
    # event axis of length 1 first: obs (1, 3, 5), samples (7, 1, 3, 5)
    es = energy_score(y.unsqueeze(0), x.unsqueeze(1), event_dim=0, estimator=estimator)
    torch.testing.assert_close(es, crps)
    es_last = energy_score(y.unsqueeze(-1), x.unsqueeze(-1), estimator=estimator)
    torch.testing.assert_close(es_last, crps)


def test_energy_score_broadcasts_the_observation_over_members():
    x = torch.tensor([[[0.0, 0.0]], [[3.0, 4.0]]])  # (M=2, 1, D=2)
    y = torch.tensor([[0.0, 0.0]])
    # nrg: mean distance to obs (0 + 5)/2 - pair term (2·5)/(2·4)
    torch.testing.assert_close(energy_score(y, x), torch.tensor([2.5 - 10 / 8]))
    torch.testing.assert_close(energy_score(y, x, estimator="fair"), torch.tensor([2.5 - 10 / 4]))


def test_gaussian_log_score_needs_a_positive_std():
    with pytest.raises(ValueError, match="std must be positive"):
        gaussian_log_score(torch.zeros(2), torch.zeros(2), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(gaussian_log_score(torch.tensor(1.0), torch.tensor(0.0),
                                                  torch.tensor(2.0)),
                               torch.tensor(0.125 + math.log(2.0) + 0.5 * math.log(2 * math.pi)))


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 1.5])
def test_levels_outside_the_open_unit_interval_are_refused(level):
    with pytest.raises(ValueError, match="interval_coverage: level must lie in"):
        interval_coverage(torch.zeros(2), torch.zeros(5, 2), level)
    with pytest.raises(ValueError, match="interval_coverage_gaussian: level must lie in"):
        interval_coverage_gaussian(torch.zeros(2), torch.zeros(2), torch.ones(2), level)


def test_interval_coverage_bounds_are_inclusive_and_follow_the_dim():
    samples = torch.arange(11.0).reshape(1, 11).expand(2, 11)  # members along dim 1
    # 0.8 interval of 0..10 (type 7): [1, 9]
    obs = torch.tensor([1.0, 9.5])
    torch.testing.assert_close(interval_coverage(obs, samples, 0.8, dim=1),
                               torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(interval_coverage(torch.tensor([9.0, 0.5]), samples, 0.8, dim=1),
                               torch.tensor([1.0, 0.0]))
    assert interval_coverage(torch.tensor(5.0), torch.arange(11.0)).item() == 1.0  # default 0.9
    with pytest.raises(ValueError, match="interval_coverage: samples contains NaN"):
        interval_coverage(torch.zeros(1), torch.tensor([[math.nan]]))


def test_gaussian_interval_is_mean_plus_minus_z_std():
    z90 = 1.6448536269514722
    mean, std = torch.tensor([2.0, 2.0, -1.0, 0.0]), torch.tensor([1.0, 1.0, 0.5, 0.0])
    obs = torch.tensor([2.0 + 0.999 * z90, 2.0 - 1.001 * z90, -1.0 + 0.5 * 0.99 * z90, 0.0])
    got = interval_coverage_gaussian(obs, mean, std)  # default level 0.9
    torch.testing.assert_close(got, torch.tensor([1.0, 0.0, 1.0, 1.0]))
    z50 = 0.6744897501960817
    got50 = interval_coverage_gaussian(torch.tensor([0.99 * z50, 1.01 * z50]), torch.zeros(2),
                                       torch.ones(2), 0.5)
    torch.testing.assert_close(got50, torch.tensor([1.0, 0.0]))
    assert interval_coverage_gaussian(torch.tensor([1, 2]), torch.tensor([1, 5]),
                                      torch.tensor([0.5, 0.5])).dtype == torch.float32
    with pytest.raises(ValueError, match="std must be non-negative"):
        interval_coverage_gaussian(torch.zeros(1), torch.zeros(1), torch.tensor([-1e-3]))
