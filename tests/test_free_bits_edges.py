"""Free bits at their edges (written against surviving mutants of ``mutmut``,
docs/benchmarks.md): units of every mode against sums written out here, the "sum" reduction's
datapoint counts with masks and several batch dimensions, negative dimension indices, group
matrices, and every invalid argument named in its message."""

from __future__ import annotations

import pytest
import torch

from dyngraphvae.objectives import free_bits, free_bits_units


def _kl(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_modes_against_hand_sums():
    kl = _kl(4, 3, 5)  # (B, N, d)
    torch.testing.assert_close(free_bits_units(kl, "dimension"), kl.mean(0))
    torch.testing.assert_close(free_bits_units(kl, "node"), kl.mean(0).sum(-1))
    torch.testing.assert_close(free_bits_units(kl, "total"), kl.mean(0).sum())
    groups = torch.tensor([0, 0, 1, 2, 1])
    want = torch.stack([kl[..., :2].sum(-1), kl[..., [2, 4]].sum(-1), kl[..., 3]], -1).mean(0)
    torch.testing.assert_close(free_bits_units(kl, "group", groups=groups), want)
    torch.testing.assert_close(free_bits_units(kl, "group", groups=[[0, 1], [2, 4], [3]]), want)


def test_negative_and_multiple_batch_dimensions():
    kl = _kl(2, 3, 4, 5)
    torch.testing.assert_close(free_bits_units(kl, reduce_over=(-4, -3)), kl.mean((0, 1)))
    lam = 0.3
    units = kl.mean((0, 1))  # (4, 5)
    torch.testing.assert_close(free_bits(kl, lam, reduce_over=(0, 1), reduction="sum"),
                               6 * units.clamp(min=lam).sum())
    with pytest.raises(ValueError, match="free_bits reduce_over: dimension 4 out of range"):
        free_bits_units(kl, reduce_over=4)
    with pytest.raises(ValueError, match="free_bits reduce_over: dimension -5 out of range"):
        free_bits_units(kl, reduce_over=-5)
    with pytest.raises(ValueError, match=r"repeated dimensions \(0, -4\)"):
        free_bits_units(kl, reduce_over=(0, -4))
    with pytest.raises(ValueError, match="must not include the last"):
        free_bits_units(kl, reduce_over=(0, -1))


@pytest.mark.parametrize("mode", ["dimension", "group"])
def test_sum_with_a_mask_counts_each_units_datapoints(mode):
    kl = _kl(5, 3, 4, seed=1)
    mask = torch.ones(5, 3, dtype=torch.bool)
    mask[:2, 1] = False  # node 1 seen at 3 steps, the others at 5
    kw = dict(groups=torch.tensor([0, 1, 1, 0])) if mode == "group" else {}
    units = free_bits_units(kl, mode, mask=mask, **kw)  # (3, U)
    count = mask.double().sum(0).unsqueeze(-1)  # (3, 1)
    for lam in (0.0, 0.6):
        want = (count * units.clamp(min=lam)).sum()
        torch.testing.assert_close(free_bits(kl, lam, mode, mask=mask, reduction="sum", **kw),
                                   want)
    m = mask.double().unsqueeze(-1)
    torch.testing.assert_close(free_bits_units(kl, "dimension", mask=mask),
                               (kl * m).sum(0) / m.sum(0))


def test_group_matrices_and_their_errors():
    kl = _kl(2, 4)
    with pytest.raises(ValueError, match="integer vector of length d=4"):
        free_bits_units(kl, "group", groups=torch.tensor([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="integer vector of length d=4"):
        free_bits_units(kl, "group", groups=torch.tensor([0, 1, 1]))
    with pytest.raises(ValueError, match="group ids must be >= 0"):
        free_bits_units(kl, "group", groups=torch.tensor([0, -1, 1, 1]))
    with pytest.raises(ValueError, match=r"contiguous 0..G-1; ids \[1\] are empty"):
        free_bits_units(kl, "group", groups=torch.tensor([0, 2, 2, 0]))
    with pytest.raises(ValueError, match="at least one latent dimension"):
        free_bits_units(kl, "group", groups=[[0, 1, 2, 3], []])
    with pytest.raises(ValueError, match=r"partition the latent dimensions 0..3 exactly once"):
        free_bits_units(kl, "group", groups=[[0, 1], [1, 2, 3]])
    with pytest.raises(ValueError, match="mode='group' requires `groups`"):
        free_bits_units(kl, "group")
    with pytest.raises(ValueError, match="only used with mode='group', got mode='node'"):
        free_bits_units(_kl(2, 3, 4), "node", groups=[[0, 1], [2, 3]])
    one = free_bits_units(kl, "group", groups=[[0], [1], [2], [3]])
    torch.testing.assert_close(one, kl.mean(0))


def test_invalid_arguments_are_named():
    kl = _kl(3, 2, 4)
    cases = [
        (lambda: free_bits_units(torch.ones(4)), "kl must be a tensor of shape"),
        (lambda: free_bits_units([[1.0]]), "got list of shape None"),
        (lambda: free_bits_units(kl, "nodes"), "mode must be one of"),
        (lambda: free_bits_units(kl * float("nan")), "kl contains non-finite values"),
        (lambda: free_bits_units(_kl(3, 4), "node"), "mode='node' needs a node dimension"),
        (lambda: free_bits_units(kl, mask=torch.ones(3, dtype=torch.bool)),
         r"mask must have shape kl.shape\[:-1\]=\(3, 2\)"),
        (lambda: free_bits_units(kl, mask=torch.zeros(3, 2, dtype=torch.bool)),
         "mask leaves a unit with no datapoint"),
        (lambda: free_bits(kl, -1.0), "threshold must be finite and >= 0"),
        (lambda: free_bits(kl, float("inf")), "threshold must be finite and >= 0"),
        (lambda: free_bits(kl, 0.1, reduction="max"), "reduction must be 'mean' or 'sum'"),
        (lambda: free_bits(kl, 0.1, "total", mask=torch.ones(3, 2, dtype=torch.bool),
                           reduction="sum"), "ambiguous for mode='total'"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    # "total" with a mask is fine with the mean reduction, and "sum" without a mask
    assert torch.isfinite(free_bits(kl, 0.1, "total", mask=torch.ones(3, 2, dtype=torch.bool)))
    torch.testing.assert_close(free_bits(kl, 0.0, "total", reduction="sum"), kl.sum())
