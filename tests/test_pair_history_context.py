"""The pair-history decoder context: decayed pair counts and degrees at several rates against a
hand recursion over the raw edges; the sparse (pair) and dense logits agree; the term is exactly
the linear function of the hand-built features (a logistic regression on pair history as a special
case); with zero weights the model is the "history" model; in a rollout the sampled graph feeds
the degrees and the recencies; the recency equals the regression's feature."""

from __future__ import annotations

import pytest
import torch

from dyngraphvae.data.synthetic import dynamic_sbm
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE

torch.set_num_threads(1)
RATES = (0.5, 0.9)


def _random_graph(n: int, t: int, directed: bool, seed: int) -> TemporalGraph:
    g = torch.Generator().manual_seed(seed)
    snaps = []
    for _ in range(t):
        a = torch.rand(n, n, generator=g) < 0.25
        a.fill_diagonal_(False)
        if not directed:
            a = torch.triu(a, 1)
        snaps.append(a.nonzero().t())
    return TemporalGraph(snaps, n, directed=directed)


def _hand_features(graph: TemporalGraph, upto: int):
    """C[r, u, v], D_out[r, v], D_in[r, v] after snapshots 0..upto-1, by plain loops."""
    return _hand_features_and_recency(graph, upto)[:3]


def _hand_features_and_recency(graph: TemporalGraph, upto: int):
    """``_hand_features`` and the recency ρ[v] = upto - (last snapshot with an edge at v), or
    upto + 1 if none."""
    n, R = graph.num_nodes, len(RATES)
    C = torch.zeros(R, n, n)
    dout, din = torch.zeros(R, n), torch.zeros(R, n)
    rho = torch.full((n,), float(upto + 1))
    for s in range(upto):
        a = torch.zeros(n, n)
        e = graph.edges(s)
        a[e[0], e[1]] = 1.0
        rho[e.flatten()] = float(upto - s)
        if not graph.directed:
            a = ((a + a.t()) > 0).float()
        for i, r in enumerate(RATES):
            C[i] = a + r * C[i]
            if graph.directed:
                dout[i] = a.sum(1) + r * dout[i]
                din[i] = a.sum(0) + r * din[i]
            else:
                dout[i] = a.sum(1) + r * dout[i]
                din[i] = dout[i]
    return C, dout, din, rho


def _model(graph, **kw):
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(graph, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     history_rates=RATES, **kw)
    return TemporalGraphVAE(cfg)


@pytest.mark.parametrize("directed", [True, False])
def test_decayed_counts_and_degrees_follow_the_hand_recursion(directed):
    g = _random_graph(9, 5, directed, seed=1)
    model = _model(g, decoder_context="pair_history")
    ctx = model.decoder_context(g, 5).edges  # after snapshots 0..4
    C, dout, din = _hand_features(g, 5)
    b, u, v = ctx.coords()
    for i in range(len(RATES)):
        torch.testing.assert_close(ctx.rate_history[:, i], C[i, u, v])
        torch.testing.assert_close(ctx.node_activity[0, :, 0, i], dout[i])
        torch.testing.assert_close(ctx.node_activity[0, :, 1, i], din[i])
    # every pair with a non-zero count is stored
    assert int((C[0] > 0).sum()) == (ctx.keys.numel() * (1 if directed else 2))


@pytest.mark.parametrize("directed", [True, False])
def test_recency_is_the_regressions_recency_feature(directed):
    """The context's recency equals the hand count and the pair-history regression's own
    recency features (columns 12, 13 are log(1 + ρ)), at every prefix, with quiet nodes."""
    from dyngraphvae.evaluation.pair_history import pair_history_features

    g = _random_graph(9, 6, directed, seed=5)
    # node 0 never active, node 1 active only at snapshot 1: long quiet spells
    snaps = [g.edges(s)[:, (g.edges(s) > 1).all(0)] for s in range(6)]
    snaps[1] = torch.cat([snaps[1], torch.tensor([[1], [4]])], 1)
    g = TemporalGraph(snaps, 9, directed=directed)
    model = _model(g, decoder_context="pair_history")
    pairs = torch.tensor([[0, 1, 2, 3], [1, 5, 0, 8]])
    for upto in range(1, 7):
        rho = _hand_features_and_recency(g, upto)[3]
        ctx = model.decoder_context(g, upto).edges
        torch.testing.assert_close(ctx.node_recency[0], rho)
        reg = pair_history_features(g[:upto], pairs)
        torch.testing.assert_close(reg[:, 12].float(), rho[pairs[0]].log1p())
        torch.testing.assert_close(reg[:, 13].float(), rho[pairs[1]].log1p())
    assert float(rho[0]) == 7.0 and float(rho[1]) == 5.0


@pytest.mark.parametrize("directed", [True, False])
def test_the_term_is_the_linear_function_of_the_hand_features(directed):
    g = _random_graph(8, 4, directed, seed=2)
    model = _model(g, decoder_context="pair_history")
    term = model.edge_context
    with torch.no_grad():
        for p in term.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    ctx = model.decoder_context(g, 4).edges
    C, dout, din, rho = _hand_features_and_recency(g, 4)
    a_prev = torch.zeros(8, 8)
    e = g.edges(3)
    a_prev[e[0], e[1]] = 1.0
    if not directed:
        a_prev = ((a_prev + a_prev.t()) > 0).float()
    H = torch.zeros(8, 8)
    for s in range(4):
        a = torch.zeros(8, 8)
        es = g.edges(s)
        a[es[0], es[1]] = 1.0
        if not directed:
            a = ((a + a.t()) > 0).float()
        H = a + model.config.history_decay * H
    lc, lo, li = C.log1p(), dout.log1p(), din.log1p()
    tw = term.target_weight if directed else term.source_weight
    want = term.previous_weight * a_prev + term.history_weight * H
    want = want + torch.einsum("r,ruv->uv", term.pair_weight, lc)
    if directed:
        want = want + torch.einsum("r,rvu->uv", term.reverse_weight, lc)
    want = want + (term.source_weight @ lo).unsqueeze(1) + (tw @ li).unsqueeze(0)
    want = want + torch.einsum("r,ru,rv->uv", term.product_weight, lo, li)
    rw = term.recency_target_weight if directed else term.recency_weight
    want = want + term.recency_weight * rho.log1p().unsqueeze(1) + rw * rho.log1p().unsqueeze(0)
    off = ~torch.eye(8, dtype=torch.bool)
    dense = term.dense_logits(ctx)[0]
    torch.testing.assert_close(dense[off], want[off].detach())
    pairs = off.nonzero().t()
    torch.testing.assert_close(term.pair_logits(ctx, pairs)[0], want[off].detach())


def test_zero_weights_give_the_history_model():
    g = dynamic_sbm(num_nodes=16, num_snapshots=5, num_features=0, seed=3)
    a = _model(g, decoder_context="history")
    b = _model(g, decoder_context="pair_history")
    ea = a.elbo(g, num_samples=2, adjacency="dense", generator=torch.Generator().manual_seed(0))
    eb = b.elbo(g, num_samples=2, adjacency="dense", generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ea.elbo, eb.elbo)
    for w in ("source_weight", "recency_weight"):
        with torch.no_grad():
            b.edge_context.source_weight.zero_()
            getattr(b.edge_context, w).fill_(0.3)
        ec = b.elbo(g, num_samples=2, adjacency="dense",
                    generator=torch.Generator().manual_seed(0))
        assert float((ec.elbo - ea.elbo).abs().detach()) > 1e-3, w


def test_rollout_feeds_the_sampled_graph_to_the_degrees():
    g = _random_graph(10, 4, True, seed=4)
    model = _model(g, decoder_context="pair_history").eval()
    fc = model.forecast(g, 2, 3, generator=torch.Generator().manual_seed(0))
    c0, c1 = fc.contexts[0].edges, fc.contexts[1].edges
    e = fc.sampled_edges  # (4, E): sample, k, u, v
    for s in range(3):
        step0 = e[:, (e[0] == s) & (e[1] == 0)]
        deg_out = torch.zeros(10).index_add_(0, step0[2], torch.ones(step0.size(1)))
        for i, r in enumerate(RATES):
            want = deg_out + r * c0.node_activity.expand(3, -1, -1, -1)[s, :, 0, i]
            torch.testing.assert_close(c1.node_activity[s, :, 0, i], want)
        active = torch.zeros(10, dtype=torch.bool)
        active[step0[2:].flatten()] = True
        want = torch.where(active, 1.0, c0.node_recency.expand(3, -1)[s] + 1)
        torch.testing.assert_close(c1.node_recency[s], want)


@pytest.mark.parametrize("directed", [True, False])
def test_rate_one_is_the_regressions_undecayed_counts(directed):
    """With ``r = 1`` the context carries the regression's undecayed features: the count of
    snapshots with the pair (each direction; undirected: either) and the endpoints' summed
    degrees (columns 0-2, 6, 7 of ``pair_history_features`` are log(1 + x))."""
    from dyngraphvae.evaluation.pair_history import pair_history_features

    g = _random_graph(9, 6, directed, seed=7)
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     history_rates=(0.5, 1.0), decoder_context="pair_history")
    model = TemporalGraphVAE(cfg)
    term, ctx = model.context_term(), model.decoder_context(g, 6).edges
    pairs = torch.tensor([[0, 1, 2, 3, 4, 8], [1, 5, 0, 8, 2, 7]])
    reg = pair_history_features(g, pairs).float()
    feats = term.pair_features(ctx, pairs)[0]  # A, H, C^r(u,v) [, C^r(v,u)], degrees, ...
    col = 2 if cfg.context_decay is not None else 1
    torch.testing.assert_close(feats[:, col + 1], reg[:, 1 if directed else 0])
    if directed:
        torch.testing.assert_close(feats[:, col + 3], reg[:, 2])
        src = ctx.node_activity[0, :, 0, 1].log1p()
        dst = ctx.node_activity[0, :, 1, 1].log1p()
        torch.testing.assert_close(src[pairs[0]], reg[:, 6])
        torch.testing.assert_close(dst[pairs[1]], reg[:, 7])
    else:
        deg = ctx.node_activity[0, :, 0, 1].log1p()
        torch.testing.assert_close(deg[pairs[0]], reg[:, 8])
    with pytest.raises(ValueError, match="history_rates"):
        ForecasterConfig.for_graph(g, history_rates=(0.5, 1.5), decoder_context="pair_history")
