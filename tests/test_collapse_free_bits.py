"""Free bits: values against a direct formula and gradients by autograd."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dyngraphvae.collapse import free_bits, free_bits_units


def test_dimension_mode_values_and_gradients():
    # batch-mean KL per dimension: [0.05, 0.5, 0.2]; lambda = 0.25 -> 0.25 + 0.5 + 0.25
    kl = torch.tensor([[0.0, 0.4, 0.3], [0.1, 0.6, 0.1]], requires_grad=True)
    out = free_bits(kl, 0.25, mode="dimension")
    assert out.item() == pytest.approx(1.0)
    out.backward()
    # below threshold: zero gradient; above: d mean / d kl_ij = 1/B
    expected = torch.tensor([[0.0, 0.5, 0.0], [0.0, 0.5, 0.0]])
    torch.testing.assert_close(kl.grad, expected)


def test_threshold_zero_is_mean_total_kl():
    kl = torch.rand(7, 5, 3, generator=torch.Generator().manual_seed(0))
    for mode in ["dimension", "node", "total"]:
        assert free_bits(kl, 0.0, mode=mode).item() == pytest.approx(
            (kl.sum() / 7).item(), rel=1e-6
        )
        assert free_bits(kl, 0.0, mode=mode, reduction="sum").item() == pytest.approx(
            kl.sum().item(), rel=1e-6
        )


def test_node_mode_graph_latents():
    # (T, N, d) = (2, 3, 2): per-node batch-mean KL summed over d: node0 0.1, node1 1.0, node2 0.3
    kl = torch.tensor(
        [[[0.05, 0.05], [0.5, 0.5], [0.1, 0.1]], [[0.05, 0.05], [0.5, 0.5], [0.2, 0.2]]],
        requires_grad=True,
    )
    units = free_bits_units(kl, "node")
    torch.testing.assert_close(units, torch.tensor([0.1, 1.0, 0.3]))
    out = free_bits(kl, 0.2, mode="node")
    assert out.item() == pytest.approx(0.2 + 1.0 + 0.3)
    out.backward()
    g = kl.grad
    assert torch.all(g[:, 0] == 0)  # node 0 below threshold
    torch.testing.assert_close(g[:, 1:], torch.full((2, 2, 2), 0.5))


def test_group_mode_and_total_mode():
    kl = torch.tensor([[0.1, 0.2, 1.0, 0.0], [0.1, 0.0, 1.0, 0.2]], requires_grad=True)
    groups = torch.tensor([0, 0, 1, 1])  # group0 mean 0.2, group1 mean 1.1
    out = free_bits(kl, 0.5, mode="group", groups=groups)
    assert out.item() == pytest.approx(0.5 + 1.1)
    out.backward()
    torch.testing.assert_close(kl.grad, torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.5]]))
    same = free_bits(kl.detach(), 0.5, mode="group", groups=[[0, 1], [2, 3]])
    assert same.item() == pytest.approx(out.item())
    # total: batch-mean total KL 1.3 -> above 1.0 keeps it, below 2.0 floors it
    assert free_bits(kl.detach(), 1.0, mode="total").item() == pytest.approx(1.3)
    assert free_bits(kl.detach(), 2.0, mode="total").item() == pytest.approx(2.0)


def test_mask_excludes_absent_nodes():
    kl = torch.tensor([[[1.0], [0.3]], [[9.0], [0.1]]])  # (T=2, N=2, d=1)
    mask = torch.tensor([[True, True], [False, True]])  # node 0 absent at t=1
    units = free_bits_units(kl, "dimension", mask=mask)
    torch.testing.assert_close(units, torch.tensor([[1.0], [0.2]]))
    out = free_bits(kl, 0.25, mode="dimension", mask=mask, reduction="sum")
    # node0: 1 datapoint * max(.25, 1.0); node1: 2 datapoints * max(.25, .2)
    assert out.item() == pytest.approx(1.0 + 2 * 0.25)


@settings(max_examples=50, deadline=None)
@given(
    b=st.integers(1, 6), d=st.integers(1, 6), lam=st.floats(0.0, 2.0), seed=st.integers(0, 10_000)
)
def test_matches_direct_formula_and_gradient_mask(b, d, lam, seed):
    kl = torch.rand(b, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2
    kl.requires_grad_(True)
    out = free_bits(kl, lam)
    mean = kl.detach().mean(0)
    assert out.item() == pytest.approx(
        torch.maximum(mean, torch.tensor(lam, dtype=torch.float64)).sum().item(), abs=1e-12
    )
    out.backward()
    above = (mean > lam).to(kl.dtype)
    torch.testing.assert_close(kl.grad, above.expand(b, d) / b)


def test_bad_inputs():
    kl = torch.rand(4, 3)
    with pytest.raises(ValueError, match="mode"):
        free_bits(kl, 0.1, mode="unit")
    with pytest.raises(ValueError, match="threshold"):
        free_bits(kl, -1.0)
    with pytest.raises(ValueError, match="groups"):
        free_bits(kl, 0.1, mode="group")
    with pytest.raises(ValueError, match="partition"):
        free_bits(kl, 0.1, mode="group", groups=[[0, 1]])
    with pytest.raises(ValueError, match="node dimension"):
        free_bits(kl, 0.1, mode="node")
    with pytest.raises(ValueError, match="non-finite"):
        free_bits(torch.tensor([[float("nan")]]), 0.1)
    with pytest.raises(ValueError, match="mask"):
        free_bits(kl, 0.1, mask=torch.ones(3, dtype=torch.bool))
