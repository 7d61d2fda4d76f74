"""The refitted weight of the latent score (``ForecasterConfig.context_refit_latent``): with a
flat prior the refit is the maximum-likelihood logistic regression of its rows with the latent
score as one more column (an independent L-BFGS fit), the forecast's scorer multiplies the
latent score by it (pairs and blocks), a tight prior keeps the trained weight 1, and on data
where the latent score is noise the weight shrinks towards 0 and the candidate wins on validation.
"""

from __future__ import annotations

import pytest
import torch

from dyngraphvae.evaluation.forecast_choice import choose_context_refit, refit_settings
from dyngraphvae.models import engine
from dyngraphvae.models.context import ContextScorer
from dyngraphvae.models.refit import latent_rows, refit_lead_terms
from tests.test_context_refit import _graph, assert_refit_is_the_lbfgs_fit
from tests.test_context_refit import _model as _context_model

torch.set_num_threads(1)


def _model(graph, **kw):
    kw.setdefault("context_refit_latent", True)
    return _context_model(graph, **kw)


def _noisy_latent(model, scale: float = 3.0):
    """A latent score that is large and unrelated to the edges: random bilinear weights."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.edge_decoder.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g))
    return model


def _refit(model, g, T, leads):
    gen = torch.Generator().manual_seed(3)
    states = engine.filtered_states(model, g, T, 2, gen)
    cache: dict = {}
    terms = refit_lead_terms(model, g, T, leads, states, model.decoder_contexts(g, T),
                             generator=gen, cache=cache)
    return terms, cache


@pytest.mark.parametrize("directed", [True, False])
def test_with_a_flat_prior_the_latent_weight_is_the_likelihood_fit(directed):
    g = _graph(directed=directed)
    model = _noisy_latent(_model(g, context_refit=5, context_refit_prior=1e6,
                                 edge_decoder="bilinear"), scale=0.5)
    T, leads = 9, 2
    terms, cache = _refit(model, g, T, leads)
    for k in range(1, leads + 1):
        rows = [latent_rows(cache["rows"][(s, k)]) for s in range(max(k, T - 5), T)]
        assert rows[0][0].size(1) == terms[k - 1].weight_vector().numel()
        assert float(rows[0][3].abs().max()) == 0.0  # the offset moved into the column
        assert_refit_is_the_lbfgs_fit(terms[k - 1], rows)
        # the column before the intercept is the cached latent offset itself
        raw = cache["rows"][(T - 1, k)]
        torch.testing.assert_close(latent_rows(raw)[0][:, -2], raw[3].to(raw[0].dtype))


def test_the_scorer_multiplies_the_latent_score_by_the_weight():
    g = _graph(directed=True)
    model = _noisy_latent(_model(g, edge_decoder="bilinear"))
    T = 9
    term = _refit(model, g, T, 1)[0][0]
    with torch.no_grad():
        term.latent_weight.fill_(0.37)
        ctx = model.decoder_contexts(g, T)[T].edges
        z = torch.randn(3, g.num_nodes, model.config.latent_dim)
        pairs = torch.tensor([[0, 3, 7, 2], [5, 1, 11, 2]])
        sc = ContextScorer(model.edge_decoder, term, ctx)
        want = 0.37 * model.edge_decoder.logits(z, pairs) + term.pair_logits(ctx, pairs)
        torch.testing.assert_close(sc.logits(z, pairs), want)
        block = sc.block_logits(z, 2, 6)
        torch.testing.assert_close(block, 0.37 * model.edge_decoder.block_logits(z, 2, 6)
                                   + term.block_logits(ctx, 2, 6))
        torch.testing.assert_close(sc.dense_logits(z)[:, 2:6], block)


def test_a_tight_prior_keeps_the_trained_weight():
    g = _graph(directed=True)
    model = _noisy_latent(_model(g, context_refit_prior=1e-4, edge_decoder="bilinear"))
    for term in _refit(model, g, 9, 2)[0]:
        assert float(term.latent_weight) == pytest.approx(1.0, abs=1e-3)


def test_known_truth_a_noise_latent_is_turned_down_and_the_candidate_wins():
    """Edges drawn independently of the latent score: the refit shrinks β far below the trained
    1, and the proper score of the validation origins prefers the candidate with it."""
    g = _graph(n=20, t=14, directed=True)
    model = _noisy_latent(_model(g, context_refit=6, context_refit_latent=False,
                                 edge_decoder="bilinear"))
    model.config.context_refit_latent = True
    terms = _refit(model, g, 13, 2)[0]
    assert all(abs(float(t.latent_weight)) < 0.3 for t in terms)
    best, scores = choose_context_refit(model, g, [10, 11, 12], 1, (6, "6+lw"), num_samples=4,
                                        seed=0)
    assert best == "6+lw" and scores["6+lw"] > scores[6]
    assert refit_settings("10+rates+cn+lw") == {
        "context_refit": 10, "context_refit_degrees": True, "context_refit_degree_form": "rate",
        "context_refit_neighbours": True, "context_refit_counts": False,
        "context_refit_latent": True,
        "context_refit_level": "iid", "context_refit_prior": 1.0}
    with pytest.raises(ValueError, match="lw"):
        refit_settings("0+lw")
