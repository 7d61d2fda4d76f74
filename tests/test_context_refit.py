"""The per-origin refit of the edge context term (``ForecasterConfig.context_refit``).

Checked against closed forms and independent computations: the MAP solver's optimum is a
stationary point of the penalised log-likelihood (its gradient is zero) and tends to the prior
mean as the prior tightens; with a constant latent score and a flat prior the refit is the
maximum-likelihood logistic regression of the window's targets on the aged pair-history features
(an independent L-BFGS fit on the same rows); a forecast from a refitted state reads the
origin's observed context aged ``k`` snapshots through the term refitted for lead ``k + 1``;
the pair-only predictive equals the full rollout's; a refit only reads snapshots before the
origin.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE, engine
from dyngraphvae.models.context import aged
from dyngraphvae.models.refit import map_logistic, refit_lead_terms
from dyngraphvae.models.rolling import predictive_pair_probs, rolling_forecast

torch.set_num_threads(1)
RATES = (0.5, 0.9)


def _graph(n: int = 12, t: int = 10, directed: bool = True, seed: int = 0,
           base: float = 0.1) -> TemporalGraph:
    g = torch.Generator().manual_seed(seed)
    snaps = []
    for s in range(t):
        a = torch.rand(n, n, generator=g) < base + 0.02 * s  # a rising level: the refit follows it
        a.fill_diagonal_(False)
        if not directed:
            a = torch.triu(a, 1)
        snaps.append(a.nonzero().t())
    return TemporalGraph(snaps, n, directed=directed)


def _model(graph: TemporalGraph, **kw) -> TemporalGraphVAE:
    torch.manual_seed(0)
    kw.setdefault("context_refit", 4)
    kw.setdefault("context_refit_effect", False)  # the term's MAP alone (effect: test_refit_effect)
    cfg = ForecasterConfig.for_graph(graph, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history", history_rates=RATES,
                                     history_decay=0.7, **kw)
    model = TemporalGraphVAE(cfg)
    with torch.no_grad():
        w = model.edge_context.weight_vector()
        model.edge_context.load_weight_vector(torch.linspace(-0.5, 0.5, w.numel()))
    return model.eval()


def _lbfgs_logistic(x, y, w, o):
    """The unpenalised weighted logistic regression with offset ``o``, by L-BFGS."""
    theta = torch.zeros(x.size(1), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], max_iter=500, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-12, tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        loss = (w * torch.nn.functional.binary_cross_entropy_with_logits(
            o + x @ theta, y, reduction="none")).sum() / w.sum()
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    return theta.detach()


def constant_score_refit(model: TemporalGraphVAE, g: TemporalGraph, T: int, leads: int,
                         samples: int = 2) -> tuple[list, dict]:
    """The refitted terms of leads ``1..leads`` from origin ``T`` of a model whose latent score is
    the constant ``z_u^T 0 z_v − 1.3`` (the latent carries nothing), and the refit's cache of rows:
    with a flat prior the refit is then the likelihood regression of those rows."""
    with torch.no_grad():
        for p in model.edge_decoder.parameters():
            p.zero_()
        model.edge_decoder.bias.fill_(-1.3)
    gen = torch.Generator().manual_seed(3)
    states = engine.filtered_states(model, g, T, samples, gen)
    cache: dict = {}
    terms = refit_lead_terms(model, g, T, leads, states, model.decoder_contexts(g, T),
                             generator=gen, cache=cache)
    return terms, cache


def assert_refit_is_the_lbfgs_fit(term, rows) -> torch.Tensor:
    """The refitted weights equal an independent L-BFGS fit of the same rows (where a column is
    used); returns the columns that are used."""
    x, y, w, o = (torch.cat([r[i] for r in rows]) for i in range(4))
    theta = _lbfgs_logistic(x, y, w, o)
    got = term.weight_vector().double()
    used = x.abs().amax(0) > 0  # aged contexts have A_t = 0: that weight stays at the prior
    torch.testing.assert_close(got[used], theta[used], atol=2e-3, rtol=2e-3)
    return used


def _penalised_grad(theta, x, y, w, o, mean, scale):
    p = torch.sigmoid(o + x @ theta)
    return x.T @ (w * (y - p)) - (theta - mean) / scale**2


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.sampled_from([0.1, 1.0, 10.0]))
def test_map_solution_is_a_stationary_point(seed, scale):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(200, 4, generator=g, dtype=torch.float64)
    o = torch.randn(200, generator=g, dtype=torch.float64)
    y = (torch.rand(200, generator=g, dtype=torch.float64) < 0.3).double()
    w = torch.rand(200, generator=g, dtype=torch.float64) * 3
    mean = torch.randn(4, generator=g, dtype=torch.float64)
    theta = map_logistic(x, y, w, o, mean, scale)
    grad = _penalised_grad(theta, x, y, w, o, mean, scale)
    assert float(grad.abs().max()) < 1e-6


def test_a_tight_prior_keeps_the_trained_weights():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(100, 3, generator=g, dtype=torch.float64)
    y = (torch.rand(100, generator=g) < 0.5).double()
    mean = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    loose = map_logistic(x, y, torch.ones(100), torch.zeros(100), mean, 100.0)
    tight = map_logistic(x, y, torch.ones(100), torch.zeros(100), mean, 1e-4)
    assert float((tight - mean).abs().max()) < 1e-5
    assert float((loose - mean).abs().max()) > 1e-2


def test_config_checks():
    g = _graph()
    with pytest.raises(ValueError, match="context_refit"):
        ForecasterConfig.for_graph(g, decoder_context="pair_history", context_refit=-1)
    with pytest.raises(ValueError, match="needs an edge context"):
        ForecasterConfig.for_graph(g, context_refit=3)
    with pytest.raises(ValueError, match="context_refit_prior"):
        ForecasterConfig.for_graph(g, decoder_context="pair_history", context_refit=3,
                                   context_refit_prior=0.0)


@pytest.mark.parametrize("directed", [True, False])
def test_with_a_constant_latent_score_the_refit_is_the_likelihood_regression(directed):
    g = _graph(directed=directed)
    model = _model(g, context_refit=5, context_refit_prior=1e6, edge_decoder="bilinear")
    T, leads = 9, 3
    terms, cache = constant_score_refit(model, g, T, leads)
    for k in range(1, leads + 1):
        rows = [cache["rows"][(s, k)] for s in range(max(k, T - 5), T)]
        # the window's targets, all before the origin
        assert {s for (s, kk) in cache["rows"] if kk == k} == set(range(max(k, T - 5), T))
        o = torch.cat([r[3] for r in rows])
        torch.testing.assert_close(o, torch.full_like(o, -1.3))
        used = assert_refit_is_the_lbfgs_fit(terms[k - 1], rows)
        got = terms[k - 1].weight_vector().double()
        prior = torch.cat([model.edge_context.weight_vector().double(), torch.zeros(1)])
        torch.testing.assert_close(got[~used], prior[~used].double())
        assert (k == 1) == bool(used[0])


def test_forecast_reads_the_aged_origin_context_through_the_refitted_terms():
    g = _graph()
    model = _model(g, context_refit=4, context_refit_leads=2)
    T, H, S = 7, 4, 3
    gen = torch.Generator().manual_seed(1)
    state = model.filter(g[:T], S, generator=gen)
    assert state.lead_terms is not None and len(state.lead_terms) == 2
    fc = model.forecast(state, H, generator=gen)
    ctx = model.decoder_contexts(g, T)[T].edges
    pairs = torch.tensor([[0, 1, 2, 3, 4, 7], [1, 0, 5, 9, 2, 3]])
    for k in range(H):
        assert fc.contexts[k].edges.batch_size == 1  # never a sample
        term = state.lead_terms[min(k, 1)]
        want = model.edge_decoder.logits(fc.z[:, k], pairs) + term.pair_logits(ctx, pairs)[0]
        torch.testing.assert_close(fc.edge_logits(pairs)[:, k], want)
        ctx = aged(ctx, 0.7)
    # the refit moved the trained weights (the level rises over the snapshots)
    assert not torch.allclose(state.lead_terms[0].weight_vector()[:-1],
                              model.edge_context.weight_vector())


def test_refit_reads_only_the_snapshots_before_the_origin():
    g = _graph()
    model = _model(g, context_refit=3)
    T = 6
    edges = [g.edges(t) for t in range(len(g))]
    changed = TemporalGraph(edges[:T] + [torch.tensor([[0], [1]])] * (len(g) - T), g.num_nodes,
                            directed=True)
    out = []
    for graph in (g, changed):
        gen = torch.Generator().manual_seed(5)
        states = engine.filtered_states(model, graph, T, 2, gen)
        terms = refit_lead_terms(model, graph, T, 2, states, model.decoder_contexts(graph, T),
                                 generator=gen)
        out.append(torch.cat([t.weight_vector() for t in terms]))
    torch.testing.assert_close(out[0], out[1])


def test_pair_only_predictive_equals_the_full_rollout():
    g = _graph(n=9, t=9, base=0.5)  # dense: many modes are edges, a sample fed back would show
    model = _model(g, context_refit=3, deterministic=True)
    origins, H = [5, 7], 3
    pairs = torch.randint(0, 9, (2, 30), generator=torch.Generator().manual_seed(2))
    pairs = pairs[:, pairs[0] != pairs[1]]
    reqs = [[pairs for _ in range(H)] for _ in origins]
    direct = predictive_pair_probs(model, g, origins, H, 2, reqs,
                                   torch.Generator().manual_seed(4))
    futures: list = []
    full = predictive_pair_probs(model, g, origins, H, 2, reqs, torch.Generator().manual_seed(4),
                                 futures=futures)
    assert futures
    for i in range(len(origins)):
        for k in range(H):
            torch.testing.assert_close(direct[i][k], full[i][k])
    # and the rolling forecast of one origin is the filter + forecast of that origin
    fc = rolling_forecast(model, g, [5], H, 2, generator=torch.Generator().manual_seed(4))
    one = model.forecast(model.filter(g[:5], 2, generator=torch.Generator().manual_seed(4)), H)
    torch.testing.assert_close(fc.edge_prob(0, 2, pairs), torch.sigmoid(
        one.edge_logits(pairs)[:, 2]).mean(0))


@pytest.mark.parametrize("context", ["previous", "history"])
def test_refit_of_the_simpler_contexts(context):
    """The ``previous`` / ``history`` terms refit the same way (their columns and an intercept)."""
    g = _graph(directed=False)
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context=context, context_refit=4,
                                     context_refit_effect=False)
    model = TemporalGraphVAE(cfg).eval()
    state = model.filter(g[:8], 2, generator=torch.Generator().manual_seed(0))
    width = 2 + (context == "history")  # A_t [, H_t], intercept
    assert [t.weight_vector().numel() for t in state.lead_terms] == [width] * 5
    fc = model.forecast(state, 3, generator=torch.Generator().manual_seed(1))
    pairs = torch.tensor([[0, 1, 2], [3, 4, 5]])
    want = model.edge_decoder.logits(fc.z[:, 1], pairs) + state.lead_terms[1].pair_logits(
        aged(model.decoder_contexts(g, 8)[8].edges, cfg.context_decay), pairs)[0]
    torch.testing.assert_close(fc.edge_logits(pairs)[:, 1], want)


@pytest.mark.parametrize("origins", [list(range(6, 19)), [6, 9, 12, 13, 17, 18]])
def test_a_pruned_cache_gives_the_same_refits_and_stays_bounded(origins):
    """``prune_refit_cache`` between the origins of a rolling evaluation drops only what no later
    origin reads: every refit equals the unpruned cache's (the same pair draws), while the rows
    and the per-origin history sums stop growing with the number of origins."""
    from dyngraphvae.models.refit import prune_refit_cache

    g = _graph(t=20)
    model = _model(g, context_refit=3, context_refit_degrees=True, context_refit_counts=True,
                   context_refit_neighbours=True)
    leads = 2
    out, sizes = [], []
    for prune in (False, True):
        gen = torch.Generator().manual_seed(7)
        states = engine.filtered_states(model, g, max(origins), 2, gen)
        contexts = model.decoder_contexts(g, max(origins))
        cache: dict = {}
        weights = []
        for i, t in enumerate(origins):
            if prune:
                prune_refit_cache(cache, model.config, origins[i:], leads)
            terms = refit_lead_terms(model, g, t, leads, states, contexts, generator=gen,
                                     cache=cache)
            weights.append(torch.cat([term.weight_vector() for term in terms]))
            if prune:
                sizes.append({name: len(cache[name]) for name in
                              ("rows", "paths", "degrees", "counts", "union")})
        out.append(torch.stack(weights))
    torch.testing.assert_close(out[0], out[1], rtol=0, atol=0)
    # rows: targets t − 3 .. t − 1 at each lead; sums: origins t − 4 .. t plus none older
    assert max(s["rows"] for s in sizes) == 3 * leads
    assert max(max(s[n] for s in sizes) for n in ("paths", "degrees", "counts", "union")) <= 6
    assert len(cache["rows"]) < len(origins) * leads
