"""The refit's degree columns (``ForecasterConfig.context_refit_degrees``), cumulative and as
log rates (``context_refit_degree_form``).

Checked against independent computations: the columns equal the pair-history regression's degree
features of the same history (``evaluation.pair_history``, its own loop), less ``log T`` for the
rates, and on a graph that repeats one snapshot the rates are the closed form
``log(1/T + d₁)``; with a constant latent
score and a flat prior the refit with degrees is the maximum-likelihood logistic regression of the
window's rows (an independent L-BFGS fit), and each row's degree columns are those of its own
origin; the term's dense blocks agree with its pair logits, and a forecast reads the degrees of
the origin's history.
"""

from __future__ import annotations

import math

import pytest
import torch

from dyngraphvae.data import TemporalGraph
from dyngraphvae.evaluation.pair_history import pair_history_features
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE
from dyngraphvae.models.refit import cumulative_degrees, degree_columns
from tests.test_context_refit import _graph, assert_refit_is_the_lbfgs_fit, constant_score_refit

torch.set_num_threads(1)


def _model(graph, **kw) -> TemporalGraphVAE:
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(graph, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history", history_rates=(0.5, 0.9),
                                     history_decay=0.7, context_refit_degrees=True,
                                     context_refit_effect=False, **kw)
    model = TemporalGraphVAE(cfg)
    with torch.no_grad():
        w = model.edge_context.weight_vector()
        model.edge_context.load_weight_vector(torch.linspace(-0.5, 0.5, w.numel()))
    return model.eval()


@pytest.mark.parametrize("rate", [False, True])
@pytest.mark.parametrize("directed", [True, False])
def test_degree_columns_are_the_regressions_degree_features(directed, rate):
    g = _graph(n=15, t=9, directed=directed)
    pairs = torch.randint(0, 15, (2, 80), generator=torch.Generator().manual_seed(1))
    pairs = pairs[:, pairs[0] != pairs[1]]
    cache: dict = {}
    for origin in (7, 3, 9, 5):  # any order: the cache continues from an earlier origin
        got = degree_columns(cumulative_degrees(g, origin, cache), pairs, directed,
                             origin if rate else None)
        torch.testing.assert_close(cumulative_degrees(g, origin), cache["degrees"][origin])
        ref = pair_history_features(g[:origin], pairs)  # log(1 + ·) of its 14 features
        shift = math.log(origin) if rate else 0.0
        if directed:  # out(u), in(v), total(u), total(v)
            torch.testing.assert_close(got, ref[:, [6, 7, 8, 9]] - shift)
        else:
            torch.testing.assert_close(got[:, 0], ref[:, 8] + ref[:, 9] - 2 * shift)


@pytest.mark.parametrize("directed", [True, False])
def test_on_a_repeated_snapshot_the_columns_are_log_rates(directed):
    """Every snapshot the same graph: ``d = T d₁``, so ``log(1 + d) − log T = log(1/T + d₁)``,
    which tends to ``log d₁`` as the history grows (the columns keep one scale)."""
    g0 = _graph(n=12, t=1, directed=directed)
    g = TemporalGraph([g0.edges(0)] * 9, 12, directed=directed)
    one = cumulative_degrees(g, 1)  # d₁: (out, in) of the one snapshot
    pairs = torch.tensor([[0, 3, 5, 7], [1, 2, 9, 4]])
    for T in (1, 4, 9):
        got = degree_columns(cumulative_degrees(g, T), pairs, directed, T)
        r = torch.log(1.0 / T + one)  # per node, (out, in)
        r_tot = torch.log(1.0 / T + one.sum(1))
        u, v = pairs
        if directed:
            want = torch.stack([r[u, 0], r[v, 1], r_tot[u], r_tot[v]], 1)
        else:
            want = (r[u, 0] + r[v, 0]).unsqueeze(1)
        torch.testing.assert_close(got, want)


def test_degree_columns_need_a_history():
    with pytest.raises(ValueError, match="at least one history snapshot"):
        degree_columns(torch.ones(3, 2), torch.tensor([[0], [1]]), True, 0)


@pytest.mark.parametrize("form", ["cumulative", "rate"])
@pytest.mark.parametrize("directed", [True, False])
def test_with_a_constant_latent_score_the_refit_with_degrees_is_the_likelihood_regression(
        directed, form):
    g = _graph(directed=directed)
    model = _model(g, context_refit=5, context_refit_prior=1e6, edge_decoder="bilinear",
                   context_refit_degree_form=form)
    T, leads = 9, 2
    terms, cache = constant_score_refit(model, g, T, leads)
    for k in range(1, leads + 1):
        window = range(max(k, T - 5), T)
        rows = [cache["rows"][(s, k)] for s in window]
        for s, (x, *_rest) in zip(window, rows, strict=True):
            assert x.size(1) == terms[k - 1].weight_vector().numel()
            if directed:  # each row's (out(u), total(u)) is a node's at its own origin s - k + 1
                def node_set(origin):
                    d = cumulative_degrees(g, origin)
                    sh = math.log(origin) if form == "rate" else 0.0
                    return {(round(float(a) - sh, 6), round(float(a2) - sh, 6))
                            for a, a2 in zip(torch.log1p(d[:, 0]), torch.log1p(d.sum(1)),
                                             strict=True)}
                seen = {(round(float(a), 6), round(float(b), 6)) for a, b in x[:, [-5, -3]]}
                assert seen <= node_set(s - k + 1)
                assert not seen <= node_set(s - k + 2)  # the check tells origins apart
        assert_refit_is_the_lbfgs_fit(terms[k - 1], rows)
        assert terms[k - 1].degree_weight.abs().sum() > 0


@pytest.mark.parametrize("form", ["cumulative", "rate"])
def test_the_term_reads_the_origins_degrees_in_blocks_pairs_and_forecasts(form):
    g = _graph(n=11, t=9)
    model = _model(g, context_refit=4, context_refit_leads=2, context_refit_degree_form=form)
    T = 8
    state = model.filter(g[:T], 3, generator=torch.Generator().manual_seed(1))
    term = state.lead_terms[0]
    torch.testing.assert_close(term.degrees, cumulative_degrees(g, T).float())
    history = T if form == "rate" else None
    assert term.history == history
    ctx = state.context.edges
    n = g.num_nodes
    grid = torch.stack(torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")).reshape(
        2, -1)
    dense = term.block_logits(ctx, 0, n)[0].reshape(-1)
    off = ~torch.eye(n, dtype=torch.bool).reshape(-1)
    torch.testing.assert_close(dense[off], term.pair_logits(ctx, grid)[0][off])
    # the term is linear in its features, degree columns included
    torch.testing.assert_close(term.pair_features(ctx, grid)[0] @ term.weight_vector(),
                               term.pair_logits(ctx, grid)[0])
    # without the degree weights the logits drop by exactly the degree part
    w = term.degree_weight.clone()
    with torch.no_grad():
        term.degree_weight.zero_()
    plain = term.pair_logits(ctx, grid)[0]
    with torch.no_grad():
        term.degree_weight.copy_(w)
    cols = degree_columns(cumulative_degrees(g, T), grid, True, history).float()
    torch.testing.assert_close(term.pair_logits(ctx, grid)[0] - plain, cols @ w)
    fc = model.forecast(state, 2, generator=torch.Generator().manual_seed(2))
    pairs = grid[:, off][:, :40]
    want = model.edge_decoder.logits(fc.z[:, 0], pairs) + term.pair_logits(ctx, pairs)[0]
    torch.testing.assert_close(fc.edge_logits(pairs)[:, 0], want)
