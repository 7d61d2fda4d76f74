"""Undecayed pair counts of the history (``data.pair_counts``) and the refit's pair-count columns
(``ForecasterConfig.context_refit_counts``, candidate suffix ``"+pc"``).

Checked against independent computations: the counts equal a brute-force count of the snapshots
with each pair (hypothesis over random graphs, directed and not, from scratch and continued from
an earlier end) and the regression's features 1–3; with a constant latent score and a flat prior
the refit with the columns is the maximum-likelihood logistic regression of the window's rows (an
independent L-BFGS fit), each row reading its own origin's counts; the term's dense blocks agree
with its pair logits; on data where ordered pairs never recur the fitted weight of ``n(u, v)`` is
negative, that of ``n(v, u)`` (reciprocation) positive, and the candidate with the columns wins
the choice on validation.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dyngraphvae.data import TemporalGraph
from dyngraphvae.data.pair_counts import pair_count_rows, pair_count_values, pair_counts
from dyngraphvae.evaluation.forecast_choice import choose_context_refit, refit_settings
from dyngraphvae.evaluation.pair_history import pair_history_features
from dyngraphvae.models.refit import count_columns
from tests.test_context_refit import _graph, assert_refit_is_the_lbfgs_fit, constant_score_refit
from tests.test_context_refit import _model as _context_model
from tests.test_refit_neighbours import assert_weight_adds_columns, refit_rows_and_pairs

torch.set_num_threads(1)


def _brute_counts(snaps: list[torch.Tensor], n: int, directed: bool, end: int) -> torch.Tensor:
    want = torch.zeros(n, n, dtype=torch.float64)
    for e in snaps[:end]:
        seen = torch.zeros(n, n, dtype=torch.bool)
        for u, v in e.t().tolist():
            seen[u, v] = True
            if not directed:
                seen[v, u] = True
        want += seen.double()
    return want


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 12), t=st.integers(1, 6), directed=st.booleans(),
       density=st.floats(0.05, 0.7), seed=st.integers(0, 10_000))
def test_pair_counts_are_the_snapshots_with_each_pair(n, t, directed, density, seed):
    g = torch.Generator().manual_seed(seed)
    snaps = []
    for _ in range(t):
        a = torch.rand(n, n, generator=g) < density
        e = (a if directed else torch.triu(a)).nonzero().t()
        # a repeated edge inside a snapshot counts once (undirected: also reversed)
        rep = e[:, : e.size(1) // 2]
        snaps.append(torch.cat([e, rep if directed else rep.flip(0)], 1))
    graph = TemporalGraph(snaps, n, directed=directed, self_loops="keep", duplicates="merge")
    end = int(torch.randint(0, t + 1, (), generator=g))
    want = _brute_counts(snaps, n, directed, end)
    counts = pair_counts(graph, end)
    torch.testing.assert_close(counts.to_dense(), want)
    grid = torch.stack(torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")).reshape(
        2, -1)
    torch.testing.assert_close(pair_count_values(counts, grid), want.reshape(-1))
    lo = int(torch.randint(0, n + 1, (), generator=g))
    torch.testing.assert_close(pair_count_rows(counts, lo, n), want[lo:])
    torch.testing.assert_close(pair_count_rows(counts, lo, n, transpose=True), want.t()[lo:])
    # continued from an earlier end: the same counts
    first = int(torch.randint(0, end + 1, (), generator=g))
    cont = pair_counts(graph, end, (first, pair_counts(graph, first)))
    torch.testing.assert_close(cont.to_dense(), want)


def test_the_regression_reads_the_same_counts_and_bad_input_is_named():
    for directed in (True, False):
        g = _graph(n=15, t=7, directed=directed)
        pairs = torch.randint(0, 15, (2, 80), generator=torch.Generator().manual_seed(2))
        pairs = pairs[:, pairs[0] != pairs[1]]
        for end in (1, 4, 7):
            ref = pair_history_features(g[:end], pairs)
            cols = count_columns(pair_counts(g, end), pairs, directed)
            # directed: features 2, 3 (u → v, v → u); undirected: feature 1 (either direction)
            torch.testing.assert_close(cols, ref[:, [1, 2]] if directed else ref[:, [0]])
    with pytest.raises(ValueError, match="end must be in"):
        pair_counts(g, 8)
    with pytest.raises(ValueError, match="start <= end"):
        pair_count_rows(pair_counts(g, 3), 5, 2)
    with pytest.raises(ValueError, match="start_from"):
        pair_counts(g, 2, (3, pair_counts(g, 3)))


def _model(graph, **kw):
    kw.setdefault("context_refit_counts", True)
    return _context_model(graph, **kw)


@pytest.mark.parametrize("directed", [True, False])
def test_with_a_constant_latent_score_the_refit_with_counts_is_the_likelihood_regression(
        directed):
    g = _graph(directed=directed)
    model = _model(g, context_refit=5, context_refit_prior=1e6, edge_decoder="bilinear",
                   context_refit_neighbours=True)
    T, leads = 9, 2
    terms, cache = constant_score_refit(model, g, T, leads)
    width = 2 if directed else 1
    for k in range(1, leads + 1):
        rows = [cache["rows"][(s, k)] for s in range(max(k, T - 5), T)]
        for x, *_rest in rows:
            assert x.size(1) == terms[k - 1].weight_vector().numel()
            # the columns before the intercept are log(1 + n), n an integer count
            n = torch.expm1(x[:, -1 - width:-1].double())
            torch.testing.assert_close(n, n.round())
        assert_refit_is_the_lbfgs_fit(terms[k - 1], rows)
        assert terms[k - 1].count_weight.abs().sum() > 0


def test_each_row_reads_the_counts_of_its_own_origin(monkeypatch):
    """Rows of lead k for target s carry the counts of snapshots < s − k + 1: the columns equal
    count_columns at that origin for the rows' pairs, and differ from the next origin's."""
    g = _graph(n=12, t=10, directed=True, base=0.2)
    model = _model(g, context_refit=4)
    told_apart = False
    for (s, k), row, pairs in refit_rows_and_pairs(monkeypatch, model, g, 10, 2):
        o = s - k + 1
        col = row[0][:, -3:-1].double()
        torch.testing.assert_close(col, count_columns(pair_counts(g, o), pairs, True))
        told_apart |= not torch.equal(col, count_columns(pair_counts(g, o + 1), pairs, True))
    assert told_apart


@pytest.mark.parametrize("directed", [True, False])
def test_the_term_reads_the_origins_counts_in_blocks_pairs_and_forecasts(directed):
    g = _graph(n=11, t=9, directed=directed, base=0.2)
    model = _model(g, context_refit=4, context_refit_leads=2)
    T = 8
    state = model.filter(g[:T], 3, generator=torch.Generator().manual_seed(1))
    term = state.lead_terms[0]
    torch.testing.assert_close(term.counts.to_dense(), pair_counts(g, T).to_dense())
    ctx = state.context.edges
    n = g.num_nodes
    grid = torch.stack(torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")).reshape(
        2, -1)
    off = ~torch.eye(n, dtype=torch.bool).reshape(-1)
    for lo, hi in ((0, n), (3, 7)):
        block = term.block_logits(ctx, lo, hi)[0].reshape(-1)
        rows = (grid[0] >= lo) & (grid[0] < hi)
        keep = off[rows]
        torch.testing.assert_close(block[keep], term.pair_logits(ctx, grid[:, rows])[0][keep])
    torch.testing.assert_close(term.pair_features(ctx, grid)[0] @ term.weight_vector(),
                               term.pair_logits(ctx, grid)[0])
    assert_weight_adds_columns(term, ctx, grid, term.count_weight,
                               count_columns(pair_counts(g, T), grid, directed))
    fc = model.forecast(state, 2, generator=torch.Generator().manual_seed(2))
    pairs = grid[:, off][:, :40]
    want = model.edge_decoder.logits(fc.z[:, 0], pairs) + term.pair_logits(ctx, pairs)[0]
    torch.testing.assert_close(fc.edge_logits(pairs)[:, 0], want)


def _rating_graph(n: int = 40, t: int = 24, seed: int = 0) -> TemporalGraph:
    """Directed snapshots in which an ordered pair, once seen, never recurs, and a pair seen in
    one direction is answered in the other (a rating and its return rating, as on
    bitcoin_alpha): the answer comes 1–12 snapshots later, longer than the decayed rates
    remember, so only the undecayed counts tell the seen pairs apart."""
    g = torch.Generator().manual_seed(seed)
    seen = torch.zeros(n, n, dtype=torch.bool)
    due: dict[int, list[tuple[int, int]]] = {}
    snaps = []
    for s in range(t):
        a = (torch.rand(n, n, generator=g) < 0.01) & ~seen
        a.fill_diagonal_(False)
        for u, v in due.pop(s, []):
            if not seen[u, v]:
                a[u, v] = True
        for u, v in a.nonzero().tolist():
            if not seen[v, u] and not a[v, u]:
                lag = int(torch.randint(1, 13, (), generator=g))
                due.setdefault(s + lag, []).append((v, u))
        seen |= a
        snaps.append(a.nonzero().t())
    return TemporalGraph(snaps, n, directed=True)


def test_known_truth_pairs_that_never_recur_are_learned_and_chosen():
    g = _rating_graph()
    model = _model(g, context_refit=8, context_refit_counts=False)
    T = 24
    model.config.context_refit_counts = True
    state = model.filter(g[:T - 1], 2, generator=torch.Generator().manual_seed(0))
    w = state.lead_terms[0].count_weight
    assert float(w[0]) < -0.5 < 0.5 < float(w[1])  # seen: never again; answered: soon
    best, scores = choose_context_refit(model, g, [20, 21, 22], 1, (8, "8+pc"),
                                        num_samples=4, seed=0)
    assert best == "8+pc" and scores["8+pc"] > scores[8]
    assert model.config.context_refit_counts and refit_settings(best)["context_refit_counts"]
    assert refit_settings("10+rates+cn+pc+lw+ar") == {
        "context_refit": 10, "context_refit_degrees": True, "context_refit_degree_form": "rate",
        "context_refit_neighbours": True, "context_refit_counts": True,
        "context_refit_latent": True, "context_refit_level": "ar1", "context_refit_prior": 1.0}
    for bad in ("0+pc", "10+pc+cn"):
        with pytest.raises(ValueError, match="pc"):
            refit_settings(bad)


def test_the_greedy_step_appends_the_counts_to_the_best_refit_only(monkeypatch):
    """``refinements``: "+pc" is scored on the best refit alone (never on W = 0), kept only if
    it scores higher, and the model's config ends with the pick's settings."""
    import dyngraphvae.evaluation.forecast_choice as fc

    g = _rating_graph(t=16)
    model = _model(g, context_refit=8, context_refit_counts=False)
    table: dict = {}

    def fake(model, graph, origins, horizon, **kw):
        c = model.config
        key = (c.context_refit, c.context_refit_degrees, c.context_refit_counts)
        return [[table[key]]]

    monkeypatch.setattr(fc, "pair_log_scores", fake)
    table.update({(0, False, False): -3.0, (8, False, False): -2.0, (8, True, False): -2.5,
                  (8, False, True): -1.0, (8, True, True): -0.5})
    best, scores = choose_context_refit(model, g, [12, 13], 1, (0, 8, "8+degrees"),
                                        refinements=("+pc",))
    # "8+degrees+pc" would score best, but greedy only refines the best of the windows
    assert best == "8+pc" and set(scores) == {0, 8, "8+degrees", "8+pc"}
    assert model.config.context_refit_counts and not model.config.context_refit_degrees
    table[(8, False, True)] = -2.2  # worse than its base: the base stays, counts off
    best, scores = choose_context_refit(model, g, [12, 13], 1, (0, 8, "8+degrees"),
                                        refinements=("+pc",))
    assert best == 8 and not model.config.context_refit_counts
    table[(0, False, False)] = 0.0  # W = 0 best: nothing appended
    best, scores = choose_context_refit(model, g, [12, 13], 1, (0, 8), refinements=("+pc",))
    assert best == 0 and set(scores) == {0, 8} and model.config.context_refit == 0


def test_refined_appends_a_suffix_or_replaces_the_window():
    from dyngraphvae.evaluation.forecast_choice import refined

    assert refined("10+rates", "+pc") == "10+rates+pc"
    assert refined(10, "+pc") == "10+pc"
    assert refined("10+degrees+pc", "@20") == "20+degrees+pc"
    assert refined(10, "@20") == 20
    for bad in ("20", "@0", "@x", "+zz"):
        with pytest.raises(ValueError):
            refined("10+rates", bad)


def test_the_prior_scale_ends_a_candidate():
    from dyngraphvae.evaluation.forecast_choice import refined

    assert refit_settings("10+rates+pc~0.3")["context_refit_prior"] == 0.3
    assert refit_settings("10+rates+pc")["context_refit_prior"] == 1.0
    assert refit_settings("10~2")["context_refit"] == 10
    assert refined("10+pc~0.3", "@20") == "20+pc~0.3"
    assert refined("10~0.3", "+pc") == "10+pc~0.3"
    assert refined("20+degrees+pc~0.3", "~0.1") == "20+degrees+pc~0.1"
    for bad in ("0~0.3", "10~0", "10~-1", "10~x", "10~nan", "10~0.3+pc"):
        with pytest.raises(ValueError):
            refit_settings(bad)


def test_the_prior_step_refines_the_best_refit_even_where_w0_is_best(monkeypatch):
    """``"~σ"`` steps: applied to the best *refit* scored (not to ``W = 0``), chosen only if
    higher than the best overall, and the config ends with the pick's prior scale."""
    import dyngraphvae.evaluation.forecast_choice as fc

    g = _rating_graph(t=30)
    model = _model(g, context_refit=8, context_refit_counts=False)
    table = {(0, False, 1.0): -2.0, (8, False, 1.0): -3.0, (8, True, 1.0): -2.9,
             (8, False, 0.3): -1.5, (8, True, 0.3): -2.5, (8, True, 0.1): -2.4}
    seen: list = []

    def fake(model, graph, origins, horizon, **kw):
        c = model.config
        seen.append((c.context_refit, c.context_refit_degrees, c.context_refit_prior))
        return [[table[seen[-1]]]]

    monkeypatch.setattr(fc, "pair_log_scores", fake)
    best, scores = choose_context_refit(model, g, [20, 21], 2, (0, 8, "8+degrees"),
                                        refinements=("+pc", "~0.3"))
    # "+pc" is not tried on W = 0; "~0.3" goes to the best refit, "8+degrees" (-2.9)
    assert seen == [(0, False, 1.0), (8, False, 1.0), (8, True, 1.0), (8, True, 0.3)]
    assert best == 0 and model.config.context_refit == 0  # -2.5 < -2.0: W = 0 stays
    assert model.config.context_refit_prior == 1.0
    table[(8, True, 0.3)] = -1.0
    best, scores = choose_context_refit(model, g, [20, 21], 2, (0, 8, "8+degrees"),
                                        refinements=("+pc", "~0.3", "~0.1"))
    # "~0.1" is applied to the best refit so far, "8+degrees~0.3" (-1.0), and loses
    assert best == "8+degrees~0.3" and "8+degrees~0.1" in scores
    assert model.config.context_refit == 8 and model.config.context_refit_prior == 0.3
    table[(8, True, 0.1)] = -0.5
    best, _ = choose_context_refit(model, g, [20, 21], 2, (0, 8, "8+degrees"),
                                   refinements=("~0.3", "~0.1"))
    assert best == "8+degrees~0.1" and model.config.context_refit_prior == 0.1


def test_the_window_step_replaces_the_window_of_the_best_refit(monkeypatch):
    """``"@V"`` steps: scored on the best refit so far, kept only if higher, skipped where the
    new window reads the same snapshots as the old at every origin (a short history)."""
    import dyngraphvae.evaluation.forecast_choice as fc

    g = _rating_graph(t=40)
    model = _model(g, context_refit=8, context_refit_counts=False)
    table: dict = {(0, False): -3.0, (8, False): -2.0, (8, True): -1.5, (16, True): -1.2,
                   (4, True): -1.4, (32, True): -1.0}
    seen: list = []

    def fake(model, graph, origins, horizon, **kw):
        c = model.config
        seen.append((c.context_refit, c.context_refit_counts))
        return [[table[seen[-1]]]]

    monkeypatch.setattr(fc, "pair_log_scores", fake)
    best, scores = choose_context_refit(model, g, [30, 31], 2, (0, 8), refinements=("+pc", "@16",
                                                                                    "@4"))
    # "@16" wins over "8+pc"; "@4" is scored on "16+pc" and loses
    assert best == "16+pc" and set(scores) == {0, 8, "8+pc", "16+pc", "4+pc"}
    assert model.config.context_refit == 16 and model.config.context_refit_counts
    # origins 30, 31 with leads 1, 2: windows 32 and 40 both reach back to snapshot k
    seen.clear()
    best, scores = choose_context_refit(model, g, [30, 31], 2, (0, 8),
                                        refinements=("+pc", "@32", "@40"))
    assert best == "32+pc" and (40, True) not in seen


def test_train_refines_the_chosen_refit_with_the_counts_on_known_truth(tmp_path):
    """Through ``select_context_refit`` (what ``train`` calls): on never-recurring pairs the
    counts are appended to the chosen refit and recorded in the folder's config."""
    from dyngraphvae.models import ForecasterConfig
    from dyngraphvae.selection import REFIT_REFINEMENTS, select_context_refit
    from dyngraphvae.training import TrainConfig
    from dyngraphvae.training.io import save_model

    g = _rating_graph()
    model = _model(g, context_refit=0, context_refit_counts=False)
    tc = TrainConfig(val_snapshots=3, seed=0)
    save_model(model, tmp_path, train_config=tc)
    rec = select_context_refit(model, g, tc, tmp_path, windows=(0, 8), num_samples=4)
    assert REFIT_REFINEMENTS[:2] == ("+pc", "@20")
    # 20 reaches back further than 8 from the validation origins, so "@20" is scored too, then
    # the prior scales of the best refit
    assert {"0", "8", "8+pc", "20+pc"} <= set(rec["scores"])
    assert len(rec["scores"]) == 4 + len(REFIT_REFINEMENTS) - 2
    assert "+pc" in rec["chosen"] and rec["scores"]["8+pc"] > rec["scores"]["8"]
    saved = ForecasterConfig.load(tmp_path / "config.json")
    assert saved.context_refit == int(rec["chosen"].split("+")[0]) and saved.context_refit_counts
    assert saved.context_refit_prior == float(rec["chosen"].partition("~")[2] or 1)
