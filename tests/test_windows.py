"""Windowed training (truncated back-propagation through time) and snapshot-parallel encoding:
the exact paths equal the full computation."""

from __future__ import annotations

import pytest
import torch

import dyngraphvae.models.encoding as encoding
from dyngraphvae.data import TemporalGraph
from dyngraphvae.data.synthetic import dynamic_sbm
from dyngraphvae.models.config import ForecasterConfig
from dyngraphvae.models.encoding import gru_from_input
from dyngraphvae.models.forecaster import TemporalGraphVAE
from dyngraphvae.training import TrainConfig, fit
from dyngraphvae.training.lightning_module import GraphSequenceDataModule

torch.set_num_threads(1)


def sbm(T: int = 8, **kw) -> TemporalGraph:
    return dynamic_sbm(num_nodes=20, num_snapshots=T, num_communities=2, num_features=3, seed=1,
                       **kw)


def weighted_masked_graph(directed: bool) -> TemporalGraph:
    gen = torch.Generator().manual_seed(4)
    n, T = 12, 5
    edges, weights, mask = [], [], torch.rand(T, n, generator=gen) > 0.2
    for t in range(T):
        a = torch.rand(n, n, generator=gen) < 0.3
        a &= mask[t].unsqueeze(0) & mask[t].unsqueeze(1)
        a.fill_diagonal_(False)
        if not directed:
            a = torch.triu(a, 1)
        e = a.nonzero().t()
        edges.append(e)
        weights.append(torch.rand(e.size(1), generator=gen) + 0.5)
    x = torch.randn(T, n, 2, generator=gen)
    return TemporalGraph(edges, n, directed=directed, edge_weights=weights, x=x, node_mask=mask)


def model_for(g: TemporalGraph, **kw) -> TemporalGraphVAE:
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4, **kw)
    return TemporalGraphVAE(cfg)


# ---------------------------------------------------------------------------- encoding
def test_gru_from_the_input_projection_equals_grucell():
    cell = torch.nn.GRUCell(5, 7)
    x, h = torch.randn(11, 5), torch.randn(11, 7)
    gi = torch.nn.functional.linear(x, cell.weight_ih, cell.bias_ih)
    torch.testing.assert_close(gru_from_input(gi, h, cell), cell(x, h), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("directed", [False, True])
@pytest.mark.parametrize("encoder", ["gcn", "sage", "gat"])
def test_snapshot_parallel_encoding_equals_one_snapshot_at_a_time(monkeypatch, directed,
                                                                  encoder):
    """All snapshots in one call on the disjoint union (weights, node masks, features) give the
    summaries and gradients of the per-snapshot calls."""
    g = weighted_masked_graph(directed)
    m = model_for(g, encoder=encoder, node_input="both")

    def run(rows: int):
        monkeypatch.setitem(encoding.ENCODE_BLOCK_ROWS, "cpu", rows)
        m.zero_grad()
        hs = m._summaries(g)
        (torch.stack(hs) * torch.linspace(-1, 1, 8)).sum().backward()
        return torch.stack(hs).detach(), [p.grad.clone() for p in m.parameters()
                                          if p.grad is not None]

    h1, g1 = run(1)  # one snapshot per call
    hb, gb = run(1 << 20)  # all five in one call
    h2, g2 = run(2 * g.num_nodes)  # blocks of two (the last one shorter)
    assert len(g1) == len(gb) > 0
    for h, grads in ((hb, gb), (h2, g2)):
        torch.testing.assert_close(h, h1, rtol=1e-5, atol=1e-6)
        for a, b in zip(grads, g1, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_a_negative_weight_is_named_by_snapshot_in_a_block(monkeypatch):
    g = weighted_masked_graph(False)
    w = [x.clone() for x in g.edge_weights]
    w[3][0] = -1.0
    bad = TemporalGraph([g.edges(t) for t in range(len(g))], g.num_nodes, edge_weights=w)
    m = model_for(bad)
    monkeypatch.setitem(encoding.ENCODE_BLOCK_ROWS, "cpu", 1 << 20)
    with pytest.raises(ValueError, match="snapshot 3"):
        m._summaries(bad)


# ---------------------------------------------------------------------------- chain starts
@pytest.mark.parametrize("context", ["none", "pair_history"])
def test_filter_states_are_the_filtered_states_of_each_prefix(context):
    g = sbm()
    m = model_for(g, decoder_context=context)
    states = m.filter_states(g, [0, 3, 8], num_samples=2,
                             generator=torch.Generator().manual_seed(5))
    assert sorted(states) == [0, 3, 8]
    h = m.summarise(g)
    for T in (3, 8):
        ref = m.filter(g[:T], 2, generator=torch.Generator().manual_seed(5))
        torch.testing.assert_close(states[T].z, ref.z)
        torch.testing.assert_close(states[T].summary, h[T - 1])
        assert states[T].num_snapshots == T
        if context != "none":
            want = m.decoder_context(g, T).edges
            got = states[T].context.edges
            assert torch.equal(got.keys, want.keys)
            torch.testing.assert_close(got.rate_history, want.rate_history)
    assert states[0].summary is None and torch.equal(states[0].z[0], m.initial_latent())
    with pytest.raises(ValueError, match="at must lie in"):
        m.filter_states(g, [9])


@pytest.mark.parametrize("context", ["none", "pair_history"])
def test_window_elbos_add_up_to_the_whole_sequence(context):
    """With a deterministic chain (no sampling noise) and the exact dense likelihood, the ELBO of
    the sequence is the sum of the ELBOs of its windows, each started from the filtered state
    before it: the windows cut the back-propagation, not the model."""
    g = sbm(T=9)
    m = model_for(g, decoder_context=context, deterministic=True, adjacency="dense")
    if m.edge_context is not None:  # a context that matters (it starts at zero)
        with torch.no_grad():
            for p in m.edge_context.parameters():
                p.normal_(0.0, 0.5)
    full = m.elbo(g, reduction="sum")
    cuts = [0, 2, 6, 9]
    st = m.filter_states(g, cuts[:-1])
    spans = zip(cuts[:-1], cuts[1:], strict=True)
    parts = [m.elbo(g[a:b], start=st[a], reduction="sum") for a, b in spans]
    torch.testing.assert_close(sum(p.elbo for p in parts), full.elbo, rtol=1e-5, atol=1e-3)
    per_step = torch.cat([p.per_step_elbo for p in parts])
    torch.testing.assert_close(per_step, full.per_step_elbo, rtol=1e-5, atol=1e-3)


def test_window_start_gets_no_gradient_and_shapes_are_checked():
    g = sbm()
    m = model_for(g)
    with torch.no_grad():
        st = m.filter_states(g, [4])[4]
    out = m.elbo(g[4:], start=st)
    out.loss.backward()
    assert m.z0.grad is None or float(m.z0.grad.abs().sum()) == 0.0
    bad = type(st)(z=st.z.expand(3, *st.z.shape[1:]), posterior=None, summary=st.summary,
                   num_snapshots=4)
    with pytest.raises(ValueError, match="start.z must have shape"):
        m.elbo(g[4:], num_samples=2, start=bad)
    with pytest.raises(TypeError, match="FilterState"):
        m.elbo(g[4:], start=st.z)


# ---------------------------------------------------------------------------- training
def test_windows_tile_each_sequence_and_make_steps():
    g = sbm(T=8)
    dm = GraphSequenceDataModule.from_graph(g, 1, window=3)
    assert dm.windows(0) == [(0, 3), (3, 6), (6, 7)]
    items = dm.train_items()
    assert [(i.start, i.stop) for i in items] == [(0, 3), (3, 6), (6, 7)]
    whole = GraphSequenceDataModule.from_graph(g, 1).train_items()
    assert len(whole) == 1 and not whole[0].windowed
    with pytest.raises(ValueError, match="window"):
        TrainConfig(window=0)
    with pytest.raises(ValueError, match="no reconstruction gradient"):
        TrainConfig(window=1)


def test_windowed_fit_takes_one_step_per_window_and_resumes_exactly(tmp_path):
    g = sbm(T=10)
    mc = ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                    decoder_context="pair_history")
    kw = dict(progress_bar=False, val_snapshots=2, lr=2e-2, window=3, patience=None,
              num_samples=2, teacher_forcing={"kind": "linear", "c": 0.1, "floor": 0.5})
    full = fit(mc, TrainConfig(epochs=4, **kw), g, tmp_path / "full")
    # 8 training snapshots in windows of 3: (0,3), (3,6), (6,8) -> 3 optimizer steps per epoch
    last = torch.load(full.last_checkpoint, weights_only=True)
    assert last["global_step"] == 12
    half = fit(mc, TrainConfig(epochs=2, **kw), g, tmp_path / "half")
    assert torch.load(half.last_checkpoint, weights_only=True)["global_step"] == 6
    resumed = fit(mc, TrainConfig(epochs=4, **kw), g, tmp_path / "half", resume="last")
    a = torch.load(full.last_checkpoint, weights_only=True)["state_dict"]
    b = torch.load(resumed.last_checkpoint, weights_only=True)["state_dict"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # the best epoch (2) lies before the resume point: the resumed run must keep it (the last
    # checkpoint once stored the best-model state of the epoch before)
    scores = [h["val/elbo_per_step"] for h in full.history if "val/elbo_per_step" in h]
    assert scores.index(max(scores)) < 2
    assert full.best_score == resumed.best_score == max(scores)


def test_windowed_training_learns(tmp_path):
    """On the SBM the windowed run reaches a validation ELBO at least as good as whole-sequence
    training after the same number of passes (it takes more, smaller steps)."""
    g = sbm(T=12)
    mc = ForecasterConfig.for_graph(g, latent_dim=4, hidden_dim=16, node_embedding_dim=8)
    kw = dict(progress_bar=False, val_snapshots=2, lr=1e-2, patience=None, epochs=15)
    whole = fit(mc, TrainConfig(**kw), g, tmp_path / "whole")
    windowed = fit(mc, TrainConfig(window=2, **kw), g, tmp_path / "win")
    first = whole.history[0]["val/elbo_per_step"]
    assert windowed.best_score > first
    assert windowed.best_score >= whole.best_score - 1.0


# ---------------------------------------------------------------------------- progress
def test_run_eta_is_the_mean_epoch_time_times_the_epochs_left():
    from dyngraphvae.training.progress_bar import run_eta

    assert run_eta(30.0, 3, 10) == "run ≤ 1:10 left"
    assert run_eta(7200.0, 1, 3) == "run ≤ 4:00:00 left"
    assert run_eta(5.0, 0, 10) == "" and run_eta(5.0, 10, 10) == ""


def test_fit_draws_the_run_progress_bar_when_asked(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("DYNGRAPHVAE_PROGRESS", "1")
    g = sbm(T=6)
    mc = ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4)
    fit(mc, TrainConfig(epochs=3, window=2, val_snapshots=1, patience=None), g, tmp_path / "r")
    cap = capfd.readouterr()
    err = cap.out + cap.err
    assert "Epoch 3/3 (run ≤ " in err and "it/s" in err


# ---------------------------------------------------------------------------- active nodes
def sparse_activity_graph(directed: bool, weighted: bool, features: bool) -> TemporalGraph:
    """Few active nodes per step (most node-steps have no edge)."""
    gen = torch.Generator().manual_seed(7)
    n, T = 30, 6
    edges, weights = [], []
    for _ in range(T):
        u = torch.randint(0, n, (5,), generator=gen)
        v = (u + torch.randint(1, n, (5,), generator=gen)) % n
        e = torch.stack([u, v]) if directed else torch.stack([u.minimum(v), u.maximum(v)])
        e = e.unique(dim=1)
        edges.append(e)
        weights.append(torch.rand(e.size(1), generator=gen) + 0.5)
    x = torch.randn(n, 3, generator=gen) if features else None
    return TemporalGraph(edges, n, directed=directed, edge_weights=weights if weighted else None,
                         x=x)


@pytest.mark.parametrize("encoder", ["gcn", "sage", "gat", "gin", "graphconv"])
@pytest.mark.parametrize("directed,weighted,features", [(False, True, False),
                                                        (True, False, True)])
def test_active_node_encoding_equals_the_full_encoding(monkeypatch, encoder, directed, weighted,
                                                       features):
    """Running the GNN on the active nodes only (and the no-edge encoding, once, for the rest)
    gives the summaries and gradients of encoding every node at every step."""
    g = sparse_activity_graph(directed, weighted, features)
    m = model_for(g, encoder=encoder, node_input="both" if features else "learned")
    assert encoding._active_sets(m, g) is not None

    def run(active: bool):
        monkeypatch.setattr(encoding, "ACTIVE_FRACTION", 1.0 if active else 0.0)
        assert (encoding._active_sets(m, g) is not None) is active
        m.zero_grad()
        hs = torch.stack(m._summaries(g))
        (hs * torch.linspace(-1, 1, 8)).sum().backward()
        return hs.detach(), {k: p.grad.clone() for k, p in m.named_parameters()
                             if p.grad is not None}

    h_full, g_full = run(False)
    h_act, g_act = run(True)
    torch.testing.assert_close(h_act, h_full, rtol=1e-5, atol=1e-6)
    assert g_act.keys() == g_full.keys() and g_full
    for k in g_full:
        torch.testing.assert_close(g_act[k], g_full[k], rtol=1e-4, atol=1e-6, msg=k)


def test_active_path_is_not_taken_where_it_would_not_be_exact():
    g = weighted_masked_graph(False)  # per-step features and a node mask
    assert encoding._active_sets(model_for(g), g) is None
    dense = sbm()  # most nodes active
    assert encoding._active_sets(model_for(dense), dense) is None


def test_for_graph_uses_the_sparse_likelihood_above_a_thousand_nodes():
    from dyngraphvae.models.config import RECIPE_DENSE_MAX_NODES

    def empty(n: int) -> TemporalGraph:
        return TemporalGraph([torch.zeros(2, 0, dtype=torch.long)] * 2, n)

    assert RECIPE_DENSE_MAX_NODES == 1000
    assert ForecasterConfig.for_graph(empty(1000)).adjacency == "auto"
    assert ForecasterConfig.for_graph(empty(1001)).adjacency == "sparse"
    assert ForecasterConfig.for_graph(empty(1001), adjacency="dense").adjacency == "dense"
