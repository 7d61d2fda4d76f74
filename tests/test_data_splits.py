"""Temporal splits: deterministic, disjoint, negatives are non-edges, new-link sets exact."""

import os
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from dyngraphvae.data import (
    TemporalGraph,
    TemporalGraphError,
    chronological_split,
    dynamic_sbm,
    link_prediction_split,
    load_dataset,
    sample_non_edges,
    temporal_signal_split,
)


def shared_root() -> Path | None:
    env = os.environ.get("DYNGRAPHVAE_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
    return root if (root / "README.md").is_file() else None


def keys(pairs: torch.Tensor, n: int) -> set:
    return set((pairs[0] * n + pairs[1]).tolist())


def hand_made(directed: bool) -> TemporalGraph:
    e = [
        torch.tensor([[0, 1, 2], [1, 2, 3]]),
        torch.tensor([[0, 1, 3], [1, 3, 4]]),
        torch.tensor([[0, 2, 3], [1, 4, 4]]),
        torch.tensor([[1, 2, 3], [0, 4, 4]]),  # (1, 0): same as (0, 1) if undirected
        torch.tensor([[0, 1], [4, 2]]),
    ]
    return TemporalGraph(e, 6, directed=directed)


def test_chronological_and_signal_splits():
    g = dynamic_sbm(num_nodes=10, num_snapshots=20, num_features=0)
    tr, va, te = chronological_split(g)
    assert (len(tr), len(va), len(te)) == (14, 3, 3)
    assert tr == g.select(range(14)) and va == g.select(range(14, 17)) and te == g[17:]
    a, b = temporal_signal_split(g, 0.8)
    assert (len(a), len(b)) == (16, 4) and a == g[:16] and b == g[16:]
    assert len(temporal_signal_split(g[:7], 0.5)[0]) == 3  # int(0.5 * 7), as PyG Temporal
    with pytest.raises(TemporalGraphError, match=r"gives 2/0/1 snapshots"):
        chronological_split(g[:3])
    with pytest.raises(ValueError, match="train must be in"):
        chronological_split(g, train=1.2)


@pytest.mark.parametrize("directed", [False, True])
def test_new_link_sets_on_a_hand_made_example(directed):
    g = hand_made(directed)
    s = link_prediction_split(g, num_test=2, num_val=1)
    assert s.train_steps == [0, 1] and s.val_steps == [2] and s.test_steps == [3, 4]
    by_step = {e.step: e for e in s.val + s.test}
    if directed:
        expected_new = {2: [[2], [4]], 3: [[1], [0]], 4: [[0, 1], [4, 2]]}
    else:  # step 3: (1, 0) is the edge (0, 1) seen at step 2
        expected_new = {2: [[2], [4]], 3: [[], []], 4: [[0, 1], [4, 2]]}
    for t, pairs in expected_new.items():
        got = by_step[t].new_pos
        want = torch.tensor(pairs, dtype=torch.long).reshape(2, -1)
        if not directed:
            want = torch.stack([want.min(0).values, want.max(0).values]) if want.numel() else want
        assert keys(got, 6) == keys(want, 6), t
        assert by_step[t].new_neg.size(1) == got.size(1)
    assert keys(by_step[3].pos, 6) == keys(g.edges(3), 6)
    assert s.history(3) == g[:3]


@pytest.mark.parametrize("directed", [False, True])
def test_negatives_are_distinct_non_edges_and_split_is_deterministic(directed):
    g = dynamic_sbm(num_nodes=30, num_snapshots=8, num_features=0, seed=4)
    if directed:
        g = TemporalGraph(
            [g.edges(t, both_directions=True)[:, ::2] for t in range(8)], 30, directed=True
        )
    s = link_prediction_split(g, seed=7)
    again = link_prediction_split(g, seed=7)
    other = link_prediction_split(g, seed=8)
    assert set(s.train_steps).isdisjoint(s.val_steps + s.test_steps)
    assert set(s.val_steps).isdisjoint(s.test_steps)
    assert max(s.train_steps) < min(s.val_steps) and max(s.val_steps) < min(s.test_steps)
    for e, e2, e3 in zip(
        s.val + s.test, again.val + again.test, other.val + other.test, strict=True
    ):
        assert torch.equal(e.neg, e2.neg) and torch.equal(e.new_neg, e2.new_neg)
        assert not torch.equal(e.neg, e3.neg)
        for neg, pos in ((e.neg, e.pos), (e.new_neg, e.new_pos)):
            assert neg.size(1) == pos.size(1)
            assert (neg[0] != neg[1]).all()
            if not directed:
                assert (neg[0] < neg[1]).all()
            k = keys(neg, 30)
            assert len(k) == neg.size(1)  # distinct
            assert k.isdisjoint(keys(g.edges(e.step), 30))  # non-edges of that step
        pairs, labels = e.pairs_and_labels()
        assert pairs.size(1) == 2 * e.pos.size(1) and labels.sum() == e.pos.size(1)
    # test sets do not depend on the number of validation snapshots
    s2 = link_prediction_split(g, num_val=2, seed=7)
    assert all(torch.equal(a.neg, b.neg) for a, b in zip(s.test, s2.test, strict=True))


@settings(max_examples=30, deadline=None)
@given(st.integers(3, 12), st.data())
def test_sample_non_edges_property(n, data):
    directed = data.draw(st.booleans())
    total = n * (n - 1) if directed else n * (n - 1) // 2
    m = data.draw(st.integers(0, total))
    allp = (
        torch.ones(n, n, dtype=torch.bool).fill_diagonal_(False).nonzero().t()
        if directed
        else torch.triu_indices(n, n, 1)
    )
    perm = torch.randperm(allp.size(1), generator=torch.Generator().manual_seed(n + m))
    edges = allp[:, perm[:m]]
    k = data.draw(st.integers(0, total - m))
    neg = sample_non_edges(
        edges, n, k, directed=directed, generator=torch.Generator().manual_seed(0)
    )
    assert neg.size(1) == k and len(keys(neg, n)) == k
    assert keys(neg, n).isdisjoint(keys(edges, n)) and (neg[0] != neg[1]).all()
    with pytest.raises(TemporalGraphError, match="cannot sample"):
        sample_non_edges(edges, n, total - m + 1, directed=directed)


def test_rejection_sampler_is_uniform_over_non_edges():
    # 700 nodes: the rejection branch. Uniform pairs => every node is an endpoint equally
    # often (up to its few excluded edges): chi-square test on endpoint counts.
    n, k, draws = 700, 2000, 20
    edges = torch.tensor([[0, 1, 2], [1, 2, 3]])
    counts = torch.zeros(n)
    for s in range(draws):
        neg = sample_non_edges(edges, n, k, generator=torch.Generator().manual_seed(s))
        assert neg.size(1) == k and len(keys(neg, n)) == k
        counts += torch.bincount(neg.flatten(), minlength=n).float()
    degree_free = torch.full((n,), n - 1.0)
    degree_free[[0, 3]] -= 1
    degree_free[[1, 2]] -= 2
    expected = counts.sum() * degree_free / degree_free.sum()
    assert chisquare(counts.numpy(), expected.numpy()).pvalue > 1e-3


def test_node_mask_restricts_negatives_to_present_nodes():
    root = shared_root()
    if root is None:
        pytest.skip("data root ../shared/datasets (or $DYNGRAPHVAE_DATA) not found")
    g = load_dataset("dysat_enron", root=root)
    s = link_prediction_split(g)
    for e in s.val + s.test:
        present = g.node_mask[e.step]
        assert present[e.neg].all() and present[e.new_neg].all()
    enron = load_dataset("vgrnn_enron10", root=root)
    fr = [0.4367, 0.458, 0.4925]  # README: fraction of edges absent at t-1, steps 8..10
    split = link_prediction_split(enron)
    for e, f in zip(split.test, fr, strict=True):
        assert round(e.new_pos.size(1) / e.pos.size(1), 4) == f
    assert split.test_steps == [8, 9, 10] and split.val_steps == [7]
