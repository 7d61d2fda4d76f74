"""Link metrics vs scikit-learn and the TGB rank convention; VGRNN protocol pairs."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from dyngraphvae.data import TemporalGraph
from dyngraphvae.evaluation.links import (
    average_precision,
    binary_log_score,
    brier_score,
    hits_at_k,
    link_metrics,
    link_prediction_pairs,
    link_ranks,
    mean_reciprocal_rank,
    roc_auc,
    snapshot_non_edges,
)


@st.composite
def scored_labels(draw):
    """Scores on a small integer grid (many ties) with both classes present."""
    n = draw(st.integers(2, 40))
    labels = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if all(labels) or not any(labels):
        labels[0] = not labels[0]
    levels = draw(st.integers(1, 6))
    scores = draw(st.lists(st.integers(0, levels), min_size=n, max_size=n))
    return np.array(scores, dtype=np.float64) / 3.0, np.array(labels)


@settings(max_examples=120, deadline=None)
@given(scored_labels())
def test_auc_ap_equal_sklearn_with_ties(data):
    s, y = data
    st_, yt = torch.from_numpy(s), torch.from_numpy(y)
    assert float(roc_auc(st_, yt)) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert float(average_precision(st_, yt)) == pytest.approx(
        average_precision_score(y, s), abs=1e-12
    )


def test_auc_ap_continuous_batched_and_float32():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(3, 5, 200, generator=g)
    y = torch.rand(3, 5, 200, generator=g) < 0.3
    auc, ap = roc_auc(s, y), average_precision(s, y)
    assert auc.shape == ap.shape == (3, 5)
    for i in range(3):
        for j in range(5):
            assert float(auc[i, j]) == pytest.approx(roc_auc_score(y[i, j], s[i, j]), abs=1e-9)
            assert float(ap[i, j]) == pytest.approx(
                average_precision_score(y[i, j], s[i, j]), abs=1e-9
            )


def test_auc_ap_extremes_and_invariance():
    y = torch.tensor([1, 1, 0, 0, 0])
    assert float(roc_auc(torch.tensor([5.0, 4, 3, 2, 1]), y)) == 1.0
    assert float(roc_auc(torch.tensor([1.0, 2, 3, 4, 5]), y)) == 0.0
    assert float(roc_auc(torch.zeros(5), y)) == 0.5  # all tied
    assert float(average_precision(torch.zeros(5), y)) == pytest.approx(0.4)  # prevalence
    s = torch.randn(50, generator=torch.Generator().manual_seed(1))
    yy = torch.arange(50) % 3 == 0
    # any strictly increasing transform leaves rank metrics unchanged
    assert float(roc_auc(torch.sigmoid(s), yy)) == pytest.approx(float(roc_auc(s, yy)))
    assert float(average_precision(s.exp(), yy)) == pytest.approx(float(average_precision(s, yy)))


def test_auc_errors():
    with pytest.raises(ValueError, match="only one class"):
        roc_auc(torch.randn(4), torch.ones(4))
    with pytest.raises(ValueError, match="NaN"):
        average_precision(torch.tensor([0.1, float("nan")]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="differ in shape"):
        roc_auc(torch.randn(4), torch.tensor([0, 1]))


def _tgb_reference(pos: np.ndarray, neg: np.ndarray, k: int):
    """Direct transcription of the TGB formula with explicit loops (peer convention)."""
    ranks = []
    for p, ns in zip(pos, neg, strict=True):
        opt = sum(1 for n in ns if n > p)
        pes = sum(1 for n in ns if n >= p)
        ranks.append(0.5 * (opt + pes) + 1)
    ranks = np.array(ranks)
    return np.mean(1 / ranks), np.mean(ranks <= k), ranks


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 12), st.integers(1, 15), st.integers(0, 10_000))
def test_mrr_hits_tgb_convention(q, k, seed):
    rng = np.random.default_rng(seed)
    pos = rng.integers(0, 4, q).astype(float)  # integer grid: many ties
    neg = rng.integers(0, 4, (q, k)).astype(float)
    mrr_ref, hits_ref, ranks_ref = _tgb_reference(pos, neg, 3)
    p, n = torch.from_numpy(pos), torch.from_numpy(neg)
    np.testing.assert_allclose(link_ranks(p, n).numpy(), ranks_ref)
    assert float(mean_reciprocal_rank(p, n)) == pytest.approx(mrr_ref)
    assert float(hits_at_k(p, n, 3)) == pytest.approx(hits_ref)


def test_mrr_batched_and_known_values():
    pos = torch.tensor([[3.0, 0.0], [1.0, 1.0]])
    neg = torch.tensor([[[1.0, 2.0], [1.0, 2.0]], [[1.0, 1.0], [0.0, 0.0]]])
    # ranks: [1, 3], [0.5*(0+2)+1 = 2, 1]
    np.testing.assert_allclose(link_ranks(pos, neg).numpy(), [[1, 3], [2, 1]])
    np.testing.assert_allclose(mean_reciprocal_rank(pos, neg).numpy(), [(1 + 1 / 3) / 2, 0.75])
    np.testing.assert_allclose(hits_at_k(pos, neg, 1).numpy(), [0.5, 0.5])
    with pytest.raises(ValueError, match="pos_scores.shape"):
        link_ranks(torch.zeros(3), torch.zeros(2, 4))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 50), st.integers(0, 10_000))
def test_brier_and_log_score_vs_sklearn(n, seed):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.01, 0.99, n)
    y = rng.integers(0, 2, n)
    labels = [0, 1]
    pt, yt = torch.from_numpy(p), torch.from_numpy(y)
    assert float(brier_score(pt, yt)) == pytest.approx(brier_score_loss(y, p, labels=labels))
    assert float(binary_log_score(yt, probs=pt)) == pytest.approx(log_loss(y, p, labels=labels))
    logits = torch.logit(pt)
    assert float(binary_log_score(yt, logits=logits)) == pytest.approx(
        log_loss(y, p, labels=labels), rel=1e-9
    )


def test_log_score_extreme_logits_finite_and_errors():
    y = torch.tensor([1.0, 0.0])
    val = binary_log_score(y, logits=torch.tensor([-500.0, 500.0]))
    assert torch.isfinite(val) and float(val) == pytest.approx(500.0)
    assert torch.isfinite(binary_log_score(y, probs=torch.tensor([0.0, 1.0])))
    with pytest.raises(ValueError, match="exactly one"):
        binary_log_score(y)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        brier_score(torch.tensor([1.5, 0.0]), y)


def _toy_graph():
    e0 = torch.tensor([[0, 1, 2], [1, 2, 3]])
    e1 = torch.tensor([[0, 1, 3], [1, 3, 4]])
    return TemporalGraph([e0, e1], num_nodes=6)


def test_link_prediction_pairs_and_negatives():
    g = _toy_graph()
    gen = torch.Generator().manual_seed(0)
    pos, neg = link_prediction_pairs(g, 1, generator=gen)
    assert pos.tolist() == g.edges(1).tolist()
    assert neg.shape == (2, 3)
    pos_new, _ = link_prediction_pairs(g, 1, new_links=True, generator=gen)
    assert sorted(map(tuple, pos_new.T.tolist())) == [(1, 3), (3, 4)]  # (0,1) existed at t=0
    # negatives: distinct non-edges u < v, no self-pairs, all of them when asked for all
    total = 6 * 5 // 2 - 3
    all_neg = snapshot_non_edges(g, 1, total, generator=gen)
    keys = {tuple(p) for p in all_neg.T.tolist()}
    assert len(keys) == total
    assert all(u < v for u, v in keys)
    assert keys.isdisjoint({tuple(p) for p in g.edges(1).T.tolist()})
    with pytest.raises(ValueError, match="only"):
        snapshot_non_edges(g, 1, total + 1)


def test_sample_non_edges_uniform():
    """Each of the 12 non-edges is drawn with probability num/12 (chi-square-free check)."""
    g = _toy_graph()
    gen = torch.Generator().manual_seed(3)
    counts = torch.zeros(6, 6)
    reps = 1500
    for _ in range(reps):
        ne = snapshot_non_edges(g, 1, 4, generator=gen)
        counts[ne[0], ne[1]] += 1
    freq = counts[counts > 0] / reps
    assert freq.numel() == 12
    # binomial sd = sqrt(p(1-p)/reps) ~ 0.0122 for p = 1/3; 5 sd tolerance
    assert (freq - 4 / 12).abs().max() < 0.061


def test_link_metrics_dataclass():
    m = link_metrics(torch.tensor([0.9, 0.8]), torch.tensor([0.1, 0.85]))
    assert m.auc == pytest.approx(0.75)
    assert m.to_dict()["num_negative"] == 2
