"""The stratified snapshot likelihood and the automatic choice of the per-origin refit.

``stratified_pairs`` is checked for unbiasedness against the exact sum over every pair (also
when the seen-pairs stratum is sub-sampled); ``pair_log_score`` against the same sum computed by
hand from the model's predictive probabilities; ``choose_context_refit`` on a known truth: a
model whose trained level is far off is beaten by the refit, which re-estimates the level, and a
refit held at the trained weights by its prior ties and keeps the earlier window.
"""

from __future__ import annotations

import pytest
import torch

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.evaluation.forecast_choice import (
    _score_pairs,
    choose_context_refit,
    pair_log_score,
    pair_log_scores,
)
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE
from dyngraphvae.models.refit import stratified_pairs
from dyngraphvae.models.rolling import predictive_pair_probs

torch.set_num_threads(1)


def _graph(n: int = 12, t: int = 12, directed: bool = True, seed: int = 0) -> TemporalGraph:
    g = torch.Generator().manual_seed(seed)
    snaps = []
    for s in range(t):
        a = torch.rand(n, n, generator=g) < 0.08 + 0.015 * s
        a.fill_diagonal_(False)
        if not directed:
            a = torch.triu(a, 1)
        snaps.append(a.nonzero().t())
    return TemporalGraph(snaps, n, directed=directed)


@pytest.mark.parametrize("directed", [True, False])
@pytest.mark.parametrize("budget_hit", [False, True])
def test_stratified_pairs_estimate_the_full_log_likelihood_without_bias(directed, budget_hit):
    n = 15
    g = _graph(n=n, directed=directed)
    s = 9
    if budget_hit:  # a dense past and a sparse target: the seen stratum exceeds its budget
        snaps = [g.edges(t) for t in range(len(g))]
        dense = torch.ones(n, n).triu(1).nonzero().t()
        snaps[s - 1] = dense if not directed else torch.cat([dense, dense.flip(0)], 1)
        snaps[s] = torch.tensor([[0], [1]])
        g = TemporalGraph(snaps, n, directed=directed)
    gen = torch.Generator().manual_seed(0)
    logit = torch.randn(n, n, generator=gen)  # any probabilities
    a = g.dense_adjacency(s).bool()
    off = ~torch.eye(n, dtype=torch.bool)
    if not directed:
        off = torch.triu(off, 1)
    p = torch.sigmoid(logit)
    exact = float(torch.where(a, p.log(), (1 - p).log())[off].sum())
    seen = g.dense_adjacency(s - 1).bool() | g.dense_adjacency(s - 2).bool()
    if not directed:
        seen = seen | seen.T
    u, v = (seen & off).nonzero().t()
    stored = u * n + v
    negatives = 1 if budget_hit else 40  # budget 8·K: a small K sub-samples the seen stratum
    est = []
    for i in range(3000):
        pairs, y, w = stratified_pairs(g, s, stored, negatives, torch.Generator().manual_seed(i))
        if budget_hit and i == 0:
            k = max(negatives, 10 * int(y.sum()))
            assert stored.numel() > 8 * k  # the sub-sampled branch is the one exercised
        q = p[pairs[0], pairs[1]].double()
        est.append(float((w * (y * q.log() + (1 - y) * (1 - q).log())).sum()))
    est = torch.tensor(est)
    se = float(est.std() / len(est) ** 0.5)
    assert abs(float(est.mean()) - exact) < 4 * se + 1e-6


def _model(graph, **kw) -> TemporalGraphVAE:
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(graph, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history", history_rates=(0.5, 0.9),
                                     history_decay=0.7, **kw)
    return TemporalGraphVAE(cfg).eval()


def test_pair_log_score_is_the_weighted_log_likelihood_of_the_forecast():
    g = _graph()
    model = _model(g, context_refit=4)
    origins, H = [8, 9], 2
    pairs = _score_pairs(g, origins, H, model, 50, 0)
    got = pair_log_score(model, g, origins, H, num_samples=3, seed=0, pairs=pairs)
    probs = predictive_pair_probs(model, g, origins, H, 3, [[r[0] for r in row] for row in pairs],
                                  torch.Generator().manual_seed(0))
    want = []
    for row, prow in zip(pairs, probs, strict=True):
        want.append([float((w * (y * q.log() + (1 - y) * (1 - q).log())).sum() / y.sum())
                     for (_, y, w), q in zip(row, prow, strict=True)])
    rows = pair_log_scores(model, g, origins, H, num_samples=3, seed=0, pairs=pairs)
    assert [len(r) for r in rows] == [H, H]  # one row per origin, one score per h
    for r, wr in zip(rows, want, strict=True):
        assert r == pytest.approx(wr, rel=1e-9)
    flat = [v for r in want for v in r]
    assert got == pytest.approx(sum(flat) / len(flat), rel=1e-9)


def test_the_refit_wins_where_the_trained_level_is_off():
    g = _graph()
    model = _model(g)
    with torch.no_grad():
        model.edge_decoder.bias.fill_(-6.0)  # forecasts ~100x too few edges
    best, scores = choose_context_refit(model, g, [8, 9], 2, (0, 4), num_samples=3)
    assert best == 4 and scores[4] > scores[0]
    assert model.config.context_refit == 4


def test_a_refit_held_at_the_trained_weights_ties_and_keeps_the_earlier_window():
    g = _graph()
    # the prior ("~σ", the candidate's own scale) pins the refit to the trained weights (and no
    # effect moves its intercept)
    model = _model(g, context_refit_effect=False)
    # at h = 1 the direct forecast with the trained weights is the iterated one (they differ in
    # law from h = 2, where the iterated one reads its samples): a tie keeps window 0
    best1, scores1 = choose_context_refit(model, g, [8, 9, 10], 1, (0, "4~1e-7"), num_samples=3)
    assert scores1[0] == pytest.approx(scores1["4~1e-7"], abs=1e-6) and best1 == 0
    assert model.config.context_refit_prior == 1.0  # the pick's (W = 0 has the default)


def test_choice_checks_and_models_without_a_context():
    g = _graph()
    plain = TemporalGraphVAE(ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8)).eval()
    assert choose_context_refit(plain, g, [8], 2) == (0, {})
    for bad in ((0, -1), (0, "0+degrees"), (0, "0+rates"), (0, "10+counts"), (0, "x"),
                (0, True), ()):
        with pytest.raises(ValueError, match="candidate"):
            choose_context_refit(_model(g), g, [8], 2, bad)


def _propensity_graph(n: int = 40, t: int = 16, seed: int = 0) -> TemporalGraph:
    """Edges ``Bernoulli(σ(−4.5 + 1.5 (log q_u + log q_v)))`` with fixed node propensities
    ``q ~ LogNormal(0, 1)``: the whole history's degrees estimate ``q`` best."""
    g = torch.Generator().manual_seed(seed)
    log_q = torch.randn(n, generator=g)
    logit = -4.5 + 1.5 * (log_q[:, None] + log_q[None, :])
    snaps = []
    for _ in range(t):
        a = torch.rand(n, n, generator=g) < torch.sigmoid(logit)
        a.fill_diagonal_(False)
        snaps.append(a.nonzero().t())
    return TemporalGraph(snaps, n, directed=True)


def test_the_degree_columns_win_where_node_propensities_are_fixed():
    g = _propensity_graph()
    model = _model(g, context_refit_prior=3.0)
    best, scores = choose_context_refit(model, g, [13, 14], 2, (10, "10+degrees"),
                                        num_samples=3)
    assert best == "10+degrees" and scores["10+degrees"] > scores[10]
    assert model.config.context_refit == 10 and model.config.context_refit_degrees
    # the settings of a candidate are set in full: a plain window turns the degrees off
    choose_context_refit(model, g, [13], 1, (10,), num_samples=3)
    assert not model.config.context_refit_degrees


def test_degree_rates_win_over_cumulative_degrees_while_the_history_grows():
    """Fixed propensities: a node's cumulative degree after ``T`` snapshots is about ``T q``, so
    the rows of a window whose origins span 3..13 snapshots of history see ``log(1 + d)`` grow
    with ``log T`` at a common intercept, a misfit that the log rate ``log(1 + d) − log T``
    removes (it estimates ``log q`` at every origin)."""
    g = _propensity_graph()
    model = _model(g, context_refit_prior=3.0)
    best, scores = choose_context_refit(model, g, [13, 14], 2, ("10+degrees", "10+rates"),
                                        num_samples=3)
    assert best == "10+rates" and scores["10+rates"] > scores["10+degrees"]
    c = model.config
    assert (c.context_refit, c.context_refit_degrees, c.context_refit_degree_form) == (
        10, True, "rate")
    choose_context_refit(model, g, [13], 1, ("10+degrees",), num_samples=3)
    assert model.config.context_refit_degree_form == "cumulative"
