"""Decoder weakening (dropping teacher-forced inputs)."""

import pytest
import torch

from dyngraphvae.collapse import InputDropout, drop_edges, drop_inputs


def test_rate_and_whole_inputs_replaced():
    x = torch.randn(4000, 5) + 3.0
    g = torch.Generator().manual_seed(0)
    y, keep = drop_inputs(x, 0.3, generator=g, return_mask=True)
    assert keep.shape == (4000,)
    # binomial(4000, 0.7): sd ~ 29 -> 5 sd tolerance
    assert abs(int(keep.sum()) - 2800) < 150
    torch.testing.assert_close(y[keep], x[keep])  # kept inputs untouched (no rescaling)
    assert torch.all(y[~keep] == 0)  # dropped inputs fully blanked


def test_eval_mode_and_rate_extremes():
    x = torch.randn(10, 3)
    assert drop_inputs(x, 0.9, training=False) is x
    assert torch.equal(drop_inputs(x, 0.0), x)
    assert torch.all(drop_inputs(x, 1.0) == 0)


def test_share_over_drops_whole_snapshots():
    x = torch.randn(50, 7, 2) + 1.0  # (T, N, F): previous-snapshot node features
    y, keep = drop_inputs(
        x, 0.5, share_over=-1, generator=torch.Generator().manual_seed(1), return_mask=True
    )
    assert torch.all(keep == keep[:, :1])  # one coin per snapshot
    assert 0 < int(keep[:, 0].sum()) < 50


def test_learned_blank_module_gets_gradient():
    mod = InputDropout(3, rate=1.0, blank="learned")
    x = torch.randn(8, 3)
    out = mod(x)
    out.sum().backward()
    assert torch.allclose(mod.null.grad, torch.full((3,), 8.0))
    mod.eval()
    assert torch.equal(mod(x), x)


def test_drop_edges_keeps_weights_aligned():
    ei = torch.stack([torch.arange(1000), torch.arange(1000) + 1])
    w = torch.arange(1000, dtype=torch.float)
    ei2, w2 = drop_edges(ei, 0.4, edge_weight=w, generator=torch.Generator().manual_seed(2))
    assert abs(ei2.shape[1] - 600) < 80
    torch.testing.assert_close(w2, ei2[0].float())  # the weight of edge (u, u+1) is u
    assert drop_edges(ei, 0.4, training=False)[0] is ei


def test_bad_arguments():
    with pytest.raises(ValueError, match="rate"):
        drop_inputs(torch.zeros(2, 2), 1.5)
    with pytest.raises(ValueError, match="edge_index"):
        drop_edges(torch.zeros(3, 2, dtype=torch.long), 0.1)
    with pytest.raises(ValueError, match="share_over"):
        drop_inputs(torch.zeros(2, 2), 0.1, share_over=1)
