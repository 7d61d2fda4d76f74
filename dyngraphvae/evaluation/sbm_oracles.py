"""The generating law of the built-in dynamic SBM as forecasters, scored beside the model by
``dyngraphvae demo`` (``evaluate_forecast(..., link_oracle=)``, ``docs/cli.md``).

* :func:`sbm_oracle` knows the **target's** communities: a ceiling no forecaster can reach.
* :func:`sbm_state_probs` is the law's **own forecast** from the true communities at the origin
  (:func:`~dyngraphvae.data.synthetic.sbm_same_community_prob`): no forecaster beats it in
  expectation.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import Tensor

from dyngraphvae.data.synthetic import dynamic_sbm, sbm_same_community_prob

__all__ = ["probability_oracle", "sample_undirected", "sbm_option", "sbm_oracle",
           "sbm_state_probs"]


def sbm_option(data_kw: dict[str, Any], name: str) -> float:
    """A :func:`~dyngraphvae.data.synthetic.dynamic_sbm` option: the demo's or the default."""
    return float(data_kw.get(name, inspect.signature(dynamic_sbm).parameters[name].default))


def sbm_oracle(communities: Tensor, data_kw: dict[str, Any]) -> Any:
    """The generating SBM's edge probability of snapshot ``t`` given the true labels of ``t``:
    ``p_in`` inside a community, ``p_out`` across. It knows the target's labels, future
    switches and events included: a ceiling no forecaster can reach."""
    p_in, p_out = sbm_option(data_kw, "p_in"), sbm_option(data_kw, "p_out")

    def oracle(t: int, pairs: Tensor) -> Tensor:
        c = communities[t].to(pairs.device)
        same = c[pairs[0]] == c[pairs[1]]
        return torch.where(same, p_in, p_out).double()

    return oracle


def sbm_state_probs(communities: Tensor, data_kw: dict[str, Any], origin: int, horizon: int,
                    seed: int) -> Tensor:
    """The law's own forecast from the true labels of snapshot ``origin``: ``(H, N, N)`` edge
    probabilities ``p_out + (p_in - p_out) P(same community at origin + h | c_origin)``
    (:func:`~dyngraphvae.data.synthetic.sbm_same_community_prob`). No forecaster beats it in
    expectation."""
    p_in, p_out = sbm_option(data_kw, "p_in"), sbm_option(data_kw, "p_out")
    same = sbm_same_community_prob(
        communities[origin], horizon, num_communities=int(sbm_option(data_kw, "num_communities")),
        switch_prob=sbm_option(data_kw, "switch_prob"),
        event_prob=sbm_option(data_kw, "event_prob"), seed=seed)
    return p_out + (p_in - p_out) * same


def probability_oracle(probs: Tensor, start: int) -> Any:
    """``(t, pairs) -> probs[t - start][pairs]``: an oracle from per-step probabilities."""
    def oracle(t: int, pairs: Tensor) -> Tensor:
        return probs[t - start].to(pairs.device)[pairs[0], pairs[1]].double()

    return oracle


def sample_undirected(probs: Tensor, num_samples: int, generator: torch.Generator) -> Tensor:
    """``(S, H, N, N)`` undirected 0/1 adjacencies with ``P(A_uv = 1) = probs[h, u, v]``."""
    n = probs.size(-1)
    upper = torch.ones(n, n, dtype=torch.bool).triu(1)
    a = (torch.rand((num_samples, *probs.shape), generator=generator, dtype=probs.dtype)
         < probs) & upper
    return (a | a.transpose(-1, -2)).float()
