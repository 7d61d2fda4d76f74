"""The pair-history regression: features against a hand count, fits that read the history only,
and known-truth graphs where memory helps (recurring pairs) or must be inverted (pairs that never
recur, as in bitcoin_alpha)."""

from __future__ import annotations

import math

import pytest
import torch

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.evaluation.baselines import EdgeFrequencyLinks, link_baselines
from dyngraphvae.evaluation.links import link_metrics
from dyngraphvae.evaluation.negatives import link_pairs
from dyngraphvae.evaluation.pair_history import (
    PAIR_HISTORY_FEATURES,
    PairHistoryRegression,
    pair_history_features,
)


def test_features_match_a_hand_count():
    e = [[[0, 1], [1, 2]], [[0, 2], [2, 3]], [[1, 0], [4, 0]], [[0, 1], [1, 4]]]
    g = TemporalGraph([torch.tensor(x).t() for x in e], 5, directed=True)
    x = pair_history_features(g, torch.tensor([[0, 1, 3], [1, 4, 2]]))
    assert x.shape == (3, len(PAIR_HISTORY_FEATURES)) == (3, 14)
    raw = torch.expm1(x)
    # pair (0, 1): 0->1 at t=0, 3; 1->0 at t=2
    c = raw[0]
    assert c[0] == pytest.approx(3) and c[1] == pytest.approx(2) and c[2] == pytest.approx(1)
    assert c[3] == pytest.approx(0.5**3 + 0.5 + 1)  # decayed 0.5: t = 0, 2, 3 of T = 4
    assert c[5] == pytest.approx(0.95**3 + 0.95 + 1)
    # out-degree of 0: edges 0->1 (t0), 0->2 (t1), 0->1 (t3) = 3; in-degree of 1: t0, t2? no: 1->0
    assert c[6] == pytest.approx(3) and c[7] == pytest.approx(2)
    deg0, deg1 = 3 + 2, 2 + 2 + 1  # out + in over the history
    assert c[8] == pytest.approx(deg0) and c[9] == pytest.approx(deg1)
    assert c[10] == pytest.approx(deg0 * deg1)
    # common neighbours of 0 and 1 in the union graph: 0 ~ {1, 2, 4}, 1 ~ {0, 2, 4}: {2, 4}
    assert c[11] == pytest.approx(2)
    # last active: 0 at t3, 1 at t3 -> 4 - 3 = 1 each
    assert c[12] == pytest.approx(1) and c[13] == pytest.approx(1)
    # pair (1, 4): 1->4 at t3 only; node 4 last active t3; (3, 2): 2->3 at t1, so count_vu = 1
    assert raw[1, 0] == pytest.approx(1) and raw[1, 1] == pytest.approx(1)
    assert raw[2, 1] == pytest.approx(0) and raw[2, 2] == pytest.approx(1)
    assert raw[2, 12] == pytest.approx(4 - 1)  # node 3 last active at t1


def _core(seed: int, n: int = 40) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    core = torch.randint(0, n, (2, 60), generator=gen)
    return core[:, core[0] != core[1]][:, :30]


def _recurring(seed: int, T: int = 14, n: int = 40) -> TemporalGraph:
    """Each snapshot: a fixed 'core' of 30 pairs each present with probability 0.8, plus 30 new
    random pairs. Memory predicts the core; nothing predicts the rest."""
    gen = torch.Generator().manual_seed(seed + 1000)
    core = _core(seed, n)
    snaps = []
    for _ in range(T):
        keep = core[:, torch.rand(core.size(1), generator=gen) < 0.8]
        noise = torch.randint(0, n, (2, 30), generator=gen)
        e = torch.cat([keep, noise[:, noise[0] != noise[1]]], dim=1)
        snaps.append(e)
    return TemporalGraph(snaps, n, directed=True, duplicates="merge")


def _never_recurring(seed: int, T: int = 14, n: int = 60) -> TemporalGraph:
    """Each ordered pair has an edge at most once, from a few active nodes (bitcoin-like)."""
    gen = torch.Generator().manual_seed(seed)
    seen: set[tuple[int, int]] = set()
    snaps = []
    for _ in range(T):
        hubs = torch.randperm(n, generator=gen)[:8]
        e = []
        while len(e) < 25:
            u = int(hubs[torch.randint(0, 8, (1,), generator=gen)])
            v = int(torch.randint(0, n, (1,), generator=gen))
            if u != v and (u, v) not in seen:
                seen.add((u, v))
                e.append((u, v))
        snaps.append(torch.tensor(e).t())
    return TemporalGraph(snaps, n, directed=True)


def _auc(scores: torch.Tensor, p: int) -> float:
    return link_metrics(scores[:p], scores[p:]).auc


@pytest.mark.parametrize("h", [1, 3])
def test_memory_is_learned_where_pairs_recur(h):
    """Mean over 3 graphs (about 50 positives each, so one target is noisy): the regression comes
    within 0.1 AUC of the oracle that knows which pairs recur (the features are collinear, so
    single weights have no fixed sign)."""
    T, aucs, best = 10, [], []
    for seed in range(3):
        g = _recurring(seed)
        pos, neg = link_pairs(g, T + h - 1, "random", generator=torch.Generator().manual_seed(1))
        pairs, p = torch.cat([pos, neg], 1), pos.size(1)
        reg = PairHistoryRegression(horizon=h)
        fitted = reg.fit(g[:T])
        assert fitted is not None and all(o + h - 1 < T for o in fitted.origins)  # history only
        aucs.append(_auc(reg.score_pairs(g[:T], pairs), p))
        core = set(map(tuple, _core(seed).t().tolist()))
        oracle = torch.tensor([float(tuple(q) in core) for q in pairs.t().tolist()])
        best.append(_auc(oracle, p))
    mean, oracle_mean = sum(aucs) / 3, sum(best) / 3
    assert oracle_mean > 0.69 and mean > 0.6 and mean > oracle_mean - 0.1, (aucs, best)


def test_anti_memory_is_learned_where_pairs_never_recur():
    """Historical negatives on never-recurring pairs: frequency ranks every negative above every
    positive (AUC 0); the regression learns that a seen pair is a non-edge."""
    g = _never_recurring(0)
    T = 10
    pos, neg = link_pairs(g, T, "historical", history_end=T,
                          generator=torch.Generator().manual_seed(2))
    pairs, p = torch.cat([pos, neg], 1), pos.size(1)
    assert _auc(EdgeFrequencyLinks().score_pairs(g[:T], pairs), p) == 0.0
    reg = PairHistoryRegression()
    assert _auc(reg.score_pairs(g[:T], pairs), p) > 0.9


def test_too_short_a_history_falls_back_to_frequency_and_is_in_every_report():
    g = _recurring(1, T=3)
    pairs = torch.tensor([[0, 1, 2], [1, 2, 3]])
    reg = PairHistoryRegression(horizon=2)
    assert reg.fit(g[:2]) is None
    x = pair_history_features(g[:2], pairs)
    assert torch.equal(reg.score_pairs(g[:2], pairs), x[:, 0])
    assert isinstance(link_baselines(3, horizon=2)["pair_history"], PairHistoryRegression)
    assert link_baselines(3, horizon=2)["pair_history"].horizon == 2
    ml = link_baselines(3, horizon=2)["pair_history_ml"]
    assert (ml.horizon, ml.weighting) == (2, "natural")
    assert math.isfinite(float(PairHistoryRegression().score_pairs(g, pairs).sum()))


def _snapshot_nll(graph: TemporalGraph, origin: int, t: int, w: torch.Tensor, b: float) -> float:
    """Exact Bernoulli negative log-likelihood of every ordered pair of snapshot ``t`` under the
    logit ``x · w + b``, features from ``graph[:origin]``."""
    n = graph.num_nodes
    u, v = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    keep = u != v
    pairs = torch.stack([u[keep], v[keep]])
    y = torch.zeros(n, n, dtype=torch.float64)
    e = graph.edges(t)
    y[e[0], e[1]] = 1.0
    logits = pair_history_features(graph[:origin], pairs) @ w + b
    return float(torch.nn.functional.binary_cross_entropy_with_logits(
        logits, y[pairs[0], pairs[1]], reduction="sum"))


def _weighted_nll(rows, w: torch.Tensor, b: float) -> float:
    x, y, wt = rows
    return float(torch.nn.functional.binary_cross_entropy_with_logits(
        x @ w + b, y, weight=wt, reduction="sum"))


def test_natural_weighting_is_the_snapshot_likelihood():
    """``weighting="natural"``: the weighted rows' cross-entropy is the full log-likelihood of
    the target snapshot: exactly when every pair is drawn (a dense target), and in expectation
    over the draws on a sparse one (known truth: the sum over all ordered pairs)."""
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(14, dtype=torch.float64, generator=gen) * 0.3
    reg = PairHistoryRegression(weighting="natural")
    # dense target: k = all non-edges, every seen pair drawn, so the rows are every pair once
    snaps = [torch.randint(0, 6, (2, 8), generator=gen) for _ in range(4)]
    snaps = [torch.unique(s[:, s[0] != s[1]], dim=1) for s in snaps]
    full = torch.ones(6, 6).triu(1).nonzero().t()  # 15 of the 30 ordered pairs
    g = TemporalGraph(snaps + [full], 6, directed=True)
    rows = reg.rows(g, 4, torch.Generator().manual_seed(0))
    assert _weighted_nll(rows, w, -1.0) == pytest.approx(_snapshot_nll(g, 4, 4, w, -1.0),
                                                         rel=1e-9)
    # sparse target: unbiased over the draws
    g = _recurring(0)
    exact = _snapshot_nll(g, 10, 10, w, -2.0)
    est = torch.tensor([_weighted_nll(reg.rows(g, 10, torch.Generator().manual_seed(s)), w, -2.0)
                        for s in range(300)])
    assert abs(float(est.mean()) - exact) < 4 * float(est.std()) / math.sqrt(300)
    # the balanced rows are not the likelihood (a third each)
    bal = PairHistoryRegression().rows(g, 10, torch.Generator().manual_seed(0))
    assert abs(_weighted_nll(bal, w, -2.0) - exact) > 0.5 * exact
    with pytest.raises(ValueError, match="weighting"):
        PairHistoryRegression(weighting="uniform").fit(g)
