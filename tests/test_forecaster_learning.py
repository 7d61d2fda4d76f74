"""Multimodal futures of the forecaster's rollout (the mechanism behind the fork process).

A graph-level mixture transition with two equally likely components: rolled-out futures pick one
mode for the whole graph, each about half of the time; node-wise mixtures mix modes across nodes;
the deterministic ablation follows neither (it returns the blur).
"""

from __future__ import annotations

import torch

from dyngraphvae.models import ForecasterConfig, TemporalGraphVAE


# -------------------------------------------------------------------------- multimodality
def _bimodal_model(mixture: str, deterministic: bool = False) -> TemporalGraphVAE:
    """A transition with two equally likely, state-independent components at ±2·1 with small
    scale, set by hand: the shape of the fork process' future in latent space."""
    torch.manual_seed(0)
    cfg = ForecasterConfig(num_nodes=10, num_features=2, latent_dim=3, hidden_dim=8,
                           transition_components=2, transition_mixture=mixture,
                           deterministic=deterministic)
    m = TemporalGraphVAE(cfg)
    tr = m.transition
    with torch.no_grad():
        tr.loc.weight.zero_()
        tr.loc.bias.copy_(torch.tensor([2.0] * 3 + [-2.0] * 3))
        tr.scale.weight.zero_()
        tr.scale.bias.fill_(-5.0)  # softplus(-5) ≈ 0.0067
        tr.logits.weight.zero_()
        tr.logits.bias.zero_()
    return m


def _latent_modes(z: torch.Tensor) -> torch.Tensor:
    """Per sample and step: 0 if every node is near +2, 1 if every node is near -2, else -1."""
    up = (z - 2.0).abs().lt(0.5).all(-1).all(-1)
    down = (z + 2.0).abs().lt(0.5).all(-1).all(-1)
    out = torch.full(up.shape, -1, dtype=torch.long)
    out[up] = 0
    out[down] = 1
    return out


def test_graph_mixture_futures_hit_both_modes_and_ablations_do_not():
    S, H = 400, 3
    gen = torch.Generator().manual_seed(0)
    m = _bimodal_model("graph")
    fc = m.forecast(m.initial_state(S), H + 1, generator=gen)
    modes = _latent_modes(fc.z[:, 1:])  # Ẑ_1.. are drawn from the transition
    assert (modes >= 0).all()  # every future is coherent: all nodes in one mode
    frac0 = float((modes == 0).float().mean())
    assert 0.35 < frac0 < 0.65, frac0
    # both modes reached from the same starting state, and samples are independent across steps
    assert (modes[:, 0] == 0).any() and (modes[:, 0] == 1).any()
    # the decoded features differ between the two modes (the decoder sees the mode)
    mean_up = fc.feature_mean[:, 1:][modes == 0].mean(0)
    mean_down = fc.feature_mean[:, 1:][modes == 1].mean(0)
    assert (mean_up - mean_down).abs().max() > 1e-3

    # node-wise mixture: every node flips its own coin, so whole-graph modes (almost) never occur
    node = _bimodal_model("node")
    zn = node.forecast(node.initial_state(S), H + 1, generator=gen).z[:, 1:]
    assert float((_latent_modes(zn) >= 0).float().mean()) < 0.01

    # deterministic ablation: one future, the blur (mixture mean 0), in neither mode
    det = _bimodal_model("graph", deterministic=True)
    zd = det.forecast(det.initial_state(S), H + 1, generator=gen).z[:, 1:]
    assert (zd == zd[:1]).all()
    assert (_latent_modes(zd) == -1).all()
    assert zd.abs().max() < 0.5
