"""The direct multi-horizon edge decoder (``context_leads > 1``) and its overshooting terms.

Checked against hand computations: aging a context is the closed form of one empty snapshot;
a forecast's step ``k`` reads the origin's context aged ``k`` snapshots through the term of lead
``k + 1`` and never its own samples; the pair-only predictive equals the full rollout's; the
overshooting term at lead 1 is the ELBO's one-step term and at lead ``k`` the dense likelihood of
the ``k − 1``-step transition path; each lead's warm start is a stationary point of its own
regression; training moves the lead terms only through the overshooting term, whose gradient
reaches the shared parts only when asked (and without it the one-step model is exactly the one
the ELBO alone trains).
"""

from __future__ import annotations

import pytest
import torch

from dyngraphvae.data.temporal_graph import TemporalGraph
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE
from dyngraphvae.models.context import DecoderContext, aged
from dyngraphvae.models.overshooting import overshooting_edge_ll
from dyngraphvae.models.rolling import predictive_pair_probs
from dyngraphvae.nn.adjacency import adjacency_log_likelihood
from dyngraphvae.training import TrainConfig
from dyngraphvae.training.warm_start import _design, warm_start_context

torch.set_num_threads(1)
RATES = (0.5, 0.9)


def _graph(n: int = 10, t: int = 8, directed: bool = True, seed: int = 0) -> TemporalGraph:
    g = torch.Generator().manual_seed(seed)
    snaps = []
    for _ in range(t):
        a = torch.rand(n, n, generator=g) < 0.2
        a.fill_diagonal_(False)
        if not directed:
            a = torch.triu(a, 1)
        snaps.append(a.nonzero().t())
    return TemporalGraph(snaps, n, directed=directed)


def _model(graph: TemporalGraph, leads: int = 3, **kw) -> TemporalGraphVAE:
    torch.manual_seed(0)
    cfg = ForecasterConfig.for_graph(graph, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history", history_rates=RATES,
                                     history_decay=0.7, context_leads=leads, **kw)
    model = TemporalGraphVAE(cfg)
    with torch.no_grad():  # distinct weights per lead, so that a wrong lead shows
        for i, term in enumerate([model.edge_context, *model.lead_terms]):
            w = term.weight_vector()
            term.load_weight_vector(torch.linspace(-1.0, 1.0, w.numel()) * (i + 1) / 2)
    return model.eval()


def test_config_checks():
    g = _graph()
    with pytest.raises(ValueError, match="context_leads"):
        ForecasterConfig.for_graph(g, decoder_context="pair_history", context_leads=0)
    with pytest.raises(ValueError, match="needs an edge context"):
        ForecasterConfig.for_graph(g, context_leads=2)
    with pytest.raises(ValueError, match="overshooting"):
        TrainConfig(overshooting=-1.0)
    assert TemporalGraphVAE(ForecasterConfig.for_graph(
        g, decoder_context="pair_history")).lead_terms is None


@pytest.mark.parametrize("directed", [True, False])
def test_aging_is_one_empty_snapshot_in_closed_form(directed):
    g = _graph(directed=directed)
    model = _model(g)
    ctx = model.decoder_contexts(g, 5)[5].edges
    old = ctx
    for k in range(1, 4):
        ctx = aged(ctx, 0.7)
        torch.testing.assert_close(ctx.rate_history,
                                   old.rate_history * torch.tensor(RATES) ** k)
        torch.testing.assert_close(ctx.history, old.history * 0.7 ** k)
        torch.testing.assert_close(ctx.node_activity,
                                   old.node_activity * torch.tensor(RATES) ** k)
        torch.testing.assert_close(ctx.node_recency, old.node_recency + k)
        assert torch.equal(ctx.keys, old.keys) and float(ctx.previous.abs().sum()) == 0.0


def test_forecast_reads_the_aged_origin_context_through_the_lead_terms():
    g = _graph()
    model = _model(g, leads=3)
    T, H, S = 5, 4, 3
    fc = model.forecast(g[:T], H, S, generator=torch.Generator().manual_seed(1))
    observed = model.decoder_contexts(g, T)[T].edges
    pairs = torch.tensor([[0, 1, 2, 3, 4, 7], [1, 0, 5, 9, 2, 3]])
    ctx = observed
    for k in range(H):
        # step k: the observed history aged k snapshots, one shared row, whatever was sampled
        assert fc.contexts[k].edges.batch_size == 1
        torch.testing.assert_close(fc.contexts[k].edges.rate_history, ctx.rate_history)
        term = model.context_term(k + 1)
        assert term is ([model.edge_context, *model.lead_terms][min(k, 2)])
        want = model.edge_decoder.logits(fc.z[:, k], pairs) + term.pair_logits(ctx, pairs)[0]
        torch.testing.assert_close(fc.edge_logits(pairs)[:, k], want)
        ctx = aged(ctx, 0.7)
    # the same forecast through the one-step term would differ
    wrong = model.edge_decoder.logits(fc.z[:, 2], pairs) + model.edge_context.pair_logits(
        fc.contexts[2].edges, pairs)[0]
    assert not torch.allclose(wrong, fc.edge_logits(pairs)[:, 2])


def test_pair_only_predictive_equals_the_full_rollout():
    g = _graph(n=9, t=9)
    model = _model(g, leads=2, deterministic=True)  # transition mean: both paths are exact
    origins, H = [4, 6], 3
    gen = torch.Generator().manual_seed(2)
    pairs = torch.randint(0, 9, (2, 30), generator=gen)
    pairs = pairs[:, pairs[0] != pairs[1]]
    reqs = [[pairs for _ in range(H)] for _ in origins]
    direct = predictive_pair_probs(model, g, origins, H, 2, reqs, None)
    futures: list = []
    full = predictive_pair_probs(model, g, origins, H, 2, reqs, None, futures=futures)
    assert futures  # the second call did draw full rollouts
    for i in range(len(origins)):
        for k in range(H):
            torch.testing.assert_close(direct[i][k], full[i][k])


def test_overshooting_terms_are_the_transition_paths_likelihoods():
    g = _graph()
    model = _model(g, leads=3, deterministic=True)
    T = 3
    state = model.filter_states(g, [T], 2, generator=torch.Generator().manual_seed(0))[T]
    got = overshooting_edge_ll(model, g[T:T + 3], state, num_samples=2, leads=[1, 2, 3],
                               method="dense")
    assert got.shape == (2, 3)
    # lead 1 is the ELBO's one-step term of snapshot T
    _, one = model.step_log_likelihood(state.z, g, T, adjacency="dense", context=state.context)
    torch.testing.assert_close(got[:, 0], one)
    z, ctx = state.z, state.context.edges
    for k in (2, 3):
        z = model.prior(z).mean
        ctx = aged(ctx, 0.7)
        scorer = model.edge_scorer(DecoderContext(edges=ctx, x=None), k)
        want = adjacency_log_likelihood(scorer, z, g.edges(T + k - 1), 10, True, method="dense")
        torch.testing.assert_close(got[:, k - 1], want)
    with pytest.raises(ValueError, match="leads must lie"):
        overshooting_edge_ll(model, g[T:T + 2], state, num_samples=2, leads=[3])


def test_each_lead_warm_start_is_a_stationary_point_of_its_regression():
    g = _graph(n=12, t=10)
    model = _model(g, leads=3)
    info = warm_start_context(model, g, negatives=200, seed=5)
    assert len(info["lead_log_loss_per_pair"]) == 2
    gen = torch.Generator().manual_seed(5)
    _design(model, g, 200, gen)  # the lead-1 design consumes the stream first
    bias = float(model.edge_decoder.bias)
    for k in (2, 3):
        x, y, w = _design(model, g, 200, gen, k)
        coef = model.context_term(k).weight_vector().detach().double().requires_grad_(True)
        nll = (w * torch.nn.functional.binary_cross_entropy_with_logits(
            x @ coef + bias, y, reduction="none")).sum() / w.sum()
        (grad,) = torch.autograd.grad(nll, coef)
        # stationary up to the ridge; the lead-1 previous-edge column is empty once aged
        assert float(grad.abs().max()) < 1e-3, (k, grad)
        assert float(x[:, 0].abs().sum()) == 0.0


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_training_moves_the_lead_terms_only_through_overshooting(tmp_path, weight):
    from dyngraphvae.training import fit

    g = _graph(n=10, t=12)
    cfg = ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history", history_rates=RATES,
                                     context_leads=3)
    tc = TrainConfig(epochs=2, window=2, val_snapshots=2, progress_bar=False, tensorboard=False,
                     save_checkpoints=False, overshooting=weight, warm_start=False, patience=None)
    res = fit(cfg, tc, g, tmp_path)
    moved = [float(t.weight_vector().abs().sum()) for t in res.model.lead_terms]
    if weight == 0.0:
        assert moved == [0.0, 0.0]
    else:
        assert all(m > 0 for m in moved)


@pytest.mark.parametrize("directed", [True, False])
def test_lead_term_offset_is_the_same_in_pair_and_dense_logits(directed):
    g = _graph(directed=directed)
    model = _model(g)
    term = model.lead_terms[0]
    assert term.offset is not None and model.edge_context.offset is None
    ctx = aged(model.decoder_contexts(g, 5)[5].edges, 0.7)
    pairs = torch.cartesian_prod(torch.arange(10), torch.arange(10)).T
    pairs = pairs[:, pairs[0] != pairs[1]]
    dense = term.dense_logits(ctx)[0]
    torch.testing.assert_close(term.pair_logits(ctx, pairs)[0], dense[pairs[0], pairs[1]])
    feats = term.pair_features(ctx, pairs)[0]
    torch.testing.assert_close(feats @ term.weight_vector(), dense[pairs[0], pairs[1]])
    with torch.no_grad():
        term.offset.add_(1.5)
    torch.testing.assert_close(term.dense_logits(ctx)[0], dense + 1.5)


@pytest.mark.parametrize("shared", [False, True])
def test_overshooting_gradient_reaches_the_shared_parts_only_when_asked(shared):
    g = _graph()
    model = _model(g, leads=3).train()
    T = 3
    state = model.filter_states(g, [T], 2, generator=torch.Generator().manual_seed(0))[T]
    gen = torch.Generator().manual_seed(1)
    got = overshooting_edge_ll(model, g[T:T + 3], state, num_samples=2, leads=[3],
                               method="dense", generator=gen, shared=shared)
    ref = overshooting_edge_ll(model, g[T:T + 3], state, num_samples=2, leads=[3],
                               method="dense", generator=torch.Generator().manual_seed(1),
                               shared=not shared)
    torch.testing.assert_close(got, ref)  # the same value either way
    got.sum().backward()
    assert all(p.grad is not None for p in model.lead_terms[1].parameters())
    assert all(p.grad is None for p in model.lead_terms[0].parameters())  # lead 2 not scored
    for part in (model.transition, model.edge_decoder):
        grads = [p.grad for p in part.parameters()]
        assert all(gr is not None for gr in grads) == shared, part


def test_with_lead_only_overshooting_the_one_step_model_is_the_elbos(tmp_path):
    from dyngraphvae.training import fit

    g = _graph(n=10, t=12)
    cfg = ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4,
                                     decoder_context="pair_history", history_rates=RATES,
                                     context_leads=3)
    base = dict(epochs=2, window=2, val_snapshots=2, progress_bar=False, tensorboard=False,
                save_checkpoints=False, patience=None, grad_clip=None)
    with_os = fit(cfg, TrainConfig(**base), g, tmp_path / "a").model
    without = fit(cfg, TrainConfig(**base, overshooting=0.0), g, tmp_path / "b").model
    shared = fit(cfg, TrainConfig(**base, overshooting_shared=True), g, tmp_path / "c").model
    one_step = lambda m: {k: v for k, v in m.state_dict().items()  # noqa: E731
                          if not k.startswith("lead_terms")}
    for k, v in one_step(without).items():
        torch.testing.assert_close(one_step(with_os)[k], v, rtol=0, atol=0)
    assert any(not torch.equal(one_step(shared)[k], v) for k, v in one_step(without).items())
