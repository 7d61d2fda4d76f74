"""Common neighbours in the union of the history (``data.neighbours``) and the refit's
common-neighbour column (``ForecasterConfig.context_refit_neighbours``).

Checked against independent computations: the counts equal networkx's common neighbours of the
symmetrised union graph (hypothesis over random graphs) and the regression's feature 12; with a
constant latent score and a flat prior the refit with the column is the maximum-likelihood
logistic regression of the window's rows (an independent L-BFGS fit), each row reading its own
origin's union; the term's dense blocks agree with its pair logits, it is linear in its features,
a forecast reads the origin's union; on data where edges close triangles the fitted weight is
positive and the candidate with the column wins the choice on validation.
"""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dyngraphvae.data import TemporalGraph
from dyngraphvae.data.neighbours import common_neighbour_rows, common_neighbours, union_adjacency
from dyngraphvae.evaluation.forecast_choice import choose_context_refit, refit_settings
from dyngraphvae.evaluation.pair_history import pair_history_features
from dyngraphvae.models import TemporalGraphVAE, engine
from dyngraphvae.models.refit import neighbour_column, refit_lead_terms
from tests.test_context_refit import _graph, assert_refit_is_the_lbfgs_fit, constant_score_refit
from tests.test_context_refit import _model as _context_model

torch.set_num_threads(1)


def _nx_union(graph: TemporalGraph, end: int) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(range(graph.num_nodes))
    for t in range(end):
        g.add_edges_from(graph.edges(t).t().tolist())
    return g


@settings(max_examples=25, deadline=None)
@given(n=st.integers(3, 14), t=st.integers(1, 5), directed=st.booleans(),
       density=st.floats(0.05, 0.6), seed=st.integers(0, 10_000))
def test_common_neighbours_are_networkx_common_neighbours_of_the_union(n, t, directed, density,
                                                                      seed):
    g = torch.Generator().manual_seed(seed)
    snaps = []
    for _ in range(t):
        a = torch.rand(n, n, generator=g) < density
        a.fill_diagonal_(False)
        snaps.append((a if directed else torch.triu(a, 1)).nonzero().t())
    graph = TemporalGraph(snaps, n, directed=directed)
    end = int(torch.randint(0, t + 1, (), generator=g))
    adj = union_adjacency(graph, end)
    ref = _nx_union(graph, end)
    grid = torch.stack(torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")).reshape(
        2, -1)
    want = torch.tensor([len(list(nx.common_neighbors(ref, int(u), int(v)))) if u != v else
                         ref.degree(int(u)) for u, v in grid.t()], dtype=torch.float64)
    torch.testing.assert_close(common_neighbours(adj, grid), want)
    torch.testing.assert_close(common_neighbour_rows(adj, 0, n).reshape(-1), want)
    torch.testing.assert_close(common_neighbour_rows(adj, 1, n - 1),
                               want.reshape(n, n)[1:n - 1])


def test_the_regression_reads_the_same_counts():
    g = _graph(n=15, t=7, directed=True)
    pairs = torch.randint(0, 15, (2, 60), generator=torch.Generator().manual_seed(2))
    for end in (1, 4, 7):
        ref = pair_history_features(g[:end], pairs)[:, 11]  # log(1 + CN)
        torch.testing.assert_close(neighbour_column(union_adjacency(g, end), pairs)[:, 0], ref)
    with pytest.raises(ValueError, match="end must be in"):
        union_adjacency(g, 8)
    with pytest.raises(ValueError, match="start <= end"):
        common_neighbour_rows(union_adjacency(g, 3), 5, 2)


def _model(graph, **kw) -> TemporalGraphVAE:
    kw.setdefault("context_refit_neighbours", True)
    return _context_model(graph, **kw)


@pytest.mark.parametrize("degrees", [False, True])
@pytest.mark.parametrize("directed", [True, False])
def test_with_a_constant_latent_score_the_refit_with_neighbours_is_the_likelihood_regression(
        directed, degrees):
    g = _graph(directed=directed)
    model = _model(g, context_refit=5, context_refit_prior=1e6, edge_decoder="bilinear",
                   context_refit_degrees=degrees, context_refit_degree_form="rate")
    T, leads = 9, 2
    terms, cache = constant_score_refit(model, g, T, leads)
    for k in range(1, leads + 1):
        window = range(max(k, T - 5), T)
        rows = [cache["rows"][(s, k)] for s in window]
        for x, *_rest in rows:
            assert x.size(1) == terms[k - 1].weight_vector().numel()
            assert degrees == (terms[k - 1].degree_weight is not None)
            # the column before the intercept is log(1 + CN), CN an integer count
            cn = torch.expm1(x[:, -2].double())
            torch.testing.assert_close(cn, cn.round())
        assert_refit_is_the_lbfgs_fit(terms[k - 1], rows)
        assert terms[k - 1].neighbour_weight.abs().sum() > 0


def refit_rows_and_pairs(monkeypatch, model, g, T: int, leads: int) -> list[tuple]:
    """``((s, k), row, pairs)`` of every refit row of the leads ``1..leads`` at origin ``T``:
    the rows of ``refit_lead_terms``' cache and the pairs ``stratified_pairs`` drew for them."""
    import dyngraphvae.models.refit as refit

    gen = torch.Generator().manual_seed(5)
    states = engine.filtered_states(model, g, T, 2, gen)
    contexts = model.decoder_contexts(g, T)
    seen: list[tuple[int, torch.Tensor]] = []
    original = refit.stratified_pairs

    def spy(graph, s, stored, negatives, generator):
        out = original(graph, s, stored, negatives, generator)
        seen.append((s, out[0]))
        return out

    monkeypatch.setattr(refit, "stratified_pairs", spy)
    cache: dict = {}
    refit_lead_terms(model, g, T, leads, states, contexts, generator=gen, cache=cache)
    assert len(cache["rows"]) == len(seen)
    out = []
    for (key, row), (s, pairs) in zip(cache["rows"].items(), seen, strict=True):
        assert key[0] == s
        out.append((key, row, pairs))
    return out


def test_each_row_reads_the_union_of_its_own_origin(monkeypatch):
    """Rows of lead k for target s carry log(1 + CN) in the union of snapshots < s − k + 1: the
    column equals neighbour_column at that origin for the rows' pairs, and differs from the next
    origin's (the check tells origins apart)."""
    g = _graph(n=12, t=10, directed=False, base=0.15)
    model = _model(g, context_refit=4)
    T = 10
    told_apart = False
    for (s, k), row, pairs in refit_rows_and_pairs(monkeypatch, model, g, T, 2):
        col = row[0][:, -2].double()
        o = s - k + 1
        torch.testing.assert_close(col, neighbour_column(union_adjacency(g, o), pairs)[:, 0])
        if o + 1 <= T:
            told_apart |= not torch.equal(
                col, neighbour_column(union_adjacency(g, o + 1), pairs)[:, 0])
    assert told_apart


def assert_weight_adds_columns(term, ctx, grid, weight, columns) -> None:
    """The refitted ``weight`` (non-zero) adds ``columns (P, C) @ weight`` to the pair logits."""
    w = weight.detach().clone()
    assert float(w.abs().sum()) > 0
    with torch.no_grad():
        weight.zero_()
    plain = term.pair_logits(ctx, grid)[0]
    with torch.no_grad():
        weight.copy_(w)
    torch.testing.assert_close(term.pair_logits(ctx, grid)[0] - plain, columns.float() @ w)


def test_the_term_reads_the_origins_union_in_blocks_pairs_and_forecasts():
    g = _graph(n=11, t=9)
    model = _model(g, context_refit=4, context_refit_leads=2)
    T = 8
    state = model.filter(g[:T], 3, generator=torch.Generator().manual_seed(1))
    term = state.lead_terms[0]
    torch.testing.assert_close(term.neighbours.to_dense(), union_adjacency(g, T).to_dense())
    ctx = state.context.edges
    n = g.num_nodes
    grid = torch.stack(torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")).reshape(
        2, -1)
    off = ~torch.eye(n, dtype=torch.bool).reshape(-1)
    dense = term.block_logits(ctx, 0, n)[0].reshape(-1)
    torch.testing.assert_close(dense[off], term.pair_logits(ctx, grid)[0][off])
    torch.testing.assert_close(term.pair_features(ctx, grid)[0] @ term.weight_vector(),
                               term.pair_logits(ctx, grid)[0])
    assert_weight_adds_columns(term, ctx, grid, term.neighbour_weight,
                               neighbour_column(union_adjacency(g, T), grid))
    fc = model.forecast(state, 2, generator=torch.Generator().manual_seed(2))
    pairs = grid[:, off][:, :40]
    want = model.edge_decoder.logits(fc.z[:, 0], pairs) + term.pair_logits(ctx, pairs)[0]
    torch.testing.assert_close(fc.edge_logits(pairs)[:, 0], want)


def _closure_graph(n: int = 40, t: int = 16, seed: int = 0) -> TemporalGraph:
    """Undirected snapshots in which a pair meets with probability rising in its common
    neighbours in the union of all earlier snapshots (triadic closure), over a sparse base
    rate; pair counts alone do not carry that signal."""
    g = torch.Generator().manual_seed(seed)
    union = torch.zeros(n, n)
    snaps = []
    for _ in range(t):
        cn = union @ union
        logit = -4.0 + 1.2 * torch.log1p(cn)
        a = torch.rand(n, n, generator=g) < torch.sigmoid(logit)
        a = torch.triu(a, 1)
        snaps.append(a.nonzero().t())
        a = (a | a.t()).float()
        union = ((union + a) > 0).float()
    return TemporalGraph(snaps, n, directed=False)


def test_known_truth_triadic_closure_is_learned_and_chosen():
    g = _closure_graph()
    model = _model(g, context_refit=6, context_refit_neighbours=False)
    T = 16
    # the refit with the column finds the closing force: a positive weight
    model.config.context_refit_neighbours = True
    state = model.filter(g[:T - 1], 2, generator=torch.Generator().manual_seed(0))
    assert float(state.lead_terms[0].neighbour_weight) > 0.5
    # and the proper score on the validation origins prefers the candidate with it
    best, scores = choose_context_refit(model, g, [12, 13, 14], 1, (10, "10+cn"),
                                        num_samples=4, seed=0)
    assert best == "10+cn" and scores["10+cn"] > scores[10]
    assert model.config.context_refit_neighbours and refit_settings(best)[
        "context_refit_neighbours"]
