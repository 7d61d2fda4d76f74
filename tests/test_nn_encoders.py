"""Snapshot encoders, node inputs and the posterior head."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Independent, Normal
from torch_geometric.nn import GINConv, SAGEConv

from dyngraphvae.data import TemporalGraph
from dyngraphvae.nn import CONV_EDGE_WEIGHT_USE, NodeInput, PosteriorHead, SnapshotEncoder
from dyngraphvae.nn.encoders import WeightedGINConv, WeightedSAGEConv

CONVS = sorted(CONV_EDGE_WEIGHT_USE)


def _snapshot(seed=0, n=10, e=24, f=5):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, f, generator=gen)
    src = torch.randint(0, n, (e,), generator=gen)
    dst = (src + torch.randint(1, n, (e,), generator=gen)) % n  # no self-loops
    w = torch.rand(e, generator=gen) + 0.5
    return x, torch.stack([src, dst]), w


@pytest.mark.parametrize("conv", CONVS)
@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_encoder_runs_with_and_without_weights(conv, num_layers):
    torch.manual_seed(0)
    x, ei, w = _snapshot()
    enc = SnapshotEncoder(5, 8, 4, conv=conv, num_layers=num_layers)
    assert len(enc.convs) == num_layers
    h0, h1 = enc(x, ei), enc(x, ei, w)
    assert h0.shape == h1.shape == (10, 4)
    assert torch.isfinite(h0).all() and torch.isfinite(h1).all()
    # Edge weights are used (non-unit weights change the output) ...
    assert (h0 - h1).abs().max() > 1e-4
    # ... and no weights means unit weights.
    torch.testing.assert_close(h0, enc(x, ei, torch.ones(ei.size(1))))


@pytest.mark.parametrize("conv", CONVS)
def test_encoder_gradients_reach_every_parameter_and_input(conv):
    torch.manual_seed(1)
    x, ei, w = _snapshot(1)
    x.requires_grad_(True)
    enc = SnapshotEncoder(5, 8, 4, conv=conv, num_layers=2)
    enc(x, ei, w).pow(2).sum().backward()
    assert x.grad.abs().sum() > 0
    missing = [n for n, p in enc.named_parameters() if p.grad is None]
    assert not missing, missing


@pytest.mark.parametrize("conv", ["gcn", "sage", "gin", "graphconv"])
def test_sparse_matmul_path_equals_message_passing(conv):
    x, ei, w = _snapshot(7)
    ei = torch.unique(ei, dim=1)  # directed, no repeats (as TemporalGraph guarantees)
    w = w[: ei.size(1)]
    x.requires_grad_(True)
    torch.manual_seed(0)
    ref = SnapshotEncoder(5, 8, 4, conv=conv, num_layers=2)
    torch.manual_seed(0)
    fast = SnapshotEncoder(5, 8, 4, conv=conv, num_layers=2, sparse_matmul=True)
    for weight in (None, w):
        a, b = ref(x, ei, weight), fast(x, ei, weight)
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        ga = torch.autograd.grad(a.pow(2).sum(), [x, *ref.parameters()])
        gb = torch.autograd.grad(b.pow(2).sum(), [x, *fast.parameters()])
        for u, v in zip(ga, gb, strict=True):
            torch.testing.assert_close(u, v, rtol=1e-4, atol=1e-5)


def test_sparse_matmul_refused_for_gat():
    with pytest.raises(ValueError, match="gat"):
        SnapshotEncoder(5, 8, 4, conv="gat", sparse_matmul=True)


def test_gcn_matches_weighted_normalised_adjacency():
    torch.manual_seed(2)
    n = 6
    x = torch.randn(n, 3)
    ei = torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 4, 3]])
    w = torch.tensor([2.0, 2.0, 0.5, 0.5, 3.0, 3.0])
    enc = SnapshotEncoder(3, 4, 4, conv="gcn", num_layers=1)
    a = torch.zeros(n, n)
    a[ei[1], ei[0]] = w
    a = a + torch.eye(n)
    dinv = a.sum(1).rsqrt()
    lin = enc.convs[0].lin.weight
    want = dinv[:, None] * a * dinv[None, :] @ (x @ lin.T) + enc.convs[0].bias
    torch.testing.assert_close(enc(x, ei, w), want, rtol=1e-5, atol=1e-5)


def test_weighted_sage_equals_pyg_sage_at_unit_weights_and_weighted_mean_otherwise():
    torch.manual_seed(3)
    x, ei, w = _snapshot(3)
    ours = WeightedSAGEConv(5, 4)
    peer = SAGEConv(5, 4)
    peer.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x, ei), peer(x, ei))
    # Weighted mean: mean_u w_uv x_u, checked with a dense matrix.
    n = x.size(0)
    wa = torch.zeros(n, n).index_put_((ei[1], ei[0]), w, accumulate=True)
    cnt = torch.zeros(n, n).index_put_((ei[1], ei[0]), torch.ones_like(w), accumulate=True)
    agg = (wa @ x) / cnt.sum(1, keepdim=True).clamp(min=1)
    want = ours.lin_l(agg) + ours.lin_r(x)
    torch.testing.assert_close(ours(x, ei, w), want, rtol=1e-5, atol=1e-5)


def test_weighted_gin_equals_pyg_gin_at_unit_weights():
    torch.manual_seed(4)
    x, ei, w = _snapshot(4)
    mlp = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 4))
    ours, peer = WeightedGINConv(mlp, train_eps=True), GINConv(mlp, train_eps=True)
    peer.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x, ei), peer(x, ei))
    n = x.size(0)
    wa = torch.zeros(n, n).index_put_((ei[1], ei[0]), w, accumulate=True)
    torch.testing.assert_close(ours(x, ei, w), mlp(x + wa @ x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("conv", ["gcn", "gat", "sage"])
def test_encoder_on_a_temporal_graph_snapshot(conv):
    edges = [torch.tensor([[0, 1, 2], [1, 2, 3]]), torch.tensor([[0, 2], [3, 4]])]
    weights = [torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.5, 4.0])]
    g = TemporalGraph(edges, 5, edge_weights=weights, x=torch.randn(5, 2))
    node_input = NodeInput(5, 2, 3, mode="both")
    enc = SnapshotEncoder(node_input.out_channels, 8, 4, conv=conv)
    for t in range(len(g)):
        data = g[t]
        h = enc(node_input(data.x), data.edge_index, data.edge_weight)
        assert h.shape == (5, 4) and torch.isfinite(h).all()


def test_encoder_eval_is_deterministic_and_dropout_applies_in_training():
    torch.manual_seed(5)
    x, ei, w = _snapshot(5)
    enc = SnapshotEncoder(5, 32, 4, conv="gcn", dropout=0.5)
    enc.eval()
    torch.testing.assert_close(enc(x, ei, w), enc(x, ei, w))
    enc.train()
    assert (enc(x, ei, w) - enc(x, ei, w)).abs().max() > 0


def test_encoder_reset_parameters_changes_weights():
    enc = SnapshotEncoder(5, 8, 4, conv="gin")
    before = [p.detach().clone() for p in enc.parameters()]
    enc.reset_parameters()
    assert any(not torch.equal(a, b) for a, b in zip(before, enc.parameters(), strict=True))


def test_encoder_bad_input():
    enc = SnapshotEncoder(5, 8, 4)
    x, ei, w = _snapshot()
    with pytest.raises(ValueError, match="conv"):
        SnapshotEncoder(5, 8, 4, conv="cheb")
    with pytest.raises(ValueError, match="num_layers"):
        SnapshotEncoder(5, 8, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 5\)"):
        enc(torch.randn(10, 3), ei)
    with pytest.raises(ValueError, match="edge_weight"):
        enc(x, ei, w[:-1])
    with pytest.raises(ValueError, match="edge_index"):
        enc(x, ei[0])


# ---------------------------------------------------------------- node inputs


def test_node_input_modes():
    n, f = 7, 3
    x = torch.randn(n, f)
    learned = NodeInput(n, 0, 4, mode="learned")
    assert learned.out_channels == 4 and learned().shape == (n, 4)
    assert learned().requires_grad
    ident = NodeInput(n, 0, 4, mode="identity")
    assert ident.out_channels == n
    torch.testing.assert_close(ident(), torch.eye(n))
    feats = NodeInput(n, f, 4, mode="features")
    assert feats.out_channels == f and torch.equal(feats(x), x)
    both = NodeInput(n, f, 4, mode="both")
    out = both(x)
    assert both.out_channels == f + 4 and out.shape == (n, f + 4)
    assert torch.equal(out[:, :f], x) and torch.equal(out[:, f:], both.embedding.weight)


def test_node_input_errors():
    with pytest.raises(ValueError, match="needs node features"):
        NodeInput(5, 0, 4, mode="features")
    with pytest.raises(ValueError, match="required"):
        NodeInput(5, 2, 4, mode="both")(None)
    with pytest.raises(ValueError, match=r"expected shape \(5, 2\)"):
        NodeInput(5, 2, 4, mode="features")(torch.randn(5, 3))
    with pytest.raises(ValueError, match="learned"):
        NodeInput(50_000, 0, 4, mode="identity")
    with pytest.raises(ValueError, match="mode"):
        NodeInput(5, 0, 4, mode="random")


# ---------------------------------------------------------------- posterior head


def test_posterior_head_broadcasts_over_samples_like_a_loop():
    torch.manual_seed(6)
    n, c, d, s = 8, 5, 3, 4
    head = PosteriorHead(c, d, 16, min_scale=1e-3)
    context = torch.randn(n, c)
    z = torch.randn(s, n, d)
    q = head(context, z)
    assert isinstance(q, Independent) and isinstance(q.base_dist, Normal)
    assert q.batch_shape == (s, n) and q.event_shape == (d,)
    for i in range(s):
        qi = head(context, z[i])
        torch.testing.assert_close(q.base_dist.loc[i], qi.base_dist.loc)
        torch.testing.assert_close(q.base_dist.scale[i], qi.base_dist.scale)
    # Also with a per-sample context.
    q2 = head(context.expand(s, n, c), z)
    torch.testing.assert_close(q2.base_dist.loc, q.base_dist.loc)
    # The posterior depends on Z_t (not only on the context).
    assert (q.base_dist.loc[0] - q.base_dist.loc[1]).abs().max() > 1e-4


def test_posterior_head_scale_floor_and_gradients():
    head = PosteriorHead(2, 2, 8, min_scale=1e-2)
    with torch.no_grad():
        head.scale.bias.fill_(-1e4)
    context = torch.randn(5, 2, requires_grad=True)
    q = head(context, torch.randn(5, 2))
    assert (q.base_dist.scale >= 1e-2).all()
    q.rsample().sum().backward()
    assert context.grad is not None


def test_posterior_head_bad_input():
    head = PosteriorHead(3, 2, 8)
    with pytest.raises(ValueError, match="context"):
        head(torch.randn(4, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="z: expected last dim 2"):
        head(torch.randn(4, 3), torch.randn(4, 3))


def test_gcn_refuses_negative_edge_weights_with_the_snapshot_named():
    # signed weights (bitcoin_alpha's ratings) make GCN degrees <= 0 and D^-1/2 NaN
    import dyngraphvae as dgv

    g = dgv.TemporalGraph(
        [torch.tensor([[0, 1], [1, 2]]), torch.tensor([[0, 1], [1, 2]])], 3,
        edge_weights=[torch.tensor([1.0, 2.0]), torch.tensor([-5.0, 1.0])],
    )
    model = dgv.TemporalGraphVAE(dgv.ForecasterConfig.for_graph(g, latent_dim=2, hidden_dim=4))
    with pytest.raises(ValueError, match=r"snapshot 1: edge_weight: GCN normalisation.*min -5"):
        model.elbo(g)
