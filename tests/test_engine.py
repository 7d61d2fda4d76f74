"""The composed model and the one engine: modules passed in replace the config's, the rest are
built as from the config; every walk of the chain (filter, filtered states, the ELBO's chain)
gives the same draws for the same seed."""

from __future__ import annotations

import torch

from dyngraphvae.data.synthetic import dynamic_sbm
from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE, engine
from dyngraphvae.nn.transition import GraphMixtureTransition, GRUTransition

torch.set_num_threads(1)


def _cfg(g, **kw):
    return ForecasterConfig.for_graph(g, latent_dim=3, hidden_dim=8, node_embedding_dim=4, **kw)


def _graph():
    return dynamic_sbm(num_nodes=14, num_snapshots=6, num_features=2, seed=3)


def test_from_config_equals_the_constructor():
    g = _graph()
    torch.manual_seed(0)
    a = TemporalGraphVAE(_cfg(g))
    torch.manual_seed(0)
    b = TemporalGraphVAE.from_config(_cfg(g))
    assert a.state_dict().keys() == b.state_dict().keys()
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


def test_passed_modules_replace_the_configs_and_the_rest_are_unchanged():
    g = _graph()
    cfg = _cfg(g)
    mine = GRUTransition(3, 5, num_components=2, tied_scale=True)
    torch.manual_seed(0)
    default = TemporalGraphVAE(cfg)
    torch.manual_seed(0)
    model = TemporalGraphVAE(cfg, transition=mine)
    assert model.transition is mine
    for name in ("encoder", "posterior_head", "edge_decoder", "feature_decoder", "node_input"):
        for (k, v), (_, w) in zip(getattr(model, name).state_dict().items(),
                                  getattr(default, name).state_dict().items(), strict=True):
            assert torch.equal(v, w), (name, k)
    out = model.elbo(g, num_samples=2, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out.loss)
    p = model.prior(torch.zeros(2, 14, 3))
    assert p.mixture_distribution.logits.shape == (2, 14, 2)  # the passed 2-component prior


def test_graph_mixture_config_builds_the_graph_mixture_transition():
    g = _graph()
    model = TemporalGraphVAE(_cfg(g, transition_components=3, transition_mixture="graph"))
    assert isinstance(model.transition, GraphMixtureTransition)
    p = model.prior(torch.zeros(4, 14, 3))
    assert p.batch_shape == (4,) and p.event_shape == (14, 3)


def test_filtered_states_are_the_filter_draws():
    g = _graph()
    torch.manual_seed(0)
    model = TemporalGraphVAE(_cfg(g)).eval()
    with torch.no_grad():
        states = engine.filtered_states(model, g, 4, 5, torch.Generator().manual_seed(9))
        state = model.filter(g[:4], 5, generator=torch.Generator().manual_seed(9))
    assert len(states) == 5
    assert torch.equal(states[-1], state.z)


def test_the_elbo_is_the_objective_of_the_engines_trajectory():
    from dyngraphvae.objectives import TemporalELBO

    g = _graph()
    torch.manual_seed(0)
    model = TemporalGraphVAE(_cfg(g))
    out = model.elbo(g, num_samples=3, kl_weight=0.5, generator=torch.Generator().manual_seed(1))
    tr = engine.posterior_chain(model, g, 3, generator=torch.Generator().manual_seed(1),
                                densities=False)
    again = TemporalELBO(kl_weight=0.5)(tr, num_nodes=14, directed=g.directed)
    torch.testing.assert_close(out.loss, again.loss, rtol=0, atol=0)
    # and the loss is −(F + E − β KL) by hand
    by_hand = -(tr.feature_ll.mean(0).sum() + tr.edge_ll.mean(0).sum()
                - 0.5 * tr.kl.sum((-1, -2)).mean(0).sum())
    torch.testing.assert_close(out.loss, by_hand)
