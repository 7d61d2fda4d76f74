"""Edge weights as an encoder can use them: keep, drop, absolute values, or drop signed ones.

The GCN normalisation ``D^-1/2 (A_w + I) D^-1/2`` needs non-negative weights; signed weights
(``bitcoin_alpha``'s ratings in [-10, 10]) make degrees non-positive. :func:`edge_weight_policy`
applies one explicit policy and logs what it did, so nothing changes silently.
"""

from __future__ import annotations

import logging

import torch

from dyngraphvae.data.temporal_graph import TemporalGraph

__all__ = ["WEIGHT_POLICIES", "edge_weight_policy"]

WEIGHT_POLICIES = ("auto", "use", "drop", "abs")
log = logging.getLogger("dyngraphvae")


def edge_weight_policy(graph: TemporalGraph, policy: str = "auto") -> TemporalGraph:
    """Edge weights as the encoder will see them.

    ``use`` keeps them (signed weights raise ``ValueError``); ``drop`` removes them; ``abs`` uses
    ``|w|``; ``auto`` keeps non-negative weights and drops signed ones, with one log line saying
    so. A graph without weights is returned unchanged.
    """
    if policy not in WEIGHT_POLICIES:
        raise ValueError(f"weights policy must be one of {', '.join(WEIGHT_POLICIES)}, got "
                         f"{policy!r}")
    ws = graph.edge_weights
    if ws is None:
        return graph
    name = graph.name or "the graph"
    flat = torch.cat([w.flatten() for w in ws]) if ws else torch.empty(0)
    signed = bool(flat.numel() and flat.min() < 0)
    if policy == "drop":
        log.info("%s: edge weights dropped (--weights drop)", name)
        return graph.with_edge_weights(None)
    if policy == "abs":
        log.info("%s: edge weights replaced by their absolute values (--weights abs)", name)
        return graph.with_edge_weights([w.abs() for w in ws])
    if signed and policy == "use":
        raise ValueError(
            f"{name}: edge weights are signed (min {float(flat.min()):g}); the encoder's GCN "
            "normalisation needs non-negative weights: use --weights drop or --weights abs")
    if signed:
        log.info("%s: edge weights are signed (%g..%g), which the encoder's GCN normalisation "
                 "cannot use; they are dropped (--weights abs uses |w|, --weights drop silences "
                 "this)", name, float(flat.min()), float(flat.max()))
        return graph.with_edge_weights(None)
    return graph
