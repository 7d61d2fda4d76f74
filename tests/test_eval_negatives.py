"""Historical / inductive negatives (Poursafaei et al. 2022) and EdgeBank, against their
definitions recomputed by hand and against closed-form AUCs."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dyngraphvae.data.splits import _pair_keys
from dyngraphvae.data.synthetic import dynamic_sbm
from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.evaluation.baselines import EdgeBankLinks
from dyngraphvae.evaluation.links import link_metrics, link_prediction_pairs
from dyngraphvae.evaluation.negatives import (
    candidate_negatives,
    corrupted_destinations,
    link_pairs,
    negative_pairs,
    seen_pair_keys,
)


def _graph(directed: bool = True) -> TemporalGraph:
    e = [
        [[0, 1], [1, 2]],  # t0: 0-1, 1-2
        [[0, 2], [2, 3]],  # t1: 0-2, 2-3
        [[3, 4], [4, 0]],  # t2: 3-4, 4-0
        [[0, 1], [1, 4]],  # t3: 0-1, 1-4
    ]
    return TemporalGraph([torch.tensor(x).t() for x in e], 5, directed=directed)


def _as_set(pairs: torch.Tensor) -> set[tuple[int, int]]:
    return {tuple(p) for p in pairs.t().tolist()}


def test_historical_candidates_are_past_pairs_absent_at_target():
    g = _graph()
    cand = candidate_negatives(g, 3, "historical")
    past = {(0, 1), (1, 2), (0, 2), (2, 3), (3, 4), (4, 0)}
    assert {(int(k) // 5, int(k) % 5) for k in cand} == past - {(0, 1), (1, 4)}


def test_history_end_limits_the_candidates_to_the_forecasters_history():
    g = _graph()
    # forecasting t3 from origin 2: t2's pairs (3-4, 4-0) are not history yet
    cand = candidate_negatives(g, 3, "historical", history_end=2)
    assert {(int(k) // 5, int(k) % 5) for k in cand} == {(1, 2), (0, 2), (2, 3)}
    with pytest.raises(ValueError, match="history_end must lie"):
        candidate_negatives(g, 2, "historical", history_end=3)
    # inductive: new after training (t1) and before the origin (t2)
    cand = candidate_negatives(g, 3, "inductive", train_end=1, history_end=2)
    assert {(int(k) // 5, int(k) % 5) for k in cand} == {(0, 2), (2, 3)}


def test_inductive_candidates_are_pairs_new_after_training():
    g = _graph()
    cand = candidate_negatives(g, 3, "inductive", train_end=2)
    # seen in [2, 3) = t2 only, never in t0, t1, not at t3
    assert {(int(k) // 5, int(k) % 5) for k in cand} == {(3, 4), (4, 0)}
    with pytest.raises(ValueError, match="needs train_end"):
        candidate_negatives(g, 3, "inductive")
    with pytest.raises(ValueError, match="train_end must lie"):
        candidate_negatives(g, 2, "inductive", train_end=3)


def test_negatives_fill_with_random_non_candidates_when_short():
    g = _graph()
    gen = torch.Generator().manual_seed(0)
    neg = negative_pairs(g, 3, 8, "inductive", train_end=2, generator=gen)
    s = _as_set(neg)
    assert neg.size(1) == 8 and len(s) == 8  # distinct
    assert {(3, 4), (4, 0)} <= s  # every candidate taken
    assert not s & {(0, 1), (1, 4)}  # never a positive of the target
    assert all(u != v for u, v in s)


def test_historical_draw_is_a_subset_when_plentiful_and_seeded():
    g = dynamic_sbm(num_nodes=40, num_snapshots=10, seed=3)
    t = 9
    pos, neg = link_pairs(g, t, "historical", generator=torch.Generator().manual_seed(1))
    cand = set(candidate_negatives(g, t, "historical").tolist())
    assert len(cand) >= pos.size(1)
    keys = _pair_keys(neg, g.num_nodes, g.directed).tolist()
    assert set(keys) <= cand and len(set(keys)) == len(keys) == pos.size(1)
    again = link_pairs(g, t, "historical", generator=torch.Generator().manual_seed(1))[1]
    assert torch.equal(neg, again)


def test_random_strategy_is_the_vgrnn_protocol_draw():
    g = dynamic_sbm(num_nodes=30, num_snapshots=6, seed=0)
    a = link_pairs(g, 4, "random", generator=torch.Generator().manual_seed(5))
    b = link_prediction_pairs(g, 4, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_unknown_strategy_and_empty_target():
    g = _graph()
    with pytest.raises(ValueError, match="unknown strategy 'hist'"):
        negative_pairs(g, 3, 2, "hist")
    empty = TemporalGraph([torch.tensor([[0], [1]]), torch.empty(2, 0, dtype=torch.long)], 3)
    with pytest.raises(ValueError, match="no positive pairs"):
        link_pairs(empty, 1, "historical")


def test_undirected_candidates_are_canonical():
    g = _graph(directed=False)
    cand = candidate_negatives(g, 3, "historical")
    pairs = {(int(k) // 5, int(k) % 5) for k in cand}
    assert all(u < v for u, v in pairs)
    assert (0, 4) in pairs  # stored as (0, 4) although observed as 4 -> 0


# ---------------------------------------------------------------------------- EdgeBank
def test_edgebank_unlimited_and_window():
    g = _graph()
    pairs = torch.tensor([[0, 1], [2, 3], [3, 4], [1, 4], [4, 3]]).t()
    hist = g[:3]
    assert EdgeBankLinks().score_pairs(hist, pairs).tolist() == [1, 1, 1, 0, 0]
    assert EdgeBankLinks(window=1).score_pairs(hist, pairs).tolist() == [0, 0, 1, 0, 0]
    assert EdgeBankLinks(window=2).score_pairs(hist, pairs).tolist() == [0, 1, 1, 0, 0]
    assert EdgeBankLinks(window=99).score_pairs(hist, pairs).tolist() == [1, 1, 1, 0, 0]
    with pytest.raises(ValueError, match="window must be a positive integer"):
        EdgeBankLinks(window=0).score_pairs(hist, pairs)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(3, 9))
def test_edgebank_auc_closed_forms(seed, t):
    """On historical negatives EdgeBank∞ scores every negative 1, so its AUC is exactly half the
    share of positives it remembers; on candidates from its own memory it can never exceed 1/2."""
    g = dynamic_sbm(num_nodes=30, num_snapshots=10, seed=seed)
    if g.num_edges(t) == 0:
        return
    gen = torch.Generator().manual_seed(seed)
    pos, neg = link_pairs(g, t, "historical", generator=gen)
    n_cand = candidate_negatives(g, t, "historical").numel()
    eb = EdgeBankLinks()
    s_pos, s_neg = eb.score_pairs(g[:t], pos), eb.score_pairs(g[:t], neg)
    auc = link_metrics(s_pos, s_neg).auc
    seen = float(s_pos.mean())
    if n_cand >= pos.size(1):
        assert s_neg.min() == 1.0
        assert auc == pytest.approx(0.5 * seen, abs=1e-12)
    else:  # the filled random negatives are unseen (score 0): exact mixture
        frac_hist = n_cand / pos.size(1)
        expected = frac_hist * 0.5 * seen + (1 - frac_hist) * (seen + 0.5 * (1 - seen))
        assert auc == pytest.approx(expected, abs=1e-12)
    # the memory is exactly the union of the history's pairs
    keys = _pair_keys(pos, g.num_nodes, g.directed)
    assert torch.equal(s_pos.bool(), torch.isin(keys, seen_pair_keys(g, 0, t)))


# ---------------------------------------------------------------------------- TGB ranking negatives
def test_hist_rnd_corruptions_take_half_from_the_sources_history():
    g = dynamic_sbm(num_nodes=40, num_snapshots=10, seed=5)
    t, K = 9, 10
    pos = g.edges(t)
    gen = torch.Generator().manual_seed(0)
    cor = corrupted_destinations(g, t, pos, K, gen, strategy="hist_rnd")
    assert cor.shape == (2, pos.size(1), K)
    seen = seen_pair_keys(g, 0, t)
    n = g.num_nodes
    seen = set(seen.tolist()) | {(k % n) * n + k // n for k in seen.tolist()}
    target = set(_pair_keys(pos, n, True).tolist()) | set(_pair_keys(pos.flip(0), n, True).tolist())
    for i in range(pos.size(1)):
        u = int(pos[0, i])
        hist = {v for v in range(n) if u * n + v in seen and u * n + v not in target}
        got = cor[1, i, : K // 2].tolist()
        want = min(K // 2, len(hist))
        assert len(set(got[:want])) == want and set(got[:want]) <= hist
        assert all(int(s) == u for s in cor[0, i])
        assert all(v != u for v in cor[1, i].tolist())
    # random corruptions draw exactly as before (same generator, same values)
    a = corrupted_destinations(g, t, pos, K, torch.Generator().manual_seed(3))
    b = corrupted_destinations(g, t, pos, K, torch.Generator().manual_seed(3), strategy="random")
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="strategy must be one of"):
        corrupted_destinations(g, t, pos, K, gen, strategy="hist")


def test_edgebank_mrr_under_hist_rnd_is_worse_than_under_random():
    """EdgeBank remembers every historical destination: under TGB's hist_rnd sets its positives tie
    with half the negatives, so its MRR drops below its random-negative MRR."""
    from dyngraphvae.evaluation.links import mean_reciprocal_rank

    g = dynamic_sbm(num_nodes=60, num_snapshots=12, seed=2)
    t, K = 11, 20
    pos = g.edges(t)
    eb = EdgeBankLinks()
    out = {}
    for strategy in ("random", "hist_rnd"):
        cor = corrupted_destinations(g, t, pos, K, torch.Generator().manual_seed(1),
                                     strategy=strategy)
        sp = eb.score_pairs(g[:t], pos)
        sn = eb.score_pairs(g[:t], cor.reshape(2, -1)).reshape(pos.size(1), K)
        out[strategy] = float(mean_reciprocal_rank(sp, sn))
    assert out["hist_rnd"] < out["random"]
